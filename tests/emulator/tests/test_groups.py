"""Groups (coder-api.md §5, §12, §13 "Groups"): routes, Everyone rules, licensing, permissions, seed."""

import json

import pytest
from conftest import OWNER_TOKEN, Client, make_user

from coder_emulator import start_server

GROUPS = "/api/v2/groups"
ORG_GROUPS = "/api/v2/organizations/default/groups"
NOT_FOUND = {"message": "Resource not found or you do not have access to this resource"}
PREMIUM = {"message": "Template RBAC is a Premium feature. Contact sales!"}


def org_id(emu, org="default"):
    return emu.get(f"/api/v2/organizations/{org}").json["id"]


def user_id(emu, username):
    return emu.get(f"/api/v2/users/{username}").json["id"]


def new_group(emu, name, org="default", **extra):
    r = emu.post(f"/api/v2/organizations/{org}/groups", {"name": name, **extra})
    assert r.status == 201, r
    return r.json


def patch(emu, group_id, body):
    return emu.call("PATCH", f"{GROUPS}/{group_id}", body)


def usernames(group_or_page, key="members"):
    return [u["username"] for u in group_or_page[key] or []]


# ---------------------------------------------------------------------- create / get
def test_create_and_get(emu):
    oid = org_id(emu)
    r = emu.post(ORG_GROUPS, {"name": "devs", "display_name": "Developers", "avatar_url": "https://x.test/a.png",
                              "quota_allowance": 7})
    assert r.status == 201
    g = r.json
    assert g == {"id": g["id"], "name": "devs", "display_name": "Developers", "organization_id": oid, "members": [],
                 "total_member_count": 0, "avatar_url": "https://x.test/a.png", "quota_allowance": 7,
                 "source": "user", "organization_name": "coder", "organization_display_name": "Coder"}
    assert emu.get(f"{GROUPS}/{g['id']}").json == g
    assert emu.get(f"{ORG_GROUPS}/devs").json == g
    assert emu.get(f"/api/v2/organizations/{oid}/groups/devs").json["id"] == g["id"]


def test_names_are_case_sensitive(emu):
    lower = new_group(emu, "devs")
    upper = new_group(emu, "Devs")
    assert lower["id"] != upper["id"]
    assert emu.get(f"{ORG_GROUPS}/Devs").json["id"] == upper["id"]
    assert emu.get(f"{ORG_GROUPS}/devs").json["id"] == lower["id"]
    r = emu.get(f"{ORG_GROUPS}/DEVS")
    assert (r.status, r.json) == (404, NOT_FOUND)
    r = emu.post(ORG_GROUPS, {"name": "devs"})
    assert (r.status, r.json) == (409, {"message": 'A group named "devs" already exists.',
                                        "validations": [{"field": "name", "detail": "Group names must be unique"}]})


def test_create_validation(emu):
    r = emu.post(ORG_GROUPS, {"name": "Everyone"})
    assert (r.status, r.json) == (400, {"message": "Invalid group name.", "validations": [
        {"field": "name", "detail": '"Everyone" is a reserved group name'}]})
    for bad in ("new", "create", "bad name", "-x"):
        r = emu.post(ORG_GROUPS, {"name": bad})
        assert (r.status, r.json) == (400, {"message": "Validation failed.", "validations": [
            {"field": "name", "detail": f'Validation failed for tag "group_name" with value: "{bad}"'}]}), bad
    r = emu.post(ORG_GROUPS, {})
    assert r.json["validations"] == [{"field": "name", "detail": 'Validation failed for tag "required" with value: ""'}]
    r = emu.post(ORG_GROUPS, {"name": "ok", "display_name": " padded"})
    assert r.json["validations"][0]["field"] == "display_name"
    assert emu.post(ORG_GROUPS, {"name": "x" * 255}).status == 201
    assert emu.post(ORG_GROUPS, {"name": "y" * 256}).status == 400
    assert emu.post("/api/v2/organizations/nope/groups", {"name": "a"}).json == NOT_FOUND


