"""Groups (reference section 5, premium feature ``template_rbac``).

Licensing: ``/groups/*`` runs the feature check *before* the API key middleware (403 even without a
token); ``/organizations/{org}/groups*`` authenticates first (401) and then checks the feature.

Permissions, as far as coderd's RBAC shows through these routes:

* manage (create, update, delete): site owner and user-admin; organization-admin and
  organization-user-admin of the group's organization.
* read every group and every member: the managers plus site auditor and template-admin and the
  organization's auditor and template-admin.
* anyone else reads only the groups they are in (group ACL; Everyone = every org member) and, in
  those, sees only themselves among the members (group member objects are owned by the user);
  ``total_member_count`` still counts everybody.
* what a caller without manage permission gets on writes is what the handlers make of dbauthz's
  NotAuthorizedError: an unreadable group is a 404 (ExtractGroupParam); on a group they can read,
  PATCH hits the error inside its transaction, where httpapi.Is404Error maps it to 400 "Failed to add
  or remove non-existent group member"; InsertGroup and DeleteGroupByID errors are not mapped, so
  create and delete answer 500.
"""

import json

from . import names
from .routes_general import feature_enabled
from .routes_organizations import can_read_org, target_org
from .routes_users import can_read
from .search import paginate_users, parse_pagination, parse_user_query_or_400, user_matcher
from .server import authenticate, json_resp
from .state import EVERYONE
from .util import ApiError, decode_body, not_found, parse_uuid, raise_validation, validation_error

TEMPLATE_RBAC_MESSAGE = "Template RBAC is a Premium feature. Contact sales!"

_SITE_MANAGERS = {"owner", "user-admin"}
_SITE_READERS = _SITE_MANAGERS | {"auditor", "template-admin"}
_ORG_MANAGERS = {"organization-admin", "organization-user-admin"}
_ORG_READERS = _ORG_MANAGERS | {"organization-auditor", "organization-template-admin"}
# dbauthz.NotAuthorizedError wrapping rbac's error, as the handlers print it.
_AUTHZ_DETAIL = "unauthorized: rbac: forbidden"


# ---------------------------------------------------------------------- licensing and permissions
def require_template_rbac(state):
    """templateRBACEnabledMW; also guards /templates/{id}/acl* once those routes exist."""
    if not feature_enabled(state, "template_rbac"):
        raise ApiError(403, TEMPLATE_RBAC_MESSAGE)


def licensed_then_authenticated(handler):
    """Wrap a handler registered with auth=False: feature check first, then the API key middleware."""
    def wrapped(req):
        require_template_rbac(req.state)
        authenticate(req)
        return handler(req)
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _has_role(state, actor, org_id, site_roles, org_roles) -> bool:
    if site_roles.intersection(actor.roles):
        return True
    m = state.membership(org_id, actor.id)
    return m is not None and bool(org_roles.intersection(m.roles))


def can_manage_groups(state, actor, org_id) -> bool:
    return _has_role(state, actor, org_id, _SITE_MANAGERS, _ORG_MANAGERS)


def can_read_all_groups(state, actor, org_id) -> bool:
    return _has_role(state, actor, org_id, _SITE_READERS, _ORG_READERS)


def can_read_group(state, actor, group) -> bool:
    return can_read_all_groups(state, actor, group.organization_id) or state.is_group_member(group, actor.id)


def _visible_members(state, actor, group, member_ids):
    if can_read_all_groups(state, actor, group.organization_id):
        return member_ids
    return [uid for uid in member_ids if uid == actor.id]


def render_group(req, group, cache=None, exclude_members=False) -> dict:
    state = req.state
    member_ids = state.group_member_ids(group)
    shown = [] if exclude_members else _visible_members(state, req.actor, group, member_ids)
    return state.group_json(group, shown, len(member_ids), cache)


def _go_uuid_error(value: str) -> str:
    # google/uuid.Parse's two error texts for the strings that are not UUIDs.
    if len(value) not in (32, 36, 38, 41):
        return f"invalid UUID length: {len(value)}"
    return "invalid UUID format"


def _group_by_id(req):
    """httpmw.ExtractGroupParam: UUID only (400), missing or unreadable group 404."""
    raw = req.params["group"]
    gid = parse_uuid(raw)
    if gid is None:
        raise ApiError(400, f'Invalid UUID "{raw}".', _go_uuid_error(raw))
    group = req.state.groups.get(gid)
    if group is None or not can_read_group(req.state, req.actor, group):
        raise not_found()
    return group


def _group_by_name(req):
    """httpmw.ExtractGroupByNameParam: exact (case-sensitive) name within the organization."""
    require_template_rbac(req.state)
    org = target_org(req)
    group = req.state.groups_by_name.get((org.id, req.params["groupName"]))
    if group is None or not can_read_group(req.state, req.actor, group):
        raise not_found()
    return group


def _exclude_members(req) -> bool:
    # The plainest reading of the flag: only the literal "true" switches it on.
    return req.q("exclude_members") == "true"


# ---------------------------------------------------------------------- list
_LIST_PARAMS = ("organization", "has_member", "group_ids")


