"""Deleted workspaces: a delete build whose job succeeded sets workspaces.deleted (provisionerdserver CompleteJob),
and from then on the reads, the name index and the user and template checks treat the workspace as gone."""

import pytest
from conftest import create_template, create_version, make_user, wait_job
from test_workspaces import WS, new_build, new_ws

AGENTS = "/api/v2/workspaceagents"
LOGS = {"logs": [{"output": "x"}]}


def gone_message(ws_id):
    return (f'Workspace "{ws_id}" was deleted, you can view this workspace by specifying \'?deleted=true\' '
            "and trying again.")


def delete(emu, ws, job_status="succeeded"):
    return new_build(emu, ws["id"], transition="delete", job_status=job_status)


def listed(emu, q=None):
    r = emu.get(WS + (f"?q={q}" if q else ""))
    assert r.status == 200, r
    return sorted(w["name"] for w in r.json["workspaces"]), r.json["count"]


@pytest.fixture
def tpl(emu):
    return create_template(emu, "tpl")


# ---------------------------------------------------------------------- the deleted flag and GET by id
def test_successful_delete_build_makes_get_answer_410(emu, tpl):
    ws = new_ws(emu, name="dev")
    assert emu.get(f"{WS}/{ws['id']}").status == 200
    delete(emu, ws)
    r = emu.get(f"{WS}/{ws['id']}")
    assert (r.status, r.json) == (410, {"message": gone_message(ws["id"])})
    assert emu.get(f"{WS}/{ws['id']}?include_deleted=false").status == 410
    for spelling in ("true", "TRUE", "True", "t", "1"):
        shown = emu.get(f"{WS}/{ws['id']}?include_deleted={spelling}")
        assert shown.status == 200, (spelling, shown)
        build = shown.json["latest_build"]
        assert (shown.json["id"], build["transition"], build["status"]) == (ws["id"], "delete", "deleted")
    # The build itself stays readable.
    assert emu.get(f"/api/v2/workspacebuilds/{ws['build']['id']}").status == 200


def test_include_deleted_must_be_a_go_boolean(emu, tpl):
    live = new_ws(emu, name="live")
    gone = new_ws(emu, name="gone")
    delete(emu, gone)
    for ws in (live, gone):
        r = emu.get(f"{WS}/{ws['id']}?include_deleted=tRuE")
        assert (r.status, r.json) == (400, {
            "message": 'Invalid boolean value "tRuE" for "include_deleted" query param.',
            "validations": [{"field": "deleted", "detail": "Must be a valid boolean"}]})
    assert emu.get(f"{WS}/{live['id']}?include_deleted=").status == 200


@pytest.mark.parametrize("job_status, status", [
    ("pending", "pending"), ("running", "deleting"), ("failed", "failed"), ("canceling", "canceling"),
    ("canceled", "canceled")])
def test_unsuccessful_delete_build_keeps_the_workspace(emu, tpl, job_status, status):
    ws = new_ws(emu, name="dev")
    delete(emu, ws, job_status)
    r = emu.get(f"{WS}/{ws['id']}")
    assert r.status == 200 and r.json["latest_build"]["status"] == status
    assert listed(emu) == (["dev"], 1)
    assert emu.get("/api/v2/users/admin/workspace/dev").json["id"] == ws["id"]
    assert new_ws(emu, name="dev", expect=409)["message"] == 'Workspace "dev" already exists.'


def test_a_workspace_created_with_a_successful_delete_build_is_deleted(emu, tpl):
    ws = new_ws(emu, name="born-gone", transition="delete")
    assert emu.get(f"{WS}/{ws['id']}").status == 410


# ---------------------------------------------------------------------- listings
def test_list_leaves_deleted_workspaces_out(emu, tpl):
    make_user(emu, "mia")
    keep = new_ws(emu, name="keep")
    new_ws(emu, owner="mia", name="mine")
    for name in ("gone", "stopped-then-gone"):
        ws = new_ws(emu, name=name)
        if name.startswith("stopped"):
            new_build(emu, ws["id"], transition="stop")
        delete(emu, ws)
    assert listed(emu) == (["keep", "mine"], 2)
    assert listed(emu, "owner:admin") == (["keep"], 1)
    assert listed(emu, "gone") == ([], 0)
    assert listed(emu, "status:deleted") == ([], 0)
    page = emu.get(f"{WS}?limit=1&offset=1").json
    assert (len(page["workspaces"]), page["count"]) == (1, 2)
    assert emu.get(f"{WS}?after_id={keep['id']}").json["count"] == 1


def test_the_workspace_search_has_no_deleted_key(emu, tpl):
    delete(emu, new_ws(emu, name="gone"))
    for value in ("true", "false"):
        r = emu.get(f"{WS}?q=deleted:{value}")
        assert (r.status, r.json) == (400, {"message": "Invalid workspace search query.", "validations": [
            {"field": "deleted", "detail": '"deleted" is not a valid query param'}]})


