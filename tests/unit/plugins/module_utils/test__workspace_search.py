# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._client import CoderClient
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderAPIError, CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._workspace_search import (
    list_workspaces,
    read_workspace,
    search_queries,
    shape_agents,
    shape_workspace,
    workspace_with_agents,
)
from ansible_collections.coder.automation.tests.unit.plugins.module_utils.fake_http import FakeSession, make_response

TOKEN = "AbCdEfGhIj-0123456789abcdefghijkl"
WS_ID = "4f8b2c1e-9d3a-4b6c-8e7f-0a1b2c3d4e5f"


def client(answers):
    session = FakeSession(answers)
    return CoderClient("https://coder.example.test", TOKEN, session=session, sleep=lambda _s: None), session


def coder_workspace(name="dev", owner="alice", status="running", workspace_id=None, agents=None, **extra):
    """A workspace as GET /workspaces answers it (the fields the shape reads, and a few it must drop)."""
    workspace = {
        "id": workspace_id or WS_ID, "name": name, "owner_name": owner, "owner_id": "o-1",
        "owner_avatar_url": "https://avatars.example.test/a.png", "organization_name": "coder",
        "organization_id": "org-1", "template_name": "docker", "template_id": "t-1",
        "template_display_name": "Docker", "template_icon": "/icon/docker.png", "outdated": True,
        "last_used_at": "2026-01-02T03:04:05.123456Z", "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z", "health": {"healthy": False, "failing_agents": ["a-1"]},
        "latest_build": {
            "id": "b-7", "build_number": 7, "transition": "start" if status == "running" else "stop",
            "status": status, "reason": "initiator", "initiator_name": "alice", "template_version_id": "v-1",
            "template_version_name": "brave_turing1", "created_at": "2026-01-02T00:00:00Z",
            "updated_at": "2026-01-02T00:01:00Z", "deadline": "2026-01-02T08:00:00Z", "max_deadline": None,
            "job": {"status": "succeeded", "file_id": "f-1"},
            "resources": [{"name": "main", "type": "docker_container", "agents": agents or []}],
        },
    }
    workspace.update(extra)
    return workspace


def coder_agent(name="main", **extra):
    agent = {"id": f"id-{name}", "name": name, "parent_id": None, "status": "connected", "lifecycle_state": "ready",
             "operating_system": "linux", "architecture": "amd64", "version": "v2.34.3",
             "environment_variables": {"SECRET_THING": "x"}, "logs_length": 10,
             "apps": [{"slug": "code-server", "display_name": "code-server"}]}
    agent.update(extra)
    return agent


# ---- search queries -------------------------------------------------------------------------------

def test_no_filter_is_one_search_of_everything():
    assert search_queries() == [""]


def test_one_value_per_filter_is_one_search():
    assert search_queries(["alice"], ["docker"], ["running"]) == ["owner:alice template:docker status:running"]


def test_several_values_are_one_search_per_combination():
    queries = search_queries(["alice", "bob"], ["docker", "k8s"], ["running"])
    assert queries == [
        "owner:alice template:docker status:running", "owner:alice template:k8s status:running",
        "owner:bob template:docker status:running", "owner:bob template:k8s status:running",
    ]


def test_values_repeated_in_another_letter_case_are_searched_once():
    assert search_queries(["Alice", "alice"], statuses=["RUNNING", "running"]) == ["owner:Alice status:running"]


def test_name_and_free_query_are_added_to_every_search():
    assert search_queries(["a", "b"], name="dev", query=" has-agent:connected ") == [
        "owner:a name:dev has-agent:connected", "owner:b name:dev has-agent:connected"]


def test_an_unknown_status_is_refused_before_any_request():
    with pytest.raises(CoderInputError) as caught:
        search_queries(statuses=["up"])
    assert caught.value.field == "statuses" and "running" in caught.value.message


@pytest.mark.parametrize("value", ["alice status:stopped", "a:b", 'x"y', "", "tab\there"])
def test_a_value_that_would_be_more_than_one_search_term_is_refused(value):
    with pytest.raises(CoderInputError) as caught:
        search_queries(owners=[value])
    assert caught.value.field == "owners"


@pytest.mark.parametrize("values", [[None], ["alice", None], ["  "]])
def test_an_empty_filter_value_is_refused_rather_than_searched(values):
    with pytest.raises(CoderInputError) as caught:
        search_queries(owners=values)
    assert caught.value.field == "owners" and "empty" in caught.value.message


@pytest.mark.parametrize("options, term", [
    (dict(owners=["alice"], query="owner:bob"), "owner:bob"),
    (dict(statuses=["running"], query="has-agent:connected Status:stopped"), "Status:stopped"),
    (dict(name="dev", query="name:x"), "name:x"),
])
def test_a_query_repeating_a_filter_key_names_the_query(options, term):
    with pytest.raises(CoderInputError) as caught:
        search_queries(**options)
    assert caught.value.field == "query" and term in caught.value.message


def test_a_query_with_keys_no_filter_sets_is_kept():
    assert search_queries(owners=["alice"], query="template:docker") == ["owner:alice template:docker"]


def test_a_listed_workspace_without_id_is_reported_not_a_key_error():
    api, _session = client([make_response(200, {"workspaces": [{"name": "dev"}], "count": 1})])
    with pytest.raises(CoderAPIError, match="has no id"):
        list_workspaces(api, [""])


def test_too_many_combinations_are_refused():
    with pytest.raises(CoderInputError, match="more than 100"):
        search_queries([f"u{i}" for i in range(11)], [f"t{i}" for i in range(10)])


# ---- listing --------------------------------------------------------------------------------------

