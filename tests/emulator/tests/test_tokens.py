"""API tokens."""

import re

from conftest import make_user

NS = 1_000_000_000
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{10}-[A-Za-z0-9]{22}$")


def test_create_list_delete(emu):
    r = emu.post("/api/v2/users/me/keys/tokens", {})
    assert r.status == 201 and TOKEN_RE.match(r.json["key"])
    r = emu.post("/api/v2/users/me/keys/tokens", {"token_name": "ci", "lifetime": 3600 * NS})
    key = r.json["key"]
    assert emu.with_token(key).get("/api/v2/users/me").json["username"] == "admin"
    toks = emu.get("/api/v2/users/me/keys/tokens").json
    assert len(toks) == 2
    ci = next(t for t in toks if t["token_name"] == "ci")
    assert ci["id"] == key.split("-")[0]
    assert (ci["login_type"], ci["lifetime_seconds"], ci["scopes"]) == ("token", 3600, ["coder:all"])
    assert emu.get("/api/v2/users/me/keys/tokens/ci").json["id"] == ci["id"]
    r = emu.post("/api/v2/users/me/keys/tokens", {"token_name": "ci"})
    assert r.status == 409
    assert emu.delete(f"/api/v2/users/me/keys/{ci['id']}").status == 204
    assert emu.with_token(key).get("/api/v2/users/me").status == 401
    assert emu.delete(f"/api/v2/users/me/keys/{ci['id']}").status == 404


def test_lifetime_limits(emu):
    r = emu.post("/api/v2/users/me/keys/tokens", {"lifetime": 8 * 24 * 3600 * NS})
    assert r.status == 400
    assert r.json == {"message": "Failed to validate create API key request.",
                      "detail": "lifetime must be less than 168h0m0s"}
    assert emu.get("/api/v2/users/me/keys/tokens/tokenconfig").json == {"max_token_lifetime": 7 * 24 * 3600 * NS}
    bob = make_user(emu, "bob")
    assert bob.post("/api/v2/users/me/keys/tokens", {"lifetime": 30 * 24 * 3600 * NS}).status == 201


def test_tokens_of_others(emu):
    bob = make_user(emu, "bob")
    assert emu.post("/api/v2/users/bob/keys/tokens", {"token_name": "x"}).status == 201
    assert bob.post("/api/v2/users/admin/keys/tokens", {}).status == 404
    assert [t["token_name"] for t in bob.get("/api/v2/users/me/keys/tokens").json] == ["x"]
