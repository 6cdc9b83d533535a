# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import http.server
import threading

import pytest
import requests

from ansible_collections.coder.automation.plugins.module_utils import _client
from ansible_collections.coder.automation.plugins.module_utils._client import CoderClient, normalize_base_url
from ansible_collections.coder.automation.plugins.module_utils._errors import (
    CoderAPIError,
    CoderConfigError,
    CoderTransportError,
    NotCoderAPIError,
)
from ansible_collections.coder.automation.tests.unit.plugins.module_utils.fake_http import FakeSession, make_response

TOKEN = "AbCdEfGhIj-0123456789abcdefghijkl"


def client_with(answers, retries=3, warnings=None, sleeps=None):
    session = FakeSession(answers)
    client = CoderClient("https://coder.example.test", TOKEN, retries=retries, session=session,
                         warn=(warnings.append if warnings is not None else None),
                         sleep=(sleeps.append if sleeps is not None else lambda seconds: None),
                         jitter=lambda low, high: high)
    return client, session


@pytest.mark.parametrize("url", [
    "https://coder.example.test", "https://coder.example.test/", "https://coder.example.test/api/v2",
    "https://coder.example.test/api/v2/", "https://coder.example.test//api/v2//",
])
def test_url_forms_give_one_base(url):
    assert normalize_base_url(url) == "https://coder.example.test/api/v2"


def test_url_with_path_prefix_keeps_it():
    assert normalize_base_url("https://example.test/tools/coder/") == "https://example.test/tools/coder/api/v2"
    assert normalize_base_url("https://example.test/tools/coder/api/v2") == "https://example.test/tools/coder/api/v2"


@pytest.mark.parametrize("url", ["coder.example.test", "ftp://coder.example.test", ""])
def test_bad_urls_name_the_option(url):
    with pytest.raises(CoderConfigError) as error:
        normalize_base_url(url)
    assert "url" in str(error.value) or "CODER_URL" in str(error.value)


def test_missing_token_names_option_and_variable():
    with pytest.raises(CoderConfigError) as error:
        CoderClient("https://coder.example.test", "")
    assert "token option" in str(error.value) and "CODER_SESSION_TOKEN" in str(error.value)


def test_headers_carry_token_and_user_agent():
    client = CoderClient("https://coder.example.test", TOKEN)
    headers = client._session.headers
    assert headers["Coder-Session-Token"] == TOKEN
    assert headers["User-Agent"].startswith("coder.automation/0.1.0")
    assert client._session.trust_env is True  # proxies from HTTPS_PROXY and friends


def test_get_joins_paths_under_api_v2():
    client, session = client_with([make_response(200, {"ok": True})])
    assert client.get("/users/me").body == {"ok": True}
    assert session.calls[0]["url"] == "https://coder.example.test/api/v2/users/me"


def test_429_honours_retry_after_and_warns_once():
    warnings, sleeps = [], []
    client, _session = client_with([
        make_response(429, {"message": "You've been rate limited for sending more than 1 requests in 1m0s."},
                      headers={"Retry-After": "1"}),
        make_response(200, {"id": "x"}),
    ], warnings=warnings, sleeps=sleeps)
    assert client.get("/users/x").body == {"id": "x"}
    assert sleeps == [1.0]
    assert len(warnings) == 1 and "429" in warnings[0] and "retry 1 of 3" in warnings[0]
    assert TOKEN not in warnings[0]


def test_backoff_grows_exponentially_with_jitter():
    sleeps = []
    client, _session = client_with([make_response(503, text="down")] * 3 + [make_response(200, {})], sleeps=sleeps)
    client.get("/buildinfo")
    assert sleeps == [1.0, 2.0, 4.0]


def test_jitter_spreads_delays_between_half_and_full_step():
    client = CoderClient("https://coder.example.test", TOKEN, session=FakeSession([]))
    delays = {client._delay(3, None) for _attempt in range(50)}
    assert all(2.0 <= delay <= 4.0 for delay in delays) and len(delays) > 1


def test_gives_up_after_retries_with_status():
    client, _session = client_with([make_response(502, text="<html>bad gateway</html>")] * 3, retries=2)
    with pytest.raises(CoderAPIError) as error:
        client.get("/users/me")
    assert error.value.status == 502 and str(error.value).count("502") == 1
    assert str(error.value).endswith("no usable answer from the server or a proxy in front of it, after 3 attempts")


