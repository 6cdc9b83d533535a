"""Shared fixtures: an in-process emulator and a tiny JSON HTTP client."""

import http.client
import io
import json
import os
import sys
import tarfile
import time
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

    # Short import jobs keep the template tests quick; they poll, so the exact delay does not matter.
    srv = start_server("127.0.0.1", 0, OWNER_TOKEN, build_delay=0.05)
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


# ---------------------------------------------------------------------- templates and versions
MAIN_TF = 'terraform {\n  required_providers {\n    coder = { source = "coder/coder" }\n  }\n}\n'


def make_tar(files):
    """A ustar archive of {path: text}."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def upload(client, data, content_type="application/x-tar"):
    return client.call("POST", "/api/v2/files", raw_body=data, headers={"Content-Type": content_type})


def create_version(client, files=None, org="default", expect=201, **body):
    """Upload `files` (default: one valid main.tf) and create a template version from it."""
    r = upload(client, make_tar(files if files is not None else {"main.tf": MAIN_TF}))
    assert r.status in (200, 201), r
    req = {"storage_method": "file", "provisioner": "terraform", "file_id": r.json["hash"], **body}
    v = client.post(f"/api/v2/organizations/{org}/templateversions", req)
    assert v.status == expect, v
    return v.json


TERMINAL = ("succeeded", "failed", "canceled")


def wait_job(client, version_id, timeout=10.0):
    """Poll GET /templateversions/{id} until its job is terminal (bounded; no duration is asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v2/templateversions/{version_id}")
        assert r.status == 200, r
        if r.json["job"]["status"] in TERMINAL or time.monotonic() > deadline:
            return r.json
        time.sleep(0.02)


def create_template(client, name="tpl", org="default", version=None, **body):
    """A template from a fresh, successfully imported version."""
    if version is None:
        version = create_version(client, org=org)
        assert wait_job(client, version["id"])["job"]["status"] == "succeeded"
    r = client.post(f"/api/v2/organizations/{org}/templates", {"name": name, "template_version_id": version["id"],
                                                               **body})
    assert r.status == 201, r
    return r.json
