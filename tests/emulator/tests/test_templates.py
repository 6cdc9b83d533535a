"""Templates (coder-api.md §6, §12, §13 "Templates" and "Template ACL")."""

import pytest
from conftest import OWNER_TOKEN, Client, create_template, create_version, make_user, wait_job

from coder_emulator import start_server

ORG_T = "/api/v2/organizations/default/templates"
T = "/api/v2/templates"
NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}
PREMIUM = {"message": "Template RBAC is a Premium feature. Contact sales!"}
WEEK = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _server(**options):
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, build_delay=0.02, **options)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def agpl_server():
    yield from _server(license="none")


@pytest.fixture(scope="module")
def old_server():
    yield from _server(version="v2.33.2")


@pytest.fixture
def agpl(agpl_server):
    c = Client(agpl_server.url)
    assert c.post("/__emulator/reset", token=None).status == 204
    return c


@pytest.fixture
def old(old_server):
    c = Client(old_server.url)
    assert c.post("/__emulator/reset", token=None).status == 204
    return c


def patch(client, tpl_id, body):
    return client.call("PATCH", f"{T}/{tpl_id}", body)


def org_id(client):
    return client.get("/api/v2/organizations/default").json["id"]


# ---------------------------------------------------------------------- create
def test_create_defaults(emu):
    v = create_version(emu)
    wait_job(emu, v["id"])
    r = emu.post(ORG_T, {"name": "docker", "template_version_id": v["id"]})
    assert r.status == 201
    t = r.json
    me = emu.get("/api/v2/users/me").json
    assert t == {
        "id": t["id"], "created_at": t["created_at"], "updated_at": t["updated_at"],
        "organization_id": org_id(emu), "organization_name": "coder", "organization_display_name": "Coder",
        "organization_icon": "", "name": "docker", "display_name": "", "provisioner": "terraform",
        "active_version_id": v["id"], "active_user_count": 0,
        "build_time_stats": {k: {"P50": None, "P95": None} for k in ("start", "stop", "delete")},
        "description": "", "deprecated": False, "deprecation_message": "", "deleted": False, "icon": "",
        "default_ttl_ms": 0, "activity_bump_ms": 3600000,
        "autostop_requirement": {"days_of_week": [], "weeks": 1}, "autostart_requirement": {"days_of_week": WEEK},
        "created_by_id": me["id"], "created_by_name": "admin", "allow_user_autostart": True,
        "allow_user_autostop": True, "allow_user_cancel_workspace_jobs": False, "failure_ttl_ms": 0,
        "time_til_dormant_ms": 0, "time_til_dormant_autodelete_ms": 0, "require_active_version": False,
        "max_port_share_level": "owner", "cors_behavior": "simple", "use_classic_parameter_flow": False,
        "disable_module_cache": False}
    # The version is now attached to the template.
    assert emu.get(f"/api/v2/templateversions/{v['id']}").json["template_id"] == t["id"]
    assert emu.get(f"{T}/{t['id']}").json == t


def test_create_premium_fields(emu):
    t = create_template(emu, "full", display_name="Full", description="d", icon="/i.svg", default_ttl_ms=3600000,
                        activity_bump_ms=0, allow_user_autostart=False, allow_user_autostop=False,
                        allow_user_cancel_workspace_jobs=True, failure_ttl_ms=120000, dormant_ttl_ms=180000,
                        delete_ttl_ms=240000, require_active_version=True, max_port_share_level="public",
                        autostop_requirement={"days_of_week": ["Sunday", "monday"], "weeks": 2},
                        autostart_requirement={"days_of_week": ["friday"]}, cors_behavior="passthru",
                        template_use_classic_parameter_flow=True)
    assert (t["allow_user_autostart"], t["allow_user_autostop"], t["allow_user_cancel_workspace_jobs"]) == (
        False, False, True)
    assert (t["failure_ttl_ms"], t["time_til_dormant_ms"], t["time_til_dormant_autodelete_ms"]) == (
        120000, 180000, 240000)
    assert t["autostop_requirement"] == {"days_of_week": ["monday", "sunday"], "weeks": 2}
    assert t["autostart_requirement"] == {"days_of_week": ["friday"]}
    assert (t["require_active_version"], t["max_port_share_level"]) == (True, "public")
    assert t["cors_behavior"] == "passthru"
    assert (t["activity_bump_ms"], t["default_ttl_ms"], t["use_classic_parameter_flow"]) == (0, 3600000, True)


