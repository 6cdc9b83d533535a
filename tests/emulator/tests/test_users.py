"""Users: creation rules, search, pagination, profile, status, roles, password, delete."""

import uuid

from conftest import NIL, STRONG, make_user


def test_create_defaults_and_shape(emu):
    r = emu.create_user("alice", name="Alice A")
    assert r.status == 201
    u = r.json
    assert u["status"] == "dormant"
    assert u["login_type"] == "password"
    assert u["name"] == "Alice A"
    assert u["roles"] == []
    assert u["last_seen_at"] == "0001-01-01T00:00:00Z"
    assert u["has_ai_seat"] is False
    default_org = emu.get("/api/v2/organizations/default").json["id"]
    assert u["organization_ids"] == [default_org]
    assert "avatar_url" not in u
    assert emu.create_user("bob", user_status="active").json["status"] == "active"
    noname = emu.create_user("nonameuser").json
    assert "name" not in noname


def test_create_order_conflict_before_org(emu):
    assert emu.create_user("alice").status == 201
    r = emu.create_user("alice", orgs=[str(uuid.uuid4())])
    assert (r.status, r.json) == (409, {"message": "User already exists."})
    r = emu.create_user("other", email="ALICE@example.com")
    assert r.status == 409
    missing = str(uuid.uuid4())
    r = emu.create_user("fresh", orgs=[missing])
    assert r.status == 404
    assert r.json["message"] == f'Organization does not exist with the provided id "{missing}".'
    # Unknown org is checked before the password strength.
    r = emu.create_user("fresh2", orgs=[missing], password="weak")
    assert r.status == 404


def test_create_validation_and_password(emu):
    r = emu.create_user("weak", password="password")
    assert r.status == 400
    assert r.json["message"] == "Password not strong enough!"
    assert r.json["validations"][0]["field"] == "password"
    r = emu.post("/api/v2/users", {"username": "bad name", "email": "x@example.com", "organization_ids": [NIL]})
    assert r.status == 400
    assert r.json == {"message": "Validation failed.", "validations": [
        {"field": "username", "detail": 'Validation failed for tag "username" with value: "bad name"'}]}
    r = emu.post("/api/v2/users", {"username": "noemail", "password": STRONG, "organization_ids": [NIL]})
    assert r.status == 400 and r.json["validations"][0]["field"] == "email"
    r = emu.post("/api/v2/users", "not an object")
    assert r.status == 400 and r.json["message"] == "Request body must be valid JSON."
    r = emu.call("POST", "/api/v2/users", raw_body=b"{bad json")
    assert r.status == 400 and r.json["message"] == "Request body must be valid JSON."
    r = emu.post("/api/v2/users", {"username": "noorg", "email": "noorg@example.com", "password": STRONG})
    assert r.status == 400
    assert r.json["validations"] == [{"field": "organization_ids", "detail": "Missing values, this cannot be empty"}]


def test_create_login_types_and_legacy_org(emu):
    r = emu.create_user("nologin", password="", login_type="none")
    assert (r.status, r.json["login_type"]) == (201, "none")
    r = emu.create_user("gh", password=STRONG, login_type="github")
    assert r.status == 400
    assert r.json["message"] == 'Password cannot be set for non-password ("github") authentication.'
    r = emu.create_user("tok", password="", login_type="token")
    assert r.status == 400 and "Unsupported login type" in r.json["message"]
    org = emu.get("/api/v2/organizations/default").json["id"]
    r = emu.post("/api/v2/users", {"username": "legacy", "email": "legacy@example.com", "password": STRONG,
                                   "organization_id": org})
    assert (r.status, r.json["organization_ids"]) == (201, [org])


def test_create_with_roles_v234_and_older():
    from conftest import OWNER_TOKEN, Client

    from coder_emulator import start_server
    for version, expected in (("v2.34.0", [{"name": "auditor", "display_name": "Auditor"}]), ("v2.33.2", [])):
        srv = start_server(token=OWNER_TOKEN, version=version)
        try:
            r = Client(srv.url).create_user("ra", roles=["auditor"])
            assert (r.status, r.json["roles"]) == (201, expected)
        finally:
            srv.stop()


