"""User endpoints (reference sections 3 and 13)."""

import datetime as dt

from . import names, passwords
from . import roles as rbac
from .routes_general import feature_enabled
from .search import paginate_users, parse_pagination, parse_user_query_or_400, user_matcher
from .server import empty, json_resp
from .state import check_password, hash_password
from .util import NIL_UUID, ApiError, decode_body, forbidden, not_found, now, raise_validation, validation_error

LOGIN_SESSION = dt.timedelta(hours=24)  # Coder's default --session-duration


def can_read(actor, user) -> bool:
    return actor.id == user.id or rbac.can_read_all_users(actor)


def target_user(req, param="user"):
    """Resolve {user} like httpmw.ExtractUserParam; unreadable and missing look the same (404)."""
    user = req.state.resolve_user(req.params[param], req.actor)
    if user is None or not can_read(req.actor, user):
        raise not_found()
    return user


def require_manage(req):
    if not rbac.can_manage_users(req.actor):
        raise forbidden()


def user_resp(req, status, user, org_ids=None):
    return json_resp(status, req.state.user_json(user, org_ids))


# ---------------------------------------------------------------------- list / get
def list_users(req):
    f = parse_user_query_or_400(req.q("q"))
    after_id, limit, offset = parse_pagination(req)
    state, actor = req.state, req.actor
    match = user_matcher(f)
    with state.lock:
        if rbac.can_read_all_users(actor):
            candidates = state.active_users()
        else:
            # RBAC-filtered query: a plain member can read only itself.
            candidates = [actor]
        rows = [u for u in candidates if match(u)]
        after_user = state.users.get(after_id) if after_id else None
        page, count = paginate_users(rows, after_user, limit, offset, after_id is not None)
        users = [state.user_json(u) for u in page]
    return json_resp(200, {"users": users, "count": count})


def get_user(req):
    user = target_user(req)
    with req.state.lock:
        return user_resp(req, 200, user)


# ---------------------------------------------------------------------- create
_CREATE_SCHEMA = {"email": "str", "username": "str", "name": "str", "password": "str", "login_type": "str",
                  "user_status": "str", "organization_ids": "uuids", "organization_id": "uuid",
                  "service_account": "bool", "roles": "strs"}