def test_get_errors(emu):
    r = emu.get(f"{GROUPS}/nope")
    assert (r.status, r.json) == (400, {"message": 'Invalid UUID "nope".', "detail": "invalid UUID length: 4"})
    r = emu.get(f"{GROUPS}/00000000-0000-0000-0000-00000000000z")
    assert r.json == {"message": 'Invalid UUID "00000000-0000-0000-0000-00000000000z".',
                      "detail": "invalid UUID format"}
    r = emu.get(f"{GROUPS}/6f1c3a80-0000-4000-8000-000000000000")
    assert (r.status, r.json) == (404, NOT_FOUND)
    assert emu.get(f"{ORG_GROUPS}/missing").status == 404


# ---------------------------------------------------------------------- Everyone
def test_everyone_group(emu):
    oid = org_id(emu)
    emu.create_user("ann")
    emu.create_user("ben")
    everyone = emu.get(f"{GROUPS}/{oid}").json
    assert (everyone["id"], everyone["name"], everyone["display_name"], everyone["source"]) == (
        oid, "Everyone", "", "user")
    assert usernames(everyone) == ["admin", "ann", "ben"] and everyone["total_member_count"] == 3
    assert emu.get(f"{ORG_GROUPS}/Everyone").json["id"] == oid
    assert emu.get(f"{ORG_GROUPS}/everyone").status == 404

    r = patch(emu, oid, {"name": "All"})
    assert (r.status, r.json) == (400, {"message": 'Cannot rename the "Everyone" group!'})
    r = patch(emu, oid, {"display_name": "All of us"})
    assert (r.status, r.json) == (400, {"message": 'Cannot update the Display Name for the "Everyone" group!'})
    ann = user_id(emu, "ann")
    for key in ("add_users", "remove_users"):
        r = patch(emu, oid, {key: [ann]})
        assert (r.status, r.json) == (403, {"message": 'Cannot add or remove users from the "Everyone" group!'})
    r = emu.delete(f"{GROUPS}/{oid}")
    assert (r.status, r.json) == (400, {"message": '"Everyone" is a reserved group and cannot be deleted!'})

    r = patch(emu, oid, {"name": "Everyone", "display_name": "", "quota_allowance": 5, "avatar_url": "/e.png"})
    assert r.status == 200
    assert (r.json["name"], r.json["quota_allowance"], r.json["avatar_url"]) == ("Everyone", 5, "/e.png")
    assert usernames(r.json) == ["admin", "ann", "ben"]

    g = new_group(emu, "devs")
    r = patch(emu, g["id"], {"name": "Everyone"})
    assert (r.status, r.json) == (400, {"message": '"Everyone" is a reserved group name!'})


def test_everyone_per_organization(emu):
    eng = emu.post("/api/v2/organizations", {"name": "eng"}).json
    emu.create_user("ann")
    everyone = emu.get(f"{GROUPS}/{eng['id']}").json
    assert (everyone["name"], everyone["organization_name"], usernames(everyone)) == ("Everyone", "eng", ["admin"])
    assert emu.post("/api/v2/organizations/eng/members/ann").status == 200
    assert usernames(emu.get(f"{GROUPS}/{eng['id']}").json) == ["admin", "ann"]


# ---------------------------------------------------------------------- patch
def test_patch_fields_and_members(emu):
    g = new_group(emu, "devs", display_name="Devs", quota_allowance=10)
    ann, ben = emu.create_user("ann").json["id"], emu.create_user("ben").json["id"]
    r = patch(emu, g["id"], {"name": "devs2", "avatar_url": "https://x.test/b.png", "quota_allowance": 20,
                             "add_users": [ann, ben]})
    assert r.status == 200
    assert (r.json["name"], r.json["display_name"], r.json["avatar_url"], r.json["quota_allowance"]) == (
        "devs2", "Devs", "https://x.test/b.png", 20)
    assert usernames(r.json) == ["ann", "ben"] and r.json["total_member_count"] == 2
    member = r.json["members"][0]
    assert set(member) == {"id", "username", "email", "created_at", "updated_at", "last_seen_at", "status",
                           "login_type"}
    assert emu.get(f"{ORG_GROUPS}/devs").status == 404
    assert emu.get(f"{ORG_GROUPS}/devs2").json["id"] == g["id"]
    # Same name = no rename; null pointers leave fields alone; display_name "" clears it.
    r = patch(emu, g["id"], {"name": "devs2", "avatar_url": None, "quota_allowance": None, "display_name": ""})
    assert (r.status, r.json["avatar_url"], r.json["quota_allowance"], r.json["display_name"]) == (
        200, "https://x.test/b.png", 20, "")
    r = patch(emu, g["id"], {"remove_users": [ann, user_id(emu, "admin")]})
    assert (r.status, usernames(r.json)) == (200, ["ben"])  # admin was no member: silently ignored