def test_create_unlicensed_ignores_premium_fields(agpl):
    t = create_template(agpl, "agpl", allow_user_autostart=False, failure_ttl_ms=120000, dormant_ttl_ms=180000,
                        require_active_version=True, autostop_requirement={"days_of_week": ["monday"], "weeks": 2})
    assert (t["allow_user_autostart"], t["failure_ttl_ms"], t["time_til_dormant_ms"]) == (True, 0, 0)
    assert t["require_active_version"] is False and t["autostop_requirement"] == {"days_of_week": [], "weeks": 1}
    assert t["max_port_share_level"] == "public"
    v = create_version(agpl)
    for level in ("public", "owner"):
        r = agpl.post(ORG_T, {"name": "ports", "template_version_id": v["id"], "max_port_share_level": level})
        assert r.status == 400 and r.json["validations"][0]["field"] == "max_port_share_level", r


def test_create_errors(emu):
    t = create_template(emu, "taken")
    v = create_version(emu)
    r = emu.post(ORG_T, {"name": "TAKEN", "template_version_id": "6f1c3a80-0000-4000-8000-000000000000"})
    assert (r.status, r.json) == (409, {"message": 'Template with name "TAKEN" already exists.', "validations": [
        {"field": "name", "detail": "This value is already in use and should be unique."}]})
    r = emu.post(ORG_T, {"name": "new", "template_version_id": v["id"]})
    assert r.status == 400 and r.json["validations"][0] == {
        "field": "name", "detail": 'Validation failed for tag "template_name" with value: "new"'}
    r = emu.post(ORG_T, {"name": "x", "template_version_id": "6f1c3a80-0000-4000-8000-000000000000"})
    assert r.status == 404 and r.json["validations"][0]["field"] == "template_version_id"
    r = emu.post(ORG_T, {"name": "x", "template_version_id": t["active_version_id"]})
    assert r.status == 400  # already attached
    r = emu.post(ORG_T, {"name": "x", "description": "d" * 128, "template_version_id": v["id"]})
    assert r.json["validations"][0]["field"] == "description"
    for bad in ({"default_ttl_ms": -1}, {"activity_bump_ms": -5}, {"cors_behavior": "open"},
                {"max_port_share_level": "everyone"}, {"autostop_requirement": {"weeks": -1}},
                {"autostart_requirement": {"days_of_week": ["someday"]}}):
        r = emu.post(ORG_T, {"name": "x", "template_version_id": v["id"], **bad})
        assert (r.status, r.json["message"]) == (400, "Invalid create template request."), bad
    assert emu.post(ORG_T, {"name": "x", "template_version_id": v["id"]}, token=None).status == 401


def test_create_from_pending_or_failed_version_and_archived(emu):
    pending = create_version(emu, tags={"os": "plan9"})
    assert emu.post(ORG_T, {"name": "p", "template_version_id": pending["id"]}).status == 201
    failed = create_version(emu, {"README": "x"})
    wait_job(emu, failed["id"])
    assert emu.post(ORG_T, {"name": "f", "template_version_id": failed["id"]}).status == 201
    tpl = create_template(emu, "holder")
    archived = create_version(emu, template_id=tpl["id"])
    wait_job(emu, archived["id"])
    emu.post(f"/api/v2/templateversions/{archived['id']}/archive")
    r = emu.post(ORG_T, {"name": "a", "template_version_id": archived["id"]})
    assert r.status == 400


def test_everyone_group_access(emu):
    oid = org_id(emu)
    t = create_template(emu, "open")
    acl = emu.get(f"{T}/{t['id']}/acl").json
    assert acl["users"] == [] and [(g["id"], g["role"]) for g in acl["group"]] == [(oid, "use")]
    closed = create_template(emu, "closed", disable_everyone_group_access=True)
    assert emu.get(f"{T}/{closed['id']}/acl").json == {"users": [], "group": []}
    mia = make_user(emu, "mia")
    assert mia.get(f"{T}/{t['id']}").status == 200
    assert mia.get(f"{T}/{closed['id']}").json == NOT_FOUND
    assert [x["name"] for x in mia.get(T).json] == ["open"]


