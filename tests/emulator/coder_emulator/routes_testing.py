"""Test-only routes under /__emulator/. A real Coder server has none of these.

* GET    /__emulator/requests          -> {"requests": [{seq, method, path, query, status, user}]}
* DELETE /__emulator/requests          -> 204, clears the log
* POST   /__emulator/reset             -> 204, initial state (seed + owner, same owner token), log and faults cleared
* GET    /__emulator/faults            -> {"faults": [...]} remaining scheduled faults
* POST   /__emulator/faults            -> 201, body {"faults": [{status, count, retry_after, method, path_regex,
                                           after_handling, body}]} appended to the schedule
* DELETE /__emulator/faults            -> 204
* POST   /__emulator/workspaces        -> 201, body {"owner": username-or-id, "name": str, "template": name-or-id,
                                           "ttl_ms": int, "max_ttl_ms": int, "agents": [name], "apps": [slug],
                                           "transition": "start"|"stop"|"delete", "job_status": str}; a workspace
                                           and its first build (default: start, succeeded, one agent "main", no
                                           apps, no TTL = manual shutdown; ttl_ms defaults to the template's
                                           default_ttl_ms). With "template" it uses that template (and its active
                                           version), which then cannot be deleted while the workspace is not. The
                                           answer lists the agents with their tokens: {"id", ..., "build": {...},
                                           "agents": [{id, name, token}]}. 409 when the owner already has a
                                           non-deleted workspace of that name (compared case-insensitively)
* POST   /__emulator/workspaces/{id}/builds -> 201, body {"transition": "start"|"stop"|"delete", "job_status": str};
                                           a new build (a start build gets new agents and tokens), same answer.
                                           A delete build whose job succeeded (also as the first build above)
                                           marks the workspace deleted for good: GET by id answers 410, lists and
                                           by-name reads skip it, its name is free, its owner and template no
                                           longer count it; later builds are still accepted
* DELETE /__emulator/workspaces/{id}   -> 204 (404 when unknown); removes the workspace and its builds outright
* GET    /__emulator/clock             -> {"now": RFC3339, "offset_seconds": float} the test clock
* POST   /__emulator/clock             -> 200 same, body {"advance_seconds": N (>= 0)}; moves the test clock that
                                           every workspace timestamp and rule uses, then applies autostop
* POST   /__emulator/experiments       -> 204, body {"experiments": [str]}; the deployment's experiments until
                                           the next reset (e.g. "workspace-usage")
* POST   /__emulator/groups/{id}/source -> 200 with the group (as an owner sees it), body {"source": "oidc"|"user"};
                                           marks a group as created by IdP group sync (no API route can)
* POST   /__emulator/license           -> 204, body {"license": "premium"|"none"}; the deployment gains or loses
                                           its license until the next reset (as when a license expires)
* POST   /__emulator/version           -> 204, body {"version": "v2.33.2"}; the server version (and its behaviour
                                           profile) until the next reset
* POST   /__emulator/provisioners      -> 204, body {"count": N}; how many provisioner daemons run, until the next
                                           reset (0: new jobs stay pending, unmatched)
* GET    /__emulator/agent-rpc         -> {"connections": [{id, agent_id, workspace_id, role, version, monitored,
                                           opened_at, closed_at, close_code, calls, yamux_pongs, ws_pongs, errors}],
                                           "calls": [{seq, connection, at, agent_id, workspace_id, rpc, stats,
                                           connection_count, session_counts, bumped, fault, error}],
                                           "faults": [...]}: the agent RPC channel's log (agent_rpc.py)
* DELETE /__emulator/agent-rpc         -> 204, clears that log and the scheduled agent RPC faults
* POST   /__emulator/agent-rpc/faults  -> 201 {"faults": [...]}, body {"faults": [{"kind": "ping"|"ws_ping"|"split"|
                                           "error"|"goaway"|"rst"|"close_1011", "count": N (default 1),
                                           "message": str (for "error")}]}; each applies to the next N dRPC calls:
                                           a yamux or WebSocket ping before the reply, the reply one byte per
                                           message, a dRPC Error (no effects), GoAway, stream RST, or close 1011
* GET    /__emulator/state             -> debug dump of the state, without tokens or password hashes

They are neither authenticated nor logged, so using them never disturbs what a test asserts about
the /api/v2 traffic.
"""

import datetime as dt
import json

from . import agent_rpc
from . import workspaces as wsm
from .server import Resp, empty, json_resp
from .util import fmt_time, parse_uuid


def _body(req):
    try:
        return json.loads(req.body or b"{}")
    except ValueError as exc:
        return exc