def test_patch_errors(emu):
    g = new_group(emu, "devs")
    other = new_group(emu, "ops")
    ann = emu.create_user("ann").json["id"]
    r = patch(emu, g["id"], {"add_users": ["yeet"]})
    assert (r.status, r.json) == (400, {"message": 'ID "yeet" must be a valid user UUID.'})
    r = patch(emu, g["id"], {"remove_users": ["yeet"]})
    assert r.json == {"message": 'ID "yeet" must be a valid user UUID.'}
    r = patch(emu, g["id"], {"add_users": ["8a3c9d7e-1111-4222-8333-944455556666"]})
    assert (r.status, r.json) == (400, {"message": 'User must be a member of organization "devs"'})
    emu.post("/api/v2/organizations", {"name": "eng"})
    eng_group = new_group(emu, "builders", org="eng")
    r = patch(emu, eng_group["id"], {"add_users": [ann]})
    assert (r.status, r.json) == (400, {"message": 'User must be a member of organization "builders"'})
    r = patch(emu, g["id"], {"add_users": [ann, ann]})
    assert (r.status, r.json["message"]) == (400, "Cannot add the same user to a group twice!")
    assert "duplicate key" in r.json["detail"]
    assert patch(emu, g["id"], {"add_users": [ann]}).status == 200
    r = patch(emu, g["id"], {"add_users": [ann]})
    assert (r.status, r.json["message"]) == (400, "Cannot add the same user to a group twice!")
    r = patch(emu, g["id"], {"name": "ops"})
    assert (r.status, r.json) == (409, {"message": 'A group with name "ops" already exists.'})
    r = patch(emu, g["id"], {"name": "new"})
    assert (r.status, r.json["validations"][0]["field"]) == (400, "name")
    assert emu.get(f"{GROUPS}/{other['id']}").json["name"] == "ops"


def test_patch_is_one_transaction(emu):
    g = new_group(emu, "devs")
    ann = emu.create_user("ann").json["id"]
    assert patch(emu, g["id"], {"add_users": [ann]}).status == 200
    ben = emu.create_user("ben").json["id"]
    r = patch(emu, g["id"], {"name": "renamed", "quota_allowance": 3, "add_users": [ben, ann]})
    assert r.status == 400
    after = emu.get(f"{GROUPS}/{g['id']}").json
    assert (after["name"], after["quota_allowance"], usernames(after)) == ("devs", 0, ["ann"])


def test_oidc_group_can_be_patched(emu):
    g = new_group(emu, "idp")
    r = emu.post(f"/__emulator/groups/{g['id']}/source", {"source": "oidc"}, token=None)
    assert (r.status, r.json["source"]) == (200, "oidc")
    r = patch(emu, g["id"], {"display_name": "From the IdP"})
    assert (r.status, r.json["source"], r.json["display_name"]) == (200, "oidc", "From the IdP")
    assert emu.post(f"/__emulator/groups/{g['id']}/source", {"source": "ldap"}, token=None).status == 400
    assert emu.post("/__emulator/groups/nope/source", {"source": "oidc"}, token=None).status == 404


# ---------------------------------------------------------------------- delete
def test_delete(emu):
    g = new_group(emu, "devs")
    ann = emu.create_user("ann").json["id"]
    patch(emu, g["id"], {"add_users": [ann]})
    r = emu.delete(f"{GROUPS}/{g['id']}")
    assert (r.status, r.json) == (200, {"message": "Successfully deleted group!"})
    assert emu.get(f"{GROUPS}/{g['id']}").status == 404
    assert new_group(emu, "devs")["id"] != g["id"]  # the name is free again
    assert emu.get(f"{GROUPS}?has_member={ann}").json[0]["name"] == "Everyone"