def create_user(req):
    state, actor = req.state, req.actor
    body = decode_body(req.body, "CreateUserRequestWithOrgs", _CREATE_SCHEMA)
    email, username, password = body["email"], body["username"], body["password"]
    service_account = body["service_account"]

    # Struct validation (all failures reported together, in field order).
    errors = []
    if not email:
        if not service_account:
            errors.append(validation_error("email", "required", ""))
    elif not names.email_valid(email):
        errors.append(validation_error("email", "email", email))
    if not username:
        errors.append(validation_error("username", "required", ""))
    elif not names.name_valid(username):
        errors.append(validation_error("username", "username", username))
    if not names.user_real_name_valid(body["name"]):
        errors.append(validation_error("name", "user_real_name", body["name"]))
    raise_validation(errors)

    login_type = body["login_type"]
    if service_account:
        if not feature_enabled(state, "service_accounts"):
            raise ApiError(403, "Service Accounts is a Premium feature. Contact sales!")
        # Wording of these two is ours; the rules (no email, no password) are Coder's.
        if email:
            raise ApiError(400, "Service accounts must not have an email.")
        if password:
            raise ApiError(400, "Service accounts must not have a password.")
        login_type = "none"
    if not login_type:
        login_type = "password"
    if login_type != "password" and password:
        raise ApiError(400, f'Password cannot be set for non-password ("{login_type}") authentication.')

    org_ids = list(body["organization_ids"] or [])
    legacy = body["organization_id"]
    if legacy and legacy != NIL_UUID:
        org_ids.append(legacy)
    if not org_ids:
        raise ApiError(400, "No organization specified to place the user as a member of. It is required to "
                            "specify at least one organization id to place the user in.",
                       "required at least 1 value for the array 'organization_ids'",
                       [{"field": "organization_ids", "detail": "Missing values, this cannot be empty"}])

    status = body["user_status"] or "dormant"
    if status not in ("active", "dormant", "suspended"):
        raise ApiError(400, f'Invalid user status "{status}".')

    with state.lock:
        # Conflict is checked before the organizations exist (TestPostUsers/Conflicting).
        if state.users_by_username.get(username.lower()) or (email and state.users_by_email.get(email.lower())):
            raise ApiError(409, "User already exists.")
        resolved = []
        for oid in org_ids:
            org = state.default_org if oid == NIL_UUID else state.orgs.get(oid)
            if org is None:
                raise ApiError(404, f'Organization does not exist with the provided id "{oid}".')
            if org.id not in resolved:
                resolved.append(org.id)

        if login_type == "password":
            err = passwords.validate(password)
            if err:
                raise ApiError(400, "Password not strong enough!", validations=[{"field": "password", "detail": err}])
        elif login_type == "oidc":
            raise ApiError(400, "You must configure OIDC before creating OIDC users.")
        elif login_type not in ("none", "github"):
            raise ApiError(400, f'Unsupported login type "{login_type}" for manually creating new users.')

        if not rbac.can_manage_users(actor):
            raise ApiError(403, "You are not authorized to create users.")
        site_roles = []
        # The roles field exists since v2.34.0; older servers silently ignore it.
        if body["roles"] and state.version_tuple >= (2, 34, 0):
            for r in body["roles"]:
                if r not in rbac.SITE_ROLES:
                    raise ApiError(400, f'"{r}" is not a supported role')
            for r in body["roles"]:
                if r != "member" and not rbac.can_assign_site_role(actor, r):
                    raise ApiError(403, "You are not authorized to create users.")
            site_roles = [r for r in dict.fromkeys(body["roles"]) if r != "member"]

        user = state.add_user(username, email, name=body["name"], status=status, login_type=login_type,
                              roles=site_roles)
        user.is_service_account = bool(service_account)
        if login_type == "password":
            user.password_hash = hash_password(password)
        for oid in resolved:
            state.add_member(oid, user.id)
        return user_resp(req, 201, user, resolved)


# ---------------------------------------------------------------------- profile / status / roles
def put_profile(req):
    state, actor = req.state, req.actor
    user = target_user(req)
    if actor.id != user.id and not rbac.can_manage_users(actor):
        raise forbidden()
    body = decode_body(req.body, "UpdateUserProfileRequest", {"username": "str", "name": "str"})
    errors = []
    if not body["username"]:
        errors.append(validation_error("username", "required", ""))
    elif not names.name_valid(body["username"]):
        errors.append(validation_error("username", "username", body["username"]))
    if not names.user_real_name_valid(body["name"]):
        errors.append(validation_error("name", "user_real_name", body["name"]))
    raise_validation(errors)
    with state.lock:
        if body["username"] != user.username and not rbac.can_manage_users(actor):
            # Renaming needs user-update permission; members get the vague 404.
            raise not_found()
        other = state.users_by_username.get(body["username"].lower())
        if other is not None and other.id != user.id:
            raise ApiError(409, "A user with this username already exists.",
                           validations=[{"field": "username", "detail": "This username is already in use."}])
        if body["username"] != user.username:
            state.rename_user(user, body["username"])
        # Both fields are written: an omitted name clears it.
        user.name = body["name"]
        user.updated_at = now()
        return user_resp(req, 200, user)


def _set_status(req, status):
    state, actor = req.state, req.actor
    user = target_user(req)
    if status == "suspended":
        if user.id == actor.id:
            raise ApiError(400, "You cannot suspend yourself.")
        if "owner" in user.roles:
            raise ApiError(400, 'You cannot suspend a user with the "owner" role. You must remove the role first.')
    require_manage(req)
    with state.lock:
        user.status = status
        user.updated_at = now()
        return user_resp(req, 200, user)


