# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from ansible_collections.coder.automation.plugins.module_utils._client import CoderClient
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderError, CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._workspaces import (
    MAX_LOG_LINE,
    batches,
    check_agent_token,
    choose_route,
    extend,
    find_workspace,
    format_time,
    inactive_reason,
    log_entries,
    log_source_id,
    parse_time,
    plan_activity,
    plan_extension,
    push_logs,
    server_now,
    set_app_status,
    split_lines,
)
from ansible_collections.coder.automation.tests.unit.plugins.module_utils.fake_http import FakeSession, make_response

TOKEN = "AbCdEfGhIj-0123456789abcdefghijkl"
AGENT_TOKEN = "6f1c1d2e-8a3b-4c5d-9e6f-7a8b9c0d1e2f"
NOW = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
HOUR = 3_600_000


def minutes(count):
    return NOW + dt.timedelta(minutes=count)


def client(answers):
    session = FakeSession(answers)
    return CoderClient("https://coder.example.test", TOKEN, session=session, sleep=lambda _s: None), session


def workspace(transition="start", job="succeeded", reason="initiator", deadline="2025-03-04T13:00:00Z"):
    return {"id": "4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f", "name": "training", "owner_name": "ana",
            "latest_build": {"transition": transition, "job": {"status": job}, "reason": reason,
                             "initiator_name": "bo", "deadline": deadline, "max_deadline": None,
                             "resources": [{"agents": [{"id": "a1"}]}]}}


# ---- deadline math -------------------------------------------------------------------------------

def test_a_deadline_far_enough_is_no_change():
    extension = plan_extension(NOW, minutes(180), None, 2 * HOUR)
    assert extension.action == "none"


def test_a_rerun_seconds_after_an_extension_is_no_change():
    assert plan_extension(NOW + dt.timedelta(seconds=40), minutes(120), None, 2 * HOUR).action == "none"
    assert plan_extension(NOW + dt.timedelta(seconds=90), minutes(120), None, 2 * HOUR).action == "extend"


def test_a_near_deadline_is_extended_to_now_plus_keep_alive():
    extension = plan_extension(NOW, minutes(20), None, 2 * HOUR)
    assert extension.action == "extend" and extension.target == minutes(120) and not extension.capped


def test_an_extension_is_at_least_thirty_minutes_ahead():
    extension = plan_extension(NOW, minutes(5), None, 10 * 60_000)
    assert extension.action == "extend" and extension.target == minutes(30)
    assert "30 minutes" in extension.message


def test_the_extension_is_capped_at_max_deadline():
    extension = plan_extension(NOW, minutes(20), minutes(90), 2 * HOUR)
    assert extension.action == "extend" and extension.target == minutes(90) and extension.capped
    assert "30m short" in extension.message


def test_at_max_deadline_nothing_can_move_it():
    extension = plan_extension(NOW, minutes(60), minutes(60), 2 * HOUR)
    assert extension.action == "limit"
    assert "2025-03-04T13:00:00Z" in extension.message and "nothing can move it" in extension.message


def test_a_deadline_cut_to_whole_seconds_at_max_deadline_is_the_limit():
    deadline = minutes(60)
    assert plan_extension(NOW, deadline, deadline.replace(microsecond=789000), 2 * HOUR).action == "limit"


def test_a_max_deadline_under_thirty_minutes_away_is_the_limit_too():
    extension = plan_extension(NOW, minutes(10), minutes(25), 2 * HOUR)
    assert extension.action == "limit" and "2025-03-04T12:10:00Z" in extension.message


def test_manual_shutdown_never_stops():
    assert plan_extension(NOW, None, None, HOUR).action == "manual"


def test_the_plan_holds_one_step_only_when_extending():
    ws = workspace()
    far = plan_activity("extend", ws, plan_extension(NOW, minutes(180), None, HOUR))
    near = plan_activity("extend", ws, plan_extension(NOW, minutes(20), None, HOUR))
    assert not far.changed and near.changed
    assert near.diff() == {"before": {"deadline": "2025-03-04T13:00:00Z"},
                           "after": {"deadline": "2025-03-04T13:00:00Z"}}