def test_org_delete_drops_its_groups(emu):
    emu.post("/api/v2/organizations", {"name": "eng"})
    g = new_group(emu, "builders", org="eng")
    assert emu.delete("/api/v2/organizations/eng").status == 200
    assert emu.get(f"{GROUPS}/{g['id']}").status == 404
    assert [x["organization_name"] for x in emu.get(GROUPS).json] == ["coder"]


# ---------------------------------------------------------------------- member lifecycle
def test_member_status_and_lifecycle(emu):
    g = new_group(emu, "devs")
    ids = {n: emu.create_user(n).json["id"] for n in ("ann", "ben", "cat", "dan")}
    patch(emu, g["id"], {"add_users": list(ids.values())})
    make_user(emu, "eve")  # eve is active; ann stays dormant
    assert emu.put("/api/v2/users/ben/status/suspend").status == 200
    got = emu.get(f"{GROUPS}/{g['id']}").json
    assert {u["username"]: u["status"] for u in got["members"]} == {
        "ann": "dormant", "ben": "suspended", "cat": "dormant", "dan": "dormant"}
    assert emu.delete("/api/v2/users/cat").status == 200
    assert emu.delete("/api/v2/organizations/default/members/dan").status == 204
    got = emu.get(f"{GROUPS}/{g['id']}").json
    assert (usernames(got), got["total_member_count"]) == (["ann", "ben"], 2)
    everyone = emu.get(f"{GROUPS}/{org_id(emu)}").json
    assert usernames(everyone) == ["admin", "ann", "ben", "eve"]
    # Rejoining the org does not restore the group membership.
    assert emu.post("/api/v2/organizations/default/members/dan").status == 200
    assert usernames(emu.get(f"{GROUPS}/{g['id']}").json) == ["ann", "ben"]


# ---------------------------------------------------------------------- members endpoint
def test_members_pagination_and_search(emu):
    g = new_group(emu, "devs")
    ids = [emu.create_user(n).json["id"] for n in ("dee", "bea", "cal", "abe")]
    patch(emu, g["id"], {"add_users": ids})
    emu.put("/api/v2/users/cal/status/suspend")
    for base in (f"{GROUPS}/{g['id']}/members", f"{ORG_GROUPS}/devs/members"):
        r = emu.get(base)
        assert (r.status, usernames(r.json, "users"), r.json["count"]) == (200, ["abe", "bea", "cal", "dee"], 4)
        assert set(r.json) == {"users", "count"}
        r = emu.get(base + "?limit=2&offset=1").json
        assert (usernames(r, "users"), r["count"]) == (["bea", "cal"], 4)
        r = emu.get(base + f"?after_id={ids[1]}").json
        assert (usernames(r, "users"), r["count"]) == (["cal", "dee"], 2)
        r = emu.get(base + "?q=status:suspended").json
        assert (usernames(r, "users"), r["count"]) == (["cal"], 1)
        r = emu.get(base + "?q=e%20status:dormant").json
        assert usernames(r, "users") == ["abe", "bea", "dee"]
        assert emu.get(base + "?offset=10").json == {"users": None, "count": 0}
        r = emu.get(base + "?q=bogus:1")
        assert (r.status, r.json["message"]) == (400, "Invalid user search query.")
        assert emu.get(base + "?limit=-1").status == 400
    assert emu.get(f"{ORG_GROUPS}/Devs/members").status == 404
    assert emu.get(f"{GROUPS}/{org_id(emu)}/members?limit=1").json["count"] == 5


def test_exclude_members(emu):
    g = new_group(emu, "devs")
    patch(emu, g["id"], {"add_users": [emu.create_user("ann").json["id"]]})
    for url in (f"{GROUPS}/{g['id']}", f"{ORG_GROUPS}/devs"):
        r = emu.get(url + "?exclude_members=true").json
        assert (r["members"], r["total_member_count"]) == ([], 1)
        assert usernames(emu.get(url + "?exclude_members=false").json) == ["ann"]


