# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coder users: validate what a playbook asks for, find the user, plan the changes, apply them.

Rules mirrored from the server (coderd) so that bad input is refused before anything is written:
usernames follow Coder's name rule, a password goes only with the ``password`` login type, a new user
needs an email. What the API cannot change (email, login type) is reported, never worked around.
"""

from __future__ import annotations

import re

from ._client import NIL_UUID, CoderAPIError, path_segment
from ._errors import CoderInputError
from ._plan import Plan, Step

NAME_RULE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
# Plain addresses only: quotes, colons, commas and spaces are legal in rare RFC 5322 forms, but they break
# Coder's user search (the only way to find a user by email) and its validator rejects most of them.
EMAIL_RULE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")
RESERVED_NAMES = ("new", "create")
LOGIN_TYPES = ("password", "none", "github", "oidc")
# Every user has these roles implicitly; Coder never lists them, so they are never compared.
IMPLICIT_SITE_ROLE = "member"
IMPLICIT_ORG_ROLE = "organization-member"
# The roles field of POST /users appeared in Coder v2.34.0; older servers ignore it.
CREATE_WITH_ROLES_SINCE = (2, 34, 0)
MAX_REAL_NAME = 128


def user_options():
    """The options of one user: coder_user's argument spec, and the suboptions of coder_roster's users."""
    return dict(
        username=dict(type="str", required=True),
        email=dict(type="str"),
        name=dict(type="str"),
        login_type=dict(type="str", choices=list(LOGIN_TYPES)),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
        roles=dict(type="list", elements="str"),
        suspended=dict(type="bool"),
        organizations=dict(type="list", elements="raw"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )


class DesiredUser:
    """What the playbook declares. ``None`` means "not managed" for every optional field."""

    def __init__(self, username, email=None, name=None, login_type=None, password=None, update_password="on_create",
                 roles=None, suspended=None, organizations=None):
        self.username = username
        self.email = email
        self.name = name
        self.login_type = login_type
        self.password = password
        self.update_password = update_password
        self.roles = roles
        self.suspended = suspended
        self.organizations = organizations  # list of (name, roles or None), or None

    @classmethod
    def from_params(cls, params):
        """Validate module parameters the way Coder would, naming the option to fix."""
        validate_username(params["username"])
        name = params.get("name")
        if name is not None and (len(name) > MAX_REAL_NAME or name != name.strip()):
            raise CoderInputError("name", f"must be at most {MAX_REAL_NAME} characters with no leading or "
                                  "trailing spaces (Coder's rule for a user's real name).")
        email = params.get("email")
        if email is not None and not EMAIL_RULE.match(email):
            raise CoderInputError("email", f"'{email}' is not an email address Coder accepts.")
        login_type = params.get("login_type")
        if params.get("password") and login_type not in (None, "password"):
            raise CoderInputError("password", f"a password can only be set with login_type 'password', not "
                                  f"'{login_type}'; remove password or change login_type.")
        roles = params.get("roles")
        if roles is not None:
            roles = sorted(set(clean_role_names(roles, "roles")) - {IMPLICIT_SITE_ROLE})
        return cls(params["username"], email=email, name=name, login_type=login_type,
                   password=params.get("password"), update_password=params.get("update_password") or "on_create",
                   roles=roles, suspended=params.get("suspended"),
                   organizations=parse_organizations(params.get("organizations")))


def validate_username(username, field="username"):
    if (username or "").lower() == "me":
        raise CoderInputError(field, "'me' cannot be managed by this module: Coder's API reads /users/me as the "
                              "token's own user.")
    if not username or len(username) > 32 or not NAME_RULE.match(username) or username.lower() in RESERVED_NAMES:
        raise CoderInputError(field, f"'{username}' is not a valid Coder username: use 1 to 32 letters, digits "
                              "and single hyphens, not starting or ending with a hyphen, and not 'new' or 'create'.")


def clean_role_names(roles, field):
    """Role names, trimmed and lower-cased. An empty entry (often an empty variable) is refused: dropping it
    silently would remove every role."""
    names = []
    for role in roles:
        if not isinstance(role, str) or not role.strip():
            raise CoderInputError(field, f"contains an empty or non-text entry ({role!r}); list role names only, "
                                  "or [] for no roles.")
        names.append(role.strip().lower())
    return names


def parse_organizations(value):
    """``organizations`` items are names, or dicts with ``name`` and optional ``roles``."""
    if value is None:
        return None
    parsed = []
    for index, item in enumerate(value):
        field = f"organizations[{index}]"
        if isinstance(item, str):
            name, roles = item, None
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            unknown = set(item) - {"name", "roles"}
            if unknown:
                raise CoderInputError(field, f"unknown keys {sorted(unknown)}; an item has 'name' and 'roles'.")
            name, roles = item["name"], item.get("roles")
            if roles is not None:
                if not isinstance(roles, list):
                    raise CoderInputError(f"{field}.roles", "must be a list of organization role names.")
                roles = sorted(set(clean_role_names(roles, f"{field}.roles")) - {IMPLICIT_ORG_ROLE})
        else:
            raise CoderInputError(field, "must be an organization name or a dict with 'name' and 'roles'.")
        if not name.strip():
            raise CoderInputError(field, "the organization name is empty.")
        if name.strip().lower() in (seen.lower() for seen, _roles in parsed):
            raise CoderInputError(field, f"organization '{name.strip()}' is listed twice; list each once.")
        parsed.append((name.strip(), roles))
    return parsed


# ---- reading ---------------------------------------------------------------------------------------

def find_user(client, username, email=None):
    """The user with this username, else the one with this email; both compared case-insensitively.

    Looking up by username is one request (Coder resolves usernames case-insensitively). The email
    search reads every page of matches, so the user is found however many users there are.
    """
    user = client.get_or_none(f"/users/{path_segment(username)}")
    if user is not None or not email:
        return user
    for candidate in client.paginate("/users", "users", params={"q": email}):
        if (candidate.get("email") or "").lower() == email.lower():
            return candidate
    return None


class UserDirectory:
    """Every user of the deployment from one paginated listing, indexed for case-insensitive lookups.

    Whole-roster work reads this once (a few pages) instead of one request per user.
    """

    def __init__(self, users):
        self.users = list(users)
        self.by_id = {user["id"].lower(): user for user in self.users}
        self.by_username = {user["username"].lower(): user for user in self.users}
        self.by_email = {(user.get("email") or "").lower(): user for user in self.users if user.get("email")}

    @classmethod
    def load(cls, client):
        return cls(client.paginate("/users", "users"))

    def find(self, username, email=None):
        """Like ``find_user``: by username, else by email."""
        user = self.by_username.get((username or "").lower())
        if user is None and email:
            user = self.by_email.get(email.lower())
        return user

    def resolve(self, reference):
        """A user by id, username or email (case-insensitive), or None."""
        reference = (reference or "").strip()
        key = reference.lower()
        return self.by_id.get(key) or self.by_username.get(key) or self.by_email.get(key)


def prefetch_org_members(client, org_id):
    """Read the roles of every member of an organization in a few pages (for whole-roster runs)."""
    key = ("org_member_roles", org_id)
    if key not in client.cache:
        members = client.paginate(f"/organizations/{org_id}/paginated-members", "members")
        client.cache[key] = {member["user_id"]: _org_role_names(member) for member in members}
    return client.cache[key]


def org_member_roles(client, org_id, user_id):
    """The explicit roles of a user in an organization: from a prefetch when there is one, else one read."""
    prefetched = client.cache.get(("org_member_roles", org_id))
    if prefetched is not None:
        return prefetched.get(user_id, [])
    return _org_role_names(client.get(f"/organizations/{org_id}/members/{user_id}").body or {})


def _org_role_names(member):
    return sorted(role["name"] for role in member.get("roles") or [] if role.get("name") != IMPLICIT_ORG_ROLE)


def site_role_names(user):
    return sorted(role["name"] for role in (user.get("roles") or []) if role.get("name") != IMPLICIT_SITE_ROLE)


def user_summary(user):
    """The fields a diff shows for a user, in the shape the module's options use."""
    return {
        "username": user.get("username"),
        "email": user.get("email"),
        "name": user.get("name", ""),
        "login_type": user.get("login_type"),
        "status": user.get("status"),
        "roles": site_role_names(user),
    }