def test_service_account_unlicensed():
    from conftest import OWNER_TOKEN, Client

    from coder_emulator import start_server
    srv = start_server(token=OWNER_TOKEN, license="none")
    try:
        r = Client(srv.url).post("/api/v2/users", {"username": "svc", "service_account": True,
                                                   "organization_ids": [NIL]})
        assert r.status == 403 and "Premium feature" in r.json["message"]
    finally:
        srv.stop()


def test_get_user_variants(emu):
    me = emu.get("/api/v2/users/me").json
    assert emu.get(f"/api/v2/users/{me['id']}").json == me
    assert emu.get("/api/v2/users/ADMIN").json["id"] == me["id"]
    assert emu.get("/api/v2/users/nobody").status == 404
    assert emu.get(f"/api/v2/users/{uuid.uuid4()}").json == {
        "message": "Resource not found or you do not have access to this resource"}


def _names(r):
    return [u["username"] for u in r.json["users"]]


def _search_fixture(emu):
    make_user(emu, "ivan", roles=["auditor"])   # active via login
    emu.create_user("irene", user_status="suspended")
    emu.create_user("zed", login_type="github", password="")
    emu.create_user("mike", name="Mike Smith")


def test_search_q_cases(emu):
    _search_fixture(emu)
    q = "/api/v2/users?q="
    assert _names(emu.get(q + "status:suspended,active")) == ["admin", "irene", "ivan"]
    assert _names(emu.get(q + "status:ACTIVE")) == ["admin", "ivan"]
    assert _names(emu.get(q + "role:OWNER")) == ["admin"]
    assert _names(emu.get(q + "Role:Owner%20STATUS:Active")) == ["admin"]
    assert _names(emu.get(q + "role:member")) == ["admin", "irene", "ivan", "mike", "zed"]
    assert _names(emu.get(q + "i%20role:owner%20status:active")) == ["admin"]
    assert _names(emu.get(q + "i")) == ["admin", "irene", "ivan", "mike"]
    assert _names(emu.get(q + "login_type:github,none")) == ["zed"]
    everyone = ["admin", "irene", "ivan", "mike", "zed"]
    assert _names(emu.get(q + "login_type:github%20login_type:password")) == everyone
    assert _names(emu.get(q + "name:smith")) == ["mike"]
    assert _names(emu.get(q + "search:ZED")) == ["zed"]
    assert _names(emu.get(q + 'last_seen_before:"2100-01-01T00:00:00Z"')) == ["admin", "irene", "ivan", "mike", "zed"]
    assert _names(emu.get(q + 'last_seen_after:"2000-01-01T00:00:00Z"')) == ["admin", "ivan"]
    assert _names(emu.get(q + 'created_after:"2100-01-01T00:00:00Z"')) == []
    assert _names(emu.get(q + "github_com_user_id:7")) == []
    r = emu.get(q + "foo:bar")
    assert r.status == 400
    assert r.json["message"] == "Invalid user search query."
    assert r.json["validations"] == [{"field": "foo", "detail": 'Query param "foo" is not a valid query param'}]
    r = emu.get(q + "role:a:e")
    assert r.status == 400
    assert r.json["validations"] == [{"field": "q", "detail": "Query element \"role:a:e\" can only contain 1 ':'"}]
    assert emu.get(q + "status:").status == 400
    r = emu.get(q + "status:inactive")
    assert r.status == 400 and r.json["validations"][0]["field"] == "status"
    assert emu.get(q + 'created_before:"yesterday"').status == 400


def test_pagination(emu):
    for n in ("bb", "cc", "dd"):
        emu.create_user(n)
    all_users = emu.get("/api/v2/users").json
    assert all_users["count"] == 4 and _names(emu.get("/api/v2/users")) == ["admin", "bb", "cc", "dd"]
    r = emu.get("/api/v2/users?limit=1").json
    assert (len(r["users"]), r["count"]) == (1, 4)
    r = emu.get("/api/v2/users?offset=1").json
    assert (len(r["users"]), r["count"]) == (3, 4)
    r = emu.get("/api/v2/users?offset=10").json
    assert r == {"users": [], "count": 0}
    bb = all_users["users"][1]["id"]
    r = emu.get(f"/api/v2/users?after_id={bb}").json
    assert [u["username"] for u in r["users"]] == ["cc", "dd"] and r["count"] == 2
    r = emu.get(f"/api/v2/users?after_id={bb}&limit=1").json
    assert [u["username"] for u in r["users"]] == ["cc"]
    for bad in ("limit=-1", "offset=abc", "limit=4294967296", "after_id=nope"):
        r = emu.get(f"/api/v2/users?{bad}")
        assert (r.status, r.json["message"]) == (400, "Query parameters have invalid values."), bad


