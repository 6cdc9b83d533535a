"""Workspace reads, extend and usage (reference §9.6, §12, §13). Builds are made through /__emulator/ only."""

import datetime as dt

from . import workspaces as wsm
from .search import _goq, _parse_time, go_parse_bool, parse_pagination, search_terms
from .server import empty, json_resp
from .util import NIL_UUID, ApiError, decode_body, forbidden, not_found, raise_validation, validation_error

_STATUSES = ("pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting",
             "deleted")
_KEYS = ("owner", "template", "name", "status", "search")
USAGE_APPS = ("vscode", "jetbrains", "reconnecting-pty", "ssh")  # codersdk.AllowedAppNames
EXTEND_MIN = dt.timedelta(minutes=29)  # validWorkspaceDeadline: "at least 30 minutes" checks now + 29 min


def _parse_query(q):
    """The part of searchquery.Workspaces the emulator supports: owner, template, name, status, bare words.

    There is no ``deleted`` key (the search parses none, so ``deleted:true`` is "not a valid query param"):
    GetWorkspaces has ``workspaces.deleted = @deleted`` and the handler never sets it, so no listing shows a
    deleted workspace."""
    values, errors = search_terms(q)
    if errors:
        raise ApiError(400, "Invalid workspace search query.", validations=errors)
    errors = []
    for key in values:
        if key not in _KEYS:
            errors.append({"field": key, "detail": f"{_goq(key)} is not a valid query param"})
    f = {}
    for key in ("owner", "template", "name", "status"):
        vals = values.get(key)
        if vals and len(vals) > 1:
            errors.append({"field": key, "detail": f"Query param {_goq(key)} provided more than once, found "
                                                   f"{len(vals)} times. Only provide 1 instance of this query param."})
        elif vals:
            f[key] = vals[0]
    if "search" in values:
        # Bare words filter by name (or owner/name) like name:.
        term = values["search"][0]
        owner, sep, name = term.partition("/")
        if sep:
            f["owner"], f["name"] = owner, name
        else:
            f["name"] = term
    if "status" in f and f["status"].lower() not in _STATUSES:
        errors.append({"field": "status", "detail": f"Query param \"status\" has invalid value: "
                                                    f"\"{f['status']}\" is not a valid value"})
    if errors:
        raise ApiError(400, "Invalid workspace search query.", validations=errors)
    return f


def _matcher(state, actor, f):
    owner = f.get("owner", "").lower()
    template = f.get("template", "").lower()
    name = f.get("name", "").lower()
    status = f.get("status", "").lower()

    def match(ws):
        if owner:
            u = state.users.get(ws.owner_id)
            if owner == "me":
                if ws.owner_id != actor.id:
                    return False
            elif u is None or u.username.lower() != owner:
                return False
        if template:
            tpl = state.templates.get(ws.template_id) if ws.template_id else None
            if tpl is None or tpl.name.lower() != template:
                return False
        # name: is a case-insensitive substring match (ILIKE '%' || name || '%').
        if name and name not in ws.name.lower():
            return False
        return not status or wsm.build_status(ws.latest_build) == status
    return match


def _sort_key(state):
    def key(ws):
        build = ws.latest_build
        running = build.transition == "start" and build.job_status == "succeeded"
        owner = state.users.get(ws.owner_id)
        # GetWorkspaces: running workspaces first, then owner username, then name.
        return (not running, owner.username.lower() if owner else "", ws.name.lower())
    return key


def list_workspaces(req):
    state, actor = req.state, req.actor
    f = _parse_query(req.q("q"))
    after_id, limit, offset = parse_pagination(req)
    with state.lock:
        wsm.run_autostop(state)
        match = _matcher(state, actor, f)
        rows = [ws for ws in state.live_workspaces() if wsm.can_read_workspace(state, actor, ws) and match(ws)]
        rows.sort(key=_sort_key(state))
        if after_id:
            ids = [ws.id for ws in rows]
            rows = rows[ids.index(after_id) + 1:] if after_id in ids else []
        total = len(rows)
        page = rows[offset:]
        if limit:
            page = page[:limit]
        # The query appends a technical summary row, so count is the total even for an empty page.
        return json_resp(200, {"workspaces": [wsm.workspace_json(state, ws) for ws in page], "count": total})


def _include_deleted(req, field):
    """The ``include_deleted`` query parameter (strconv.ParseBool); absent or empty is false. The handler
    workspace names the validation field "deleted", workspaceByOwnerAndName "include_deleted"."""
    raw = req.q("include_deleted")
    if raw == "":
        return False
    value = go_parse_bool(raw)
    if value is None:
        raise ApiError(400, f'Invalid boolean value {_goq(raw)} for "include_deleted" query param.',
                       validations=[{"field": field, "detail": "Must be a valid boolean"}])
    return value


def get_workspace(req):
    """coderd workspace: the middleware finds deleted workspaces too (GetWorkspaceByID), the handler answers
    410 for them unless include_deleted is true. Its message still names the old '?deleted=true' parameter."""
    state = req.state
    with state.lock:
        wsm.run_autostop(state)
        ws = wsm.workspace_param(req)
        show_deleted = _include_deleted(req, "deleted")
        if ws.deleted and not show_deleted:
            raise ApiError(410, f"Workspace {_goq(ws.id)} was deleted, you can view this workspace by specifying "
                                "'?deleted=true' and trying again.")
        return json_resp(200, wsm.workspace_json(state, ws))


