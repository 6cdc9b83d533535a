"""Workspaces: the test-only model, reads, the test clock, extend, usage, activity bump and autostop (§9.6, §13)."""

import datetime as dt

import pytest
from conftest import NIL, create_template, make_user

WS = "/api/v2/workspaces"
HOUR_MS = 3600 * 1000


def parse(ts):
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def rfc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(emu):
    return parse(emu.get("/__emulator/clock", token=None).json["now"])


def advance(emu, seconds):
    r = emu.post("/__emulator/clock", {"advance_seconds": seconds}, token=None)
    assert r.status == 200, r
    return r.json


def new_ws(emu, owner="admin", name="w", template="tpl", expect=201, **extra):
    r = emu.post("/__emulator/workspaces", {"owner": owner, "name": name, "template": template, **extra}, token=None)
    assert r.status == expect, r
    return r.json


def new_build(emu, ws_id, **body):
    r = emu.post(f"/__emulator/workspaces/{ws_id}/builds", body, token=None)
    assert r.status == 201, r
    return r.json


def latest(emu, ws_id):
    r = emu.get(f"{WS}/{ws_id}")
    assert r.status == 200, r
    return r.json["latest_build"]


@pytest.fixture
def tpl(emu):
    return create_template(emu, "tpl")


# ---------------------------------------------------------------------- model and reads
def test_create_defaults_and_reads(emu, tpl):
    ws = new_ws(emu)
    assert [a["name"] for a in ws["agents"]] == ["main"]
    assert len(ws["agents"][0]["token"]) == 36
    body = emu.get(f"{WS}/{ws['id']}").json
    assert (body["name"], body["owner_name"], body["template_name"]) == ("w", "admin", "tpl")
    assert body["template_active_version_id"] == tpl["active_version_id"]
    build = body["latest_build"]
    assert (build["build_number"], build["transition"], build["status"], build["job"]["status"]) == (
        1, "start", "running", "succeeded")
    assert build["deadline"] is None and build["max_deadline"] is None  # no TTL: manual shutdown
    assert build["job"]["type"] == "workspace_build"
    agent = build["resources"][0]["agents"][0]
    assert agent["name"] == "main" and agent["status"] == "connecting"
    assert ws["agents"][0]["token"] not in emu.get(f"{WS}/{ws['id']}").text
    assert emu.get("/api/v2/users/admin/workspace/w").json["id"] == ws["id"]
    assert emu.get(f"/api/v2/workspacebuilds/{ws['build']['id']}").json["id"] == ws["build"]["id"]
    assert emu.get(f"{WS}/not-a-uuid").status == 400
    assert emu.get(f"{WS}/{NIL}").json["message"].startswith("Resource not found")
    assert emu.get("/api/v2/users/admin/workspace/nope").status == 404


def test_backward_compatible_minimal_workspace(emu):
    r = emu.post("/__emulator/workspaces", {"owner": "admin", "name": "bare"}, token=None)
    assert r.status == 201 and r.json["template_id"] is None
    assert emu.get(f"{WS}/{r.json['id']}").json["template_id"] == NIL


def test_ttl_agents_apps_and_new_builds(emu, tpl):
    t0 = clock(emu)
    ws = new_ws(emu, ttl_ms=2 * HOUR_MS, max_ttl_ms=10 * HOUR_MS, agents=["a", "b"], apps=["code", "term"])
    assert [a["name"] for a in ws["agents"]] == ["a", "b"]
    build = latest(emu, ws["id"])
    assert parse(build["deadline"]) - t0 >= dt.timedelta(hours=2)
    assert parse(build["max_deadline"]) - parse(build["deadline"]) == dt.timedelta(hours=8)
    apps = build["resources"][0]["agents"][0]["apps"]
    assert [(a["slug"], a["display_name"]) for a in apps] == [("code", "code"), ("term", "term")]
    stopped = new_build(emu, ws["id"], transition="stop")
    assert stopped["agents"] == [] and stopped["build"]["build_number"] == 2
    assert latest(emu, ws["id"])["status"] == "stopped"
    started = new_build(emu, ws["id"], transition="start", job_status="running")
    assert {a["token"] for a in started["agents"]}.isdisjoint({a["token"] for a in ws["agents"]})
    assert latest(emu, ws["id"])["status"] == "starting"
    assert new_build(emu, ws["id"], job_status="failed")["build"]["job_status"] == "failed"
    assert latest(emu, ws["id"])["status"] == "failed"


def test_testing_route_validation(emu, tpl):
    assert emu.post("/__emulator/workspaces", {"owner": "nobody"}, token=None).status == 404
    assert emu.post("/__emulator/workspaces", {"owner": "admin", "transition": "pause"}, token=None).status == 400
    assert emu.post("/__emulator/workspaces", {"owner": "admin", "ttl_ms": -1}, token=None).status == 400
    assert emu.post("/__emulator/workspaces", {"owner": "admin", "name": 7}, token=None).status == 400
    assert emu.post(f"/__emulator/workspaces/{NIL}/builds", {}, token=None).status == 404
    assert emu.post("/__emulator/clock", {"advance_seconds": -5}, token=None).status == 400


