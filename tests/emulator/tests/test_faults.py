"""Fault injection, rate limiting, request log and reset."""

import time

from conftest import OWNER_TOKEN, Client, make_user

from coder_emulator import start_server


def test_scheduled_429_with_retry_after(emu):
    r = emu.post("/__emulator/faults", {"faults": [{"status": 429, "count": 2, "retry_after": 1,
                                                    "method": "GET", "path_regex": "/users/me$"}]}, token=None)
    assert r.status == 201
    assert emu.get("/api/v2/buildinfo").status == 200  # does not match the path filter
    for _attempt in range(2):
        r = emu.get("/api/v2/users/me")
        assert r.status == 429
        assert r.headers["Retry-After"] == "1"
        assert r.headers["X-RateLimit-Limit"] and r.headers["X-RateLimit-Remaining"] == "0"
        assert r.json["message"].startswith("You've been rate limited for sending more than")
    assert emu.get("/api/v2/users/me").status == 200
    assert emu.get("/__emulator/faults", token=None).json == {"faults": []}


def test_proxy_faults_and_order(emu):
    emu.post("/__emulator/faults", {"faults": [{"status": 502}, {"status": 504, "method": "POST"},
                                               {"status": 503, "body": "maintenance"}]}, token=None)
    r = emu.get("/api/v2/users/me")
    assert r.status == 502 and "502 Bad Gateway" in r.text and r.headers["Content-Type"].startswith("text/html")
    r = emu.get("/api/v2/users/me")
    assert (r.status, r.text) == (503, "maintenance")
    r = emu.post("/api/v2/users/me/keys/tokens", {})
    assert r.status == 504
    assert emu.get("/api/v2/users/me/keys/tokens").json == []  # the 504 came before handling
    assert emu.delete("/__emulator/faults", token=None).status == 204


def test_after_handling_fault_changes_state(emu):
    emu.post("/__emulator/faults", {"faults": [{"status": 504, "path_regex": "^/api/v2/users$",
                                                "method": "POST", "after_handling": True}]}, token=None)
    r = emu.create_user("ghost")
    assert r.status == 504
    assert emu.get("/api/v2/users/ghost").json["username"] == "ghost"
    assert emu.create_user("ghost").status == 409


def test_fail_rate_and_latency():
    srv = start_server(token=OWNER_TOKEN, fail_rate=1.0)
    try:
        c = Client(srv.url)
        assert c.get("/api/v2/users/me").status == 503
        assert c.get("/", token=None).status == 200  # only /api/v2 is affected
    finally:
        srv.stop()
    srv = start_server(token=OWNER_TOKEN, latency=0.2)
    try:
        c = Client(srv.url)
        t = time.monotonic()
        assert c.get("/api/v2/users/me").status == 200
        assert time.monotonic() - t >= 0.2
    finally:
        srv.stop()


def test_rate_limit():
    srv = start_server(token=OWNER_TOKEN, rate_limit=3)
    try:
        c = Client(srv.url)
        statuses = [c.get("/api/v2/users/me") for _attempt in range(4)]
        assert [r.status for r in statuses] == [200, 200, 200, 429]
        assert statuses[0].headers["X-RateLimit-Limit"] == "3"
        assert statuses[0].headers["X-RateLimit-Remaining"] == "2"
        assert int(statuses[0].headers["X-RateLimit-Reset"]) > time.time()
        last = statuses[-1]
        assert last.headers["Retry-After"] == "60"
        assert last.json == {"message": "You've been rate limited for sending more than 3 requests in 1m0s."}
        # The key includes the path: another endpoint has its own budget.
        assert c.get("/api/v2/buildinfo").status == 200
        # Owners may bypass.
        assert c.get("/api/v2/users/me", headers={"X-Coder-Bypass-Ratelimit": "true"}).status == 200
        bob = make_user(c, "bob")
        r = bob.get("/api/v2/users/me", headers={"X-Coder-Bypass-Ratelimit": "true"})
        assert r.status == 428 and r.headers["Content-Type"].startswith("text/plain")
    finally:
        srv.stop()


def test_request_log_and_reset(emu):
    assert emu.delete("/__emulator/requests", token=None).status == 204
    emu.get("/api/v2/users/me?x=1")
    emu.get("/api/v2/users/me", token=None)
    emu.create_user("logged")
    emu.post("/__emulator/faults", {"faults": [{"status": 502}]}, token=None)
    emu.get("/api/v2/buildinfo")
    emu.get("/not-api")
    log = emu.get("/__emulator/requests", token=None).json["requests"]
    assert [(e["method"], e["path"], e["status"], e["user"]) for e in log] == [
        ("GET", "/api/v2/users/me", 200, "admin"),
        ("GET", "/api/v2/users/me", 401, None),
        ("POST", "/api/v2/users", 201, "admin"),
        ("GET", "/api/v2/buildinfo", 502, "admin"),
    ]
    assert log[0]["query"] == "x=1"
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    state = emu.get("/__emulator/state", token=None)
    assert "logged" in [u["username"] for u in state.json["users"]]
    assert OWNER_TOKEN not in state.text and OWNER_TOKEN.split("-")[1] not in state.text
    emu.post("/__emulator/faults", {"faults": [{"status": 500, "count": 5}]}, token=None)
    assert emu.post("/__emulator/reset", token=None).status == 204
    assert emu.get("/__emulator/requests", token=None).json == {"requests": []}
    assert emu.get("/__emulator/faults", token=None).json == {"faults": []}
    assert emu.get("/api/v2/users/logged").status == 404
    assert emu.get("/api/v2/users/me").json["username"] == "admin"  # same owner token after reset