# ---- planning --------------------------------------------------------------------------------------

def plan_user(client, desired, current, state="present"):
    """The plan that takes ``current`` (a Coder User, or None) to ``desired``."""
    if state == "absent":
        return _plan_delete(client, current)
    if current is None:
        return _plan_create(client, desired)
    return _plan_update(client, desired, current)


def _plan_delete(client, current):
    plan = Plan("delete" if current else "none")
    if current is None:
        return plan
    if _is_me(client, current):
        raise CoderInputError("state", f"user '{current['username']}' is the token's own user, and Coder does not let "
                              "a user delete itself; use another owner's token.")
    plan.before.update(user_summary(current))
    plan.steps.append(Step(f"delete user '{current['username']}'",
                           lambda client, context: client.request("DELETE", f"/users/{current['id']}")))
    return plan


def _plan_create(client, desired):
    if not desired.email:
        raise CoderInputError("email", f"user '{desired.username}' does not exist yet and Coder needs an email "
                              "address to create it.")
    login_type = desired.login_type or "password"
    if login_type == "password" and not desired.password:
        raise CoderInputError("password", f"user '{desired.username}' would be created with login_type 'password' "
                              "(Coder's default), which needs a password; set password, or login_type 'none', "
                              "'github' or 'oidc'.")
    if desired.roles:
        _check_site_roles(client, desired.roles)
    organizations = _resolve_organizations(client, desired.organizations)
    body = {"username": desired.username, "email": desired.email, "login_type": login_type,
            "organization_ids": [org["id"] for org, _roles in organizations] if organizations else [NIL_UUID]}
    if desired.name:
        body["name"] = desired.name
    if desired.password:
        body["password"] = desired.password
    if desired.suspended:
        body["user_status"] = "suspended"
    roles_in_body = bool(desired.roles) and client.server_version() >= CREATE_WITH_ROLES_SINCE
    if roles_in_body:
        body["roles"] = desired.roles

    after = {"username": desired.username, "email": desired.email, "name": desired.name or "",
             "login_type": login_type, "status": "suspended" if desired.suspended else "dormant",
             "roles": desired.roles or []}
    if organizations:
        after["organizations"] = sorted(org["name"] for org, _roles in organizations)
    plan = Plan("create", before={}, after=after)

    def create(client, context):
        response = client.request("POST", "/users", body=body,
                                  lookup=lambda: find_user(client, desired.username))
        context["user"] = response.body

    plan.steps.append(Step(f"create user '{desired.username}'", create))
    if desired.roles and not roles_in_body:
        plan.steps.append(_set_site_roles_step(desired.username, desired.roles))
    for org, roles in organizations:
        if roles:
            plan.steps.append(_set_org_roles_step(org, desired.username, roles))
    return plan