# ---------------------------------------------------------------------- by owner and name
def test_by_name_ignores_deleted_unless_include_deleted(emu, tpl):
    first = new_ws(emu, name="dev")
    delete(emu, first)
    assert emu.get("/api/v2/users/admin/workspace/dev").status == 404
    assert emu.get("/api/v2/users/admin/workspace/dev?include_deleted=false").status == 404
    shown = emu.get("/api/v2/users/admin/workspace/DEV?include_deleted=true")
    assert shown.status == 200 and shown.json["id"] == first["id"]
    r = emu.get("/api/v2/users/admin/workspace/dev?include_deleted=yes")
    assert (r.status, r.json) == (400, {
        "message": 'Invalid boolean value "yes" for "include_deleted" query param.',
        "validations": [{"field": "include_deleted", "detail": "Must be a valid boolean"}]})
    # Among deleted ones, the most recently created; a live one always wins.
    second = new_ws(emu, name="dev")
    delete(emu, second)
    assert emu.get("/api/v2/users/admin/workspace/dev?include_deleted=1").json["id"] == second["id"]
    live = new_ws(emu, name="Dev")
    for query in ("", "?include_deleted=true"):
        assert emu.get(f"/api/v2/users/me/workspace/dev{query}").json["id"] == live["id"]
    assert emu.get("/api/v2/users/admin/workspace/other?include_deleted=true").status == 404


def test_by_name_with_include_deleted_still_checks_read_access(emu, tpl):
    mia = make_user(emu, "mia")
    delete(emu, new_ws(emu, name="secret"))
    assert mia.get("/api/v2/users/admin/workspace/secret?include_deleted=true").status == 404


# ---------------------------------------------------------------------- what no longer counts
def test_a_deleted_workspace_frees_its_name(emu, tpl):
    ws = new_ws(emu, name="dev")
    assert new_ws(emu, name="DEV", expect=409)["validations"] == [
        {"field": "name", "detail": "This value is already in use and should be unique."}]
    delete(emu, ws, "pending")
    new_ws(emu, name="dev", expect=409)
    delete(emu, ws)
    again = new_ws(emu, name="dev")
    assert again["id"] != ws["id"]
    assert emu.get("/api/v2/users/admin/workspace/dev").json["id"] == again["id"]
    # The index is per owner.
    make_user(emu, "mia")
    new_ws(emu, owner="mia", name="dev")


def test_deleted_workspaces_do_not_block_deleting_their_owner(emu, tpl):
    make_user(emu, "del")
    ws = new_ws(emu, owner="del", name="w1")
    delete(emu, ws, "failed")
    assert emu.delete("/api/v2/users/del").status == 417
    delete(emu, ws)
    r = emu.delete("/api/v2/users/del")
    assert (r.status, r.json) == (200, {"message": "User has been deleted!"})


def test_deleted_workspaces_do_not_block_deleting_their_template(emu, tpl):
    ws = new_ws(emu, name="w1")
    delete(emu, ws, "running")
    r = emu.delete(f"/api/v2/templates/{tpl['id']}")
    assert (r.status, r.json) == (400, {"message": "All workspaces must be deleted before a template can be removed."})
    delete(emu, ws)
    r = emu.delete(f"/api/v2/templates/{tpl['id']}")
    assert (r.status, r.json) == (200, {"message": "Template has been deleted!"})


def test_a_deleted_workspace_does_not_keep_its_version_from_archiving(emu, tpl):
    v1 = tpl["active_version_id"]
    running = new_ws(emu, name="running")
    delete(emu, new_ws(emu, name="gone"))
    v2 = create_version(emu, template_id=tpl["id"])
    wait_job(emu, v2["id"])
    assert emu.call("PATCH", f"/api/v2/templates/{tpl['id']}/versions", {"id": v2["id"]}).status == 200
    # ArchiveUnusedTemplateVersions: the version of a workspace's latest build is in use...
    assert emu.post(f"/api/v2/templateversions/{v1}/archive").status == 500
    # ...unless that build is a delete, as the latest build of "gone" on v1 is.
    assert emu.delete(f"/__emulator/workspaces/{running['id']}", token=None).status == 204
    r = emu.post(f"/api/v2/templateversions/{v1}/archive")
    assert (r.status, r.json) == (200, f'template version "{v1}" archived')


# ---------------------------------------------------------------------- agents
def test_agent_tokens_of_a_deleted_workspace_are_refused(emu, tpl):
    ws = new_ws(emu, name="dev")
    token = ws["agents"][0]["token"]
    assert emu.call("PATCH", f"{AGENTS}/me/logs", LOGS, token=token).status == 200
    gone = delete(emu, ws)
    assert gone["agents"] == []  # a delete build has no agents
    assert emu.call("PATCH", f"{AGENTS}/me/logs", LOGS, token=token).status == 401
    # GetWorkspaceAgentAndLatestBuildByAuthToken requires workspaces.deleted = FALSE, so even a later start
    # build of the deleted workspace gives tokens that do not authenticate.
    rebuilt = new_build(emu, ws["id"])
    r = emu.call("PATCH", f"{AGENTS}/me/logs", LOGS, token=rebuilt["agents"][0]["token"])
    assert (r.status, r.json["message"]) == (401, "Workspace agent not authorized.")
    assert emu.get(f"{WS}/{ws['id']}").status == 410
