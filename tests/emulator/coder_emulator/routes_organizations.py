"""Organizations and membership (reference section 4)."""

from . import names
from . import roles as rbac
from .routes_general import feature_enabled
from .routes_users import can_read
from .search import paginate_users, parse_pagination, parse_user_query_or_400, user_matcher
from .server import empty, json_resp
from .util import ApiError, decode_body, forbidden, not_found, now, raise_validation, validation_error


def can_read_org(state, actor, org) -> bool:
    return rbac.can_read_all_users(actor) or state.membership(org.id, actor.id) is not None


def can_manage_members(state, actor, org) -> bool:
    if rbac.can_manage_users(actor):
        return True
    m = state.membership(org.id, actor.id)
    return m is not None and bool({"organization-admin", "organization-user-admin"}.intersection(m.roles))


def target_org(req):
    org = req.state.resolve_org(req.params["organization"])
    if org is None or not can_read_org(req.state, req.actor, org):
        raise not_found()
    return org


def target_member(req, org):
    """httpmw.ExtractOrganizationMemberParam: user must exist and be a member, else 404."""
    user = req.state.resolve_user(req.params["user"], req.actor)
    if user is None or user.deleted:
        raise not_found()
    m = req.state.membership(org.id, user.id)
    if m is None:
        raise not_found()
    return user, m


def _require_premium(req):
    if not feature_enabled(req.state, "multiple_organizations"):
        raise ApiError(403, "Multiple Organizations is a Premium feature. Contact sales!")


# ---------------------------------------------------------------------- organizations
def list_orgs(req):
    state = req.state
    with state.lock:
        orgs = sorted((o for o in state.orgs.values() if can_read_org(state, req.actor, o)),
                      key=lambda o: o.created_at)
        return json_resp(200, [state.org_json(o) for o in orgs])


def get_org(req):
    org = target_org(req)
    return json_resp(200, req.state.org_json(org))


_ORG_SCHEMA = {"name": "str", "display_name": "str", "description": "str", "icon": "str"}


def create_org(req):
    _require_premium(req)
    state = req.state
    body = decode_body(req.body, "CreateOrganizationRequest", _ORG_SCHEMA)
    errors = []
    if not body["name"]:
        errors.append(validation_error("name", "required", ""))
    elif not names.name_valid(body["name"]):
        errors.append(validation_error("name", "organization_name", body["name"]))
    if not names.display_name_valid(body["display_name"]):
        errors.append(validation_error("display_name", "organization_display_name", body["display_name"]))
    raise_validation(errors)
    if body["name"] == "default":
        raise ApiError(400, 'Organization name "default" is reserved.')
    with state.lock:
        if state.orgs_by_name.get(body["name"].lower()):
            raise ApiError(409, "Organization already exists with that name.")
        if not rbac.is_owner(req.actor):
            raise forbidden()
        org = state.add_org(body["name"], body["display_name"] or body["name"],
                            description=body["description"], icon=body["icon"])
        # The creator becomes a plain member (no org roles), as in enterprise postOrganizations.
        state.add_member(org.id, req.actor.id)
        return json_resp(201, state.org_json(org))


def patch_org(req):
    _require_premium(req)
    state = req.state
    org = target_org(req)
    body = decode_body(req.body, "UpdateOrganizationRequest", _ORG_SCHEMA)
    present = body["__present__"]
    errors = []
    if body["name"] and not names.name_valid(body["name"]):
        errors.append(validation_error("name", "organization_name", body["name"]))
    if not names.display_name_valid(body["display_name"]):
        errors.append(validation_error("display_name", "organization_display_name", body["display_name"]))
    raise_validation(errors)
    with state.lock:
        if not rbac.is_owner(req.actor):
            raise forbidden()
        if body["name"]:
            other = state.orgs_by_name.get(body["name"].lower())
            if other is not None and other.id != org.id:
                raise ApiError(409, f'Organization already exists with the name "{body["name"]}".',
                               validations=[{"field": "name",
                                             "detail": "This value is already in use and should be unique."}])
            del state.orgs_by_name[org.name.lower()]
            org.name = body["name"]
            state.orgs_by_name[org.name.lower()] = org
        if body["display_name"]:
            org.display_name = body["display_name"]
        # description and icon are pointers in the request: only present keys change.
        if "description" in present and body["description"] is not None:
            org.description = body["description"]
        if "icon" in present and body["icon"] is not None:
            org.icon = body["icon"]
        org.updated_at = now()
        return json_resp(200, state.org_json(org))