def get_workspace_by_owner_and_name(req):
    """coderd workspaceByOwnerAndName: GetWorkspaceByOwnerIDAndName (deleted = false, lower(name)); with
    include_deleted and no such row, the same query with deleted = true, ORDER BY created_at DESC: the most
    recently created deleted workspace of that name."""
    state = req.state
    with state.lock:
        wsm.run_autostop(state)
        owner = state.resolve_user(req.params["user"], req.actor)
        if owner is None:
            raise not_found()
        include_deleted = _include_deleted(req, "include_deleted")
        name = req.params["workspacename"].lower()
        ws = state.live_workspace_by_name(owner.id, name)
        if ws is None and include_deleted:
            gone = [w for w in state.workspaces.values()
                    if w.deleted and w.owner_id == owner.id and w.name.lower() == name]
            ws = max(gone, key=lambda w: w.created_at, default=None)
        if ws is None or not wsm.can_read_workspace(state, req.actor, ws):
            raise not_found()
        return json_resp(200, wsm.workspace_json(state, ws))


def get_workspace_build(req):
    state = req.state
    with state.lock:
        wsm.run_autostop(state)
        build = state.workspace_builds.get(wsm.uuid_param(req, "workspacebuild"))
        ws = state.workspaces.get(build.workspace_id) if build is not None else None
        if ws is None or not wsm.can_read_workspace(state, req.actor, ws):
            raise not_found()
        return json_resp(200, wsm.build_json(state, ws, build))


# ---------------------------------------------------------------------- extend
def _parse_deadline(raw: bytes):
    body = decode_body(raw, "PutExtendWorkspaceRequest", {"deadline": "str"})
    text = body["deadline"]
    if not text:
        raise_validation([validation_error("deadline", "required", "0001-01-01 00:00:00 +0000 UTC")])
    try:
        value = _parse_time(text)
    except ValueError:
        raise ApiError(400, "Request body must be valid JSON.",
                       f'parsing time "\\"{text}\\"" as "\\"2006-01-02T15:04:05Z07:00\\"": cannot parse '
                       f'"{text}\\"" as "2006"') from None
    if value == dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc):
        raise_validation([validation_error("deadline", "required", "0001-01-01 00:00:00 +0000 UTC")])
    return value


def _rfc3339(t):
    """Go's time.RFC3339 (whole seconds) in UTC."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def extend_workspace(req):
    state = req.state
    with state.lock:
        wsm.run_autostop(state)
        ws = wsm.workspace_param(req)
        new = _parse_deadline(req.body)
        build = ws.latest_build
        if build.transition != "start":
            raise ApiError(409, f"Workspace must be started, current status: {build.transition}")
        if not wsm.job_completed(build):
            raise ApiError(409, "Workspace is still building!")
        if build.deadline is None:
            raise ApiError(409, "Workspace shutdown is manual.")
        t = state.clock()
        if new < t + EXTEND_MIN:
            raise ApiError(400, "Cannot extend workspace: new deadline must be at least 30 minutes in the future")
        if build.max_deadline is not None and new > build.max_deadline:
            raise ApiError(400, "Cannot extend workspace beyond max deadline.")
        if not wsm.can_update_workspace(state, req.actor, ws):
            # The build update inside the transaction is what RBAC refuses; the handler reports that as a 500.
            raise ApiError(500, "Failed to extend workspace deadline.")
        build.deadline = new
        build.updated_at = t
        return json_resp(200, {"message": f"Deadline updated to {_rfc3339(new)}."})


# ---------------------------------------------------------------------- usage
def post_usage(req):
    state = req.state
    with state.lock:
        wsm.run_autostop(state)
        ws = wsm.workspace_param(req)
        if not wsm.can_update_workspace(state, req.actor, ws):
            raise forbidden()
        t = state.clock()
        # statsReporter.TrackUsage: last_used_at is recorded on every call (coderd batches it; here at once).
        ws.last_used_at = t
        if "workspace-usage" not in state.experiments or not req.body:
            return empty(204)
        body = decode_body(req.body, "PostWorkspaceUsageRequest", {"agent_id": "uuid", "app_name": "str"})
        agent_id, app_name = body["agent_id"], body["app_name"]
        if agent_id in (None, NIL_UUID) and app_name == "":
            return empty(204)
        if agent_id in (None, NIL_UUID):
            raise ApiError(400, "Invalid request",
                           validations=[{"field": "agent_id", "detail": "must be set when app_name is set"}])
        if app_name == "":
            raise ApiError(400, "Invalid request",
                           validations=[{"field": "app_name", "detail": "must be set when agent_id is set"}])
        if app_name not in USAGE_APPS:
            raise ApiError(400, "Invalid request", validations=[
                {"field": "app_name", "detail": f"must be one of [{' '.join(USAGE_APPS)}]"}])
        if agent_id not in state.agents:
            raise not_found()
        # ReportAgentStats with connection_count 1: bump the deadline (last_used_at is already set).
        wsm.activity_bump(state, ws, t)
        return empty(204)


def register(router):
    router.add("GET", "/workspaces", list_workspaces)
    router.add("GET", "/workspaces/{workspace}", get_workspace)
    router.add("GET", "/users/{user}/workspace/{workspacename}", get_workspace_by_owner_and_name)
    router.add("GET", "/workspacebuilds/{workspacebuild}", get_workspace_build)
    router.add("PUT", "/workspaces/{workspace}/extend", extend_workspace)
    router.add("POST", "/workspaces/{workspace}/usage", post_usage)