# ---------------------------------------------------------------------- list and filters
def test_list_and_filters(emu):
    oid = org_id(emu)
    emu.post("/api/v2/organizations", {"name": "eng"})
    eng_id = org_id(emu, "eng")
    devs, ops = new_group(emu, "devs"), new_group(emu, "ops")
    builders = new_group(emu, "builders", org="eng")
    ann = emu.create_user("ann").json["id"]
    patch(emu, devs["id"], {"add_users": [ann]})

    assert [g["name"] for g in emu.get(ORG_GROUPS).json] == ["Everyone", "devs", "ops"]
    assert [g["name"] for g in emu.get("/api/v2/organizations/eng/groups").json] == ["Everyone", "builders"]
    everything = emu.get(GROUPS).json
    assert [(g["organization_id"], g["name"]) for g in everything] == [
        (oid, "Everyone"), (oid, "devs"), (oid, "ops"), (eng_id, "Everyone"), (eng_id, "builders")]
    assert [g["name"] for g in emu.get(f"{GROUPS}?organization=ENG").json] == ["Everyone", "builders"]
    assert [g["name"] for g in emu.get(f"{GROUPS}?organization={oid}").json] == ["Everyone", "devs", "ops"]
    assert [g["name"] for g in emu.get(f"{GROUPS}?has_member=ann").json] == ["Everyone", "devs"]
    assert [g["name"] for g in emu.get(f"{GROUPS}?has_member={ann}").json] == ["Everyone", "devs"]
    assert len(emu.get(f"{GROUPS}?has_member=admin").json) == 2  # both Everyone groups
    r = emu.get(f"{GROUPS}?group_ids={ops['id']},{builders['id']}").json
    assert [g["name"] for g in r] == ["ops", "builders"]
    r = emu.get(f"{GROUPS}?organization=eng&has_member=admin&group_ids={eng_id},{devs['id']}").json
    assert [(g["id"], g["name"]) for g in r] == [(eng_id, "Everyone")]
    assert emu.get(f"{ORG_GROUPS}?has_member=ann").json[1]["name"] == "devs"

    r = emu.get(f"{GROUPS}?bogus=1")
    assert (r.status, r.json) == (400, {"message": "Query parameters have invalid values.", "validations": [
        {"field": "bogus", "detail": 'Query param "bogus" is not a valid query param'}]})
    assert emu.get(f"{GROUPS}?exclude_members=true").status == 400
    r = emu.get(f"{GROUPS}?organization=nope")
    assert (r.status, r.json["validations"][0]["field"]) == (400, "organization")
    assert emu.get(f"{GROUPS}?has_member=nobody").json["validations"][0]["field"] == "has_member"
    assert emu.get(f"{GROUPS}?group_ids=x").json["validations"][0]["field"] == "group_ids"
    assert emu.get(f"{ORG_GROUPS}?bogus=1").status == 400


# ---------------------------------------------------------------------- licensing
@pytest.fixture(scope="module")
def unlicensed():
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, license="none")
    yield srv
    srv.stop()


def test_unlicensed_gate_order(unlicensed):
    owner = Client(unlicensed.url)
    oid = owner.get("/api/v2/organizations/default").json["id"]
    assert owner.get("/api/v2/entitlements").json["features"]["template_rbac"] == {
        "entitlement": "not_entitled", "enabled": False}
    # /groups/*: feature check before authentication, even for garbage ids.
    for method, path in (("GET", GROUPS), ("GET", f"{GROUPS}/{oid}"), ("GET", f"{GROUPS}/nope"),
                         ("PATCH", f"{GROUPS}/{oid}"), ("DELETE", f"{GROUPS}/{oid}"),
                         ("GET", f"{GROUPS}/{oid}/members")):
        for token in (None, "default"):
            r = owner.call(method, path, token=token)
            assert (r.status, r.json) == (403, PREMIUM), (method, path, token)
    # /organizations/{org}/groups*: authentication first, then the feature check (before the org lookup).
    for method, path in (("GET", ORG_GROUPS), ("POST", ORG_GROUPS), ("GET", f"{ORG_GROUPS}/Everyone"),
                         ("GET", f"{ORG_GROUPS}/Everyone/members"), ("GET", "/api/v2/organizations/nope/groups")):
        r = owner.call(method, path, token=None)
        assert r.status == 401 and r.json["message"].startswith("You are signed out"), (method, path)
        r = owner.call(method, path, {"name": "devs"} if method == "POST" else None)
        assert (r.status, r.json) == (403, PREMIUM), (method, path)


