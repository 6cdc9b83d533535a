"""Prints what the demo's deployment holds: `users`, `groups` (and statuses) or `templates` (and versions)."""

import json
import os
import sys
import urllib.request
from collections import Counter


def get(path):
    request = urllib.request.Request(os.environ["CODER_URL"] + "/api/v2" + path,
                                     headers={"Coder-Session-Token": os.environ["CODER_SESSION_TOKEN"]})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def show_users():
    print(f"{'username':<18}{'email':<30}{'status':<11}{'login':<10}roles")
    for user in get("/users")["users"]:
        roles = ",".join(role["name"] for role in user["roles"])
        print(f"{user['username']:<18}{user['email']:<30}{user['status']:<11}{user['login_type']:<10}{roles}")


def show_groups():
    users = get("/users")["users"]
    print("users by status: " + ", ".join(f"{status} {count}" for status, count in
                                          sorted(Counter(user["status"] for user in users).items())))
    suspended = [user["username"] for user in users if user["status"] == "suspended"]
    print("suspended (not in the roster): " + (", ".join(suspended) or "none"))
    print(f"{'group':<16}{'display name':<24}{'members':>8}{'quota':>7}")
    for group in get("/organizations/default/groups"):
        print(f"{group['name']:<16}{group['display_name'] or '':<24}{group['total_member_count']:>8}"
              f"{group['quota_allowance']:>7}")


def show_templates():
    print(f"{'template':<12}{'active version':<26}{'versions':>9}  {'build':<11}autostop")
    for template in get("/organizations/default/templates"):
        versions = get(f"/templates/{template['id']}/versions")
        active = next(v for v in versions if v["id"] == template["active_version_id"])
        print(f"{template['name']:<12}{active['name']:<26}{len(versions):>9}  {active['job']['status']:<11}"
              f"{template['default_ttl_ms'] // 3600000}h")


if __name__ == "__main__":
    {"users": show_users, "groups": show_groups, "templates": show_templates}[sys.argv[1]]()