def test_times_parse_coder_forms_and_format_whole_seconds():
    assert parse_time("0001-01-01T00:00:00Z") is None and parse_time(None) is None
    assert parse_time("2025-03-04T14:00:00.123456789+02:00") == NOW.replace(microsecond=123456)
    assert format_time(NOW.replace(microsecond=999999)) == "2025-03-04T12:00:00Z"


def test_a_capped_target_never_passes_max_deadline():
    extension = plan_extension(NOW, minutes(20), minutes(90).replace(microsecond=500000), 2 * HOUR)
    assert extension.target == minutes(90)


def test_now_is_the_servers_date_header():
    assert server_now({"Date": "Tue, 04 Mar 2025 12:00:00 GMT"}) == NOW
    assert server_now({}).tzinfo is not None


# ---- route choice ----------------------------------------------------------------------------------

def route(version, token=False, workspace_given=False, agent=True, keep=None, slug=None, allow=False, rpc=True,
          wanted="auto"):
    return choose_route(wanted, version, token, workspace_given, agent, keep, slug, allow, rpc_available=rpc)


@pytest.mark.parametrize("version, slug, allow, expected", [
    ((2, 12, 4), None, False, "report_stats"),
    ((2, 31, 1), None, False, "rpc"),
    ((2, 34, 3), "code-server", False, "rpc"),
    ((2, 31, 0), None, True, "rpc"),
    ((2, 30, 0), "code-server", False, "app_status"),
    ((2, 31, 0), "code-server", True, "app_status"),
    ((2, 20, 0), None, True, "rpc"),
])
def test_agent_routes_follow_the_server_version(version, slug, allow, expected):
    assert route(version, slug=slug, allow=allow) == expected


def test_no_agent_route_fails_saying_what_the_server_needs():
    with pytest.raises(CoderInputError) as error:
        route((2, 20, 0))
    assert "v2.31.1" in error.value.message and "allow_agent_disconnect_side_effect" in error.value.message
    assert "v2.30.0" in error.value.message


def test_without_the_rpc_client_an_app_slug_still_works():
    assert route((2, 34, 3), slug="code-server", rpc=False) == "app_status"
    with pytest.raises(CoderInputError):
        route((2, 34, 3), rpc=False)


def test_user_token_routes():
    assert route((2, 34, 3), token=True, workspace_given=True, agent=False, keep=HOUR) == "extend"
    assert route((2, 34, 3), token=True, workspace_given=True, agent=True, keep=HOUR) == "extend"
    assert route((2, 34, 3), token=True, workspace_given=True, agent=False) == "usage"
    with pytest.raises(CoderInputError) as error:
        route((2, 34, 3), keep=HOUR)
    assert error.value.field == "token"


@pytest.mark.parametrize("wanted, version", [("report_stats", (2, 13, 0)), ("rpc", (2, 31, 0)),
                                             ("app_status", (2, 29, 9))])
def test_an_explicit_route_the_server_lacks_fails(wanted, version):
    with pytest.raises(CoderInputError) as error:
        route(version, slug="code-server", wanted=wanted)
    assert error.value.field == "route"


# ---- workspaces ------------------------------------------------------------------------------------

def test_find_by_owner_and_name_or_id_and_bare_name():
    api, session = client([make_response(200, workspace(), {"Date": "Tue, 04 Mar 2025 12:00:00 GMT"}),
                           make_response(200, workspace()), make_response(200, workspace())])
    found, now = find_workspace(api, "ana/training")
    find_workspace(api, "4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f")
    find_workspace(api, "training")
    assert found["name"] == "training" and now == NOW
    assert [call["url"].split("/api/v2")[1] for call in session.calls] == [
        "/users/ana/workspace/training", "/workspaces/4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f",
        "/users/me/workspace/training"]


def test_a_missing_workspace_names_the_option():
    api, _session = client([make_response(404, {"message": "Resource not found"})])
    with pytest.raises(CoderInputError) as error:
        find_workspace(api, "ana/nope")
    assert error.value.field == "workspace"


