"""Shared fixtures: an in-process emulator and a tiny JSON HTTP client."""

import http.client
import json
import os
import sys
import urllib.parse

import pytest

# Tests import the package from tests/emulator even without the Makefile's .pth file.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OWNER_TOKEN = "AbCdEfGhIj-abcdefghijklmnopqrstuv"
NIL = "00000000-0000-0000-0000-000000000000"
STRONG = "SomeSecurePassword!1"


class Result:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.text = raw.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<Result {self.status} {self.text[:300]}>"


class Client:
    """One keep-alive connection per client; `token=None` sends no credentials."""

    def __init__(self, url, token=OWNER_TOKEN):
        self.url = url
        self.token = token
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def call(self, method, path, body=None, headers=None, token="default", raw_body=None):
        hdrs = dict(headers or {})
        tok = self.token if token == "default" else token
        if tok:
            hdrs["Coder-Session-Token"] = tok
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
        return Result(resp.status, resp.headers, resp.read())

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def with_token(self, token):
        return Client(self.url, token)

    # -- helpers used by many tests
    def create_user(self, username, email=None, password=STRONG, orgs=(NIL,), **extra):
        body = {"username": username, "email": email or f"{username}@example.com", "password": password,
                "organization_ids": list(orgs)}
        body.update(extra)
        return self.post("/api/v2/users", body)

    def login_as(self, username, password=STRONG):
        """Create an active password user with a site-role set and return a client holding its token."""
        r = self.post("/api/v2/users/login", {"email": f"{username}@example.com", "password": password})
        assert r.status == 201, r
        return self.with_token(r.json["session_token"])


@pytest.fixture(scope="session")
def server():
    from coder_emulator import start_server

    srv = start_server("127.0.0.1", 0, OWNER_TOKEN)
    yield srv
    srv.stop()


@pytest.fixture
def emu(server):
    """Owner client against a freshly reset emulator."""
    c = Client(server.url)
    assert c.post("/__emulator/reset", token=None).status == 204
    return c


def make_user(owner, username, roles=None, **extra):
    """Create a user (optionally with site roles) and return a logged-in client for it."""
    r = owner.create_user(username, **extra)
    assert r.status == 201, r
    if roles:
        r2 = owner.put(f"/api/v2/users/{username}/roles", {"roles": roles})
        assert r2.status == 200, r2
    return owner.login_as(username)