def _invalid(field, err):
    # httpapi.ParseCustom's validation text.
    return {"field": field, "detail": f'Query param "{field}" has invalid value: {err}'}


def _list_groups(req, org=None):
    """api.groups: optional filters organization (id or name), has_member (id or username), group_ids (csv)."""
    state, actor = req.state, req.actor
    errors = []
    org_id = member_id = None
    group_ids = None
    with state.lock:
        if org is not None:
            # groupsByOrganization overwrites the organization query value with the path's org.
            org_id = org.id
        elif "organization" in req.query:
            raw = req.q("organization")
            org_id = parse_uuid(raw)
            if org_id is None:
                found = state.orgs_by_name.get(raw.lower())
                if found is None or not can_read_org(state, actor, found):
                    errors.append(_invalid("organization", f'organization "{raw}" not found'))
                else:
                    org_id = found.id
        if "has_member" in req.query:
            raw = req.q("has_member")
            member_id = parse_uuid(raw)
            if member_id is None:
                user = state.users_by_username.get(raw.lower())
                if user is None or user.deleted or not can_read(actor, user):
                    errors.append(_invalid("has_member", f'user "{raw}" not found'))
                else:
                    member_id = user.id
        if "group_ids" in req.query:
            group_ids = set()
            for part in (p.strip() for v in req.query["group_ids"] for p in v.split(",")):
                if not part:
                    continue
                gid = parse_uuid(part)
                if gid is None:
                    errors.append({"field": "group_ids", "detail": f'Query param "group_ids" has invalid values: '
                                                                   f"{_go_uuid_error(part)}"})
                    break
                group_ids.add(gid)
            group_ids = group_ids or None
        for key in req.query:
            if key not in _LIST_PARAMS:
                errors.append({"field": key, "detail": f'Query param "{key}" is not a valid query param'})
        if errors:
            raise ApiError(400, "Query parameters have invalid values.", validations=errors)

        if org_id is not None:
            candidates = list(state.org_groups.get(org_id, {}).values())
        else:
            candidates = [g for groups in state.org_groups.values() for g in groups.values()]
        if member_id is not None:
            mine = state.user_group_ids(member_id)
            candidates = [g for g in candidates if g.id in mine]
        if group_ids is not None:
            candidates = [g for g in candidates if g.id in group_ids]
        cache = {}
        body = [render_group(req, g, cache) for g in candidates if can_read_group(state, actor, g)]
    return json_resp(200, body)


def list_groups(req):
    return _list_groups(req)


def list_org_groups(req):
    require_template_rbac(req.state)
    return _list_groups(req, target_org(req))


# ---------------------------------------------------------------------- get / members
def get_group(req):
    with req.state.lock:
        group = _group_by_id(req)
        return json_resp(200, render_group(req, group, exclude_members=_exclude_members(req)))


def get_org_group(req):
    with req.state.lock:
        group = _group_by_name(req)
        return json_resp(200, render_group(req, group, exclude_members=_exclude_members(req)))


def _members_page(req, group):
    """{"users": [ReducedUser] | null, "count": N}: user search syntax, ordered by lower(username)."""
    state = req.state
    f = parse_user_query_or_400(req.q("q"))
    after_id, limit, offset = parse_pagination(req)
    match = user_matcher(f)
    users = state.users
    ids = _visible_members(state, req.actor, group, state.group_member_ids(group))
    rows = [users[uid] for uid in ids if match(users[uid])]
    after_user = users.get(after_id) if after_id else None
    page, count = paginate_users(rows, after_user, limit, offset, after_id is not None)
    # A nil Go slice: null when the page is empty.
    return json_resp(200, {"users": [state.reduced_user_json(u) for u in page] or None, "count": count})


def group_members(req):
    with req.state.lock:
        return _members_page(req, _group_by_id(req))


def org_group_members(req):
    with req.state.lock:
        return _members_page(req, _group_by_name(req))


# ---------------------------------------------------------------------- create
_CREATE_SCHEMA = {"name": "str", "display_name": "str", "avatar_url": "str", "quota_allowance": "int"}


def create_group(req):
    state = req.state
    require_template_rbac(state)
    org = target_org(req)
    body = decode_body(req.body, "CreateGroupRequest", _CREATE_SCHEMA)
    name, display_name = body["name"], body["display_name"]
    errors = []
    if not name:
        errors.append(validation_error("name", "required", ""))
    elif not names.group_name_valid(name):
        errors.append(validation_error("name", "group_name", name))
    if not names.display_name_valid(display_name):
        errors.append(validation_error("display_name", "group_display_name", display_name))
    raise_validation(errors)
    if name == EVERYONE:
        raise ApiError(400, "Invalid group name.",
                       validations=[{"field": "name", "detail": f'"{EVERYONE}" is a reserved group name'}])
    with state.lock:
        if not can_manage_groups(state, req.actor, org.id):
            raise ApiError(500, "An internal server error occurred.", _AUTHZ_DETAIL)
        if (org.id, name) in state.groups_by_name:
            raise ApiError(409, f'A group named "{name}" already exists.',
                           validations=[{"field": "name", "detail": "Group names must be unique"}])
        group = state.add_group(org.id, name, display_name=display_name, avatar_url=body["avatar_url"],
                                quota_allowance=body["quota_allowance"])
        return json_resp(201, state.group_json(group, [], 0))