def test_list_query_and_pagination(emu, tpl):
    mia = make_user(emu, "mia")
    new_ws(emu, name="alpha")
    new_ws(emu, owner="mia", name="beta")
    gamma = new_ws(emu, owner="mia", name="gamma")
    new_build(emu, gamma["id"], transition="stop")

    def names(q=None, **params):
        query = "&".join([*(f"{k}={v}" for k, v in params.items()), *([f"q={q}"] if q else [])])
        r = emu.get(f"{WS}?{query}")
        assert r.status == 200, r
        return [w["name"] for w in r.json["workspaces"]], r.json["count"]

    # Running workspaces first, then by owner and name.
    assert names() == (["alpha", "beta", "gamma"], 3)
    assert names("owner:mia") == (["beta", "gamma"], 2)
    assert names("owner:me") == (["alpha"], 1)
    assert names("template:TPL") == (["alpha", "beta", "gamma"], 3)
    assert names("name:amm") == (["gamma"], 1)
    assert names("status:stopped") == (["gamma"], 1)
    assert names("bet") == (["beta"], 1)
    assert names(limit=1, offset=1) == (["beta"], 3)
    assert names(offset=10) == ([], 3)
    bad = emu.get(f"{WS}?q=colour:red")
    assert bad.status == 400 and bad.json["validations"] == [
        {"field": "colour", "detail": '"colour" is not a valid query param'}]
    assert emu.get(f"{WS}?q=status:sleepy").status == 400
    assert emu.get(f"{WS}?limit=x").json["message"] == "Query parameters have invalid values."
    # A member sees only their own workspaces.
    assert [w["name"] for w in mia.get(WS).json["workspaces"]] == ["beta", "gamma"]
    assert mia.get(f"{WS}/{new_ws(emu, name='secret')['id']}").status == 404


# ---------------------------------------------------------------------- clock and autostop
def test_clock_advances_and_autostop(emu, tpl):
    before = clock(emu)
    ws = new_ws(emu, ttl_ms=HOUR_MS)
    deadline = parse(latest(emu, ws["id"])["deadline"])
    body = advance(emu, 1800)
    assert body["offset_seconds"] == 1800 and parse(body["now"]) - before >= dt.timedelta(seconds=1800)
    assert latest(emu, ws["id"])["status"] == "running"
    advance(emu, 1900)
    build = latest(emu, ws["id"])
    assert (build["build_number"], build["transition"], build["reason"], build["status"]) == (
        2, "stop", "autostop", "stopped")
    assert parse(build["created_at"]) == deadline
    # Manual shutdown never stops.
    manual = new_ws(emu, name="manual")
    advance(emu, 30 * 24 * 3600)
    assert latest(emu, manual["id"])["status"] == "running"
    assert emu.post("/__emulator/reset", token=None).status == 204
    assert emu.get("/__emulator/clock", token=None).json["offset_seconds"] == 0


# ---------------------------------------------------------------------- extend
def test_extend_rules(emu, tpl):
    ws = new_ws(emu, ttl_ms=8 * HOUR_MS, max_ttl_ms=12 * HOUR_MS)
    url = f"{WS}/{ws['id']}/extend"
    now = clock(emu)
    zero = emu.put(url, {})
    required = 'Validation failed for tag "required" with value: "0001-01-01 00:00:00 +0000 UTC"'
    assert zero.status == 400 and zero.json["validations"] == [{"field": "deadline", "detail": required}]
    soon = emu.put(url, {"deadline": rfc(now + dt.timedelta(minutes=10))})
    assert soon.status == 400 and soon.json == {
        "message": "Cannot extend workspace: new deadline must be at least 30 minutes in the future"}
    exact = now + dt.timedelta(minutes=30, seconds=1)
    ok = emu.put(url, {"deadline": rfc(exact)})
    assert ok.status == 200 and ok.json == {"message": f"Deadline updated to {rfc(exact)}."}
    # Earlier than the current deadline is allowed, and it is what the build now has.
    assert parse(latest(emu, ws["id"])["deadline"]) == exact.replace(microsecond=0)
    beyond = emu.put(url, {"deadline": rfc(now + dt.timedelta(hours=13))})
    assert beyond.status == 400 and beyond.json == {"message": "Cannot extend workspace beyond max deadline."}
    assert emu.put(url, {"deadline": "tomorrow"}).json["message"] == "Request body must be valid JSON."