def delete_org(req):
    _require_premium(req)
    state = req.state
    org = target_org(req)
    if org.is_default:
        raise ApiError(400, "Default organization cannot be deleted.")
    with state.lock:
        if not rbac.is_owner(req.actor):
            raise forbidden()
        state.drop_org(org)
    return json_resp(200, {"message": "Organization deleted."})


# ---------------------------------------------------------------------- members
def list_members(req):
    state = req.state
    org = target_org(req)
    with state.lock:
        members = [m for m in state.org_members[org.id].values() if not state.users[m.user_id].deleted]
        return json_resp(200, [state.member_with_user_json(m) for m in members])


def paginated_members(req):
    state = req.state
    org = target_org(req)
    f = parse_user_query_or_400(req.q("q"))
    after_id, limit, offset = parse_pagination(req)
    match = user_matcher(f)
    with state.lock:
        users = [state.users[uid] for uid in state.org_members[org.id]]
        rows = [u for u in users if not u.deleted and match(u)]
        after_user = state.users.get(after_id) if after_id else None
        page, count = paginate_users(rows, after_user, limit, offset, after_id is not None)
        members = [state.member_with_user_json(state.org_members[org.id][u.id]) for u in page]
    return json_resp(200, {"members": members, "count": count})


def get_member(req):
    org = target_org(req)
    with req.state.lock:
        _user, m = target_member(req, org)
        return json_resp(200, req.state.member_with_user_json(m))


def add_member(req):
    state = req.state
    org = target_org(req)
    with state.lock:
        user = state.resolve_user(req.params["user"], req.actor)
        if user is None or user.deleted or not (can_read(req.actor, user) or can_manage_members(state, req.actor, org)):
            raise not_found()
        if not can_manage_members(state, req.actor, org):
            raise forbidden()
        if state.membership(org.id, user.id) is not None:
            raise ApiError(400, "User is already an organization member")
        m = state.add_member(org.id, user.id)
        # 200, not 201: the handler writes StatusOK.
        return json_resp(200, state.member_json(m))


def remove_member(req):
    state = req.state
    org = target_org(req)
    with state.lock:
        user, _member = target_member(req, org)
        if user.id == req.actor.id:
            raise ApiError(400, "cannot remove self from an organization")
        if not can_manage_members(state, req.actor, org):
            raise forbidden()
        state.remove_member(org.id, user.id)
    return empty(204)


def put_member_roles(req):
    state = req.state
    org = target_org(req)
    user, m = target_member(req, org)
    if user.id == req.actor.id:
        raise ApiError(400, "You cannot change your own organization roles.")
    body = decode_body(req.body, "UpdateRoles", {"roles": "strs"})
    wanted = list(dict.fromkeys(body["roles"] or []))
    for r in wanted:
        if r in rbac.SITE_ROLES:
            raise ApiError(400, "must only update organization roles")
        if r not in rbac.ORG_ROLES:
            raise ApiError(400, f'"{r}" is not a supported role')
    wanted = [r for r in wanted if r != "organization-member"]
    with state.lock:
        actor_m = state.membership(org.id, req.actor.id)
        actor_org_roles = actor_m.roles if actor_m else []
        changed = set(wanted).symmetric_difference(m.roles)
        if any(not rbac.can_assign_org_role(req.actor, r, actor_org_roles) for r in changed):
            raise forbidden()
        m.roles = wanted
        m.updated_at = now()
        return json_resp(200, state.member_json(m))


def assignable_org_roles(req):
    state = req.state
    org = target_org(req)
    m = state.membership(org.id, req.actor.id)
    mine = m.roles if m else []
    return json_resp(200, [rbac.assignable_role(name, display, org.id,
                                                rbac.can_assign_org_role(req.actor, name, mine))
                           for name, display in rbac.ORG_ROLES.items()])


def register(router):
    router.add("GET", "/organizations", list_orgs)
    router.add("POST", "/organizations", create_org)
    router.add("GET", "/organizations/{organization}", get_org)
    router.add("PATCH", "/organizations/{organization}", patch_org)
    router.add("DELETE", "/organizations/{organization}", delete_org)
    router.add("GET", "/organizations/{organization}/members", list_members)
    router.add("GET", "/organizations/{organization}/paginated-members", paginated_members)
    router.add("GET", "/organizations/{organization}/members/roles", assignable_org_roles)
    router.add("GET", "/organizations/{organization}/members/{user}", get_member)
    router.add("POST", "/organizations/{organization}/members/{user}", add_member)
    router.add("DELETE", "/organizations/{organization}/members/{user}", remove_member)
    router.add("PUT", "/organizations/{organization}/members/{user}/roles", put_member_roles)
