"""Organizations and membership routes."""

from conftest import NIL, OWNER_TOKEN, Client, make_user

from coder_emulator import start_server


def test_get_org_variants(emu):
    default = emu.get("/api/v2/organizations/default").json
    assert default["name"] == "coder" and default["is_default"] is True
    assert set(default) >= {"id", "name", "display_name", "description", "icon", "created_at", "updated_at"}
    for ref in (default["id"], "CODER", "coder", NIL):
        assert emu.get(f"/api/v2/organizations/{ref}").json["id"] == default["id"], ref
    assert emu.get("/api/v2/organizations/nope").status == 404
    assert [o["name"] for o in emu.get("/api/v2/organizations").json] == ["coder"]


def test_create_org_premium_and_rules(emu):
    r = emu.post("/api/v2/organizations", {"name": "eng", "display_name": "Engineering"})
    assert r.status == 201
    assert (r.json["name"], r.json["display_name"], r.json["is_default"]) == ("eng", "Engineering", False)
    assert emu.post("/api/v2/organizations", {"name": "ENG"}).status == 409
    assert emu.post("/api/v2/organizations", {"name": "bad name"}).status == 400
    assert emu.post("/api/v2/organizations", {"name": "default"}).status == 400
    assert emu.post("/api/v2/organizations", {"name": "ops"}).json["display_name"] == "ops"
    assert sorted(o["name"] for o in emu.get("/api/v2/organizations").json) == ["coder", "eng", "ops"]
    bob = make_user(emu, "bob")
    assert [o["name"] for o in bob.get("/api/v2/organizations").json] == ["coder"]
    assert bob.get("/api/v2/organizations/eng").status == 404


def test_create_org_unlicensed():
    srv = start_server(token=OWNER_TOKEN, license="none")
    try:
        r = Client(srv.url).post("/api/v2/organizations", {"name": "eng"})
        assert (r.status, r.json) == (403, {"message": "Multiple Organizations is a Premium feature. Contact sales!"})
    finally:
        srv.stop()


def test_member_routes(emu):
    eng = emu.post("/api/v2/organizations", {"name": "eng"}).json
    u = emu.create_user("mia").json
    base = "/api/v2/organizations/eng/members"
    r = emu.post(f"{base}/mia")
    assert r.status == 200
    assert (r.json["user_id"], r.json["organization_id"], r.json["roles"]) == (u["id"], eng["id"], [])
    r = emu.post(f"{base}/mia")
    assert (r.status, r.json["message"]) == (400, "User is already an organization member")
    m = emu.get(f"{base}/mia").json
    assert (m["username"], m["email"], m["global_roles"]) == ("mia", "mia@example.com", [])
    assert emu.get(f"{base}/me").json["username"] == "admin"
    assert sorted(x["username"] for x in emu.get(base).json) == ["admin", "mia"]
    assert sorted(emu.get("/api/v2/users/mia").json["organization_ids"]) == sorted(
        [eng["id"], emu.get("/api/v2/organizations/default").json["id"]])

    r = emu.put(f"{base}/mia/roles", {"roles": ["organization-admin"]})
    assert r.status == 200
    assert r.json["roles"] == [{"name": "organization-admin", "display_name": "Organization Admin",
                                "organization_id": eng["id"]}]
    assert emu.put(f"{base}/mia/roles", {"roles": ["owner"]}).status == 400
    assert emu.put(f"{base}/mia/roles", {"roles": ["nope"]}).status == 400
    assert emu.put(f"{base}/me/roles", {"roles": []}).status == 400
    assert emu.get("/api/v2/users/mia/roles").json["organization_roles"][eng["id"]] == ["organization-admin"]

    r = emu.delete(f"{base}/me")
    assert (r.status, r.json["message"]) == (400, "cannot remove self from an organization")
    assert emu.delete(f"{base}/mia").status == 204
    assert emu.get(f"{base}/mia").status == 404
    assert emu.delete("/api/v2/organizations/default/members/mia").status == 204
    assert emu.get("/api/v2/users/mia").json["organization_ids"] is None
    roles = emu.get(f"{base}/roles").json
    assert {r["name"] for r in roles} >= {"organization-admin", "organization-auditor"}
    assert all(r["organization_id"] == eng["id"] for r in roles)


def test_paginated_members(emu):
    for n in ("pa", "pb", "pc"):
        emu.create_user(n)
    base = "/api/v2/organizations/default/paginated-members"
    r = emu.get(base).json
    assert r["count"] == 4 and [m["username"] for m in r["members"]] == ["admin", "pa", "pb", "pc"]
    r = emu.get(base + "?limit=2&offset=1").json
    assert (r["count"], [m["username"] for m in r["members"]]) == (4, ["pa", "pb"])
    r = emu.get(base + "?q=status:dormant").json
    assert r["count"] == 3
    assert emu.get(base + "?offset=9").json == {"members": [], "count": 0}
    assert emu.get(base + "?q=bogus:1").status == 400


def test_member_cannot_add_members(emu):
    bob = make_user(emu, "bob")
    emu.create_user("zoe")
    emu.post("/api/v2/organizations", {"name": "eng"})
    # zoe is invisible to a plain member, so the user lookup already fails.
    assert bob.post("/api/v2/organizations/coder/members/zoe").status == 404
    # admin is visible (shared org) but bob lacks the permission.
    assert bob.post("/api/v2/organizations/eng/members/bob").status == 404  # eng itself is invisible
    assert bob.delete("/api/v2/organizations/coder/members/admin").status == 403
