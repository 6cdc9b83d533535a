# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scripted stand-in for requests.Session: answers queued responses and records every request."""

from __future__ import annotations

import json

import requests


def make_response(status, body=None, headers=None, text=None, reason=None):
    response = requests.models.Response()
    response.status_code = status
    reasons = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 409: "Conflict",
               429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable"}
    response.reason = reason or reasons.get(status, "")
    response.headers.update(headers or {})
    if text is not None:
        response._content = text.encode()
        response.headers.setdefault("Content-Type", "text/html; charset=utf-8")
    elif body is not None:
        response._content = json.dumps(body).encode()
        response.headers.setdefault("Content-Type", "application/json; charset=utf-8")
    else:
        response._content = b""
    return response


class FakeSession:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []
        self.headers = {}

    def request(self, method, url, params=None, json=None, timeout=None, allow_redirects=True, verify=None,
                data=None, headers=None):
        self.calls.append({"method": method, "url": url, "params": params, "json": json,
                           "allow_redirects": allow_redirects, "verify": verify, "data": data, "headers": headers})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(method, url, params, json)
        return answer
