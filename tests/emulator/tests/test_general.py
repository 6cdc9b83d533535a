"""General endpoints, routing, HTML outside /api and authentication errors."""

from conftest import OWNER_TOKEN, Client, make_user

from coder_emulator import start_server

SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."


def test_root_buildinfo_entitlements(emu):
    r = emu.get("/api/v2/", token=None)
    assert (r.status, r.json) == (200, {"message": "👋"})
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    b = emu.get("/api/v2/buildinfo", token=None)
    assert b.status == 200
    assert b.json["version"] == "v2.34.3"
    assert set(b.json) >= {"external_url", "dashboard_url", "telemetry", "workspace_proxy", "agent_api_version",
                           "provisioner_api_version", "upgrade_message", "deployment_id"}
    e = emu.get("/api/v2/entitlements", token=None)
    assert e.status == 200
    assert e.json["has_license"] is True
    assert e.json["features"]["multiple_organizations"] == {"entitlement": "entitled", "enabled": True}
    assert e.json["features"]["user_limit"]["actual"] == 1
    assert e.json["features"]["user_limit"]["limit"] > 0


def test_unlicensed_entitlements_and_version_option():
    srv = start_server(token=OWNER_TOKEN, license="none", version="v2.33.1")
    try:
        c = Client(srv.url)
        e = c.get("/api/v2/entitlements", token=None).json
        assert e["has_license"] is False
        assert all(f == {"entitlement": "not_entitled", "enabled": False} for f in e["features"].values())
        assert "template_rbac" in e["features"]
        assert c.get("/api/v2/buildinfo").json["version"] == "v2.33.1"
    finally:
        srv.stop()


def test_routing_404_405_and_html(emu):
    r = emu.get("/api/v2/does-not-exist")
    assert (r.status, r.json) == (404, {"message": "Route not found."})
    r = emu.call("PATCH", "/api/v2/users")
    assert (r.status, r.raw) == (405, b"")
    for path in ("/", "/users", "/v2/users", "/api2/v2/users/me"):
        h = emu.get(path, token=None)
        assert h.status == 200
        assert h.headers["Content-Type"] == "text/html; charset=utf-8"
        assert h.text.lstrip().lower().startswith("<!doctype html>")


def test_auth_missing_bad_format_unknown(emu):
    r = emu.get("/api/v2/users/me", token=None)
    assert r.status == 401
    assert r.json == {"message": SIGNED_OUT,
                      "detail": 'Cookie "coder_session_token" or query parameter must be provided.'}
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = emu.get("/api/v2/users/me", token="not-a-token")
    assert r.status == 401 and r.json["detail"].startswith("Invalid API key format")
    r = emu.get("/api/v2/users/me", token="AAAAAAAAAA-aaaaaaaaaaaaaaaaaaaaaa")
    assert (r.status, r.json["detail"]) == (401, "API key is invalid.")
    r = emu.get("/api/v2/users/me", token=OWNER_TOKEN[:11] + "x" * 22)
    assert (r.status, r.json["detail"]) == (401, "API key secret is invalid.")


def test_token_sources(emu):
    for headers, path in [({"Authorization": f"Bearer {OWNER_TOKEN}"}, "/api/v2/users/me"),
                          ({"Cookie": f"coder_session_token={OWNER_TOKEN}"}, "/api/v2/users/me"),
                          ({}, f"/api/v2/users/me?coder_session_token={OWNER_TOKEN}"),
                          ({}, f"/api/v2/users/me?access_token={OWNER_TOKEN}")]:
        r = emu.get(path, headers=headers, token=None)
        assert (r.status, r.json["username"]) == (200, "admin")


def test_suspended_token_and_dormant_flip(emu):
    bob = make_user(emu, "bob")
    # Logging in flipped bob from dormant to active.
    assert emu.get("/api/v2/users/bob").json["status"] == "active"
    assert emu.put("/api/v2/users/bob/status/suspend").status == 200
    r = bob.get("/api/v2/users/me")
    assert r.status == 401
    assert r.json["message"] == ('User is not active (status = "suspended"). '
                                 "Contact an admin to reactivate your account.")


def test_dormant_user_token_use_activates(emu):
    assert emu.create_user("carol").json["status"] == "dormant"
    carol = emu.get("/api/v2/users/carol").json
    assert carol["last_seen_at"] == "0001-01-01T00:00:00Z"
    tok = emu.post(f"/api/v2/users/{carol['id']}/keys/tokens", {}).json["key"]
    me = emu.with_token(tok).get("/api/v2/users/me").json
    assert me["status"] == "active"
    assert me["last_seen_at"] != "0001-01-01T00:00:00Z"