def _plan_update(client, desired, current):
    plan = Plan("update")
    user_id = current["id"]
    _plan_immutable(desired, current)
    _plan_profile(plan, desired, current)
    if desired.roles is not None and desired.roles != site_role_names(current):
        _check_site_roles(client, desired.roles)
        _check_role_change_allowed(client, current, desired.roles)
        plan.add("roles", site_role_names(current), desired.roles,
                 _set_site_roles_step(current["username"], desired.roles, user_id))
    if desired.organizations is not None:
        _plan_organizations(client, plan, desired, current)
    _plan_status(client, plan, desired, current)
    if desired.password and desired.update_password == "always":
        _plan_password(client, plan, desired, current)
    if not plan.steps:
        plan.action = "none"
    return plan


def _plan_password(client, plan, desired, current):
    """Coder cannot tell whether a password equals the stored one without signing in as the user (which would
    also wake a dormant user), so the password is sent; Coder's "cannot match old password" means no change."""
    if current.get("login_type") != "password":
        raise CoderInputError("password", f"user '{current['username']}' has login_type "
                              f"'{current.get('login_type')}', and only password users have a password.")
    if _is_me(client, current):
        raise CoderInputError("password", "this is the token's own user; Coder needs the current password to change "
                              "one's own, which this module does not take. Use another owner's token.")

    def set_password(client, context):
        try:
            client.request("PUT", f"/users/{current['id']}/password", body={"password": desired.password})
        except CoderAPIError as error:
            if error.status == 400 and "cannot match old password" in error.message.lower():
                return False
            raise
        return True

    plan.add("password", "(unchanged)", "(new password)",
             Step(f"set the password of user '{current['username']}'", set_password))