def test_member_sees_only_self(emu):
    bob = make_user(emu, "bob")
    r = bob.get("/api/v2/users").json
    assert (r["count"], [u["username"] for u in r["users"]]) == (1, ["bob"])
    assert bob.get("/api/v2/users/admin").status == 404


def test_profile(emu):
    emu.create_user("alice", name="Alice")
    r = emu.put("/api/v2/users/alice/profile", {"username": "alice2"})
    assert r.status == 200
    assert r.json["username"] == "alice2" and "name" not in r.json  # omitted name clears it
    assert emu.get("/api/v2/users/alice").status == 404
    emu.create_user("bob")
    r = emu.put("/api/v2/users/alice2/profile", {"username": "BOB"})
    assert r.status == 409
    assert r.json == {"message": "A user with this username already exists.",
                      "validations": [{"field": "username", "detail": "This username is already in use."}]}
    assert emu.put("/api/v2/users/alice2/profile", {"username": "alice2", "name": " lead"}).status == 400
    assert emu.put(f"/api/v2/users/{uuid.uuid4()}/profile", {"username": "x"}).status == 404
    carl = make_user(emu, "carl")
    assert carl.put("/api/v2/users/me/profile", {"username": "carl", "name": "Carl"}).json["name"] == "Carl"
    assert carl.put("/api/v2/users/me/profile", {"username": "carlos"}).status == 404


def test_suspend_activate(emu):
    r = emu.put("/api/v2/users/me/status/suspend")
    assert (r.status, r.json["message"]) == (400, "You cannot suspend yourself.")
    make_user(emu, "own2", roles=["owner"])
    r = emu.put("/api/v2/users/own2/status/suspend")
    assert r.status == 400
    assert r.json["message"] == 'You cannot suspend a user with the "owner" role. You must remove the role first.'
    emu.create_user("dora")
    assert emu.put("/api/v2/users/dora/status/suspend").json["status"] == "suspended"
    assert emu.put("/api/v2/users/dora/status/suspend").status == 200
    assert emu.put("/api/v2/users/dora/status/activate").json["status"] == "active"
    emu.create_user("dormy")
    assert emu.put("/api/v2/users/dormy/status/activate").json["status"] == "active"


def test_roles(emu):
    emu.create_user("rob")
    r = emu.get("/api/v2/users/rob/roles").json
    default_org = emu.get("/api/v2/organizations/default").json["id"]
    assert r == {"roles": [], "organization_roles": {default_org: []}}
    r = emu.put("/api/v2/users/rob/roles", {"roles": ["template-admin", "auditor", "auditor"]})
    assert r.status == 200
    assert [x["name"] for x in r.json["roles"]] == ["template-admin", "auditor"]
    assert emu.put("/api/v2/users/rob/roles", {"roles": []}).json["roles"] == []
    r = emu.put("/api/v2/users/me/roles", {"roles": []})
    assert (r.status, r.json["message"]) == (400, "You cannot change your own roles.")
    r = emu.put("/api/v2/users/rob/roles", {"roles": ["foo"]})
    assert (r.status, r.json["message"]) == (400, '"foo" is not a supported role')
    r = emu.put("/api/v2/users/rob/roles", {"roles": ["organization-admin"]})
    assert r.status == 400
    ua = make_user(emu, "ua", roles=["user-admin"])
    assert ua.put("/api/v2/users/rob/roles", {"roles": ["owner"]}).status == 403
    names = [x["name"] for x in emu.get("/api/v2/users/roles").json]
    assert {"owner", "user-admin", "template-admin", "auditor"} <= set(names)


