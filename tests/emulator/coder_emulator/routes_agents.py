"""Workspace agent routes (reference §1.3, §9.2-§9.5, §13 "Agents").

``/workspaceagents/me/*`` authenticate with the agent token of the latest completed build
(workspaces.authenticate_agent); the router registers them without user authentication. The
WebSocket/dRPC channel (``/workspaceagents/me/rpc``) lives in ``agent_rpc``.
"""

from . import workspaces as wsm
from .server import json_resp
from .util import ApiError, decode_body, fmt_time

LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
MAX_LOG_LINE = 1024  # workspace_agent_logs.output is varchar(1024)
MAX_LOGS_LENGTH = 1048576  # workspace_agents max_logs_length check constraint
APP_STATES = ("working", "idle", "complete", "failure")
REPORT_INTERVAL_NS = 30 * 10**9
_LIMIT_DETAIL = 'pq: new row for relation "workspace_agents" violates check constraint "max_logs_length"'


def sanitize_output(text: str) -> str:
    """agentsdk.SanitizeLogOutput: PostgreSQL rejects NUL in text columns, so NUL (and invalid UTF-8, which the
    JSON decoder already replaced) becomes a cross mark."""
    return text.replace("\x00", "❌")


# ---------------------------------------------------------------------- logs
def patch_logs(req):
    state = req.state
    with state.lock:
        agent, _ws, _build = wsm.authenticate_agent(req)
        body = decode_body(req.body, "PatchLogs", {"log_source_id": "uuid", "logs": "any"})
        logs = body["logs"]
        if logs is not None and (not isinstance(logs, list) or not all(isinstance(x, dict) for x in logs)):
            raise ApiError(400, "Request body must be valid JSON.",
                           "json: cannot unmarshal into Go struct field PatchLogs.logs of type []agentsdk.Log")
        if not logs:
            raise ApiError(400, "No logs provided.")
        t = state.clock()
        source_id = body["log_source_id"]
        if source_id in (None, wsm.NIL_UUID):
            # Legacy agents send no source: the built-in "External" source is created on first use.
            source_id = wsm.EXTERNAL_LOG_SOURCE_ID
            agent.log_sources.setdefault(source_id, {"id": source_id, "display_name": "External",
                                                     "icon": "/emojis/1f310.png", "created_at": t})
        outputs, levels = [], []
        for entry in logs:
            output, level = entry.get("output") or "", entry.get("level") or "info"
            if not isinstance(output, str) or not isinstance(level, str):
                raise ApiError(400, "Request body must be valid JSON.",
                               "json: cannot unmarshal into Go struct field Log.logs of type string")
            if level not in LOG_LEVELS:
                raise ApiError(400, "Invalid log level provided.", f'invalid log level: "{level}"')
            outputs.append(sanitize_output(output))
            levels.append(level)
        if any(len(o) > MAX_LOG_LINE for o in outputs):
            raise ApiError(500, "Failed to upload logs",
                           f"pq: value too long for type character varying({MAX_LOG_LINE})")
        # The length counts bytes of the sanitized output (Go's len), checked by one constraint for the batch.
        size = sum(len(o.encode("utf-8")) for o in outputs)
        if agent.logs_length + size > MAX_LOGS_LENGTH:
            if agent.logs_overflowed:
                raise ApiError(413, "Logs limit exceeded", _LIMIT_DETAIL)
            agent.logs_overflowed = True
            raise ApiError(413, "Logs limit exceeded")
        for output, level in zip(outputs, levels):
            state.agent_log_seq += 1
            # created_at is the server's insert time (dbtime.Now()), not the agent's timestamp.
            agent.logs.append((state.agent_log_seq, t, level, output, source_id))
        agent.logs_length += size
    return json_resp(200, None)


def get_logs(req):
    raw = req.q("after")
    after = 0
    if raw != "":
        try:
            after = int(raw, 10)
            if after < 0:
                raise ValueError
        except ValueError:
            raise ApiError(400, 'Query param "after" must be an integer greater than or equal to zero.',
                           validations=[{"field": "after",
                                         "detail": "Must be an integer greater than or equal to zero"}]) from None
    with req.state.lock:
        agent, _ws = wsm.agent_param(req)
        rows = [{"id": lid, "created_at": fmt_time(at), "output": output, "level": level, "source_id": source}
                for lid, at, level, output, source in agent.logs if lid > after]
    return json_resp(200, rows)