def test_connection_errors_are_retried_then_reported():
    refused = requests.exceptions.ConnectionError("NewConnectionError: Connection refused")
    client, session = client_with([refused, refused], retries=1)
    with pytest.raises(CoderTransportError) as error:
        client.get("/users/me")
    assert len(session.calls) == 2 and "Could not reach the Coder API" in str(error.value)


def test_post_that_may_have_arrived_is_looked_up_not_repeated():
    warnings = []
    client, session = client_with([make_response(502, text="Bad Gateway")], warnings=warnings)
    response = client.request("POST", "/users", body={"username": "ana"}, lookup=lambda: {"username": "ana"})
    assert response.body == {"username": "ana"}
    assert [call["method"] for call in session.calls] == ["POST"]
    assert "already exists" in warnings[0]


def test_post_retried_when_lookup_finds_nothing():
    client, session = client_with([requests.exceptions.ReadTimeout("read timed out"), make_response(201, {"id": 1})])
    response = client.request("POST", "/users", body={}, lookup=lambda: None)
    assert response.status == 201 and len(session.calls) == 2


def test_post_without_lookup_is_not_repeated():
    client, session = client_with([make_response(503, text="unavailable")])
    with pytest.raises(CoderAPIError):
        client.request("POST", "/users", body={})
    assert len(session.calls) == 1


def test_post_rate_limited_is_safely_repeated():
    client, session = client_with([make_response(429, {"message": "slow down"}), make_response(201, {"id": 1})])
    assert client.request("POST", "/users", body={}).status == 201
    assert len(session.calls) == 2


def test_coder_error_body_becomes_one_error():
    body = {"message": "Validation failed.", "detail": "bad input",
            "validations": [{"field": "username", "detail": "Validation failed for tag \"username\""}]}
    client, _session = client_with([make_response(400, body)])
    with pytest.raises(CoderAPIError) as error:
        client.request("POST", "/users", body={})
    text = str(error.value)
    assert error.value.status == 400 and error.value.method == "POST" and error.value.path == "/api/v2/users"
    assert "Validation failed." in text and "bad input" in text and "username:" in text
    assert error.value.to_result()["validations"][0]["field"] == "username"


@pytest.mark.parametrize("status", [200, 404])
def test_html_is_not_a_coder_api(status):
    client, _session = client_with([make_response(status, text="<!doctype html><title>Sign in</title>")])
    with pytest.raises(NotCoderAPIError) as error:
        client.get("/users/me")
    assert "not a Coder API at https://coder.example.test" in str(error.value)


def test_invalid_json_with_json_type_is_not_a_coder_api():
    response = make_response(200, text="{oops")
    response.headers["Content-Type"] = "application/json"
    client, _session = client_with([response])
    with pytest.raises(NotCoderAPIError):
        client.get("/users/me")


def test_get_or_none_on_404():
    client, _session = client_with([make_response(404, {"message": "Resource not found or you do not have access"})])
    assert client.get_or_none("/users/nobody") is None


def test_paginate_reads_every_page_until_count():
    pages = [make_response(200, {"users": [{"n": i} for i in range(start, min(start + 100, 250))], "count": 250})
             for start in (0, 100, 200)]
    client, session = client_with(pages)
    rows = client.paginate("/users", "users", params={"q": "x"})
    assert len(rows) == 250 and rows[229] == {"n": 229}
    assert [call["params"].get("offset") for call in session.calls] == [None, 100, 200]
    assert all(call["params"]["q"] == "x" and call["params"]["limit"] == 100 for call in session.calls)


def test_paginate_stops_on_empty_page_with_count_zero():
    client, session = client_with([make_response(200, {"users": [{"n": 1}] * 100, "count": 200}),
                                   make_response(200, {"users": [], "count": 0})])
    assert len(client.paginate("/users", "users")) == 100 and len(session.calls) == 2


@pytest.mark.parametrize("body", [[{"id": 1}], {"users": {"id": 1}}, {"users": ["ana"]}, "users"])
def test_paginate_names_an_answer_that_is_no_coder_list(body):
    client, _session = client_with([make_response(200, body)])
    with pytest.raises(CoderAPIError) as caught:
        client.paginate("/users", "users")
    assert "not a Coder list" in str(caught.value) and "/api/v2/users" in str(caught.value)


def test_paginate_is_capped(monkeypatch):
    monkeypatch.setattr(_client, "MAX_PAGES", 3)
    client, _session = client_with([make_response(200, {"users": [{}] * 100, "count": 10 ** 6})] * 3)
    with pytest.raises(CoderAPIError):
        client.paginate("/users", "users")


