"""Creates or deletes many users straight through Coder's API, for the many-users test.

    bulk_users.py create|delete PREFIX COUNT
URL and token come from CODER_URL and CODER_SESSION_TOKEN (never from arguments). A 429 from Coder's
rate limiter is waited out as its Retry-After says. Prints a JSON summary.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def call(method, path, body=None):
    base = os.environ["CODER_URL"].rstrip("/")
    data = json.dumps(body).encode() if body is not None else None
    for _attempt in range(10):
        request = urllib.request.Request(base + "/api/v2" + path, data=data, method=method, headers={
            "Coder-Session-Token": os.environ["CODER_SESSION_TOKEN"], "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            if error.code != 429:
                return error.code
            time.sleep(float(error.headers.get("Retry-After") or 5))
    raise SystemExit(f"{method} {path}: still rate limited after 10 tries")


def main():
    action, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    statuses = {}
    for number in range(1, count + 1):
        username = f"{prefix}-{number:03d}"
        if action == "create":
            status = call("POST", "/users", {"username": username, "email": f"{username}@example.test",
                                             "login_type": "none", "organization_ids": [NIL_UUID]})
        else:
            status = call("DELETE", f"/users/{username}")
        statuses[status] = statuses.get(status, 0) + 1
    print(json.dumps({"action": action, "statuses": statuses}))


if __name__ == "__main__":
    main()