def post_log_source(req):
    state = req.state
    if state.version_tuple < (2, 13, 0):
        # Added as an HTTP route in v2.13.0 (reference 9.4): older servers do not route it.
        return json_resp(404, {"message": "Route not found."})
    with state.lock:
        agent, _ws, _build = wsm.authenticate_agent(req)
        body = decode_body(req.body, "PostLogSourceRequest", {"id": "uuid", "display_name": "str", "icon": "str"})
        t = state.clock()
        source_id = body["id"] or wsm.NIL_UUID
        # Idempotent: a repeated id keeps the stored row; the answer echoes the request either way.
        agent.log_sources.setdefault(source_id, {"id": source_id, "display_name": body["display_name"],
                                                 "icon": body["icon"], "created_at": t})
        return json_resp(201, {"workspace_agent_id": agent.id, "id": source_id, "created_at": fmt_time(t),
                               "display_name": body["display_name"], "icon": body["icon"]})


# ---------------------------------------------------------------------- app status
def patch_app_status(req):
    state = req.state
    with state.lock:
        agent, ws, _build = wsm.authenticate_agent(req)
        body = decode_body(req.body, "PatchAppStatus", {"app_slug": "str", "state": "str", "message": "str",
                                                        "uri": "str", "icon": "str", "needs_user_attention": "bool"})
        if body["state"] not in APP_STATES:
            raise ApiError(400, "Invalid state provided.", f'invalid state: "{body["state"]}"',
                           validations=[{"field": "state",
                                         "detail": "State must be one of: complete, failure, working, idle."}])
        app = next((a for a in agent.apps if a.slug == body["app_slug"]), None)
        if app is None:
            raise ApiError(400, "Failed to get workspace app.", f'No app found with slug "{body["app_slug"]}"')
        if len(body["message"]) > 160:
            raise ApiError(400, "Message is too long.", "Message must be less than 160 characters.",
                           validations=[{"field": "message", "detail": "Message must be less than 160 characters."}])
        t = state.clock()
        previous = app.statuses[-1]["state"] if app.statuses else None
        app.statuses.append(wsm.app_status_record(state, agent, ws, app, body, t))
        if body["state"] == "working" or previous == "working":
            # Working, or leaving working, counts as activity (since v2.30.0); last_used_at is not touched.
            wsm.activity_bump(state, ws, t)
    # The handler answers 200 with a nil body, like PATCH /logs.
    return json_resp(200, None)


# ---------------------------------------------------------------------- legacy stats (<= v2.12)
def post_report_stats(req):
    state = req.state
    if state.version_tuple >= (2, 13, 0):
        # Removed with the other agent v1 routes in v2.13.0 (reference §9.2).
        return json_resp(404, {"message": "Route not found."})
    with state.lock:
        _agent, ws, _build = wsm.authenticate_agent(req)
        body = decode_body(req.body, "Stats", {"connections_by_proto": "obj", "connection_count": "int"})
        if body["connections_by_proto"] is None:
            # An empty report only asks for the interval.
            return json_resp(200, {"report_interval": REPORT_INTERVAL_NS})
        t = state.clock()
        if body["connection_count"] > 0:
            wsm.activity_bump(state, ws, t)
        # v2.12 updated last_used_at on every report.
        ws.last_used_at = t
    return json_resp(200, {"report_interval": REPORT_INTERVAL_NS})


def get_agent(req):
    with req.state.lock:
        agent, _ws = wsm.agent_param(req)
        return json_resp(200, wsm.agent_json(req.state, agent))


def register(router):
    from . import agent_rpc
    agent_rpc.register(router)
    router.add("PATCH", "/workspaceagents/me/logs", patch_logs, auth=False)
    router.add("POST", "/workspaceagents/me/log-source", post_log_source, auth=False)
    router.add("PATCH", "/workspaceagents/me/app-status", patch_app_status, auth=False)
    router.add("POST", "/workspaceagents/me/report-stats", post_report_stats, auth=False)
    router.add("GET", "/workspaceagents/{workspaceagent}", get_agent)
    router.add("GET", "/workspaceagents/{workspaceagent}/logs", get_logs)
