"""Workspace reads, extend and usage (reference §9.6, §12, §13). Builds are made through /__emulator/ only."""

import datetime as dt

from . import workspaces as wsm
from .routes_organizations import can_read_org
from .search import QueryParams, _goq, _like, _parse_time, _split, go_parse_bool, parse_pagination, search_terms
from .server import empty, json_resp
from .template_access import go_uuid_error
from .util import NIL_UUID, ApiError, decode_body, forbidden, not_found, parse_uuid, raise_validation, validation_error

_STATUSES = ("pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting",
             "deleted")
# searchquery.Workspaces: healthy:true asks for a connected agent, healthy:false for a disconnected or timed out one.
_HEALTHY = {True: ["connected"], False: ["disconnected", "timeout"]}
# What GetWorkspaces compares for has-ai-task, has_external_agent and shared, as the emulator's workspaces all
# have it: no task rows, latest builds without an external agent (build_json), no workspace ACLs.
_FIXED_FACTS = {"has_ai_task": False, "has_external_agent": False, "shared": False}
USAGE_APPS = ("vscode", "jetbrains", "reconnecting-pty", "ssh")  # codersdk.AllowedAppNames
EXTEND_MIN = dt.timedelta(minutes=29)  # validWorkspaceDeadline: "at least 30 minutes" checks now + 29 min


def _name_term(term, values):
    """The defaultKey of searchquery.Workspaces: a bare term is a workspace name or owner/name."""
    parts = _split(term, "/", False)
    if len(parts) > 2:
        return f"Query element {_goq(term)} can only contain 1 '/'"
    if len(parts) == 2:
        values.setdefault("owner", []).append(parts[0])
    values.setdefault("name", []).append(parts[-1])
    return None


def _uuid(term):
    uid = parse_uuid(term.strip())
    if uid is None:
        raise ValueError(go_uuid_error(term.strip()))
    return uid


def _status(term):
    if term not in _STATUSES:
        raise ValueError(f"{_goq(term)} is not a valid value")  # httpapi.ParseEnum
    return term


def _param(term):
    """param:<name>[=<value>] as searchquery.Workspaces splits it."""
    term = term.strip()
    parts = term.split("=")
    if len(parts) > 2:
        raise ValueError(f"query element {_goq(term)} can only contain 1 '='")
    if len(parts) == 2 and parts[1] == "":
        raise ValueError(f"query element {_goq(term)} has an empty value. omit the '=' to match just on the "
                         "parameter name")
    return tuple(parts)


def _organization(state, actor, term):
    """parseOrganization: a UUID as given, else a name the actor can read (dbauthz on GetOrganizationByName)."""
    uid = parse_uuid(term)
    if uid is not None:
        return uid
    org = state.orgs_by_name.get(term)
    if org is None or not can_read_org(state, actor, org):
        raise ValueError(f"organization {_goq(term)} either does not exist, or you are unauthorized to view it")
    return org.id


def _parse_query(state, actor, q):
    """searchquery.Workspaces as of coder/coder main: the filter for GetWorkspaces, or 400 with the validations.

    The whole query is lowercased first (Time3339Nano uppercases its term back). Keys are parsed in Coder's
    order, so the validations come in its order, unknown keys last (ErrorExcessParams).

    Left out: ``shared_with_user`` and ``shared_with_group`` (user and group lookups by name, with
    codersdk.NameValid and GroupNameValid texts, for ACLs the emulator's workspaces never have); they answer
    "not a valid query param". There is no ``deleted`` key either: Coder parses none, and the handler never
    sets GetWorkspaces' ``workspaces.deleted = @deleted``, so no listing shows a deleted workspace."""
    if q == "":
        return {}
    values, errors = search_terms(q.lower(), _name_term)
    if errors:
        raise ApiError(400, "Invalid workspace search query.", validations=errors)
    p = QueryParams(values)
    f = {
        "ids": set(p.custom_list("id", _uuid)),
        "owner": p.string("owner"),
        "template": p.string("template"),
        "name": p.string("name"),
        "status": p.custom("status", _status, ""),
        "has_agent": p.strings("has-agent"),  # parser.Strings: any value is accepted
        "dormant": p.boolean("dormant"),
        "last_used_after": p.time3339nano("last_used_after"),
        "last_used_before": p.time3339nano("last_used_before"),
    }
    # UsingActive is the inverse of outdated, and filters only when the key was given (even as outdated:"").
    outdated = p.boolean("outdated", True)
    f["using_active"] = (not outdated) if "outdated" in values else None
    f["has_ai_task"] = p.boolean("has-ai-task", None)
    f["has_external_agent"] = p.boolean("has_external_agent", None)
    f["organization_id"] = p.custom("organization", lambda term: _organization(state, actor, term))
    f["shared"] = p.boolean("shared", None)
    healthy = p.boolean("healthy", None)
    if healthy is not None:
        f["has_agent"] = f["has_agent"] + _HEALTHY[healthy]
    f["params"] = p.custom_list("param", _param)
    p.excess()
    if p.errors:
        raise ApiError(400, "Invalid workspace search query.", validations=p.errors)
    return f


