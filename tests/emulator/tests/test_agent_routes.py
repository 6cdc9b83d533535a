"""Agent-token routes (§1.3, §9.2-§9.5) and the user-token agent reads."""

import datetime as dt

import pytest
from conftest import NIL, create_template
from test_workspaces import HOUR_MS, advance, latest, new_build, new_ws, parse

AGENTS = "/api/v2/workspaceagents"
EXTERNAL = "3b579bf4-1ed8-4b99-87a8-e9a1e3410410"
SOURCE = "0b3a3ea4-5f5e-4b0b-9a43-0d57d3b8a0c1"


@pytest.fixture
def ws(emu):
    create_template(emu, "tpl")
    return new_ws(emu, ttl_ms=HOUR_MS, max_ttl_ms=10 * HOUR_MS, apps=["code"])


def agent_call(emu, ws, method, path, body=None, token=None):
    return emu.call(method, f"{AGENTS}/me/{path}", body, token=token or ws["agents"][0]["token"])


def logs(emu, ws, after=None):
    r = emu.get(f"{AGENTS}/{ws['agents'][0]['id']}/logs" + (f"?after={after}" if after is not None else ""))
    assert r.status == 200, r
    return r.json


# ---------------------------------------------------------------------- authentication
def test_agent_token_authentication(emu, ws):
    body = {"logs": [{"output": "x"}]}
    missing = emu.call("PATCH", f"{AGENTS}/me/logs", body, token=None)
    assert (missing.status, missing.json) == (401, {"message": 'Cookie "coder_session_token" must be provided.'})
    invalid = agent_call(emu, ws, "PATCH", "logs", body, token="not-a-uuid")
    assert invalid.status == 401 and invalid.json["message"] == "Workspace agent token invalid."
    unknown = agent_call(emu, ws, "PATCH", "logs", body, token=NIL.replace("0", "2"))
    assert unknown.status == 401 and unknown.json["message"] == "Workspace agent not authorized."
    # A user token is not an agent token.
    assert agent_call(emu, ws, "PATCH", "logs", body, token=emu.token).json["message"] == \
        "Workspace agent token invalid."
    assert agent_call(emu, ws, "PATCH", "logs", body).status == 200
    # A new build brings new tokens; the old ones are rejected, also while the new build still runs.
    second = new_build(emu, ws["id"], job_status="running")
    old = agent_call(emu, ws, "PATCH", "logs", body)
    assert (old.status, old.json["message"]) == (401, "Workspace agent not authorized.")
    running = agent_call(emu, second, "PATCH", "logs", body)
    assert running.json["message"] == "Workspace agent not authorized."
    third = new_build(emu, ws["id"])
    assert agent_call(emu, third, "PATCH", "logs", body).status == 200
    new_build(emu, ws["id"], transition="stop")
    assert agent_call(emu, third, "PATCH", "logs", body).status == 401


# ---------------------------------------------------------------------- logs
def test_patch_logs_and_read_back(emu, ws):
    r = agent_call(emu, ws, "PATCH", "logs", {"logs": [
        {"created_at": "2024-01-02T03:04:05Z", "output": "one", "level": ""},
        {"created_at": "2024-01-02T03:04:06Z", "output": "two", "level": "warn"}]})
    assert r.status == 200 and r.text == "null\n"
    got = logs(emu, ws)
    expected = [("one", "info", EXTERNAL), ("two", "warn", EXTERNAL)]
    assert [(x["output"], x["level"], x["source_id"]) for x in got] == expected
    assert [x["output"] for x in logs(emu, ws, after=got[0]["id"])] == ["two"]
    assert emu.get(f"{AGENTS}/{ws['agents'][0]['id']}/logs?after=-1").status == 400
    agent = emu.get(f"{AGENTS}/{ws['agents'][0]['id']}").json
    assert agent["logs_length"] == 6 and agent["logs_overflowed"] is False
    assert [(s["id"], s["display_name"]) for s in agent["log_sources"]] == [(EXTERNAL, "External")]
    assert emu.get(f"{AGENTS}/{NIL}/logs").status == 404


def test_patch_logs_errors(emu, ws):
    assert agent_call(emu, ws, "PATCH", "logs", {"logs": []}).json == {"message": "No logs provided."}
    bad = agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "x", "level": "fatal"}]})
    assert (bad.status, bad.json) == (400, {"message": "Invalid log level provided.",
                                            "detail": 'invalid log level: "fatal"'})
    long_line = agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "x" * 1025}]})
    assert long_line.status == 500 and long_line.json["message"] == "Failed to upload logs"
    assert agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "x" * 1024}]}).status == 200