def test_password_change_deletes_tokens(emu):
    pat = make_user(emu, "pat")
    extra = emu.post("/api/v2/users/pat/keys/tokens", {"token_name": "ci"}).json["key"]
    r = pat.put("/api/v2/users/me/password", {"password": "AnotherStrongPassword!2"})
    assert (r.status, r.json["message"]) == (400, "Old password is required.")
    r = pat.put("/api/v2/users/me/password", {"old_password": "wrong", "password": "AnotherStrongPassword!2"})
    assert r.status == 400 and r.json["validations"][0]["field"] == "old_password"
    r = pat.put("/api/v2/users/me/password", {"old_password": STRONG, "password": STRONG})
    assert (r.status, r.json["message"]) == (400, "New password cannot match old password.")
    r = pat.put("/api/v2/users/me/password", {"old_password": STRONG, "password": "weak"})
    assert r.status == 400 and r.json["validations"][0]["field"] == "password"
    r = emu.put("/api/v2/users/pat/password", {"password": "AnotherStrongPassword!2"})
    assert (r.status, r.raw) == (204, b"")
    assert pat.get("/api/v2/users/me").status == 401
    assert emu.with_token(extra).get("/api/v2/users/me").status == 401
    assert emu.get("/api/v2/users/pat/keys/tokens").json == []
    assert emu.post("/api/v2/users/login", {"email": "pat@example.com",
                                            "password": "AnotherStrongPassword!2"}).status == 201


def test_password_permissions(emu):
    ua = make_user(emu, "ua", roles=["user-admin"])
    aud = make_user(emu, "aud", roles=["auditor"])
    emu.create_user("vic")
    r = ua.put("/api/v2/users/admin/password", {"password": "AnotherStrongPassword!2"})
    assert (r.status, r.json["message"]) == (400, "Only owners can change the password of an owner.")
    assert aud.put("/api/v2/users/vic/password", {"password": "AnotherStrongPassword!2"}).status == 404
    assert ua.put("/api/v2/users/vic/password", {"password": "AnotherStrongPassword!2"}).status == 204


def test_delete_user(emu):
    make_user(emu, "del")
    dtoken = emu.post("/api/v2/users/del/keys/tokens", {}).json["key"]
    r = emu.delete("/api/v2/users/me")
    assert (r.status, r.json["message"]) == (403, "You cannot delete yourself!")
    ws = emu.post("/__emulator/workspaces", {"owner": "del", "name": "ws1"}, token=None)
    assert ws.status == 201
    r = emu.delete("/api/v2/users/del")
    assert r.status == 417
    assert r.json["message"] == "You cannot delete a user that has workspaces. Delete their workspaces and try again!"
    assert emu.delete(f"/__emulator/workspaces/{ws.json['id']}", token=None).status == 204
    r = emu.delete("/api/v2/users/del")
    assert (r.status, r.json) == (200, {"message": "User has been deleted!"})
    assert emu.with_token(dtoken).get("/api/v2/users/me").status == 401
    assert emu.get("/api/v2/users/del").status == 404
    assert "del" not in _names(emu.get("/api/v2/users"))
    assert emu.create_user("del").status == 201


def test_member_cannot_manage(emu):
    bob = make_user(emu, "bob")
    emu.create_user("eve")
    assert bob.delete("/api/v2/users/eve").status == 404
    assert bob.put("/api/v2/users/eve/status/suspend").status == 404
    r = bob.create_user("newbie")
    assert (r.status, r.json["message"]) == (403, "You are not authorized to create users.")
    aud = make_user(emu, "aud", roles=["auditor"])
    assert aud.delete("/api/v2/users/eve").status == 403
    ua = make_user(emu, "ua", roles=["user-admin"])
    assert ua.create_user("byadmin").status == 201
    assert ua.delete("/api/v2/users/eve").status == 200


def test_login_and_misc(emu):
    emu.create_user("lin")
    r = emu.post("/api/v2/users/login", {"email": "lin@example.com", "password": "nope"}, token=None)
    assert (r.status, r.json) == (401, {"message": "Incorrect email or password."})
    r = emu.post("/api/v2/users/login", {"email": "LIN@example.com", "password": STRONG}, token=None)
    assert r.status == 201
    assert len(r.json["session_token"].split("-")[1]) == 22
    r = emu.get("/api/v2/users/first", token=None)
    assert (r.status, r.json["message"]) == (200, "The initial user has already been created!")
    r = emu.post("/api/v2/users/validate-password", {"password": "password"})
    assert r.status == 200 and r.json["valid"] is False and r.json["details"]
    assert emu.post("/api/v2/users/validate-password", {"password": STRONG}).json == {"valid": True, "details": ""}
    orgs = emu.get("/api/v2/users/lin/organizations").json
    assert [o["name"] for o in orgs] == ["coder"]
