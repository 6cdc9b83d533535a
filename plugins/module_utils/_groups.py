# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coder groups: validate, find, resolve members, plan, apply.

Groups are a Premium feature (``template_rbac``); a deployment without it answers 403 to every group
route, which is turned into a ``CoderFeatureError`` before anything is written. The ``Everyone`` group of
an organization holds every member of it: only its quota and avatar can change.
"""

from __future__ import annotations

import re

from ._client import CoderAPIError, is_uuid, path_segment
from ._errors import CoderFeatureError, CoderInputError
from ._plan import Plan, Step

EVERYONE = "Everyone"
GROUP_NAME_RULE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
DISPLAY_NAME_RULE = re.compile(r"^[^\s](.*[^\s])?$")
GROUPS_FEATURE = "template_rbac"
# Up to this many members are looked up one by one; more are matched against one listing of all users.
INDIVIDUAL_LOOKUPS_MAX = 25


def group_options():
    """The options of one group: coder_group's argument spec, and the suboptions of coder_roster's groups."""
    return dict(
        name=dict(type="str", required=True),
        organization=dict(type="str"),
        display_name=dict(type="str"),
        avatar_url=dict(type="str"),
        quota_allowance=dict(type="int"),
        members=dict(type="list", elements="str"),
        purge_members=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )


class DesiredGroup:
    def __init__(self, name, organization=None, display_name=None, avatar_url=None, quota_allowance=None,
                 members=None, purge_members=False, template_access=None):
        self.name = name
        self.organization = organization
        self.display_name = display_name
        self.avatar_url = avatar_url
        self.quota_allowance = quota_allowance
        self.members = members
        self.purge_members = purge_members
        self.template_access = template_access or {}

    @classmethod
    def from_params(cls, params, prefix=""):
        """Validate like Coder does; ``prefix`` names the item in a list (``groups[3].``) in messages."""
        name = params.get("name") or ""
        if name != EVERYONE and (len(name) > 255 or not GROUP_NAME_RULE.match(name)
                                 or name.lower() in ("new", "create")):
            raise CoderInputError(f"{prefix}name", f"'{name}' is not a valid Coder group name: use letters, digits "
                                  "and single hyphens (at most 255), not starting or ending with a hyphen, "
                                  "and not 'new' or 'create'.")
        display_name = params.get("display_name")
        if display_name and (len(display_name) > 64 or not DISPLAY_NAME_RULE.match(display_name)):
            raise CoderInputError(f"{prefix}display_name", "must be at most 64 characters with no leading or "
                                  "trailing spaces.")
        quota = params.get("quota_allowance")
        if quota is not None and quota < 0:
            raise CoderInputError(f"{prefix}quota_allowance", "must be 0 or more.")
        members = params.get("members")
        if members is not None:
            members = [str(member).strip() for member in members]
            if any(not member for member in members):
                raise CoderInputError(f"{prefix}members", "contains an empty entry.")
        access = params.get("template_access") or {}
        for template, role in access.items():
            if role not in ("use", "admin"):
                raise CoderInputError(f"{prefix}template_access.{template}", f"'{role}' is not a template role; "
                                      "use 'use' or 'admin'.")
        return cls(name, organization=params.get("organization"), display_name=display_name,
                   avatar_url=params.get("avatar_url"), quota_allowance=quota, members=members,
                   purge_members=bool(params.get("purge_members")), template_access=dict(access))


def feature_error_or(client, error):
    """A 403 on a group route from a deployment without the feature becomes a ``CoderFeatureError``."""
    if isinstance(error, CoderAPIError) and error.status == 403 and not client.feature_enabled(GROUPS_FEATURE):
        return CoderFeatureError(GROUPS_FEATURE, error.message)
    return error


def find_group(client, organization, name):
    """The group of that organization with exactly this name (Coder compares group names with case)."""
    try:
        return client.get_or_none(f"/organizations/{organization['id']}/groups/{path_segment(name)}")
    except CoderAPIError as error:
        raise feature_error_or(client, error) from None


def list_groups(client, organization):
    """Every group of an organization, members included, in one request."""
    try:
        return client.get(f"/organizations/{organization['id']}/groups").body or []
    except CoderAPIError as error:
        raise feature_error_or(client, error) from None


def resolve_members(client, references, organization, directory=None, field="members"):
    """{user id: username} for usernames, emails or ids, matched case-insensitively.

    Fails naming every reference that matches no user, then every user outside the organization,
    before anything is written.
    """
    if directory is None and len(references) > INDIVIDUAL_LOOKUPS_MAX:
        from ._users import UserDirectory  # pylint: disable=import-outside-toplevel  # avoid a cycle

        directory = UserDirectory.load(client)
    found, unknown = {}, []
    for reference in references:
        user = directory.resolve(reference) if directory is not None else _lookup_user(client, reference)
        if user is None:
            unknown.append(reference)
        else:
            found[user["id"]] = user
    if unknown:
        raise CoderInputError(field, f"no Coder user matches {', '.join(repr(ref) for ref in unknown)} (members are "
                              "usernames, emails or user ids of existing users).")
    outside = sorted(user["username"] for user in found.values()
                     if organization["id"] not in (user.get("organization_ids") or []))
    if outside:
        raise CoderInputError(field, f"{', '.join(repr(name) for name in outside)} "
                              f"{'is not a member' if len(outside) == 1 else 'are not members'} of organization "
                              f"'{organization['name']}', and a group can only hold members of its organization. "
                              "Add them to the organization first (coder_user's organizations option).")
    return {user_id: user["username"] for user_id, user in found.items()}


def _lookup_user(client, reference):
    if is_uuid(reference):
        return client.get_or_none(f"/users/{reference.lower()}")
    if "@" in reference:
        for user in client.paginate("/users", "users", params={"q": reference}):
            if (user.get("email") or "").lower() == reference.lower():
                return user
        return None
    return client.get_or_none(f"/users/{path_segment(reference)}")


def member_names(group):
    return {member["id"]: member["username"] for member in group.get("members") or []}


def plan_group(desired, current, organization, wanted_members=None, state="present"):
    """The plan that takes ``current`` (a Coder Group, or None) to ``desired``.

    ``wanted_members`` is {user id: username} from ``resolve_members`` (None when members are not managed).
    Returns the plan; ``plan.warnings`` holds what the user should know even when the plan succeeds.
    """
    plan = Plan()
    plan.members_added, plan.members_removed = [], []
    label = f"group '{desired.name}' of organization '{organization['name']}'"
    if desired.name == EVERYONE:
        _check_everyone(desired, state, organization)
    if state == "absent":
        if current is not None:
            plan.action = "delete"
            plan.before.update(group_summary(current))
            plan.steps.append(Step(f"delete {label}",
                                   lambda client, context: client.request("DELETE", f"/groups/{current['id']}")))
        return plan
    if current is None:
        return _plan_create(plan, desired, organization, wanted_members, label)
    if current.get("source") == "oidc":
        plan.warnings.append(f"Group '{current['name']}' is synced from the identity provider (source oidc): "
                             "Coder rewrites its members each time a member logs in, so membership changes made "
                             "here may not last.")
    body = {}
    for field, wanted in (("display_name", desired.display_name), ("avatar_url", desired.avatar_url),
                          ("quota_allowance", desired.quota_allowance)):
        have = current.get(field) if current.get(field) is not None else ("" if field != "quota_allowance" else 0)
        if wanted is not None and wanted != have:
            body[field] = wanted
            plan.add(field, have, wanted)
    if wanted_members is not None:
        have = member_names(current)
        added = {uid: name for uid, name in wanted_members.items() if uid not in have}
        removed = {uid: name for uid, name in have.items() if uid not in wanted_members} if desired.purge_members \
            else {}
        if added or removed:
            body["add_users"] = sorted(added)
            body["remove_users"] = sorted(removed)
            result = {uid: name for uid, name in have.items() if uid not in removed}
            result.update(added)
            plan.add("members", sorted(have.values()), sorted(result.values()))
        plan.members_added, plan.members_removed = sorted(added.values()), sorted(removed.values())
    if body:
        plan.action = "update"
        group_id = current["id"]
        plan.steps.append(Step(f"update {label}", lambda client, context: _patch(client, context, group_id, body)))
    return plan


def _plan_create(plan, desired, organization, wanted_members, label):
    body = {"name": desired.name}
    for field in ("display_name", "avatar_url", "quota_allowance"):
        if getattr(desired, field) is not None:
            body[field] = getattr(desired, field)
    plan.action = "create"
    plan.after.update({"name": desired.name, "organization": organization["name"],
                       "display_name": desired.display_name or "", "avatar_url": desired.avatar_url or "",
                       "quota_allowance": desired.quota_allowance or 0})
    plan.members_added, plan.members_removed = sorted((wanted_members or {}).values()), []
    if wanted_members:
        plan.after["members"] = sorted(wanted_members.values())

    def create(client, context):
        response = client.request("POST", f"/organizations/{organization['id']}/groups", body=body,
                                  lookup=lambda: find_group(client, organization, desired.name))
        context["group"] = response.body

    plan.steps.append(Step(f"create {label}", create))
    if wanted_members:
        plan.steps.append(Step(f"add {len(wanted_members)} members to {label}", lambda client, context: _patch(
            client, context, context["group"]["id"], {"add_users": sorted(wanted_members)})))
    return plan


def _patch(client, context, group_id, body):
    # A whole-roster run plans groups before the users it creates have ids; it maps placeholders to ids here.
    id_map = context.get("id_map") or {}
    if body.get("add_users") and any(":" in user_id for user_id in body["add_users"]):
        mapped = [id_map.get(user_id, user_id) for user_id in body["add_users"]]
        # A placeholder left unmapped is a user whose creation failed: add the others, report it.
        context.setdefault("skipped_members", []).extend(u.split(":", 1)[1] for u in mapped if ":" in u)
        body = dict(body, add_users=[u for u in mapped if ":" not in u])
        if not any(value for key, value in body.items()):
            return False
    context["group"] = client.request("PATCH", f"/groups/{group_id}", body=body).body


def _check_everyone(desired, state, organization):
    where = f"organization '{organization['name']}'"
    if state == "absent":
        raise CoderInputError("state", f"the Everyone group of {where} cannot be deleted; Coder keeps one in every "
                              "organization.")
    if desired.members is not None:
        raise CoderInputError("members", f"the Everyone group always holds every member of {where}; its members "
                              "cannot be managed. Manage organization membership with coder_user instead.")
    if desired.display_name:
        raise CoderInputError("display_name", "the Everyone group cannot have a display name; only quota_allowance "
                              "and avatar_url can be managed.")


def group_summary(group):
    return {"name": group.get("name"), "display_name": group.get("display_name") or "",
            "avatar_url": group.get("avatar_url") or "", "quota_allowance": group.get("quota_allowance") or 0,
            "members": sorted(member_names(group).values())}
