# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roster_from_csv filter: an HR or identity-provider export in CSV, as coder_roster users and groups."""

from __future__ import annotations

import csv
import io
import re

from ansible.errors import AnsibleFilterError

COLUMNS = ("username", "email", "name", "login_type", "roles", "groups")
REQUIRED = ("username", "email")
LOGIN_TYPES = ("password", "none", "github", "oidc")
NAME_RULE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
EMAIL_RULE = re.compile(r"^[^@\s]+@[^@\s]+$")


def _split(cell):
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


GROUP_NAME_RULE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")


def _row_groups(cell, username, line):
    groups = _split(cell)
    for group in groups:
        if group == "Everyone":
            raise AnsibleFilterError(f"roster line {line}: '{username}' lists the group Everyone, which always holds "
                                     "every member of the organization; leave it out of the groups column.")
        if len(group) > 255 or not GROUP_NAME_RULE.match(group) or group.lower() in ("new", "create"):
            raise AnsibleFilterError(f"roster line {line}: '{group}' is not a valid Coder group name (letters, digits "
                                     "and single hyphens).")
    return groups


def _row_to_user(row, line):
    def fail(message):
        raise AnsibleFilterError(f"roster line {line}: {message}")

    username = row.get("username") or ""
    if not username:
        fail("username is empty.")
    if len(username) > 32 or not NAME_RULE.match(username) or username.lower() in ("new", "create"):
        fail(f"username '{username}' is not a valid Coder username (1 to 32 letters, digits and single hyphens).")
    email = row.get("email") or ""
    if not EMAIL_RULE.match(email):
        fail(f"email '{email}' of '{username}' is not an email address.")
    user = {"username": username, "email": email, "source": f"roster line {line}"}
    if row.get("name"):
        user["name"] = row["name"]
    login_type = (row.get("login_type") or "").lower()
    if login_type:
        if login_type not in LOGIN_TYPES:
            fail(f"login_type '{login_type}' of '{username}' is not one of {', '.join(LOGIN_TYPES)}.")
        user["login_type"] = login_type
    if "roles" in row:
        # A roster with a roles column is the authority on site roles: an empty cell means none.
        user["roles"] = [role.lower() for role in _split(row["roles"])]
    return user


def roster_from_csv(text, groups=None, purge_members=True):
    """Parse the CSV text; returns ``{"users": [...], "groups": [...]}`` for coder_roster.

    Cells are trimmed; blank lines are skipped; ``roles`` and ``groups`` hold ``;``-separated lists. The groups
    named in the file get the people who list them, merged into ``groups`` (declared groups keep their settings
    and gain these members). A bad row fails naming its line.
    """
    if not isinstance(text, str):
        raise AnsibleFilterError("roster_from_csv expects the text of a CSV file.")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = None
    users, seen, memberships = [], {}, {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            # Spreadsheets often export empty trailing columns; they carry nothing.
            while header and not header[-1]:
                header.pop()
            unknown = [column for column in header if column not in COLUMNS]
            missing = [column for column in REQUIRED if column not in header]
            if unknown or missing:
                raise AnsibleFilterError(f"roster line {line}: the header must name the columns {', '.join(COLUMNS)}"
                                         f" (username and email required); unknown: {unknown}, missing: {missing}.")
            continue
        extra = row[len(header):]
        if len(row) < len(header) or any(cell.strip() for cell in extra):
            raise AnsibleFilterError(f"roster line {line}: {len(row)} cells where the header has {len(header)}.")
        cells = {column: cell.strip() for column, cell in zip(header, row)}
        user = _row_to_user(cells, line)
        for key in (user["username"].lower(), user["email"].lower()):
            if key in seen:
                raise AnsibleFilterError(f"roster line {line}: '{key}' is already on line {seen[key]}.")
            seen[key] = line
        users.append(user)
        for group in _row_groups(cells.get("groups"), user["username"], line):
            memberships.setdefault(group, []).append(user["username"])
    return {"users": users, "groups": _merge_groups(groups or [], memberships, purge_members)}


def _merge_groups(declared, memberships, purge_members):
    merged, by_name = [], {}
    for group in declared:
        copy = dict(group)
        merged.append(copy)
        by_name[copy["name"]] = copy
    for name, members in memberships.items():
        if name in by_name:
            group = by_name[name]
            group["members"] = list(group.get("members") or []) + [m for m in members if m not in (group.get(
                "members") or [])]
            group.setdefault("purge_members", purge_members)
        else:
            merged.append({"name": name, "members": members, "purge_members": purge_members})
    return merged


class FilterModule:
    def filters(self):
        return {"roster_from_csv": roster_from_csv}