def test_extend_conflicts(emu, tpl):
    manual = new_ws(emu, name="manual")
    r = emu.put(f"{WS}/{manual['id']}/extend", {"deadline": rfc(clock(emu) + dt.timedelta(hours=2))})
    assert (r.status, r.json) == (409, {"message": "Workspace shutdown is manual."})
    building = new_ws(emu, name="building", ttl_ms=HOUR_MS, job_status="running")
    r = emu.put(f"{WS}/{building['id']}/extend", {"deadline": rfc(clock(emu) + dt.timedelta(hours=2))})
    assert (r.status, r.json) == (409, {"message": "Workspace is still building!"})
    stopped = new_ws(emu, name="stopped", ttl_ms=HOUR_MS, transition="stop")
    r = emu.put(f"{WS}/{stopped['id']}/extend", {"deadline": rfc(clock(emu) + dt.timedelta(hours=2))})
    assert (r.status, r.json) == (409, {"message": "Workspace must be started, current status: stop"})


# ---------------------------------------------------------------------- usage
def test_usage_without_experiment_records_last_used_only(emu, tpl):
    ws = new_ws(emu, ttl_ms=HOUR_MS)
    deadline = latest(emu, ws["id"])["deadline"]
    advance(emu, 600)
    body = {"agent_id": ws["agents"][0]["id"], "app_name": "vscode"}
    r = emu.post(f"{WS}/{ws['id']}/usage", body)
    assert r.status == 204 and r.raw == b""
    got = emu.get(f"{WS}/{ws['id']}").json
    assert parse(got["last_used_at"]) >= clock(emu) - dt.timedelta(seconds=5)
    assert got["latest_build"]["deadline"] == deadline
    # Without the experiment the body is not even validated.
    assert emu.post(f"{WS}/{ws['id']}/usage", {"app_name": "vscode"}).status == 204


def test_usage_with_experiment(emu, tpl):
    assert emu.post("/__emulator/experiments", {"experiments": ["workspace-usage"]}, token=None).status == 204
    ws = new_ws(emu, ttl_ms=HOUR_MS)
    url = f"{WS}/{ws['id']}/usage"
    agent_id = ws["agents"][0]["id"]
    only_agent = emu.post(url, {"agent_id": agent_id})
    assert only_agent.status == 400 and only_agent.json["validations"] == [
        {"field": "app_name", "detail": "must be set when agent_id is set"}]
    only_app = emu.post(url, {"app_name": "ssh"})
    assert only_app.status == 400 and only_app.json["validations"][0]["field"] == "agent_id"
    unknown_app = emu.post(url, {"agent_id": agent_id, "app_name": "emacs"})
    assert unknown_app.status == 400 and unknown_app.json["validations"][0]["field"] == "app_name"
    assert emu.post(url, {"agent_id": NIL.replace("0", "1"), "app_name": "ssh"}).status == 404
    assert emu.post(url, {}).status == 204
    before = parse(latest(emu, ws["id"])["deadline"])
    advance(emu, 1800)
    for app in ("vscode", "jetbrains", "reconnecting-pty", "ssh"):
        assert emu.post(url, {"agent_id": agent_id, "app_name": app}).status == 204
    after = parse(latest(emu, ws["id"])["deadline"])
    assert after > before + dt.timedelta(minutes=29)  # now + 1h, now being 30 min later


# ---------------------------------------------------------------------- activity bump rules (state level)
def _state_ws(server, name):
    state = server.app.state
    ws = next(w for w in state.workspaces.values() if w.name == name)
    return state, ws


def test_activity_bump_rules(server, emu, tpl):
    from coder_emulator import workspaces as wsm

    new_ws(emu, name="b", ttl_ms=HOUR_MS, max_ttl_ms=3 * HOUR_MS)
    state, ws = _state_ws(server, "b")
    build = ws.latest_build
    t = state.clock()
    deadline = build.deadline
    # Before 5% of the bump has elapsed (deadline - 0.95h is not before now): no bump.
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(minutes=2))
    assert build.deadline == deadline
    # After the threshold: now + 1h.
    assert wsm.activity_bump(state, ws, t + dt.timedelta(minutes=10))
    assert build.deadline == t + dt.timedelta(minutes=70)
    # Never shortens.
    build.deadline = t + dt.timedelta(hours=2, minutes=59)
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(minutes=20))
    # Capped at max_deadline, also when past the deadline but still running.
    build.deadline = t - dt.timedelta(minutes=1)
    assert wsm.activity_bump(state, ws, t + dt.timedelta(hours=2, minutes=30))
    assert build.deadline == build.max_deadline
    # Manual shutdown, unfinished job, stopped workspace and activity_bump 0: no bump.
    build.deadline = None
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(hours=1))
    build.deadline, build.job_completed_at = t, None
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(hours=1))
    build.job_completed_at = t
    state.templates[ws.template_id].activity_bump_ms = 0
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(hours=1))
    state.templates[ws.template_id].activity_bump_ms = 5 * HOUR_MS
    assert wsm.activity_bump(state, ws, t + dt.timedelta(minutes=30))
    assert build.deadline == build.max_deadline  # a custom 5h bump, capped
    build.transition = "stop"
    build.deadline = t
    assert not wsm.activity_bump(state, ws, t + dt.timedelta(hours=1))
