"""HTTP server, router and request pipeline of the emulator.

Pipeline for /api/v2 requests (a proxy-like layer first, then what coderd does):
request log -> latency -> scheduled fault / random fail-rate -> rate limit -> route lookup
(404/405) -> authentication -> handler -> (after_handling fault replaces the response).
"""

import collections
import itertools
import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import faults as faultmod
from .state import State
from .util import SIGNED_OUT, ApiError, now, split_api_token

JSON_TYPE = "application/json; charset=utf-8"
FILES_RATE_LIMIT = 12
_LAST_SEEN_EVERY = 3600  # Coder only bumps last_seen_at / last_used hourly
_HTML_PAGE = (b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Coder</title></head>"
              b"<body><div id=\"root\"></div><!-- Coder API emulator: the real server serves its web UI "
              b"here --></body></html>\n")


class Resp:
    __slots__ = ("body", "content_type", "headers", "status", "takeover")

    def __init__(self, status, body=b"", content_type=JSON_TYPE, headers=None):
        self.status = status
        # A 101 answer's connection handler: called with the request handler once the head is sent.
        self.takeover = None
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_resp(status, obj, headers=None) -> Resp:
    # Compact with a trailing newline, as Go's json.Encoder writes it.
    return Resp(status, (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode(), JSON_TYPE,
                headers)


def empty(status) -> Resp:
    return Resp(status, b"", None)


class Req:
    """What a handler sees."""

    def __init__(self, app, method, path, raw_query, headers, body, client_ip):
        self.app = app
        self.state: State = app.state
        self.method = method
        self.path = path
        self.raw_query = raw_query
        self.query = parse_qs(raw_query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.client_ip = client_ip
        self.params: dict = {}
        self.actor = None
        self.key = None

    def q(self, name, default=""):
        v = self.query.get(name)
        return v[0] if v else default


class Router:
    def __init__(self):
        self.routes = []  # (regex, {method: (handler, auth)})
        self._by_pattern = {}

    def add(self, method, pattern, handler, auth=True):
        entry = self._by_pattern.get(pattern)
        if entry is None:
            regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
            entry = (regex, {})
            self._by_pattern[pattern] = entry
            # Static segments must win over parameters (chi does this, e.g. /users/roles vs /users/{user}).
            self.routes.append((pattern.count("{"), len(self.routes), entry))
            self.routes.sort(key=lambda r: (r[0], r[1]))
        entry[1][method] = (handler, auth)

    def match(self, path):
        for _param_count, _order, (regex, methods) in self.routes:
            m = regex.match(path)
            if m:
                return methods, {k: unquote(v) for k, v in m.groupdict().items()}
        return None, None


def extract_token(req: Req) -> str:
    """httpmw.APITokenFromRequest lookup order."""
    cookie = req.headers.get("Cookie")
    if cookie:
        for part in cookie.split(";"):
            k, _sep, v = part.strip().partition("=")
            if k == "coder_session_token" and v:
                return v
    v = req.q("coder_session_token")
    if v:
        return v
    v = req.headers.get("Coder-Session-Token")
    if v:
        return v
    auth = req.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return req.q("access_token")


def _www_auth(description: str) -> dict:
    desc = description.replace('"', "'")
    return {"WWW-Authenticate": f'Bearer realm="coder", error="invalid_token", error_description="{desc}"'}


def _unauthorized(detail="", message=SIGNED_OUT):
    return ApiError(401, message, detail, headers=_www_auth(detail or message))


def lookup_identity(state: State, token: str):
    """Side-effect free token check used by the rate limiter and request log."""
    if not token:
        return None
    try:
        key_id, secret = split_api_token(token)
    except ValueError:
        return None
    key = state.keys.get(key_id)
    if key is None or not state.check_key_secret(key, secret):
        return None
    return state.users.get(key.user_id)


def authenticate(req: Req):
    """httpmw.ExtractAPIKey: sets req.actor/req.key or raises the 401 Coder answers with."""
    state = req.state
    token = extract_token(req)
    if not token:
        raise _unauthorized('Cookie "coder_session_token" or query parameter must be provided.')
    try:
        key_id, secret = split_api_token(token)
    except ValueError as exc:
        raise _unauthorized(f"Invalid API key format: {exc}") from None
    with state.lock:
        key = state.keys.get(key_id)
        if key is None:
            raise _unauthorized("API key is invalid.")
        if not state.check_key_secret(key, secret):
            raise _unauthorized("API key secret is invalid.")
        t = now()
        if key.expires_at <= t:
            raise _unauthorized(f"API key expired at {key.expires_at.isoformat()!r}.")
        user = state.users.get(key.user_id)
        if user is None or user.deleted:
            raise _unauthorized("API key is invalid.")
        if user.status == "suspended":
            raise _unauthorized(message=f'User is not active (status = "{user.status}"). '
                                        "Contact an admin to reactivate your account.")
        if key.last_used is None or (t - key.last_used).total_seconds() > _LAST_SEEN_EVERY:
            key.last_used = t
        if user.status == "dormant":
            # The middleware activates dormant users on their first authenticated request.
            user.status = "active"
            user.updated_at = t
        if user.last_seen_at is None or (t - user.last_seen_at).total_seconds() > _LAST_SEEN_EVERY:
            user.last_seen_at = t
    req.actor = user
    req.key = key


class App:
    def __init__(self, token, license="premium", version="v2.34.3", seed=None, fail_rate=0.0,
                 rate_limit=None, latency=0.0, build_delay=0.3, provisioners=1, experiments=()):
        self.state = State(token, license=license, version=version, seed=seed, build_delay=build_delay,
                           provisioners=provisioners, experiments=experiments)
        self.fail_rate = fail_rate or 0.0
        self.latency = latency or 0.0
        self.rate_limit = rate_limit if rate_limit and rate_limit > 0 else None
        self.limiter = faultmod.RateLimiter(self.rate_limit) if self.rate_limit else None
        # coderd puts /files behind its own, stricter limiter (12/min) in addition to the API-wide one.
        self.files_limiter = faultmod.RateLimiter(FILES_RATE_LIMIT) if self.rate_limit else None
        self.faults = faultmod.FaultSchedule()
        self.log_lock = threading.Lock()
        # Bounded so a long perf run cannot exhaust memory; tests clear it far more often.
        self.request_log = collections.deque(maxlen=200000)
        self.seq = itertools.count(1)
        self.url = ""
        self.router = Router()
        from . import (
            routes_agents,
            routes_files,
            routes_general,
            routes_groups,
            routes_organizations,
            routes_templates,
            routes_templateversions,
            routes_tokens,
            routes_users,
            routes_workspaces,
        )
        for mod in (routes_general, routes_users, routes_organizations, routes_groups, routes_tokens, routes_files,
                    routes_templateversions, routes_templates, routes_workspaces, routes_agents):
            mod.register(self.router)

    def reset(self):
        self.state.reset()
        self.faults.clear()
        if self.limiter:
            self.limiter.reset()
            self.files_limiter.reset()
        with self.log_lock:
            self.request_log.clear()

    # ------------------------------------------------------------------ /api/v2 pipeline
    def handle_api(self, req: Req) -> tuple[Resp, object]:
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(req.method, req.path)
        if fault and not fault["after_handling"]:
            return self._fault(fault), lookup_identity(self.state, extract_token(req))
        if self.fail_rate and random.random() < self.fail_rate:
            identity = lookup_identity(self.state, extract_token(req))
            return Resp(503, faultmod.proxy_error_page(503), "text/html"), identity
        rl_headers = {}
        if self.limiter:
            ident = lookup_identity(self.state, extract_token(req))
            key = ident.id if ident else req.client_ip
            if ident and req.headers.get("X-Coder-Bypass-Ratelimit", "").lower() in ("1", "t", "true"):
                if "owner" not in ident.roles:
                    # httprate answers a failing key function with http.Error (plain text).
                    return Resp(428, b'"X-Coder-Bypass-Ratelimit" provided but user is not owner\n',
                                "text/plain; charset=utf-8"), ident
                key = None
            if key is not None:
                allowed, rl_headers = self.limiter.check(key, req.path)
                if not allowed:
                    return json_resp(429, faultmod.rate_limited_body(self.rate_limit), rl_headers), ident
                if req.path == "/api/v2/files" or req.path.startswith("/api/v2/files/"):
                    # The key includes the path: each GET /files/{id} counts on its own.
                    allowed, rl_headers = self.files_limiter.check(key, req.path)
                    if not allowed:
                        return json_resp(429, faultmod.rate_limited_body(FILES_RATE_LIMIT), rl_headers), ident
        resp = self.dispatch(req)
        resp.headers.update(rl_headers)
        if fault:
            # The server did the work; the proxy in front lost the answer.
            return self._fault(fault), req.actor
        return resp, req.actor

    def _fault(self, fault) -> Resp:
        status, ctype, body, headers = faultmod.fault_response(fault, self.rate_limit)
        return Resp(status, body, ctype, headers)

    def dispatch(self, req: Req) -> Resp:
        path = req.path[len("/api/v2"):] or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        methods, params = self.router.match(path)
        if methods is None:
            return json_resp(404, {"message": "Route not found."})
        entry = methods.get(req.method)
        if entry is None:
            return empty(405)
        handler, auth = entry
        req.params = params
        try:
            if auth:
                authenticate(req)
            return handler(req)
        except ApiError as exc:
            return json_resp(exc.status, exc.body, exc.headers)
        except Exception as exc:  # an emulator bug must still produce an HTTP answer, like Go's recoverer
            return json_resp(500, {"message": "An internal server error occurred.", "detail": repr(exc)})

    def log_request(self, req: Req, status: int, user):
        entry = {"seq": next(self.seq), "method": req.method, "path": req.path, "query": req.raw_query,
                 "status": status, "user": user.username if user else None}
        with self.log_lock:
            self.request_log.append(entry)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CoderEmulator/1"
    app: App = None  # set on the subclass created per server

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format, *args):
        # Silence per-request stderr logging: it is slow and could leak query-string tokens.
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        app = self.app
        parts = urlsplit(self.path)
        path = parts.path or "/"
        body = self._read_body()
        req = Req(app, self.command, path, parts.query, self.headers, body, self.client_address[0])
        if path == "/api/v2" or path.startswith("/api/v2/"):
            resp, user = app.handle_api(req)
            app.log_request(req, resp.status, user)
        elif path.startswith("/__emulator/"):
            from .routes_testing import handle_testing
            resp = handle_testing(req)
        elif path.startswith("/api/"):
            # Other API trees (e.g. /api/experimental) are not emulated.
            resp = json_resp(404, {"message": "Route not found."})
        elif path == "/healthz":
            resp = Resp(200, b"OK", "text/plain; charset=utf-8")
        else:
            # The real server serves its single-page app for every non-API path.
            resp = Resp(200, _HTML_PAGE if self.command != "HEAD" else b"", "text/html; charset=utf-8")
        self._send(resp)
        if resp.takeover is not None:
            # An upgraded connection (agent RPC WebSocket) belongs to its session until it ends; no HTTP after.
            self.close_connection = True
            resp.takeover(self)

    def _send(self, resp: Resp):
        # The Date header follows the test clock, as every other time of the emulated server does.
        server_now = self.app.state.clock().timestamp()
        lines = [f"HTTP/1.1 {resp.status} {self.responses.get(resp.status, ('',))[0]}",
                 f"Date: {self.date_time_string(server_now)}"]
        if resp.content_type:
            lines.append(f"Content-Type: {resp.content_type}")
        for k, v in resp.headers.items():
            lines.append(f"{k}: {v}")
        if resp.status != 204 and resp.status >= 200:
            lines.append(f"Content-Length: {len(resp.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(head + (resp.body if resp.status != 204 else b""))
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class ServerHandle:
    """Returned by start_server: ``.url``, ``.app`` (state access for tests) and ``.stop()``."""

    def __init__(self, httpd, app, thread):
        self.httpd = httpd
        self.app = app
        self.thread = thread
        host, port = httpd.server_address[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def make_server(host, port, token, **options):
    app = App(token, **options)
    handler = type("BoundHandler", (Handler,), {"app": app})
    httpd = EmulatorHTTPServer((host, port), handler)
    h, p = httpd.server_address[:2]
    app.url = f"http://{h}:{p}"
    return httpd, app


def start_server(host="127.0.0.1", port=0, token=None, **options) -> ServerHandle:
    """Start the emulator in a background thread (used by tests).

    options: license ("premium"|"none"), version, seed (dict), fail_rate, rate_limit, latency,
    build_delay (seconds a template import job runs), provisioners (built-in daemons; 0 = jobs stay pending),
    experiments (e.g. ["workspace-usage"]).
    """
    if token is None:
        from .util import rand_alnum
        token = f"{rand_alnum(10)}-{rand_alnum(22)}"
    httpd, app = make_server(host, port, token, **options)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    handle = ServerHandle(httpd, app, thread)
    handle.token = token
    return handle