# ---------------------------------------------------------------------- get / list
def test_get_and_list(emu):
    b = create_template(emu, "beta", display_name="Second")
    a = create_template(emu, "alpha", display_name="First")
    assert emu.get(f"{ORG_T}/ALPHA").json["id"] == a["id"]
    assert emu.get(f"{ORG_T}/nope").json == NOT_FOUND
    assert [x["name"] for x in emu.get(ORG_T).json] == ["alpha", "beta"]
    assert [x["name"] for x in emu.get(T).json] == ["alpha", "beta"]
    assert [x["name"] for x in emu.get(f"{T}?q=exact_name:BETA").json] == ["beta"]
    assert [x["name"] for x in emu.get(f"{T}?q=name:lph").json] == ["alpha"]
    assert [x["name"] for x in emu.get(f"{T}?q=organization:coder").json] == ["alpha", "beta"]
    assert [x["name"] for x in emu.get(f"{T}?q=secon").json] == ["beta"]
    r = emu.get(f"{T}?q=colour:red")
    assert r.status == 400 and r.json["validations"][0]["field"] == "colour"
    assert emu.get(f"{T}?q=deleted:maybe").status == 400
    # Deprecated templates are hidden unless asked for, but found by name.
    assert patch(emu, b["id"], {"deprecation_message": "use alpha"}).json["deprecated"] is True
    assert [x["name"] for x in emu.get(T).json] == ["alpha"]
    assert [x["name"] for x in emu.get(f"{T}?q=deprecated:true").json] == ["beta"]
    assert emu.get(f"{ORG_T}/beta").status == 200
    assert emu.get(f"{T}/not-a-uuid").status == 400


# ---------------------------------------------------------------------- delete
def test_delete(emu):
    t = create_template(emu, "gone")
    mia = make_user(emu, "mia")
    r = mia.delete(f"{T}/{t['id']}")
    assert r.status == 403
    ws = emu.post("/__emulator/workspaces", {"owner": "mia", "name": "w1", "template": "gone"}, token=None)
    assert ws.status == 201 and ws.json["template_id"] == t["id"]
    r = emu.delete(f"{T}/{t['id']}")
    assert (r.status, r.json) == (400, {"message": "All workspaces must be deleted before a template can be removed."})
    assert emu.delete(f"/__emulator/workspaces/{ws.json['id']}", token=None).status == 204
    r = emu.delete(f"{T}/{t['id']}")
    assert (r.status, r.json) == (200, {"message": "Template has been deleted!"})
    assert emu.get(f"{T}/{t['id']}").json == NOT_FOUND
    assert emu.get(f"{ORG_T}/gone").status == 404
    deleted = emu.get(f"{T}?q=deleted:true").json
    assert [(x["id"], x["deleted"]) for x in deleted] == [(t["id"], True)]
    assert emu.get(T).json == []
    create_template(emu, "gone")  # the name is free again


# ---------------------------------------------------------------------- PATCH, v2.34+
def test_patch_current_keeps_omitted_fields(emu):
    t = create_template(emu, "p", display_name="P", default_ttl_ms=3600000, allow_user_autostart=False)
    r = patch(emu, t["id"], {})
    assert r.status == 200
    assert {k: v for k, v in r.json.items() if k != "updated_at"} == {k: v for k, v in t.items() if k != "updated_at"}
    r = patch(emu, t["id"], {"description": "new", "activity_bump_ms": 0, "failure_ttl_ms": 60000,
                             "autostop_requirement": {"days_of_week": ["saturday"], "weeks": 0}})
    assert (r.json["description"], r.json["activity_bump_ms"], r.json["failure_ttl_ms"]) == ("new", 0, 60000)
    assert r.json["autostop_requirement"] == {"days_of_week": ["saturday"], "weeks": 1}
    assert (r.json["display_name"], r.json["default_ttl_ms"], r.json["allow_user_autostart"]) == ("P", 3600000, False)
    assert patch(emu, t["id"], {"display_name": ""}).json["display_name"] == ""
    assert patch(emu, t["id"], {"name": "renamed"}).json["name"] == "renamed"