def test_licensed_requires_auth(emu):
    assert emu.get(GROUPS, token=None).status == 401
    assert emu.get(ORG_GROUPS, token=None).status == 401
    assert emu.get("/api/v2/entitlements").json["features"]["template_rbac"]["enabled"] is True


# ---------------------------------------------------------------------- permissions
def test_admins_manage_groups(emu):
    admin_client = make_user(emu, "ua", roles=["user-admin"])
    g = admin_client.post(ORG_GROUPS, {"name": "by-ua"})
    assert g.status == 201
    assert admin_client.delete(f"{GROUPS}/{g.json['id']}").status == 200
    emu.post("/api/v2/organizations", {"name": "eng"})
    oa = make_user(emu, "oa")
    emu.post("/api/v2/organizations/eng/members/oa")
    emu.put("/api/v2/organizations/eng/members/oa/roles", {"roles": ["organization-user-admin"]})
    eng_group = oa.post("/api/v2/organizations/eng/groups", {"name": "builders"})
    assert eng_group.status == 201
    assert patch(oa, eng_group.json["id"], {"add_users": [user_id(emu, "oa")]}).status == 200
    # No rights in the default org: that org's groups other than Everyone stay invisible.
    devs = new_group(emu, "devs")
    assert oa.get(f"{GROUPS}/{devs['id']}").status == 404
    auditor = make_user(emu, "aud", roles=["auditor"])
    assert [g["name"] for g in auditor.get(ORG_GROUPS).json] == ["Everyone", "devs"]
    assert auditor.post(ORG_GROUPS, {"name": "nope"}).status == 500


def test_plain_member_reads_own_groups_only(emu):
    bob = make_user(emu, "bob")
    ann = emu.create_user("ann").json["id"]
    mine, other = new_group(emu, "mine"), new_group(emu, "other")
    patch(emu, mine["id"], {"add_users": [user_id(emu, "bob"), ann]})
    listed = bob.get(GROUPS).json
    assert [g["name"] for g in listed] == ["Everyone", "mine"]
    # Members: only bob himself is readable to bob; the count still covers everybody.
    assert [(usernames(g), g["total_member_count"]) for g in listed] == [(["bob"], 3), (["bob"], 2)]
    r = bob.get(f"{GROUPS}/{mine['id']}/members").json
    assert (usernames(r, "users"), r["count"]) == (["bob"], 1)
    assert bob.get(f"{GROUPS}/{other['id']}").json == NOT_FOUND
    assert bob.get(f"{ORG_GROUPS}/other").status == 404
    assert bob.get(f"{GROUPS}?has_member=ann").json["validations"][0]["field"] == "has_member"
    # Writes: the handlers' answers to dbauthz's refusal (see routes_groups docstring).
    r = bob.post(ORG_GROUPS, {"name": "mine2"})
    assert (r.status, r.json["message"]) == (500, "An internal server error occurred.")
    r = patch(bob, mine["id"], {"name": "hijacked"})
    assert (r.status, r.json["message"]) == (400, "Failed to add or remove non-existent group member")
    assert patch(bob, other["id"], {"name": "hijacked"}).status == 404
    assert bob.delete(f"{GROUPS}/{other['id']}").status == 404
    assert bob.delete(f"{GROUPS}/{mine['id']}").status == 500
    assert emu.get(f"{GROUPS}/{mine['id']}").json["name"] == "mine"