# ---------------------------------------------------------------------- patch
_PATCH_SCHEMA = {"name": "str", "display_name": "str", "avatar_url": "str", "quota_allowance": "int",
                 "add_users": "strs", "remove_users": "strs"}


def patch_group(req):
    state = req.state
    with state.lock:
        group = _group_by_id(req)
        body = decode_body(req.body, "PatchGroupRequest", _PATCH_SCHEMA)
        # display_name, avatar_url and quota_allowance are pointers: only keys sent with a non-null value count.
        raw_body = json.loads(req.body)
        present = {k for k, v in raw_body.items() if v is not None} if isinstance(raw_body, dict) else set()
        name = body["name"]
        errors = []
        if name and not names.group_name_valid(name):
            errors.append(validation_error("name", "group_name", name))
        if body["display_name"] and not names.display_name_valid(body["display_name"]):
            errors.append(validation_error("display_name", "group_display_name", body["display_name"]))
        raise_validation(errors)
        if name == group.name:
            # The UI sends the unchanged name back; that is not a rename.
            name = ""
        if group.everyone and name:
            raise ApiError(400, f'Cannot rename the "{EVERYONE}" group!')
        if group.everyone and body["display_name"]:
            raise ApiError(400, f'Cannot update the Display Name for the "{EVERYONE}" group!')
        if name == EVERYONE:
            raise ApiError(400, f'"{EVERYONE}" is a reserved group name!')
        add_users, remove_users = body["add_users"] or [], body["remove_users"] or []
        if (add_users or remove_users) and group.everyone:
            raise ApiError(403, f'Cannot add or remove users from the "{EVERYONE}" group!')
        for raw in [*add_users, *remove_users]:
            uid = parse_uuid(raw)
            if uid is None:
                raise ApiError(400, f'ID "{raw}" must be a valid user UUID.')
            if state.membership(group.organization_id, uid) is None:
                # Sic: Coder prints the group's name where it means the organization.
                raise ApiError(400, f'User must be a member of organization "{group.name}"')
        if name:
            other = state.groups_by_name.get((group.organization_id, name))
            # The clash lookup goes through dbauthz too: a group the caller cannot read is not found.
            if other is not None and can_read_group(state, req.actor, other):
                raise ApiError(409, f'A group with name "{name}" already exists.')
        # ---- the transaction: nothing changes unless every step succeeds.
        if not can_manage_groups(state, req.actor, group.organization_id):
            raise ApiError(400, "Failed to add or remove non-existent group member",
                           f"update group by ID: {_AUTHZ_DETAIL}")
        seen = {}  # ordered: members are stored in the order they were added
        for raw in add_users:
            uid = parse_uuid(raw)
            if uid in seen or uid in group.members:
                raise ApiError(400, "Cannot add the same user to a group twice!",
                               f'insert group member "{raw}": pq: duplicate key value violates unique '
                               f'constraint "group_members_user_id_group_id_key"')
            seen[uid] = None
        if name:
            state.rename_group(group, name)
        if "display_name" in present:
            group.display_name = body["display_name"]
        if "avatar_url" in present:
            group.avatar_url = body["avatar_url"]
        if "quota_allowance" in present:
            group.quota_allowance = body["quota_allowance"]
        for uid in seen:
            state.add_group_member(group, uid)
        for raw in remove_users:
            # Removing someone who is not in the group deletes no row: silently fine.
            state.remove_group_member(group, parse_uuid(raw))
        return json_resp(200, render_group(req, group))


# ---------------------------------------------------------------------- delete
def delete_group(req):
    state = req.state
    with state.lock:
        group = _group_by_id(req)
        if group.everyone:
            raise ApiError(400, f'"{EVERYONE}" is a reserved group and cannot be deleted!')
        if not can_manage_groups(state, req.actor, group.organization_id):
            raise ApiError(500, "An internal server error occurred.", _AUTHZ_DETAIL)
        state.delete_group(group)
    # Swagger says Group; the handler writes a codersdk.Response.
    return json_resp(200, {"message": "Successfully deleted group!"})


def register(router):
    gated = licensed_then_authenticated
    router.add("GET", "/groups", gated(list_groups), auth=False)
    router.add("GET", "/groups/{group}", gated(get_group), auth=False)
    router.add("PATCH", "/groups/{group}", gated(patch_group), auth=False)
    router.add("DELETE", "/groups/{group}", gated(delete_group), auth=False)
    router.add("GET", "/groups/{group}/members", gated(group_members), auth=False)
    router.add("GET", "/organizations/{organization}/groups", list_org_groups)
    router.add("POST", "/organizations/{organization}/groups", create_group)
    router.add("GET", "/organizations/{organization}/groups/{groupName}", get_org_group)
    router.add("GET", "/organizations/{organization}/groups/{groupName}/members", org_group_members)