def test_patch_validation(emu):
    t = create_template(emu, "v")
    create_template(emu, "other")
    for body, field, detail in (
            ({"default_ttl_ms": -1}, "default_ttl_ms", None),
            ({"failure_ttl_ms": 1000}, "failure_ttl_ms", "Value must be at least one minute."),
            ({"time_til_dormant_ms": 59999}, "time_til_dormant_ms", "Value must be at least one minute."),
            ({"time_til_dormant_autodelete_ms": 5}, "time_til_dormant_autodelete_ms",
             "Value must be at least one minute."),
            ({"autostop_requirement": {"weeks": 17}}, "autostop_requirement.weeks", None),
            ({"max_port_share_level": "world"}, "max_port_sharing_level", None),
            ({"cors_behavior": "loose"}, "cors_behavior", None)):
        r = patch(emu, t["id"], body)
        assert (r.status, r.json["message"]) == (400, "Invalid request to update template metadata!"), body
        assert r.json["validations"][0]["field"] == field
        if detail:
            assert r.json["validations"][0]["detail"] == detail
    r = patch(emu, t["id"], {"name": "other"})
    assert r.status == 409 and r.json["validations"][0]["field"] == "name"
    assert patch(emu, t["id"], {"name": "bad name"}).status == 400
    assert make_user(emu, "mia").call("PATCH", f"{T}/{t['id']}", {"description": "x"}).status == 403


def test_patch_unlicensed(agpl):
    t = create_template(agpl, "a")
    r = patch(agpl, t["id"], {"deprecation_message": "old", "require_active_version": True,
                              "allow_user_autostart": False, "failure_ttl_ms": 120000})
    assert r.status == 200
    assert (r.json["deprecated"], r.json["deprecation_message"], r.json["require_active_version"]) == (False, "",
                                                                                                       False)
    assert (r.json["allow_user_autostart"], r.json["failure_ttl_ms"]) == (True, 0)
    assert patch(agpl, t["id"], {"max_port_share_level": "public"}).status == 200
    r = patch(agpl, t["id"], {"max_port_share_level": "owner"})
    assert r.status == 400 and r.json["validations"] == [
        {"field": "max_port_sharing_level", "detail": "port sharing level is an enterprise feature"}]
    # Clearing a deprecation works without a license (set while licensed).
    assert agpl.post("/__emulator/license", {"license": "premium"}, token=None).status == 204
    assert patch(agpl, t["id"], {"deprecation_message": "old"}).json["deprecated"] is True
    assert agpl.post("/__emulator/license", {"license": "none"}, token=None).status == 204
    assert patch(agpl, t["id"], {"deprecation_message": ""}).json["deprecated"] is False


def test_patch_disable_everyone(emu):
    t = create_template(emu)
    patch(emu, t["id"], {"disable_everyone_group_access": True})
    assert emu.get(f"{T}/{t['id']}/acl").json["group"] == []
    patch(emu, t["id"], {"disable_everyone_group_access": False})
    assert emu.get(f"{T}/{t['id']}/acl").json["group"] == []


# ---------------------------------------------------------------------- PATCH, v2.33 and older
def test_patch_old_resets_omitted_plain_fields(old):
    t = create_template(old, "o", display_name="O", default_ttl_ms=3600000, allow_user_cancel_workspace_jobs=True,
                        require_active_version=True, failure_ttl_ms=120000)
    r = patch(old, t["id"], {"description": "only this"})
    assert r.status == 200
    j = r.json
    assert (j["description"], j["display_name"], j["name"]) == ("only this", "O", "o")
    assert (j["default_ttl_ms"], j["activity_bump_ms"], j["allow_user_autostart"], j["allow_user_autostop"]) == (
        0, 0, False, False)
    assert (j["allow_user_cancel_workspace_jobs"], j["require_active_version"], j["failure_ttl_ms"]) == (
        False, False, 0)


def test_patch_old_not_modified(old):
    t = create_template(old, "o")
    full = {k: t[k] for k in ("name", "display_name", "description", "icon", "default_ttl_ms", "activity_bump_ms",
                              "allow_user_autostart", "allow_user_autostop", "allow_user_cancel_workspace_jobs",
                              "failure_ttl_ms", "time_til_dormant_ms", "time_til_dormant_autodelete_ms",
                              "require_active_version", "autostop_requirement", "autostart_requirement",
                              "max_port_share_level", "cors_behavior", "deprecation_message")}
    r = patch(old, t["id"], full)
    assert (r.status, r.raw) == (304, b"")
    r = patch(old, t["id"], {**full, "default_ttl_ms": 7200000})
    assert (r.status, r.json["default_ttl_ms"]) == (200, 7200000)


