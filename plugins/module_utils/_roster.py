# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole roster of users and groups, planned and applied in one module run.

The per-object compare and plan logic is the one ``coder_user`` and ``coder_group`` use (``plan_user``,
``plan_group``); what differs is how the current state is read: one paginated listing of users, one
listing of groups per organization and one of members per organization whose roles are managed, so
the number of reads grows with pages, not with users.
"""

from __future__ import annotations

from ._errors import CoderError, CoderInputError
from ._groups import DesiredGroup, list_groups, plan_group, resolve_members
from ._plan import Plan, Step
from ._templates import current_acl, find_template
from ._users import DesiredUser, UserDirectory, plan_user, prefetch_org_members, site_role_names

ABSENT_MODES = ("ignore", "suspend", "delete")
# Users created in this run have no id until they exist; groups refer to them by this placeholder.
PENDING_PREFIX = "pending-user:"


class RosterPlan:
    def __init__(self):
        self.users = []  # (label, plan)
        self.groups = []  # (label, plan)
        self.absent = []  # (label, plan)
        self.templates = []  # (label, plan) of template access lists
        self.absent_users = []  # usernames not in the roster that the run suspends or deletes (or would)
        self.warnings = []

    @property
    def changed(self):
        return any(plan.changed for _label, plan in self.all_plans())

    def all_plans(self):
        """In the order they are applied: users, groups, template access, then people not in the roster."""
        return self.users + self.groups + self.templates + self.absent

    def actions(self):
        return [description for _label, plan in self.all_plans() for description in plan.descriptions()]

    def diffs(self):
        return [dict(before_header=label, after_header=label, before=plan.before, after=plan.after)
                for label, plan in self.all_plans() if plan.changed]

    def summary(self):
        """Counts of what was done (after ``apply_roster``) or would be done (check mode): failed changes and
        changes the server showed were not needed are not counted as made."""
        users = {"created": 0, "updated": 0, "unchanged": 0, "suspended": 0, "deleted": 0, "failed": 0}
        for _label, plan in self.users:
            outcome = _outcome(plan)
            users[{"create": "created", "delete": "deleted"}.get(plan.action, "updated") if outcome == "done"
                  else outcome] += 1
            if outcome == "done" and plan.after.get("status") == "suspended":
                users["suspended"] += 1
        for _label, plan in self.absent:
            outcome = _outcome(plan)
            users[("deleted" if plan.action == "delete" else "suspended") if outcome == "done" else outcome] += 1
        groups = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0}
        members = {"added": 0, "removed": 0}
        for _label, plan in self.groups:
            outcome = _outcome(plan)
            groups[{"create": "created", "delete": "deleted"}.get(plan.action, "updated") if outcome == "done"
                   else outcome] += 1
            if outcome == "done":
                members["added"] += len(plan.members_added)
                members["removed"] += len(plan.members_removed)
        templates = {"access_updated": sum(_outcome(plan) == "done" for _label, plan in self.templates)}
        return {"users": users, "groups": groups, "members": members, "templates": templates}


def _outcome(plan):
    """"done", "unchanged" or "failed" for one object's plan, from what applying it did when it was applied."""
    if plan.failed:
        return "failed"
    changed = plan.changed if plan.applied is None else bool(plan.applied)
    return "done" if changed else "unchanged"


def desired_users(items):
    """DesiredUser per item (coder_user's options), failing on the first invalid one, naming its index."""
    result, seen = [], {}
    for index, item in enumerate(items or []):
        where = _where("users", index, item)
        try:
            desired = DesiredUser.from_params(dict(item, username=item.get("username") or ""))
        except CoderInputError as error:
            raise CoderInputError(f"{where}.{error.field}", error.message) from None
        for key in (desired.username.lower(), (desired.email or "").lower()):
            if key and key in seen:
                raise CoderInputError(where, f"'{key}' is also in {seen[key]}; each person may appear once.")
            if key:
                seen[key] = where
        result.append((desired, item.get("state") or "present"))
    return result


def desired_groups(items):
    result = []
    for index, item in enumerate(items or []):
        desired = DesiredGroup.from_params(item, prefix=_where("groups", index, item) + ".")
        result.append((desired, item.get("state") or "present"))
    return result