def test_nul_bytes_sanitized(emu, ws):
    assert agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "a\x00b"}]}).status == 200
    assert logs(emu, ws)[0]["output"] == "a❌b"
    assert emu.get(f"{AGENTS}/{ws['agents'][0]['id']}").json["logs_length"] == len("a❌b".encode())


def test_logs_limit(emu, ws):
    batch = {"log_source_id": SOURCE, "logs": [{"output": "y" * 1024}] * 256}  # 256 KiB
    for _index in range(4):
        assert agent_call(emu, ws, "PATCH", "logs", batch).status == 200
    over = agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "z"}]})
    assert (over.status, over.json) == (413, {"message": "Logs limit exceeded"})
    assert emu.get(f"{AGENTS}/{ws['agents'][0]['id']}").json["logs_overflowed"] is True
    again = agent_call(emu, ws, "PATCH", "logs", {"logs": [{"output": "z"}]})
    assert again.status == 413 and again.json["message"] == "Logs limit exceeded" and "detail" in again.json
    assert {x["source_id"] for x in logs(emu, ws)} == {SOURCE}  # an unknown source id is accepted


# ---------------------------------------------------------------------- log sources
def test_log_source_idempotent(emu, ws):
    body = {"id": SOURCE, "display_name": "Startup", "icon": "/icon/x.svg"}
    first = agent_call(emu, ws, "POST", "log-source", body)
    assert first.status == 201 and first.json["workspace_agent_id"] == ws["agents"][0]["id"]
    again = agent_call(emu, ws, "POST", "log-source", dict(body, display_name="Renamed"))
    assert again.status == 201 and again.json["display_name"] == "Renamed"  # echoes the request
    sources = emu.get(f"{AGENTS}/{ws['agents'][0]['id']}").json["log_sources"]
    assert [(s["id"], s["display_name"]) for s in sources] == [(SOURCE, "Startup")]


# ---------------------------------------------------------------------- app status
def test_app_status(emu, ws):
    missing = agent_call(emu, ws, "PATCH", "app-status", {"app_slug": "nope", "state": "working"})
    assert missing.status == 400 and missing.json["message"] == "Failed to get workspace app."
    bad_state = agent_call(emu, ws, "PATCH", "app-status", {"app_slug": "code", "state": "sleeping"})
    assert bad_state.status == 400 and bad_state.json["message"] == "Invalid state provided."
    deadline = parse(latest(emu, ws["id"])["deadline"])
    last_used = emu.get(f"/api/v2/workspaces/{ws['id']}").json["last_used_at"]
    advance(emu, 1200)
    ok = agent_call(emu, ws, "PATCH", "app-status", {"app_slug": "code", "state": "working", "message": "busy"})
    assert ok.status == 200
    bumped = parse(latest(emu, ws["id"])["deadline"])
    assert bumped > deadline
    body = emu.get(f"/api/v2/workspaces/{ws['id']}").json
    assert body["last_used_at"] == last_used  # app status does not count as use
    assert body["latest_app_status"]["state"] == "working"
    # Leaving "working" bumps; idle after idle does not.
    advance(emu, 1200)
    agent_call(emu, ws, "PATCH", "app-status", {"app_slug": "code", "state": "idle"})
    after_leave = parse(latest(emu, ws["id"])["deadline"])
    assert after_leave > bumped
    advance(emu, 1200)
    agent_call(emu, ws, "PATCH", "app-status", {"app_slug": "code", "state": "idle"})
    assert parse(latest(emu, ws["id"])["deadline"]) == after_leave


# ---------------------------------------------------------------------- legacy report-stats
def test_report_stats_removed_since_2_13(emu, ws):
    r = agent_call(emu, ws, "POST", "report-stats", {"connection_count": 1})
    assert (r.status, r.json) == (404, {"message": "Route not found."})


def test_report_stats_legacy(emu, ws):
    assert emu.post("/__emulator/version", {"version": "v2.12.9"}, token=None).status == 204
    deadline = parse(latest(emu, ws["id"])["deadline"])
    advance(emu, 1200)
    empty_report = agent_call(emu, ws, "POST", "report-stats", {})
    assert (empty_report.status, empty_report.json) == (200, {"report_interval": 30000000000})
    assert parse(latest(emu, ws["id"])["deadline"]) == deadline
    idle = agent_call(emu, ws, "POST", "report-stats", {"connections_by_proto": {}, "connection_count": 0})
    assert idle.json == {"report_interval": 30000000000}
    assert parse(latest(emu, ws["id"])["deadline"]) == deadline
    busy = agent_call(emu, ws, "POST", "report-stats", {"connections_by_proto": {"ssh": 1}, "connection_count": 1})
    assert busy.status == 200
    assert parse(latest(emu, ws["id"])["deadline"]) > deadline + dt.timedelta(minutes=19)