# ---------------------------------------------------------------------- ACL
def test_acl_rules(emu):
    t = create_template(emu, "acl")
    url = f"{T}/{t['id']}/acl"
    mia_id = emu.create_user("mia").json["id"]
    ann = make_user(emu, "ann")
    ann_id = ann.get("/api/v2/users/me").json["id"]
    gid = emu.post("/api/v2/organizations/default/groups", {"name": "devs"}).json["id"]
    r = emu.call("PATCH", url, {"user_perms": {mia_id: "use", ann_id: "admin"}, "group_perms": {gid: "use"}})
    assert (r.status, r.json) == (200, {"message": "Successfully updated template ACL list."})
    acl = emu.get(url).json
    assert sorted((u["username"], u["role"]) for u in acl["users"]) == [("ann", "admin"), ("mia", "use")]
    assert sorted(g["name"] for g in acl["group"]) == ["Everyone", "devs"]
    # Merge: unlisted entries stay, "" removes.
    emu.call("PATCH", url, {"user_perms": {mia_id: ""}})
    assert [u["username"] for u in emu.get(url).json["users"]] == ["ann"]
    # An ACL admin may update the template.
    assert ann.call("PATCH", f"{T}/{t['id']}", {"description": "by ann"}).status == 200

    def invalid(body):
        res = emu.call("PATCH", url, body)
        assert (res.status, res.json["message"]) == (400, "Invalid request to update template ACL"), res
        return res.json["validations"]
    assert invalid({"user_perms": {"nope": "use"}}) == [{"field": "user_perms", "detail": "nope is not a valid UUID."}]
    assert invalid({"user_perms": {"nope": ""}})[0]["field"] == "user_perms"
    assert invalid({"user_perms": {mia_id: "owner"}}) == [
        {"field": "user_perms", "detail": 'role "owner" is not a valid template role'}]
    assert invalid({"user_perms": {"6f1c3a80-0000-4000-8000-000000000000": "use"}})[0]["field"] == "user_perms"
    assert invalid({"group_perms": {"6f1c3a80-0000-4000-8000-000000000000": "use"}})[0]["field"] == "group_perms"


def test_acl_user_status_filtering(emu):
    t = create_template(emu)
    url = f"{T}/{t['id']}/acl"
    ids = {name: emu.create_user(name).json["id"] for name in ("dora", "sus", "del")}
    assert emu.call("PATCH", url, {"user_perms": {i: "use" for i in ids.values()}}).status == 200
    emu.put("/api/v2/users/sus/status/suspend")
    emu.delete("/api/v2/users/del")
    assert [u["username"] for u in emu.get(url).json["users"]] == ["dora"]  # dora is dormant
    # Removing a deleted user's entry works; granting to one does not.
    assert emu.call("PATCH", url, {"user_perms": {ids["del"]: ""}}).status == 200
    assert emu.call("PATCH", url, {"user_perms": {ids["del"]: "use"}}).status == 400


def test_acl_use_only_caller_gets_500(emu):
    t = create_template(emu)
    mia = make_user(emu, "mia")  # "use" through the Everyone group
    r = mia.call("PATCH", f"{T}/{t['id']}/acl", {"user_perms": {}})
    assert r.status == 500


def test_acl_available(emu):
    t = create_template(emu)
    emu.create_user("mia")
    r = emu.get(f"{T}/{t['id']}/acl/available")
    assert r.status == 200
    assert sorted(u["username"] for u in r.json["users"]) == ["admin", "mia"]
    assert [g["name"] for g in r.json["groups"]] == ["Everyone"]
    assert [u["username"] for u in emu.get(f"{T}/{t['id']}/acl/available?q=mia").json["users"]] == ["mia"]


def test_acl_unlicensed_before_auth(agpl):
    t = create_template(agpl)
    for method in ("GET", "PATCH"):
        r = agpl.call(method, f"{T}/{t['id']}/acl", {} if method == "PATCH" else None, token=None)
        assert (r.status, r.json) == (403, PREMIUM)
    assert agpl.get(f"{T}/{t['id']}/acl/available").json == PREMIUM


def test_entitlements_features(emu, agpl):
    features = ("advanced_template_scheduling", "access_control", "control_shared_ports", "template_rbac")
    premium = emu.get("/api/v2/entitlements").json["features"]
    none = agpl.get("/api/v2/entitlements").json["features"]
    for name in features:
        assert premium[name]["enabled"] is True and premium[name]["entitlement"] == "entitled"
        assert none[name] == {"entitlement": "not_entitled", "enabled": False}
