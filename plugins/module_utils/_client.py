# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client every module of coder.automation uses to talk to Coder's REST API (/api/v2).

It owns the URL, the session token, TLS settings, timeouts, retries with backoff, the translation of
Coder's error bodies into ``CoderAPIError``, pagination, and what is fetched once per module run
(build info, entitlements, organizations). It never exits a module: it raises.
"""

from __future__ import annotations

import json
import random
import re
import time
from urllib.parse import quote, urlsplit, urlunsplit

try:
    import requests
    from requests import exceptions as requests_exceptions

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = import_error

from ._errors import CoderAPIError, CoderConfigError, CoderTransportError, NotCoderAPIError
from ._version import COLLECTION_VERSION

API_PREFIX = "/api/v2"
USER_AGENT = f"coder.automation/{COLLECTION_VERSION} (Ansible collection)"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# 429 means Coder's rate limiter refused the request before any handler ran; 502/503/504 come from a
# proxy or a restarting server, which may or may not have passed the request on.
RETRY_STATUSES = frozenset((429, 502, 503, 504))
# Methods that change nothing when repeated. POST and PATCH are not repeated blindly (see request()).
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
# Coder's limiter says Retry-After: 60; waiting longer than this would look like a hang.
RETRY_AFTER_CAP_SECONDS = 120.0
DEFAULT_PAGE_SIZE = 100
# A safety net against a server that keeps answering full pages: 200,000 rows is far beyond any roster.
MAX_PAGES = 2000


def is_uuid(value):
    return isinstance(value, str) and bool(UUID_RE.match(value))


def normalize_base_url(url):
    """Return the API base (``scheme://host[:port][/prefix]/api/v2``) for any form of a deployment URL.

    Accepted: with or without trailing slashes, with or without ``/api/v2``, with a path prefix when
    Coder sits behind a reverse proxy under a sub-path. Doubled slashes in the path are collapsed.
    """
    if not url or not isinstance(url, str):
        raise CoderConfigError("No Coder URL: set the url option or the CODER_URL environment variable.")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CoderConfigError(
            f"url must be an http:// or https:// address of the Coder deployment, such as "
            f"https://coder.example.com; got '{display_url(url)}'."
        )
    if "@" in parts.netloc:
        # Coder authenticates with the token; a user:password in the URL would show in every task's arguments.
        raise CoderConfigError("url must not contain a user name or password (they would show in task output); "
                               "Coder authenticates with the token option.")
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return urlunsplit((parts.scheme, parts.netloc, path + API_PREFIX, "", ""))


def display_url(url):
    """The URL without user:password@, for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def parse_version(text):
    """``v2.34.3+abc`` -> (2, 34, 3). Development builds (``v0.0.0-devel``) count as the newest."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", text or "")
    if not match:
        return (999, 0, 0)
    version = tuple(int(part) for part in match.groups())
    return (999, 0, 0) if version == (0, 0, 0) else version


def path_segment(value):
    """Quote one path parameter (a username or an organization name)."""
    return quote(str(value), safe="")


def check_token(token):
    """The token as sent: surrounding whitespace (a newline from a file) removed; anything else odd refused
    without echoing it."""
    token = (token or "").strip()
    if not token:
        raise CoderConfigError("No Coder session token: set the token option or the CODER_SESSION_TOKEN "
                               "environment variable.")
    if any(character.isspace() or ord(character) < 32 or ord(character) > 126 for character in token):
        raise CoderConfigError("The Coder session token (token option or CODER_SESSION_TOKEN) contains spaces or "
                               "characters a token never has; check how it is read (quotes, a second line).")
    return token


class _Attempt:
    def __init__(self, response=None, status=None, description="", may_have_arrived=True, retry_after=None,
                 message=None):
        self.response = response
        self.message = message
        self.status = status
        self.description = description
        self.may_have_arrived = may_have_arrived
        self.retry_after = retry_after


class Response:
    """What the client hands back: the status and the decoded JSON body (None when empty)."""

    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class CoderClient:
    """A session against one Coder deployment.

    ``warn`` receives one line per retry (modules pass ``module.warn``). ``sleep`` and ``session`` exist
    so unit tests can run without waiting or without a network.
    """

    def __init__(self, url, token, validate_certs=True, ca_path=None, timeout=30.0, retries=3,
                 warn=None, session=None, sleep=time.sleep, jitter=random.uniform):
        self._token = check_token(token)
        self.base_url = normalize_base_url(url)
        self.display_base = display_url(self.base_url)
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self._warn = warn or (lambda message: None)
        self._sleep = sleep
        self._jitter = jitter
        # Given on every request: a session-wide verify would lose to REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE,
        # which requests reads from the environment. Left to None (verify with the default or that bundle)
        # unless the task says otherwise.
        self._verify = None if (validate_certs and not ca_path) else (ca_path if validate_certs else False)
        self._session = session or self._new_session()
        # What one module run reads once and reuses: build info, entitlements, organizations, role lists.
        self.cache = {}

    def _new_session(self):
        if not HAS_REQUESTS:  # pragma: no cover - modules check HAS_REQUESTS first
            raise CoderConfigError("The Python library 'requests' is required on the host that runs the module.")
        session = requests.Session()
        # trust_env (the default) makes requests honour HTTP_PROXY, HTTPS_PROXY and NO_PROXY, as users of curl
        # and the coder CLI expect.
        session.headers.update({
            "Coder-Session-Token": self._token,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        })
        return session

    # ---- transport ------------------------------------------------------------------------------

    def request(self, method, path, params=None, body=None, lookup=None, expected=None, optional_route=False,
                data=None, content_type=None, raw=False):
        """Send one API request with retries; return a ``Response`` or raise.

        ``path`` is relative to /api/v2. ``lookup`` is for creating requests (POST): when such a
        request may have reached the server but no answer came back (a dropped connection, a
        timeout, a proxy's 502/503/504), the client calls ``lookup()`` before trying again, and
        returns what it finds instead of creating a second object. Without ``lookup`` such a request
        is not repeated. ``expected`` lists extra statuses that are answers rather than errors
        (such as 404 for a lookup). ``optional_route`` makes Coder's "Route not found." an answer (404)
        instead of an error, for routes some builds do not have. ``data`` and ``content_type`` send raw bytes
        (file uploads); ``raw`` returns the answer's bytes as ``body`` (file downloads).
        """
        method = method.upper()
        url = self.base_url + path
        repeatable = method in IDEMPOTENT_METHODS
        attempts = 0
        while True:
            attempts += 1
            attempt = self._send_once(method, url, params, body, data, content_type)
            if attempt.response is not None:
                if raw and 200 <= attempt.response.status_code < 300:
                    return Response(attempt.response.status_code, attempt.response.content, attempt.response.headers)
                return self._interpret(method, path, attempt.response, expected, optional_route)
            if attempts > self.retries:
                raise self._give_up(method, path, attempt, f"after {attempts} attempts")
            if attempt.may_have_arrived and not repeatable:
                if lookup is None:
                    raise self._give_up(method, path, attempt, "not repeated, since it may have reached the server")
                found = lookup()
                if found is not None:
                    self._warn(f"{method} {path} got no clear answer ({attempt.description}), but the object it "
                               "creates already exists on the server; using it instead of sending the request again.")
                    return Response(200, found)
            delay = self._delay(attempts, attempt.retry_after)
            self._warn(f"Coder API {method} {path}: {attempt.description}; retrying in {delay:.1f}s "
                       f"(retry {attempts} of {self.retries}).")
            self._sleep(delay)

    def _send_once(self, method, url, params, body, data=None, content_type=None):
        """One attempt: an ``_Attempt`` with the response, or why it should be retried."""
        extra = {"data": data, "headers": {"Content-Type": content_type}} if data is not None else {}
        try:
            # Redirects are never followed: the Coder API does not redirect, and following one would carry
            # the token to another host or over plain HTTP.
            response = self._session.request(
                method, url, params=params, json=body if body is not None else None, timeout=self.timeout,
                allow_redirects=False, verify=self._verify, **extra,
            )
        except requests_exceptions.SSLError as error:
            raise CoderTransportError(
                f"TLS error talking to {self.display_base}: {_first_line(error)}. Set ca_path to the CA "
                "bundle that signed the server's certificate, or validate_certs: false for a test deployment."
            ) from None
        except requests_exceptions.ConnectTimeout as error:
            return _Attempt(description=f"connection timed out ({_first_line(error)})", may_have_arrived=False)
        except requests_exceptions.ConnectionError as error:
            return _Attempt(description=f"connection failed ({_first_line(error)})",
                            may_have_arrived=_may_have_arrived(error))
        except requests_exceptions.Timeout:
            return _Attempt(description=f"no answer within {self.timeout}s")
        except requests_exceptions.RequestException as error:
            return _Attempt(description=f"request failed ({_first_line(error)})")
        status = response.status_code
        if status not in RETRY_STATUSES:
            return _Attempt(response=response)
        if status == 429:
            # The limiter answers before any handler runs, so nothing was written.
            return _Attempt(status=429, description=f"rate limited (HTTP 429{_coder_message(response)})",
                            may_have_arrived=False, message=f"rate limited{_coder_message(response)}",
                            retry_after=_retry_after_seconds(response.headers.get("Retry-After")))
        return _Attempt(status=status, description=f"HTTP {status} {response.reason or ''}".rstrip())

    def _delay(self, attempt, retry_after):
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP_SECONDS)
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2 ** (attempt - 1)))
        # "Equal jitter": at least half the exponential step, so retries still spread out over time.
        return ceiling / 2 + self._jitter(0, ceiling / 2)

    def _give_up(self, method, path, attempt, how):
        if attempt.status is None:
            return CoderTransportError(
                f"Could not reach the Coder API at {self.display_base} ({method} {path}): {attempt.description}, "
                f"{how}."
            )
        what = attempt.message or "no usable answer from the server or a proxy in front of it"
        return CoderAPIError(attempt.status, method, API_PREFIX + path, f"{what}, {how}")

    def _interpret(self, method, path, response, expected, optional_route=False):
        status = response.status_code
        body, is_json = _decode_json(response)
        full_path = API_PREFIX + path
        if 300 <= status < 400 and status != 304:
            raise NotCoderAPIError(self._site_display(), method, full_path, status,
                                   f"a redirect to {display_url(response.headers.get('Location') or '?')}")
        if status == 404 and isinstance(body, dict) and body.get("message") == "Route not found." \
                and not optional_route:
            # Coder's router, not a handler: the URL has a path the API does not have (a wrong prefix, or a
            # route this Coder version lacks). Never to be read as "the object does not exist".
            raise CoderConfigError(f"{method} {full_path} is not a route of the Coder API at {self._site_display()} "
                                   "(Coder answered 404 \"Route not found.\"). Check the url option: it must not "
                                   "include a path Coder does not serve.")
        if not is_json and (status < 500 or status == 501):
            # Coder answers JSON for every status under /api/v2 (even 404 and 405 are JSON or empty).
            # HTML or text here means the URL points at something else: a web page, a proxy login.
            if not (status in (204, 304, 405) and not response.content):
                raise NotCoderAPIError(self._site_display(), method, full_path, status,
                                       response.headers.get("Content-Type"))
        if 200 <= status < 300 or status == 304 or (expected and status in expected):
            return Response(status, body, response.headers)
        if isinstance(body, dict):
            raise CoderAPIError(status, method, full_path, body.get("message"), body.get("detail"),
                                body.get("validations"), reason=response.reason)
        raise CoderAPIError(status, method, full_path, f"the server answered without a Coder error body "
                            f"({response.headers.get('Content-Type') or 'no content type'})", reason=response.reason)

    def _site_display(self):
        return self.display_base[: -len(API_PREFIX)] or self.display_base

    # ---- conveniences ---------------------------------------------------------------------------

    def get(self, path, params=None, expected=None):
        return self.request("GET", path, params=params, expected=expected)

    def get_or_none(self, path, params=None):
        """GET an object; None when Coder says 404 (missing, or not visible to this token)."""
        response = self.request("GET", path, params=params, expected=(404,))
        return None if response.status == 404 else response.body

    def paginate(self, path, key, params=None, page_size=DEFAULT_PAGE_SIZE):
        """Every row of a list endpoint that takes limit/offset and answers ``{key: [...], "count": N}``.

        Stops when the rows reach ``count``, on a short or empty page (Coder reports count 0 for an
        empty page), and after MAX_PAGES pages at most.
        """
        rows = []
        for _page in range(MAX_PAGES):
            query = dict(params or {})
            query["limit"] = page_size
            if rows:
                query["offset"] = len(rows)
            response = self.get(path, params=query)
            body = response.body or {}
            batch = body.get(key) if isinstance(body, dict) else None
            # A proxy or another server in between can answer JSON of another shape; say so instead of failing
            # later on a missing field.
            if batch is None:
                batch = []
            elif not isinstance(batch, list) or not all(isinstance(row, dict) for row in batch):
                batch = None
            if batch is None or not isinstance(body, dict):
                raise CoderAPIError(response.status, "GET", API_PREFIX + path,
                                    f"the answer is not a Coder list (an object with a list of objects under "
                                    f"'{key}'); check that the url option (or CODER_URL) leads to Coder itself")
            rows.extend(batch)
            total = body.get("count")
            if len(batch) < page_size or (isinstance(total, int) and len(rows) >= total):
                return rows
        raise CoderAPIError(0, "GET", API_PREFIX + path, f"more than {MAX_PAGES} pages of {page_size} rows; "
                            "refusing to read further")

    def get_cached(self, path):
        """GET a path once per client run (role lists and other data that do not change during a run)."""
        key = ("GET", path)
        if key not in self.cache:
            self.cache[key] = self.get(path).body
        return self.cache[key]

    def buildinfo(self):
        """``GET /buildinfo``, once per client (no authentication needed)."""
        if "buildinfo" not in self.cache:
            self.cache["buildinfo"] = self.get("/buildinfo").body or {}
        return self.cache["buildinfo"]

    def server_version(self):
        """The server version as a tuple, e.g. (2, 34, 3)."""
        return parse_version(self.buildinfo().get("version"))

    def entitlements(self):
        """``GET /entitlements``, once per client. A build without the enterprise code answers 404: no features."""
        if "entitlements" not in self.cache:
            response = self.request("GET", "/entitlements", expected=(404,), optional_route=True)
            self.cache["entitlements"] = {} if response.status == 404 else (response.body or {})
        return self.cache["entitlements"]

    def feature_enabled(self, name):
        feature = (self.entitlements().get("features") or {}).get(name) or {}
        return bool(feature.get("enabled"))

    def organizations(self):
        """Every organization visible to the token (``GET /organizations``), once per run."""
        if "organization_list" not in self.cache:
            listing = self.get("/organizations").body or []
            by_ref = self.cache.setdefault("organizations", {})
            for organization in listing:
                by_ref[organization["id"]] = organization
                by_ref[organization["name"].lower()] = organization
                if organization.get("is_default"):
                    by_ref["default"] = organization
            self.cache["organization_list"] = listing
        return self.cache["organization_list"]

    def organization(self, reference=None):
        """An organization by name (case-insensitive), id, or ``default`` (also None), cached per run.

        Raises ``CoderAPIError`` with status 404 when it does not exist or is not visible.
        """
        key = "default" if reference in (None, "", "default", NIL_UUID) else str(reference)
        cache = self.cache.setdefault("organizations", {})
        cache_key = key if is_uuid(key) else key.lower()
        if cache_key not in cache:
            organization = self.get(f"/organizations/{path_segment(key)}").body
            cache[cache_key] = organization
            cache[organization["id"]] = organization
            cache[organization["name"].lower()] = organization
        return cache[cache_key]


def _decode_json(response):
    """(body, is_json). An empty body is JSON None; Coder sends that for 204 and some 200s (``null``)."""
    content = response.content
    if not content:
        return None, True
    content_type = (response.headers.get("Content-Type") or "").lower()
    if "json" not in content_type:
        return None, False
    try:
        return json.loads(content.decode("utf-8")), True
    except (ValueError, UnicodeDecodeError):
        return None, False


def _coder_message(response):
    body, is_json = _decode_json(response)
    if is_json and isinstance(body, dict) and body.get("message"):
        return f": {body['message']}"
    return ""


def _retry_after_seconds(value):
    """Retry-After in seconds (Coder sends delta-seconds); None when absent or not a number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, seconds)


def _may_have_arrived(error):
    """False only when the connection was never made (refused, DNS), so the server saw nothing."""
    text = repr(error)
    never_sent = ("NewConnectionError", "NameResolutionError", "Failed to resolve", "Connection refused",
                  "ConnectTimeoutError")
    return not any(marker in text for marker in never_sent)


def _first_line(error):
    return str(error).splitlines()[0][:300] if str(error) else error.__class__.__name__