def _find_template(state, owner, ref):
    """A template id, or a name looked up in the owner's organizations (default organization first)."""
    tid = parse_uuid(ref)
    if tid is not None:
        tpl = state.templates.get(tid)
        return tpl if tpl is not None and not tpl.deleted else None
    org_ids = [state.default_org.id] + [o for o in state.user_org_ids(owner.id) if o != state.default_org.id]
    for org_id in org_ids:
        tpl = state.template_by_name(org_id, ref)
        if tpl is not None:
            return tpl
    return None


def _clock_json(state):
    return {"now": fmt_time(state.clock()), "offset_seconds": state.clock_offset.total_seconds()}


def _build_options(body):
    """Validated build options of a test request, or an error message."""
    opts = {}
    for key, allowed in (("transition", wsm.TRANSITIONS), ("job_status", wsm.JOB_STATUSES)):
        if body.get(key) is not None:
            if body[key] not in allowed:
                return None, f"{key} must be one of {', '.join(allowed)}."
            opts[key] = body[key]
    return opts, None


def _workspace_answer(state, ws):
    build = ws.latest_build
    return json_resp(201, {"id": ws.id, "owner_id": ws.owner_id, "name": ws.name,
                           "organization_id": ws.organization_id, "template_id": ws.template_id,
                           "build": {"id": build.id, "build_number": build.number, "transition": build.transition,
                                     "job_status": build.job_status, "deadline": fmt_time(build.deadline),
                                     "max_deadline": fmt_time(build.max_deadline)},
                           # Test-only: the agent tokens never appear in /api/v2 answers.
                           "agents": [{"id": a.id, "name": a.name, "token": a.token,
                                       "apps": [{"id": p.id, "slug": p.slug} for p in a.apps]}
                                      for a in build.agents]})


def _create_workspace(req):
    state = req.state
    body = _body(req)
    if isinstance(body, Exception) or not isinstance(body, dict):
        return json_resp(400, {"message": "Body must be a JSON object."})
    owner_ref, name = str(body.get("owner", "")), body.get("name") or "ws"
    tpl_ref = str(body.get("template") or "")
    opts, error = _build_options(body)
    if not isinstance(name, str):
        error = "name must be a string."
    if error:
        return json_resp(400, {"message": error})
    for key in ("ttl_ms", "max_ttl_ms"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            error = f"{key} must be a non-negative integer."
        opts[key] = value
    for key in ("agents", "apps"):
        value = body.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(x, str) and x for x in value)):
            error = f"{key} must be a list of non-empty strings."
        opts[key] = value
    if opts["agents"] is not None and not opts["agents"] and opts["apps"]:
        error = "apps need an agent."
    if error:
        return json_resp(400, {"message": error})
    with state.lock:
        owner = state.resolve_user(owner_ref, None) if owner_ref else None
        if owner is None or owner.deleted:
            return json_resp(404, {"message": f"Unknown owner {owner_ref!r}."})
        template = None
        if tpl_ref:
            template = _find_template(state, owner, tpl_ref)
            if template is None:
                return json_resp(404, {"message": f"Unknown template {tpl_ref!r}."})
        if state.live_workspace_by_name(owner.id, name) is not None:
            # createWorkspace's check (the unique index is over non-deleted workspaces only).
            return json_resp(409, {"message": f'Workspace "{name}" already exists.', "validations": [
                {"field": "name", "detail": "This value is already in use and should be unique."}]})
        ws = state.add_workspace(owner, name, template, **opts)
        return _workspace_answer(state, ws)


def _create_build(req, ws_id):
    state = req.state
    body = _body(req)
    if isinstance(body, Exception) or not isinstance(body, dict):
        return json_resp(400, {"message": "Body must be a JSON object."})
    opts, error = _build_options(body)
    if error:
        return json_resp(400, {"message": error})
    with state.lock:
        ws = state.workspaces.get(parse_uuid(ws_id) or "")
        if ws is None:
            return json_resp(404, {"message": "Unknown workspace."})
        wsm.run_autostop(state)
        wsm.add_build(state, ws, **opts)
        return _workspace_answer(state, ws)