def test_every_page_is_read_and_each_search_sends_its_q():
    first_page = [coder_workspace(f"w{i:03}", workspace_id=f"id-{i}") for i in range(100)]
    answers = [make_response(200, {"workspaces": first_page, "count": 101}),
               make_response(200, {"workspaces": [coder_workspace("w100", workspace_id="id-100")], "count": 101})]
    coder, session = client(answers)
    found = list_workspaces(coder, ["owner:alice"])
    assert len(found) == 101
    assert [call["params"] for call in session.calls] == [
        {"q": "owner:alice", "limit": 100}, {"q": "owner:alice", "limit": 100, "offset": 100}]
    assert session.calls[0]["url"] == "https://coder.example.test/api/v2/workspaces"


def test_results_of_several_searches_are_merged_by_id_and_sorted_by_owner_and_name():
    shared = coder_workspace("shared", owner="bob", workspace_id="id-shared")
    answers = [make_response(200, {"workspaces": [shared, coder_workspace("zeta", owner="Alice", workspace_id="z")],
                                   "count": 2}),
               make_response(200, {"workspaces": [coder_workspace("alpha", owner="bob", workspace_id="a"), shared,
                                                  coder_workspace("zeta", owner="bob", workspace_id="bz")],
                                   "count": 3})]
    coder, session = client(answers)
    found = list_workspaces(coder, ["template:docker", "template:k8s"])
    assert [(w["owner_name"], w["name"]) for w in found] == [
        ("Alice", "zeta"), ("bob", "alpha"), ("bob", "shared"), ("bob", "zeta")]
    assert "params" in session.calls[0] and session.calls[0]["params"]["q"] == "template:docker"


def test_no_search_term_sends_no_q():
    coder, session = client([make_response(200, {"workspaces": [], "count": 0})])
    assert list_workspaces(coder, [""]) == []
    assert session.calls[0]["params"] == {"limit": 100}


# ---- one workspace ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reference, path", [
    ("alice/dev", "/users/alice/workspace/dev"),
    ("dev", "/users/me/workspace/dev"),
    (WS_ID, f"/workspaces/{WS_ID}"),
])
def test_one_workspace_by_reference(reference, path):
    coder, session = client([make_response(200, coder_workspace())])
    assert read_workspace(coder, reference)["id"] == WS_ID
    assert session.calls[0]["url"] == "https://coder.example.test/api/v2" + path


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_or_deleted_workspace_is_none(status):
    coder, _session = client([make_response(status, {"message": "Resource not found or you do not have access"})])
    assert read_workspace(coder, "alice/gone") is None


@pytest.mark.parametrize("reference", ["a/b/c", "alice/", ""])
def test_a_reference_that_is_no_workspace_is_refused(reference):
    coder, session = client([])
    with pytest.raises(CoderInputError):
        read_workspace(coder, reference)
    assert session.calls == []


# ---- shape ----------------------------------------------------------------------------------------

def test_the_workspace_shape_renames_and_keeps_what_coder_returns():
    shaped = shape_workspace(coder_workspace(ttl_ms=3_600_000))
    assert shaped["owner"] == "alice" and shaped["template"] == "docker" and shaped["organization"] == "coder"
    assert shaped["status"] == "running" and shaped["transition"] == "start"
    assert shaped["deadline"] == "2026-01-02T08:00:00Z" and shaped["max_deadline"] is None
    assert shaped["outdated"] is True and shaped["healthy"] is False and shaped["ttl_ms"] == 3_600_000
    assert shaped["latest_build"] == {
        "id": "b-7", "build_number": 7, "reason": "initiator", "initiator": "alice", "template_version_id": "v-1",
        "template_version_name": "brave_turing1", "created_at": "2026-01-02T00:00:00Z",
        "updated_at": "2026-01-02T00:01:00Z", "job_status": "succeeded"}
    for dropped in ("owner_name", "owner_avatar_url", "template_icon", "health", "resources"):
        assert dropped not in shaped


def test_fields_coder_leaves_out_are_left_out():
    shaped = shape_workspace(coder_workspace())
    assert "ttl_ms" not in shaped and "autostart_schedule" not in shaped and "dormant_at" not in shaped


def test_a_go_zero_or_empty_deadline_reads_as_none():
    workspace = coder_workspace()
    workspace["latest_build"]["deadline"] = ""
    assert shape_workspace(workspace)["deadline"] is None


def test_agents_of_every_resource_in_coder_order_without_their_environment():
    workspace = coder_workspace(agents=[coder_agent("main", directory="/home/coder")])
    workspace["latest_build"]["resources"].append(
        {"name": "sidecar", "type": "kubernetes_pod", "agents": [coder_agent("tools", apps=[])]})
    agents = shape_agents(workspace)
    assert [agent["name"] for agent in agents] == ["main", "tools"]
    assert agents[0]["directory"] == "/home/coder" and "directory" not in agents[1]
    assert agents[0]["app_slugs"] == ["code-server"] and agents[1]["app_slugs"] == []
    assert agents[1]["resource_name"] == "sidecar" and agents[1]["resource_type"] == "kubernetes_pod"
    assert all("environment_variables" not in agent and "apps" not in agent for agent in agents)


def test_a_stopped_workspace_has_no_agents():
    assert shape_agents(coder_workspace(status="stopped")) == []
    assert shape_agents({"latest_build": {"resources": None}}) == []


def test_the_module_shape_is_the_workspace_shape_with_its_agents():
    workspace = coder_workspace(agents=[coder_agent()])
    shaped = workspace_with_agents(workspace)
    assert shaped.pop("agents") == shape_agents(workspace)
    assert shaped == shape_workspace(workspace)