def test_buildinfo_and_entitlements_fetched_once():
    client, session = client_with([
        make_response(200, {"version": "v2.33.1+abc"}),
        make_response(200, {"features": {"template_rbac": {"enabled": True}}}),
    ])
    assert client.server_version() == (2, 33, 1) and client.server_version() == (2, 33, 1)
    assert client.feature_enabled("template_rbac") and not client.feature_enabled("scim")
    assert len(session.calls) == 2


def test_redirects_are_not_followed_and_say_where_they_lead():
    client, session = client_with([make_response(302, headers={"Location": "https://sso.example.test/login"})])
    with pytest.raises(NotCoderAPIError) as error:
        client.get("/users/me")
    assert session.calls[0]["allow_redirects"] is False
    assert "a redirect to https://sso.example.test/login" in str(error.value)


@pytest.mark.parametrize("validate_certs, ca_path, verify", [
    (True, None, None), (False, None, False), (True, "/etc/ca.pem", "/etc/ca.pem"), (False, "/etc/ca.pem", False),
])
def test_tls_settings_go_with_every_request(validate_certs, ca_path, verify):
    # Per request, because requests lets REQUESTS_CA_BUNDLE override a session-wide setting.
    session = FakeSession([make_response(200, {})])
    client = CoderClient("https://coder.example.test", TOKEN, validate_certs=validate_certs, ca_path=ca_path,
                         session=session)
    client.get("/buildinfo")
    assert session.calls[0]["verify"] == verify


def test_token_whitespace_is_trimmed_and_odd_characters_refused_without_echo():
    client = CoderClient("https://coder.example.test", f"  {TOKEN}\n")
    assert client._session.headers["Coder-Session-Token"] == TOKEN
    with pytest.raises(CoderConfigError) as error:
        CoderClient("https://coder.example.test", f"{TOKEN}\nsecond-line")
    assert TOKEN not in str(error.value) and "token" in str(error.value)


def test_credentials_in_the_url_are_refused():
    with pytest.raises(CoderConfigError) as error:
        normalize_base_url("https://user:hunter2@coder.example.test")
    assert "hunter2" not in str(error.value) and "token" in str(error.value)


def test_route_not_found_is_a_wrong_url_not_a_missing_object():
    client, _session = client_with([make_response(404, {"message": "Route not found."})])
    with pytest.raises(CoderConfigError) as error:
        client.get_or_none("/users/bob")
    assert "not a route of the Coder API" in str(error.value)


def test_post_not_repeated_says_so():
    client, _session = client_with([make_response(502, text="Bad Gateway")])
    with pytest.raises(CoderAPIError) as error:
        client.request("POST", "/organizations/x/members/y")
    assert "not repeated, since it may have reached the server" in str(error.value)


def test_rate_limit_give_up_quotes_coder_once():
    body = {"message": "You've been rate limited for sending more than 12 requests in 1m0s."}
    client, _session = client_with([make_response(429, body, headers={"Retry-After": "0"})] * 2, retries=1)
    with pytest.raises(CoderAPIError) as error:
        client.get("/users/me")
    assert str(error.value) == ("GET /api/v2/users/me returned HTTP 429: rate limited: You've been rate limited for "
                                "sending more than 12 requests in 1m0s., after 2 attempts")


def test_entitlements_on_a_build_without_enterprise_code():
    client, _session = client_with([make_response(404, {"message": "Route not found."})])
    assert client.feature_enabled("template_rbac") is False


def test_organization_lookup_by_default_name_and_id_is_cached():
    org = {"id": "5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21", "name": "coder", "is_default": True}
    client, session = client_with([make_response(200, org)])
    assert client.organization("default") == org
    assert client.organization("Coder") == org and client.organization(org["id"]) == org
    assert client.organization(None) == org
    assert session.calls[0]["url"].endswith("/organizations/default") and len(session.calls) == 1


class _HTMLHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        page = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


def test_a_real_plain_web_server_is_not_a_coder_api():
    server = http.server.HTTPServer(("127.0.0.1", 0), _HTMLHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        client = CoderClient(url, TOKEN, retries=0)
        with pytest.raises(NotCoderAPIError) as error:
            client.get("/users/me")
        assert f"not a Coder API at http://127.0.0.1:{server.server_address[1]}" in str(error.value)
        assert TOKEN not in str(error.value)
    finally:
        server.shutdown()
        server.server_close()