def handle_testing(req) -> Resp:
    app, state = req.app, req.state
    path, method = req.path.rstrip("/"), req.method
    if path == "/__emulator/requests":
        if method == "GET":
            with app.log_lock:
                return json_resp(200, {"requests": list(app.request_log)})
        if method == "DELETE":
            with app.log_lock:
                app.request_log.clear()
            return empty(204)
    elif path == "/__emulator/reset" and method == "POST":
        app.reset()
        return empty(204)
    elif path == "/__emulator/faults":
        if method == "GET":
            return json_resp(200, {"faults": app.faults.list()})
        if method == "DELETE":
            app.faults.clear()
            return empty(204)
        if method == "POST":
            body = _body(req)
            if isinstance(body, Exception) or not isinstance(body, dict) or not isinstance(body.get("faults"), list):
                return json_resp(400, {"message": 'Body must be {"faults": [...]}.'})
            try:
                app.faults.add(body["faults"])
            except (ValueError, TypeError, AttributeError) as exc:
                return json_resp(400, {"message": f"Invalid fault: {exc}"})
            return json_resp(201, {"faults": app.faults.list()})
    elif path == "/__emulator/license" and method == "POST":
        body = _body(req)
        if isinstance(body, Exception) or not isinstance(body, dict) or body.get("license") not in ("premium", "none"):
            return json_resp(400, {"message": 'Body must be {"license": "premium"|"none"}.'})
        with state.lock:
            state.license = body["license"]
        return empty(204)
    elif path == "/__emulator/version" and method == "POST":
        body = _body(req)
        if isinstance(body, Exception) or not isinstance(body, dict) or not isinstance(body.get("version"), str):
            return json_resp(400, {"message": 'Body must be {"version": "vX.Y.Z"}.'})
        with state.lock:
            state.set_version(body["version"])
        return empty(204)
    elif path == "/__emulator/provisioners" and method == "POST":
        body = _body(req)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return json_resp(400, {"message": 'Body must be {"count": N} with N >= 0.'})
        state.set_provisioners(count)
        return empty(204)
    elif path == "/__emulator/workspaces" and method == "POST":
        return _create_workspace(req)
    elif path.startswith("/__emulator/workspaces/") and path.endswith("/builds") and method == "POST":
        return _create_build(req, path.split("/")[3])
    elif path.startswith("/__emulator/workspaces/") and method == "DELETE":
        if state.delete_workspace(path.rsplit("/", 1)[1]):
            return empty(204)
        return json_resp(404, {"message": "Unknown workspace."})
    elif path == "/__emulator/clock":
        if method == "GET":
            return json_resp(200, _clock_json(state))
        if method == "POST":
            body = _body(req)
            step = body.get("advance_seconds") if isinstance(body, dict) else None
            if not isinstance(step, (int, float)) or isinstance(step, bool) or step < 0:
                return json_resp(400, {"message": 'Body must be {"advance_seconds": N} with N >= 0.'})
            with state.lock:
                state.clock_offset += dt.timedelta(seconds=step)
                wsm.run_autostop(state)
                return json_resp(200, _clock_json(state))
    elif path == "/__emulator/experiments" and method == "POST":
        body = _body(req)
        names = body.get("experiments") if isinstance(body, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return json_resp(400, {"message": 'Body must be {"experiments": [str]}.'})
        with state.lock:
            state.experiments = set(names)
        return empty(204)
    elif path.startswith("/__emulator/groups/") and path.endswith("/source") and method == "POST":
        body = _body(req)
        if isinstance(body, Exception) or not isinstance(body, dict) or body.get("source") not in ("user", "oidc"):
            return json_resp(400, {"message": 'Body must be {"source": "user"|"oidc"}.'})
        with state.lock:
            group = state.groups.get(parse_uuid(path.split("/")[3]) or "")
            if group is None:
                return json_resp(404, {"message": "Unknown group."})
            group.source = body["source"]
            ids = state.group_member_ids(group)
            return json_resp(200, state.group_json(group, ids, len(ids)))
    elif path == "/__emulator/agent-rpc" and method in ("GET", "DELETE"):
        with state.lock:
            if method == "DELETE":
                state.agent_rpc_connections.clear()
                state.agent_rpc_calls.clear()
                state.agent_rpc_faults.clear()
                return empty(204)
            return json_resp(200, {"connections": state.agent_rpc_connections, "calls": state.agent_rpc_calls,
                                   "faults": [f for f in state.agent_rpc_faults if f["count"] > 0]})
    elif path == "/__emulator/agent-rpc/faults" and method == "POST":
        body = _body(req)
        if isinstance(body, Exception) or not isinstance(body, dict) or not isinstance(body.get("faults"), list):
            return json_resp(400, {"message": 'Body must be {"faults": [...]}.'})
        try:
            agent_rpc.add_faults(state, body["faults"])
        except ValueError as exc:
            return json_resp(400, {"message": f"Invalid fault: {exc}"})
        with state.lock:
            return json_resp(201, {"faults": [f for f in state.agent_rpc_faults if f["count"] > 0]})
    elif path == "/__emulator/state" and method == "GET":
        return json_resp(200, state.dump())
    return json_resp(404, {"message": "Unknown emulator route."})