def _is_me(client, user):
    """Whether ``user`` is the token's own user (one cached read of /users/me, only when it matters)."""
    return (client.get_cached("/users/me") or {}).get("id") == user["id"]


def _check_role_change_allowed(client, current, roles):
    me = client.get_cached("/users/me") or {}
    if me.get("id") == current["id"]:
        raise CoderInputError("roles", f"user '{current['username']}' is the token's own user, and Coder does not let "
                              "a user change its own roles; use another owner's token.")
    if "owner" in set(roles) - set(site_role_names(current)) and "owner" not in site_role_names(me):
        raise CoderInputError("roles", f"only an owner can grant the owner role, and the token's user "
                              f"'{me.get('username')}' is not one.")


def _plan_immutable(desired, current):
    if desired.email and desired.email.lower() != (current.get("email") or "").lower():
        raise CoderInputError("email", f"user '{current['username']}' has email '{current.get('email')}'; Coder's API "
                              "cannot change a user's email, and this module does not delete and recreate users. "
                              "Delete the user first if the address must change.")
    if desired.login_type and desired.login_type != current.get("login_type"):
        raise CoderInputError("login_type", f"user '{current['username']}' has login_type "
                              f"'{current.get('login_type')}'; this module does not change the login type of an "
                              "existing user (an administrator can, in Coder's dashboard).")


def _plan_profile(plan, desired, current):
    """Username (renames only when more than letter case differs) and real name share one PUT."""
    rename = desired.username.lower() != current["username"].lower()
    current_name = current.get("name") or ""
    new_name = current_name if desired.name is None else desired.name
    if not rename and new_name == current_name:
        return
    # Coder writes both fields of the profile: an omitted name would be cleared, so send the current one.
    body = {"username": desired.username if rename else current["username"], "name": new_name}
    if rename:
        plan.add("username", current["username"], desired.username)
    if new_name != current_name:
        plan.add("name", current_name, new_name)
    plan.steps.append(Step(f"update the profile of user '{current['username']}'",
                           lambda client, context: client.request("PUT", f"/users/{current['id']}/profile",
                                                                  body=body)))


def _plan_status(client, plan, desired, current):
    status = current.get("status")
    user_id = current["id"]
    if desired.suspended and status != "suspended":
        final_roles = desired.roles if desired.roles is not None else site_role_names(current)
        if "owner" in final_roles:
            raise CoderInputError("suspended", f"user '{current['username']}' has the 'owner' role, and Coder "
                                  "cannot suspend an owner; remove 'owner' from roles first.")
        if _is_me(client, current):
            raise CoderInputError("suspended", f"user '{current['username']}' is the token's own user, and Coder "
                                  "does not let a user suspend itself.")
        plan.add("status", status, "suspended", Step(
            f"suspend user '{current['username']}'",
            lambda client, context: client.request("PUT", f"/users/{user_id}/status/suspend")))
    elif desired.suspended is False and status == "suspended":
        # A dormant user is not suspended: it takes no seat and becomes active at its first login.
        plan.add("status", status, "active", Step(
            f"activate user '{current['username']}'",
            lambda client, context: client.request("PUT", f"/users/{user_id}/status/activate")))