def suspend_user(req):
    return _set_status(req, "suspended")


def activate_user(req):
    return _set_status(req, "active")


def get_roles(req):
    state = req.state
    user = target_user(req)
    with state.lock:
        org_roles = {oid: list(m.roles) for oid, m in state.user_orgs.get(user.id, {}).items()}
        return json_resp(200, {"roles": list(user.roles), "organization_roles": org_roles})


def put_roles(req):
    state, actor = req.state, req.actor
    user = target_user(req)
    if user.id == actor.id:
        raise ApiError(400, "You cannot change your own roles.")
    body = decode_body(req.body, "UpdateRoles", {"roles": "strs"})
    wanted = list(dict.fromkeys(body["roles"] or []))
    for r in wanted:
        if r in rbac.ORG_ROLES:
            raise ApiError(400, "Must only update site wide roles")
    for r in wanted:
        if r not in rbac.SITE_ROLES:
            raise ApiError(400, f'"{r}" is not a supported role')
    # "member" is implied for everyone and never stored explicitly.
    wanted = [r for r in wanted if r != "member"]
    with state.lock:
        changed = set(wanted).symmetric_difference(user.roles)
        if not rbac.can_manage_users(actor) or any(not rbac.can_assign_site_role(actor, r) for r in changed):
            raise forbidden()
        user.roles = wanted
        user.updated_at = now()
        return user_resp(req, 200, user)


# ---------------------------------------------------------------------- password
def put_password(req):
    state, actor = req.state, req.actor
    user = target_user(req)
    if actor.id != user.id and not rbac.can_manage_users(actor):
        raise not_found()
    body = decode_body(req.body, "UpdateUserPasswordRequest", {"old_password": "str", "password": "str"})
    if not body["password"]:
        raise_validation([validation_error("password", "required", "")])
    if "owner" in user.roles and not rbac.is_owner(actor):
        raise ApiError(400, "Only owners can change the password of an owner.")
    if user.login_type != "password":
        raise ApiError(400, "Users without password login type cannot change their password.")
    if actor.id == user.id and not body["old_password"]:
        raise ApiError(400, "Old password is required.")
    err = passwords.validate(body["password"])
    if err:
        raise ApiError(400, "Invalid password.", validations=[{"field": "password", "detail": err}])
    with state.lock:
        if body["old_password"] and not check_password(user.password_hash, body["old_password"]):
            raise ApiError(400, "Old password is incorrect.",
                           validations=[{"field": "old_password", "detail": "Old password is incorrect."}])
        if check_password(user.password_hash, body["password"]):
            raise ApiError(400, "New password cannot match old password.")
        user.password_hash = hash_password(body["password"])
        # Coder deletes every API key of the user in the same transaction.
        state.delete_user_keys(user.id)
    return empty(204)


# ---------------------------------------------------------------------- delete
def delete_user(req):
    state, actor = req.state, req.actor
    user = target_user(req)
    if user.id == actor.id:
        raise ApiError(403, "You cannot delete yourself!")
    with state.lock:
        # Counted over all workspaces, visible or not, but not deleted ones (GetWorkspaces, deleted = false).
        if state.live_workspaces(owner_id=user.id):
            raise ApiError(417, "You cannot delete a user that has workspaces. Delete their workspaces and try again!")
        require_manage(req)
        state.delete_user(user)
    return json_resp(200, {"message": "User has been deleted!"})


# ---------------------------------------------------------------------- organizations of a user
def _readable_org(actor, state, org) -> bool:
    return rbac.can_read_all_users(actor) or state.membership(org.id, actor.id) is not None


def user_organizations(req):
    state = req.state
    user = target_user(req)
    with state.lock:
        orgs = [state.orgs[oid] for oid in state.user_org_ids(user.id)]
        orgs = [o for o in sorted(orgs, key=lambda o: o.created_at) if _readable_org(req.actor, state, o)]
        return json_resp(200, [state.org_json(o) for o in orgs])