# ---------------------------------------------------------------------- seed and reset
SEED = {
    "organizations": [{"name": "eng"}],
    "users": [{"username": "ann", "email": "ann@example.com", "organizations": ["coder", "eng"]},
              {"username": "ben", "email": "ben@example.com", "status": "suspended"}],
    "groups": [{"name": "devs", "display_name": "Developers", "quota_allowance": 4, "members": ["ann", "BEN"]},
               {"organization": "eng", "name": "idp", "source": "oidc", "avatar_url": "/i.png", "members": ["ann"]},
               {"name": "Everyone", "quota_allowance": 9}],
}


def test_seed_and_reset():
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, seed=json.loads(json.dumps(SEED)))
    try:
        c = Client(srv.url)
        for _attempt in range(2):
            devs = c.get(f"{ORG_GROUPS}/devs").json
            assert (devs["display_name"], devs["quota_allowance"], devs["source"], usernames(devs)) == (
                "Developers", 4, "user", ["ann", "ben"])
            idp = c.get("/api/v2/organizations/eng/groups/idp").json
            assert (idp["source"], idp["avatar_url"], usernames(idp)) == ("oidc", "/i.png", ["ann"])
            assert c.get(f"{ORG_GROUPS}/Everyone").json["quota_allowance"] == 9
            patch(c, devs["id"], {"name": "changed"})
            c.post(ORG_GROUPS, {"name": "extra"})
            assert c.post("/__emulator/reset", token=None).status == 204
        assert [g["name"] for g in c.get(ORG_GROUPS).json] == ["Everyone", "devs"]
        assert {g["name"] for g in c.get("/__emulator/state", token=None).json["groups"]} == {
            "Everyone", "devs", "idp"}
    finally:
        srv.stop()


@pytest.mark.parametrize("groups", [
    [{"name": "g", "members": ["nobody"]}],
    [{"organization": "nope", "name": "g"}],
    [{"name": "g"}, {"name": "g"}],
    [{"name": "g", "source": "ldap"}],
    [{"name": "Everyone", "members": ["admin"]}],
])
def test_bad_seed_groups(groups):
    from coder_emulator.state import SeedError, State

    with pytest.raises(SeedError):
        State(OWNER_TOKEN, seed={"groups": groups})


# ---------------------------------------------------------------------- scale
# Speed is measured by bench/, never asserted here: these machines are shared and noisy.
def test_large_deployment_lists_every_group_and_member(server):
    client = Client(server.url)
    assert client.post("/__emulator/reset", token=None).status == 204
    state = server.app.state
    with state.lock:
        org = state.default_org
        users = [state.add_user(f"perf{i:04d}", f"perf{i:04d}@example.com", status="active") for i in range(1000)]
        for u in users:
            state.add_member(org.id, u.id)
        for gi in range(50):
            group = state.add_group(org.id, f"team-{gi}")
            for u in users[gi * 17 % 900:gi * 17 % 900 + 100]:
                state.add_group_member(group, u.id)
    try:
        r = client.get(ORG_GROUPS)
        assert r.status == 200
        assert len(r.json) == 51 and r.json[0]["total_member_count"] == 1001
        assert all(len(g["members"]) == 100 for g in r.json[1:])
        assert client.get(f"{GROUPS}/{r.json[5]['id']}/members?limit=10").json["count"] == 100
        holding = client.get(f"{GROUPS}?has_member=perf0500").json
        assert holding and all(any(m["username"] == "perf0500" for m in g["members"]) for g in holding)
    finally:
        client.post("/__emulator/reset", token=None)


def test_license_can_be_lost_and_regained_until_reset(server):
    client = Client(server.url)
    assert client.post("/__emulator/license", body={"license": "none"}, token=None).status == 204
    lost = client.get(GROUPS, token=None)
    assert lost.status == 403 and lost.json == {"message": "Template RBAC is a Premium feature. Contact sales!"}
    assert client.get("/api/v2/entitlements").json["features"]["template_rbac"]["enabled"] is False
    assert client.post("/__emulator/reset", token=None).status == 204
    assert client.get("/api/v2/entitlements").json["features"]["template_rbac"]["enabled"] is True
    assert client.post("/__emulator/license", body={"license": "gold"}, token=None).status == 400