def _plan_organizations(client, plan, desired, current):
    """Exactly the organizations listed; roles compared only for entries that give ``roles``."""
    user_id = current["id"]
    wanted = _resolve_organizations(client, desired.organizations)
    current_ids = set(current.get("organization_ids") or [])
    wanted_ids = {org["id"] for org, _roles in wanted}
    if current_ids != wanted_ids:
        names = {org["id"]: org["name"] for org in client.organizations()}
        plan.add("organizations", sorted(names.get(i, i) for i in current_ids),
                 sorted(org["name"] for org, _roles in wanted))
        for org, _roles in wanted:
            if org["id"] not in current_ids:
                plan.steps.append(_member_step("POST", org, user_id, f"add user '{current['username']}' to "
                                               f"organization '{org['name']}'"))
        if current_ids - wanted_ids and _is_me(client, current):
            raise CoderInputError("organizations", f"user '{current['username']}' is the token's own user, and Coder "
                                  "does not let a user remove itself from an organization.")
        for org_id in sorted(current_ids - wanted_ids):
            org = {"id": org_id, "name": names.get(org_id, org_id)}
            plan.steps.append(_member_step("DELETE", org, user_id, f"remove user '{current['username']}' from "
                                           f"organization '{org['name']}'"))
    role_before, role_after = {}, {}
    for org, roles in wanted:
        if roles is None:
            continue
        have = org_member_roles(client, org["id"], user_id) if org["id"] in current_ids else []
        if have != roles:
            role_before[org["name"]], role_after[org["name"]] = have, roles
            plan.steps.append(_set_org_roles_step(org, current["username"], roles, user_id))
    if role_after:
        plan.add("organization_roles", role_before, role_after)


def _resolve_organizations(client, organizations):
    """[(organization, roles)] for the names given; an unknown name fails naming the option."""
    resolved = []
    for index, (name, roles) in enumerate(organizations or []):
        try:
            org = client.organization(name)
        except CoderAPIError as error:
            if error.status == 404:
                raise CoderInputError(f"organizations[{index}]", f"organization '{name}' does not exist or is "
                                      "not visible to this token.") from None
            raise
        if roles:
            _check_org_roles(client, org, roles, index)
        resolved.append((org, roles))
    return resolved


def _check_site_roles(client, roles):
    known = {role["name"] for role in client.get_cached("/users/roles") or []}
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise CoderInputError("roles", f"unknown site roles {unknown}; this deployment has "
                              f"{sorted(known - {IMPLICIT_SITE_ROLE})}. Organization roles go under organizations.")


def _check_org_roles(client, org, roles, index):
    known = {role["name"] for role in client.get_cached(f"/organizations/{org['id']}/members/roles") or []}
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise CoderInputError(f"organizations[{index}].roles", f"unknown roles {unknown} in organization "
                              f"'{org['name']}'; it has {sorted(known - {IMPLICIT_ORG_ROLE})}.")


def _set_site_roles_step(username, roles, user_id=None):
    def run(client, context):
        target = user_id or context["user"]["id"]
        client.request("PUT", f"/users/{target}/roles", body={"roles": roles})
    return Step(f"set the site roles of user '{username}' to {roles}", run)


def _set_org_roles_step(org, username, roles, user_id=None):
    def run(client, context):
        target = user_id or context["user"]["id"]
        client.request("PUT", f"/organizations/{org['id']}/members/{target}/roles", body={"roles": roles})
    return Step(f"set the roles of user '{username}' in organization '{org['name']}' to {roles}", run)


def _member_step(method, org, user_id, description):
    def run(client, context):
        client.request(method, f"/organizations/{org['id']}/members/{user_id}")
    return Step(description, run)


# ---- reading many -----------------------------------------------------------------------------------

def lookup_user(client, reference):
    """One user by id, username or email (case-insensitive), or None."""
    from ._groups import _lookup_user  # pylint: disable=import-outside-toplevel  # one lookup rule for both

    return _lookup_user(client, reference.strip())


def build_user_query(query=None, statuses=None, roles=None):
    """Coder's ``q`` search string from a free query and status and role filters."""
    terms = [query.strip()] if query and query.strip() else []
    if statuses:
        terms.append("status:" + ",".join(statuses))
    terms.extend(f"role:{role}" for role in roles or [])
    return " ".join(terms)


def list_users(client, query=None, statuses=None, roles=None, organization=None):
    """Every user matching the filters, all pages, in Coder's order (by username).

    Several statuses or roles match users having any of them, as in Coder's search.
    """
    q = build_user_query(query, statuses, roles)
    users = client.paginate("/users", "users", params={"q": q} if q else None)
    if organization is not None:
        users = [user for user in users if organization["id"] in (user.get("organization_ids") or [])]
    return users