def plan_roster(client, users, groups, absent_users="ignore"):
    """Read the deployment once and plan every user and group of the roster."""
    roster_users = desired_users(users)
    roster_groups = desired_groups(groups)
    plan = RosterPlan()
    directory = UserDirectory.load(client)

    for organization_name in _organizations_with_roles(roster_users):
        prefetch_org_members(client, client.organization(organization_name)["id"])
    future = dict(directory.by_id)
    leaving = set()
    for index, (desired, state) in enumerate(roster_users):
        # As in coder_user: deleting goes by username alone.
        current = directory.find(desired.username, desired.email if state == "present" else None)
        _bring_back(plan, desired, current, state, absent_users)
        where = _where("users", index, users[index])
        try:
            user_plan = _with_label(plan_user(client, desired, current, state), desired.username)
        except CoderInputError as error:
            raise CoderInputError(f"{where}.{error.field}", error.message) from None
        plan.users.append((f"user {desired.username}", user_plan))
        _project(client, future, desired, current, state)
        if state == "absent" and current is not None:
            leaving.update({current["username"].lower(), (current.get("email") or "").lower(), current["id"]})

    future_directory = UserDirectory(future.values())
    listings, seen = {}, {}
    for index, (desired, state) in enumerate(roster_groups):
        organization = client.organization(desired.organization)
        where = _where("groups", index, groups[index])
        key = (organization["id"], desired.name)
        if key in seen:
            raise CoderInputError(where, f"group '{desired.name}' of organization '{organization['name']}' is also "
                                  f"{seen[key]}; list each group once.")
        seen[key] = where
        leaving_members = [m for m in desired.members or [] if m.lower() in leaving] if state == "present" else []
        if leaving_members:
            raise CoderInputError(f"{where}.members", f"{', '.join(repr(m) for m in leaving_members)} "
                                  "is deleted by this roster (state: absent); remove them from the group's members.")
        if organization["id"] not in listings:
            listings[organization["id"]] = {group["name"]: group for group in list_groups(client, organization)}
        current = listings[organization["id"]].get(desired.name)
        wanted = None
        if desired.members is not None and state == "present":
            wanted = resolve_members(client, desired.members, organization, future_directory,
                                     field=f"{where}.members")
        group_plan = plan_group(desired, current, organization, wanted, state)
        plan.warnings.extend(group_plan.warnings)
        plan.groups.append((f"group {organization['name']}/{desired.name}", group_plan))

    _plan_template_access(client, plan, roster_groups)
    if absent_users != "ignore":
        _plan_absent(client, plan, directory, roster_users, absent_users)
    return plan


def _plan_template_access(client, plan, roster_groups):
    """Grants of ``template_access`` (template name -> use or admin) added to each template's access list.
    Only the groups' own entries change; others on the list are left alone."""
    grants = {}
    for desired, state in roster_groups:
        if state != "present":
            continue
        organization = client.organization(desired.organization)
        for template_name, role in desired.template_access.items():
            grants.setdefault((organization["id"], template_name), {})[desired.name] = role
    for (org_id, template_name), wanted in sorted(grants.items()):
        organization = client.organization(org_id)
        template = find_template(client, organization, template_name)
        if template is None:
            raise CoderInputError("groups template_access", f"template '{template_name}' does not exist in "
                                  f"organization '{organization['name']}' (granted to {', '.join(sorted(wanted))}).")
        have = dict(current_acl(client, template["id"])["groups"].values())
        changes = {name: role for name, role in wanted.items() if have.get(name) != role}
        access_plan = Plan("update" if changes else "none")
        if changes:
            access_plan.before = {"groups": {name: have.get(name, "") for name in sorted(changes)}}
            access_plan.after = {"groups": dict(sorted(changes.items()))}
            access_plan.steps.append(_grant_step(organization, template, changes))
        plan.templates.append((f"template {organization['name']}/{template_name} access", access_plan))


def _grant_step(organization, template, changes):
    def run(client, context):
        # Group ids are read when applying: some of these groups are created earlier in the same run.
        ids = {group["name"]: group["id"] for group in list_groups(client, organization)}
        client.request("PATCH", f"/templates/{template['id']}/acl",
                       body={"group_perms": {ids[name]: role for name, role in changes.items()}})
    return Step(f"give groups {', '.join(sorted(changes))} access to template '{template['name']}'", run)


