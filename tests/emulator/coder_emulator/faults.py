"""Injected failures: random fail-rate, latency, go-chi/httprate style rate limiting, scheduled faults."""

import json
import math
import re
import threading
import time
from http import HTTPStatus

from .util import response_body

WINDOW = 60.0

_PROXY_STATUSES = {502, 503, 504}


def rate_limited_body(limit: int) -> dict:
    return response_body(f"You've been rate limited for sending more than {limit} requests in 1m0s.")


def proxy_error_page(status: int) -> bytes:
    # What nginx and most reverse proxies put in front of an unreachable/slow upstream.
    title = f"{status} {HTTPStatus(status).phrase}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"</body>\r\n</html>\r\n").encode()


class RateLimiter:
    """Sliding-window counter as in httprate v0.15 (previous window weighted by the elapsed share)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.lock = threading.Lock()
        self.counts: dict[tuple, int] = {}

    def check(self, key: str, path: str):
        """Return (allowed, headers)."""
        t = time.time()
        cur = math.floor(t / WINDOW) * WINDOW
        prev = cur - WINDOW
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Reset": str(int(cur + WINDOW))}
        with self.lock:
            cur_count = self.counts.get((key, path, cur), 0)
            prev_count = self.counts.get((key, path, prev), 0)
            rate = round(prev_count * (WINDOW - (t - cur)) / WINDOW + cur_count)
            if rate + 1 > self.limit:
                headers["X-RateLimit-Remaining"] = str(max(self.limit - rate, 0))
                headers["Retry-After"] = str(int(WINDOW))
                return False, headers
            self.counts[(key, path, cur)] = cur_count + 1
            headers["X-RateLimit-Remaining"] = str(self.limit - rate - 1)
            if len(self.counts) > 10000:
                # Drop windows that can no longer influence a rate.
                self.counts = {k: v for k, v in self.counts.items() if k[2] >= prev}
            return True, headers

    def reset(self):
        with self.lock:
            self.counts.clear()


class FaultSchedule:
    """Scheduled faults, matched in order against upcoming /api/v2 requests."""

    FIELDS = ("status", "count", "retry_after", "method", "path_regex", "after_handling", "body")

    def __init__(self):
        self.lock = threading.Lock()
        self.faults: list[dict] = []

    @staticmethod
    def normalize(spec: dict) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("each fault must be an object")
        status = spec.get("status")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("fault 'status' must be an HTTP status code")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError("fault 'count' must be a positive integer")
        path_regex = spec.get("path_regex")
        if path_regex is not None:
            re.compile(path_regex)
        retry_after = spec.get("retry_after")
        return {
            "status": status,
            "count": count,
            "retry_after": 60 if retry_after is None else retry_after,
            "method": spec.get("method").upper() if spec.get("method") else None,
            "path_regex": path_regex,
            "after_handling": bool(spec.get("after_handling", False)),
            "body": spec.get("body"),
        }

    def add(self, specs):
        faults = [self.normalize(s) for s in specs]
        with self.lock:
            self.faults.extend(faults)

    def clear(self):
        with self.lock:
            self.faults.clear()

    def list(self):
        with self.lock:
            return [dict(f) for f in self.faults]

    def take(self, method: str, path: str):
        """Consume one use of the first matching fault, or return None."""
        if not self.faults:
            return None
        with self.lock:
            for i, f in enumerate(self.faults):
                if f["method"] and f["method"] != method:
                    continue
                if f["path_regex"] and not re.search(f["path_regex"], path):
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    del self.faults[i]
                return dict(f)
        return None


def fault_response(fault: dict, rate_limit: int | None):
    """Return (status, content_type, body_bytes, headers) for a scheduled fault."""
    status = fault["status"]
    headers = {}
    if status == 429:
        limit = rate_limit or 512  # Coder's default API rate limit
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(math.floor(time.time() / WINDOW) * WINDOW + WINDOW)),
            "Retry-After": str(fault["retry_after"]),
        }
    body = fault["body"]
    if body is not None:
        if isinstance(body, str):
            return status, "text/plain; charset=utf-8", body.encode(), headers
        return status, "application/json; charset=utf-8", json.dumps(body).encode(), headers
    if status == 429:
        return status, "application/json; charset=utf-8", json.dumps(rate_limited_body(limit)).encode(), headers
    if status in _PROXY_STATUSES:
        return status, "text/html", proxy_error_page(status), headers
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return status, "application/json; charset=utf-8", json.dumps(response_body(phrase)).encode(), headers