def _has_agent(ws, statuses) -> bool:
    """GetWorkspaces' has-agent clause: some agent of the latest build, which must be a start build, has one of
    the statuses (reconstructed: the stored query text compares one @has_agent, while the current parser hands
    over a list, HasAgentStatuses, so one match is enough). The SQL computes the status as
    WorkspaceAgent.Status (database/modelmethods.go) does; the emulator's agent_status leaves
    out what it does not model (connection timeouts: every agent has connection_timeout_seconds 0, so none is
    "timeout"; the inactivity rule: an open monitored connection stands for the agent's heartbeats). The SQL
    says "disconnected" only when disconnected_at is after last_connected_at; the test clock can stamp a
    connection and its end alike, which agent_status reads, as Go does, as disconnected."""
    build = ws.latest_build
    return build.transition == "start" and any(wsm.agent_status(a) in statuses for a in build.agents)


def _matcher(state, actor, f):
    """The WHERE clause of GetWorkspaces (coder/coder main) over the filter of _parse_query."""
    owner, template, status = f.get("owner", ""), f.get("template", ""), f.get("status", "")
    name = _like(f["name"]) if f.get("name") else None

    def match(ws):
        build = ws.latest_build
        if f.get("ids") and ws.id not in f["ids"]:
            return False
        if owner:
            u = state.users.get(ws.owner_id)
            if owner == "me":
                if ws.owner_id != actor.id:
                    return False
            elif u is None or u.deleted or u.username.lower() != owner:
                return False
        if template:
            tpl = state.templates.get(ws.template_id) if ws.template_id else None
            if tpl is None or tpl.deleted or tpl.name.lower() != template:
                return False
        # name ILIKE '%' || @name || '%': % and _ in the term are wildcards.
        if name and not name.search(ws.name):
            return False
        if status and wsm.build_status(build) != status:
            return False
        if f.get("organization_id") not in (None, NIL_UUID) and ws.organization_id != f["organization_id"]:
            return False
        if f.get("has_agent") and not _has_agent(ws, f["has_agent"]):
            return False
        # No workspace of the emulator is ever dormant (it has no dormant_at), so dormant:true matches none.
        if f.get("dormant"):
            return False
        used = ws.last_used_at
        if f.get("last_used_before") and (used is None or used > f["last_used_before"]):
            return False
        if f.get("last_used_after") and (used is None or used < f["last_used_after"]):
            return False
        if f.get("using_active") is not None:
            tpl = state.templates.get(ws.template_id) if ws.template_id else None
            # Without a template or a build version the comparison is NULL and the row drops out either way.
            if tpl is None or build.template_version_id is None:
                return False
            if (build.template_version_id == tpl.active_version_id) != f["using_active"]:
                return False
        for key, actual in _FIXED_FACTS.items():
            if f.get(key) is not None and f[key] != actual:
                return False
        # The latest build's parameters: the emulator's builds have none, so any param: term matches nothing.
        return not f.get("params")
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
    after_id, limit, offset = parse_pagination(req)
    with state.lock:
        wsm.run_autostop(state)
        f = _parse_query(state, actor, req.q("q"))
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