def user_organization_by_name(req):
    state = req.state
    user = target_user(req)
    with state.lock:
        org = state.orgs_by_name.get(req.params["organizationname"].lower())
        if org is None or state.membership(org.id, user.id) is None or not _readable_org(req.actor, state, org):
            raise not_found()
        return json_resp(200, state.org_json(org))


def login_type(req):
    user = target_user(req)
    if user.id != req.actor.id:
        raise ApiError(403, "You are not authorized to view this user's login type.")
    return json_resp(200, {"login_type": user.login_type})


# ---------------------------------------------------------------------- misc
def assignable_site_roles(req):
    actor = req.actor
    return json_resp(200, [rbac.assignable_role(name, display, "", rbac.can_assign_site_role(actor, name))
                           for name, display in rbac.SITE_ROLES.items()])


def first_user_get(req):
    # The emulator always has its owner, so the first user exists.
    return json_resp(200, {"message": "The initial user has already been created!"})


def first_user_post(req):
    return json_resp(409, {"message": "The initial user has already been created."})


def login(req):
    state = req.state
    body = decode_body(req.body, "LoginWithPasswordRequest", {"email": "str", "password": "str"})
    errors = []
    if not body["email"]:
        errors.append(validation_error("email", "required", ""))
    elif not names.email_valid(body["email"]):
        errors.append(validation_error("email", "email", body["email"]))
    if not body["password"]:
        errors.append(validation_error("password", "required", ""))
    raise_validation(errors)
    with state.lock:
        user = state.users_by_email.get(body["email"].lower())
        if user is None or not check_password(user.password_hash, body["password"]):
            raise ApiError(401, "Incorrect email or password.")
        if user.login_type != "password":
            raise ApiError(403, f'Incorrect login type, attempting to use "password" but user is of login type '
                                f'"{user.login_type}"')
        if user.status == "suspended":
            raise ApiError(401, "Your account is suspended. Contact an admin to reactivate your account.")
        t = now()
        if user.status == "dormant":
            user.status = "active"
            user.updated_at = t
        user.last_seen_at = t
        _key, token = state.create_key(user.id, "password", LOGIN_SESSION)
    return json_resp(201, {"session_token": token})


def logout(req):
    with req.state.lock:
        req.state.keys.pop(req.key.id, None)
    return json_resp(200, {"message": "Logged out!"})


def validate_password(req):
    body = decode_body(req.body, "ValidateUserPasswordRequest", {"password": "str"})
    if not body["password"]:
        raise_validation([validation_error("password", "required", "")])
    err = passwords.validate(body["password"])
    return json_resp(200, {"valid": err is None, "details": err or ""})


def register(router):
    router.add("GET", "/users", list_users)
    router.add("POST", "/users", create_user)
    router.add("GET", "/users/first", first_user_get, auth=False)
    router.add("POST", "/users/first", first_user_post, auth=False)
    router.add("POST", "/users/login", login, auth=False)
    router.add("POST", "/users/logout", logout)
    router.add("GET", "/users/roles", assignable_site_roles)
    router.add("POST", "/users/validate-password", validate_password)
    router.add("GET", "/users/{user}", get_user)
    router.add("DELETE", "/users/{user}", delete_user)
    router.add("PUT", "/users/{user}/profile", put_profile)
    router.add("PUT", "/users/{user}/status/suspend", suspend_user)
    router.add("PUT", "/users/{user}/status/activate", activate_user)
    router.add("GET", "/users/{user}/roles", get_roles)
    router.add("PUT", "/users/{user}/roles", put_roles)
    router.add("PUT", "/users/{user}/password", put_password)
    router.add("GET", "/users/{user}/organizations", user_organizations)
    router.add("GET", "/users/{user}/organizations/{organizationname}", user_organization_by_name)
    router.add("GET", "/users/{user}/login-type", login_type)