def apply_roster(client, plan):
    """Apply every step; keep going past a failing object, so one bad user does not stop the rest of a
    thousand-person roster. Returns (errors, whether anything was written)."""
    errors, changed = [], False
    id_map = {}
    for _label, one_plan in plan.all_plans():
        context = {"id_map": id_map}
        one_plan.failed = False
        try:
            one_plan.apply(client, context)
        except CoderError as error:
            one_plan.failed = True
            errors.append(f"{context.get('step', one_plan.action)}: {error}")
        one_plan.applied = context.get("changed") or []
        changed = changed or bool(one_plan.applied)
        if context.get("user") and getattr(one_plan, "username", None):
            # Also after a later step failed: the user exists, and groups of this run may add them.
            id_map[PENDING_PREFIX + one_plan.username.lower()] = context["user"]["id"]
        skipped = [name.lower() for name in context.get("skipped_members") or []]
        if skipped:
            one_plan.members_added = [name for name in one_plan.members_added if name.lower() not in skipped]
        for username in context.get("skipped_members") or []:
            errors.append(f"{context.get('step', one_plan.action)}: '{username}' was not added, since creating "
                          "the user failed")
    plan.absent_users = [username for username, (_label, one_plan) in zip(plan.absent_users, plan.absent)
                         if not one_plan.failed]
    return errors, changed


def _where(kind, index, item):
    """How an entry is named in messages: its index, and its source (a CSV line) when it has one."""
    source = item.get("source") if isinstance(item, dict) else None
    return f"{kind}[{index}]" + (f" ({source})" if source else "")


def _bring_back(plan, desired, current, state, absent_users):
    """Someone back in the roster whom offboarding suspended: reactivated when the roster offboards by
    suspension (it undoes its own work), otherwise a warning."""
    if state != "present" or current is None or current.get("status") != "suspended" or desired.suspended is not None:
        return
    if absent_users == "suspend":
        desired.suspended = False
    else:
        plan.warnings.append(f"User '{current['username']}' is in the roster but suspended; set suspended: false "
                             "for them (or run with absent_users: suspend) to reactivate them.")


def _with_label(user_plan, username):
    user_plan.username = username
    return user_plan


def _organizations_with_roles(roster_users):
    names = set()
    for desired, _state in roster_users:
        for name, roles in desired.organizations or []:
            if roles is not None:
                names.add(name.lower())
    return sorted(names)


def _project(client, future, desired, current, state):
    """Put into ``future`` what the user will look like once the roster is applied (for group members)."""
    if state == "absent":
        if current is not None:
            future.pop(current["id"], None)
        return
    org_ids = None
    if desired.organizations is not None:
        org_ids = [client.organization(name)["id"] for name, _roles in desired.organizations]
    if current is None:
        key = PENDING_PREFIX + desired.username.lower()
        future[key] = {"id": key, "username": desired.username, "email": desired.email or "",
                       "organization_ids": org_ids or [client.organization(None)["id"]]}
        return
    projected = dict(current, username=desired.username)  # a rename found by email takes the new name
    if org_ids is not None:
        projected["organization_ids"] = org_ids
    future[current["id"]] = projected


def _plan_absent(client, plan, directory, roster_users, mode):
    """Users not in the roster: suspend or delete them, never the token's own user, owners or service accounts."""
    if mode not in ABSENT_MODES:
        raise CoderInputError("absent_users", f"must be one of {', '.join(ABSENT_MODES)}, not '{mode}'.")
    listed = set()
    for desired, _state in roster_users:
        listed.add(desired.username.lower())
        if desired.email:
            listed.add(desired.email.lower())
    me = client.get_cached("/users/me") or {}
    for user in directory.users:
        if user["username"].lower() in listed or (user.get("email") or "").lower() in listed:
            continue
        if user["id"] == me.get("id") or "owner" in site_role_names(user) or user.get("is_service_account"):
            continue
        if mode == "suspend" and user.get("status") == "suspended":
            continue
        desired = DesiredUser(user["username"], suspended=True)
        user_plan = plan_user(client, desired, user, "absent" if mode == "delete" else "present")
        plan.absent.append((f"user {user['username']} (not in the roster)", user_plan))
        plan.absent_users.append(user["username"])