def test_a_deleted_workspace_read_by_id_says_so():
    gone = {"message": 'Workspace "4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f" was deleted, you can view this workspace '
                       "by specifying '?deleted=true' and trying again."}
    api, _session = client([make_response(410, gone)])
    with pytest.raises(CoderInputError) as error:
        find_workspace(api, "4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f")
    assert error.value.field == "workspace" and "was deleted" in str(error.value)


@pytest.mark.parametrize("ws, words", [
    (workspace(transition="stop", reason="autostop"), "stopped by its schedule"),
    (workspace(transition="stop"), "stopped by bo"),
    (workspace(job="running"), "is starting"),
    (workspace(job="failed"), "failed"),
    (workspace(transition="delete"), "deleted"),
])
def test_inactive_workspaces_get_plain_words(ws, words):
    assert words in inactive_reason(ws)


def test_a_running_workspace_is_fine():
    assert inactive_reason(workspace()) is None


def test_extend_translates_coder_conflicts():
    api, session = client([make_response(409, {"message": "Workspace shutdown is manual."})])
    with pytest.raises(CoderError) as error:
        extend(api, workspace(), minutes(60))
    assert "shutdown is manual" in str(error.value) and "409" not in str(error.value)
    assert session.calls[0]["json"] == {"deadline": "2025-03-04T13:00:00Z"}


def test_a_refused_agent_token_gets_plain_words_and_no_token():
    api, _session = client([make_response(401, {"message": "Workspace agent not authorized."})])
    with pytest.raises(CoderError) as error:
        set_app_status(api, "code-server", "hi")
    assert "earlier build" in str(error.value) and TOKEN not in str(error.value)


def test_an_unknown_app_names_app_slug():
    api, _session = client([make_response(400, {"message": "Failed to get workspace app.",
                                                "detail": 'No app found with slug "x"'})])
    with pytest.raises(CoderInputError) as error:
        set_app_status(api, "x", "hi")
    assert error.value.field == "app_slug"


def test_agent_tokens_are_uuids():
    assert check_agent_token(f" {AGENT_TOKEN}\n") == AGENT_TOKEN
    with pytest.raises(CoderInputError) as error:
        check_agent_token("not-a-uuid-secret")
    assert "not-a-uuid-secret" not in str(error.value)


# ---- logs ------------------------------------------------------------------------------------------

def test_source_ids_are_stable_uuid5():
    assert log_source_id("Nightly") == log_source_id("Nightly") != log_source_id("nightly")
    assert uuid.UUID(log_source_id("Nightly")).version == 5


def test_long_lines_and_line_breaks_are_split():
    pieces = split_lines(["a" * (2 * MAX_LOG_LINE + 5), "one\ntwo", ""])
    assert [len(piece) for piece in pieces[:3]] == [MAX_LOG_LINE, MAX_LOG_LINE, 5]
    assert pieces[3:] == ["one", "two", ""]


def test_entries_are_rfc3339_utc():
    entry = log_entries(["x"], "warn", NOW)[0]
    assert entry == {"created_at": "2025-03-04T12:00:00.000000Z", "output": "x", "level": "warn"}


def test_batches_stay_under_the_request_limit():
    entries = log_entries(["x" * 1000] * 3000, "info", NOW)
    groups = batches(entries, log_source_id("s"))
    assert len(groups) > 1 and sum(len(group) for group in groups) == 3000
    for group in groups:
        body = json.dumps({"log_source_id": log_source_id("s"), "logs": group}).encode()
        assert len(body) < 1_048_576


def test_the_log_limit_stops_sending_and_counts_what_was_dropped():
    api, session = client([make_response(200, None), make_response(413, {"message": "Logs limit exceeded"})])
    groups = [log_entries(["ab"], "info", NOW), log_entries(["cde", "fg"], "info", NOW),
              log_entries(["h"], "info", NOW)]
    result = push_logs(api, "src", groups)
    assert result == {"sent": 1, "requests": 1, "dropped": 3, "dropped_bytes": 6}
    assert len(session.calls) == 2 and session.calls[0]["json"]["log_source_id"] == "src"
