# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Coder workspaces for the activity and log modules: find a workspace, read its deadline and latest build,
extend it, report usage with a user token, and the agent-token routes (legacy report-stats, app status, the
agent channel's UpdateStats, logs and log sources).

Which route keeps a workspace alive depends on the server version (reference section 9): the HTTP stats
route was removed in v2.13.0, app status ``working`` bumps the deadline since v2.30.0, and an UpdateStats
call over the agent channel from anything but the agent itself stopped disturbing the agent in v2.31.1.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import uuid

from ._client import CoderAPIError, is_uuid, path_segment
from ._errors import CoderError, CoderInputError
from ._plan import Plan, Step

try:
    # Shipped in its own file; the rpc route says it is missing instead of the module failing to load.
    from ._agent_rpc import AgentRPCError, update_stats

    HAS_AGENT_RPC = True
except ImportError:  # pragma: no cover - depends on the installed collection
    AgentRPCError = CoderError
    update_stats = None
    HAS_AGENT_RPC = False

ROUTES = ("extend", "usage", "report_stats", "rpc", "app_status")
AGENT_ROUTES = ("report_stats", "rpc", "app_status")
# PUT /workspaces/{id}/extend refuses a deadline less than 30 minutes ahead (Coder checks 29 to allow for latency).
EXTEND_MINIMUM = dt.timedelta(minutes=30)
# A deadline this close to "now + keep_alive_for" counts as far enough, so that a rerun a few seconds after an
# extension is not a change (the clock moved, the deadline did not).
KEEP_ALIVE_TOLERANCE = dt.timedelta(minutes=1)
REPORT_STATS_REMOVED_IN = (2, 13, 0)
LOG_SOURCES_SINCE = (2, 13, 0)
APP_STATUS_BUMPS_SINCE = (2, 30, 0)
# From this version an UpdateStats caller with a role other than "agent" no longer replaces the agent's own
# connection, so the real agent does not show as disconnected.
RPC_SIDE_EFFECT_FREE_SINCE = (2, 31, 1)
RPC_ROLE = "ansible"
# Coder's codersdk.AllowedAppNames; "ssh" is the least surprising session kind for automation.
USAGE_APP_NAME = "ssh"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")

# Logs: Coder stores each line in a varchar(1024), caps an agent's logs at 1 MiB of output (413 beyond), and
# the module keeps each request under 1 MiB too.
MAX_LOG_LINE = 1024
MAX_REQUEST_BYTES = 1_048_576
LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
# The namespace of log source ids: uuid5(LOG_SOURCE_NAMESPACE, source_name) is the same on every run and host,
# so a rerun registers the same source again instead of a second one.
LOG_SOURCE_NAMESPACE = uuid.UUID("5d0b7c36-2f7e-4d7a-9c1e-6a1f3b8e2c40")


# ---- time ---------------------------------------------------------------------------------------

def parse_time(text):
    """An aware UTC datetime from Coder's RFC 3339 text; None for null, empty and Go's zero time."""
    if not text or text == GO_ZERO_TIME:
        return None
    match = TIME_RE.match(text)
    if not match:
        raise CoderError(f"Coder returned a time that is not RFC 3339: '{text}'.")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = dt.timedelta(0)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    value = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                        dt.timezone(offset))
    return value.astimezone(dt.timezone.utc)


def format_time(value):
    """RFC 3339 in UTC, whole seconds (a fraction is cut, so a capped deadline never passes max_deadline)."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_now(headers):
    """The server's clock from its Date header: Coder judges "30 minutes from now" by its own clock, not ours.
    The local clock when the header is missing or unreadable."""
    try:
        value = email.utils.parsedate_to_datetime((headers or {}).get("Date"))
    except (TypeError, ValueError, IndexError):
        value = None
    if value is None or value.tzinfo is None:
        return dt.datetime.now(dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def describe_duration(delta):
    """``2h 5m`` for humans."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes or not (days or hours)
             else ""]
    return " ".join(part for part in parts if part)


# ---- finding a workspace ----------------------------------------------------------------------

def workspace_path(reference):
    """The API path of one workspace given as ``owner/name``, a bare ``name`` (the token user's own) or an id."""
    reference = (reference or "").strip()
    if is_uuid(reference):
        return f"/workspaces/{reference}"
    owner, _slash, name = reference.rpartition("/")
    if not name or reference.count("/") > 1:
        raise CoderInputError("workspace", f"'{reference}' is not a workspace: use owner/name, a name of your own "
                              "workspace, or the workspace's id.")
    return f"/users/{path_segment(owner or 'me')}/workspace/{path_segment(name)}"


def find_workspace(client, reference):
    """(workspace, server time) for ``owner/name``, a bare ``name`` (the token's own) or an id."""
    path = workspace_path(reference)
    # 410: a workspace read by id after it was deleted (Coder keeps its record).
    response = client.request("GET", path, expected=(404, 410))
    if response.status == 410:
        raise CoderInputError("workspace", f"workspace '{reference}' was deleted.")
    if response.status == 404:
        raise CoderInputError("workspace", f"no workspace '{reference}' is visible to this token.")
    return response.body, server_now(response.headers)


def workspace_label(workspace):
    return f"'{workspace.get('owner_name', '?')}/{workspace.get('name', '?')}'"


def deadlines(workspace):
    """(deadline, max_deadline) of the latest build; None where Coder has none."""
    build = workspace.get("latest_build") or {}
    return parse_time(build.get("deadline")), parse_time(build.get("max_deadline"))


def first_agent_id(workspace):
    for resource in (workspace.get("latest_build") or {}).get("resources") or []:
        for agent in resource.get("agents") or []:
            return agent.get("id")
    return None


def inactive_reason(workspace):
    """Why nothing can keep this workspace alive now, in plain words; None when it is running."""
    build = workspace.get("latest_build") or {}
    transition = build.get("transition")
    job = (build.get("job") or {}).get("status")
    label = workspace_label(workspace)
    if job in ("pending", "running"):
        doing = {"start": "starting", "stop": "stopping", "delete": "being deleted"}.get(transition, "building")
        return f"workspace {label} is {doing}: its latest build has not finished. Try again once it has."
    if job in ("failed", "canceled", "canceling"):
        return (f"the latest {transition} build of workspace {label} {'failed' if job == 'failed' else 'was canceled'};"
                " it is not running, so there is nothing to keep alive. Start it again first.")
    if transition == "delete":
        return f"workspace {label} is deleted."
    if transition == "stop":
        if build.get("reason") == "autostop":
            how = "by its schedule (its deadline passed)"
        elif build.get("initiator_name"):
            how = f"by {build['initiator_name']}"
        else:
            how = "manually"
        return (f"workspace {label} was stopped {how}; activity does not start a workspace. Start it first "
                "(coder start, or the dashboard).")
    return None


# ---- choosing a route -------------------------------------------------------------------------

def choose_route(route, version, has_token, has_workspace, has_agent_token, keep_alive_ms=None, app_slug=None,
                 allow_disconnect=False, rpc_available=None):
    """The route to use, from the server version and the credentials given; raises CoderInputError naming
    what is missing or what the server needs instead."""
    rpc_available = HAS_AGENT_RPC if rpc_available is None else rpc_available
    user_ready = has_token and has_workspace
    if route == "auto":
        if keep_alive_ms is not None or (user_ready and not has_agent_token):
            route = "extend" if keep_alive_ms is not None else "usage"
        elif has_agent_token:
            return _agent_route(version, app_slug, allow_disconnect, rpc_available)
        else:
            raise CoderInputError("agent_token", "give token and workspace (extend or usage), or agent_token (the "
                                  "workspace agent's token, for the agent routes).")
    if route in ("extend", "usage"):
        if not user_ready:
            raise CoderInputError("workspace" if has_token else "token",
                                  f"route {route} needs a user token (token or CODER_SESSION_TOKEN) and workspace.")
        if route == "extend" and keep_alive_ms is None:
            raise CoderInputError("keep_alive_for", "route extend needs keep_alive_for: how long the workspace must "
                                  "stay up from now.")
        return route
    if not has_agent_token:
        raise CoderInputError("agent_token", f"route {route} needs the workspace agent's token (agent_token or "
                              "CODER_AGENT_TOKEN).")
    problem = _agent_route_problem(route, version, app_slug, allow_disconnect, rpc_available)
    if problem:
        raise CoderInputError("route", problem)
    return route


def _agent_route(version, app_slug, allow_disconnect, rpc_available):
    """The first agent route that works on this server, in order of fewest side effects."""
    problems = []
    for candidate in ("report_stats", "rpc", "app_status"):
        if candidate == "rpc" and version < RPC_SIDE_EFFECT_FREE_SINCE \
                and not _agent_route_problem("app_status", version, app_slug, allow_disconnect, rpc_available):
            # Allowed or not, the agent's brief disconnect is worse than an app status when both work.
            continue
        problem = _agent_route_problem(candidate, version, app_slug, allow_disconnect, rpc_available)
        if not problem:
            return candidate
        problems.append(problem)
    shown = ".".join(str(part) for part in version)
    raise CoderInputError("route", f"no agent route keeps a workspace alive on this Coder server ({shown}) with the "
                          "options given: " + " ".join(problems) + " Alternatively give token and workspace to "
                          "use the extend or usage route.")


def _agent_route_problem(route, version, app_slug, allow_disconnect, rpc_available):
    shown = ".".join(str(part) for part in version)
    if route == "report_stats":
        if version >= REPORT_STATS_REMOVED_IN:
            return f"report_stats was removed in Coder v2.13.0 (this server is {shown})."
    elif route == "rpc":
        if not rpc_available:
            return "rpc needs plugins/module_utils/_agent_rpc.py, which this installation of the collection lacks."
        if version < RPC_SIDE_EFFECT_FREE_SINCE and not allow_disconnect:
            return (f"rpc needs Coder v2.31.1 or newer (this server is {shown}), or "
                    "allow_agent_disconnect_side_effect=true: on older servers the call makes the real agent look "
                    "disconnected for a moment.")
    elif route == "app_status":
        if version < APP_STATUS_BUMPS_SINCE:
            return f"app_status keeps a workspace alive only from Coder v2.30.0 (this server is {shown})."
        if not app_slug:
            return "app_status needs app_slug, the slug of an app of the agent."
    return None


# ---- the extension ----------------------------------------------------------------------------

class Extension:
    """What keep_alive_for needs: ``action`` is ``none`` (far enough already), ``manual`` (no deadline: the
    workspace never stops on its own), ``extend`` (to ``target``; ``capped`` when max_deadline cut it short) or
    ``limit`` (the template's maximum lifetime is reached: it stops at ``deadline`` whatever is done)."""

    def __init__(self, action, target=None, capped=False, message=""):
        self.action = action
        self.target = target
        self.capped = capped
        self.message = message


def plan_extension(now, deadline, max_deadline, keep_alive_ms):
    wanted = now + dt.timedelta(milliseconds=keep_alive_ms)
    if deadline is None:
        return Extension("manual", message="its shutdown is manual (no deadline), so it does not stop on its own.")
    if deadline >= wanted - KEEP_ALIVE_TOLERANCE:
        return Extension("none", message=f"its deadline {format_time(deadline)} is already at least "
                                         f"{describe_duration(wanted - now)} away.")
    target = max(wanted, now + EXTEND_MINIMUM)
    capped = max_deadline is not None and target > max_deadline
    if capped:
        target = max_deadline
    # What is sent is whole seconds; Coder's minimum allows a minute of slack, so cutting a fraction is safe.
    target = target.replace(microsecond=0)
    if capped and (target <= deadline or target < now + EXTEND_MINIMUM):
        stops = min(deadline, max_deadline)
        return Extension("limit", message=f"it will stop at {format_time(stops)} (in "
                         f"{describe_duration(stops - now)}): its template's maximum lifetime ends then "
                         f"(max_deadline {format_time(max_deadline)}), and nothing can move it. Coder extends only up "
                         "to that time and at least 30 minutes ahead.")
    message = f"extend its deadline from {format_time(deadline)} to {format_time(target)}"
    if capped:
        message += (f", the template's maximum lifetime (max_deadline), {describe_duration(wanted - target)} short "
                    "of keep_alive_for")
    elif target > wanted:
        message += " (Coder's minimum extension is 30 minutes from now)"
    return Extension("extend", target=target, capped=capped, message=message + ".")


def extend(client, workspace, target):
    """PUT /workspaces/{id}/extend; Coder's 409s and 400s become plain words."""
    label = workspace_label(workspace)
    try:
        client.request("PUT", f"/workspaces/{workspace['id']}/extend", body={"deadline": format_time(target)})
    except CoderAPIError as error:
        if error.status == 409:
            raise CoderError(f"workspace {label} cannot be extended: {_plain_conflict(error.message)}") from None
        if error.status == 400 and "max deadline" in error.message.lower():
            raise CoderError(f"workspace {label} cannot be extended to {format_time(target)}: that is after the end "
                             "of its template's maximum lifetime (max_deadline).") from None
        raise


def _plain_conflict(message):
    lowered = message.lower()
    if "manual" in lowered:
        return "its shutdown is manual (it has no deadline), so it does not stop on its own."
    if "building" in lowered:
        return "it is still building; try again once the build has finished."
    if "must be started" in lowered:
        return "it is not running (its latest build is not a start); start it first."
    if "prebuil" in lowered:
        return "it is a prebuilt workspace, which has no deadline to extend."
    return f"Coder says: {message}"


# ---- user-token usage -------------------------------------------------------------------------

def report_usage(client, workspace):
    """POST /workspaces/{id}/usage: records last_used_at; bumps the deadline only with the workspace-usage
    experiment, for which it names an agent and a session kind."""
    agent_id = first_agent_id(workspace)
    body = {"agent_id": agent_id, "app_name": USAGE_APP_NAME} if agent_id else None
    client.request("POST", f"/workspaces/{workspace['id']}/usage", body=body)


# ---- agent-token routes -----------------------------------------------------------------------

AGENT_TOKEN_REFUSED = ("Coder did not accept the agent token (agent_token or CODER_AGENT_TOKEN): the workspace is "
                       "stopped, still building or deleted, or the token belongs to an earlier build (every start "
                       "gives the agent a new token).")


def check_agent_token(token):
    token = (token or "").strip()
    if not token:
        raise CoderInputError("agent_token", "is required: set the agent_token option or the CODER_AGENT_TOKEN "
                              "environment variable.")
    if not is_uuid(token):
        raise CoderInputError("agent_token", "a workspace agent token is a UUID (CODER_AGENT_TOKEN inside the "
                              "workspace); the value given is not one (not shown).")
    return token


def agent_request(client, method, path, body=None, optional_route=False):
    """A request to /workspaceagents/me/*; a refused agent token becomes plain words."""
    try:
        return client.request(method, path, body=body, optional_route=optional_route)
    except CoderAPIError as error:
        if error.status == 401:
            raise CoderError(AGENT_TOKEN_REFUSED + f" Coder says: {error.message or 'unauthorized'}") from None
        raise


def report_stats(client):
    """POST /workspaceagents/me/report-stats (Coder v2.12 and older): one connection, so the deadline is bumped.
    Returns the report interval in seconds."""
    stats = {"connections_by_proto": {"tcp": 1}, "connection_count": 1, "connection_median_latency_ms": 0,
             "rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0, "session_count_vscode": 0,
             "session_count_jetbrains": 0, "session_count_reconnecting_pty": 0, "session_count_ssh": 0,
             "metrics": []}
    response = agent_request(client, "POST", "/workspaceagents/me/report-stats", stats, optional_route=True)
    if response.status == 404:
        raise CoderError("this Coder server has no /workspaceagents/me/report-stats (removed in v2.13.0); use "
                         "route rpc or app_status.")
    interval = (response.body or {}).get("report_interval")
    return interval / 1e9 if isinstance(interval, (int, float)) else None


def report_rpc(client, agent_token, validate_certs=True, ca_path=None):
    """UpdateStats over the agent channel with one connection and a role other than the agent's."""
    if not HAS_AGENT_RPC:
        raise CoderError("the rpc route needs plugins/module_utils/_agent_rpc.py, which this installation lacks.")
    try:
        return update_stats(client.base_url, agent_token, connection_count=1, role=RPC_ROLE, timeout=client.timeout,
                            verify=validate_certs, ca_path=ca_path)
    except AgentRPCError as error:
        if getattr(error, "status", None) == 401:
            raise CoderError(AGENT_TOKEN_REFUSED + f" Coder says: {error}") from None
        raise


def set_app_status(client, app_slug, message):
    """PATCH /workspaceagents/me/app-status with ``working``, which bumps the deadline (Coder v2.30.0+)."""
    body = {"app_slug": app_slug, "state": "working", "message": message, "uri": ""}
    try:
        agent_request(client, "PATCH", "/workspaceagents/me/app-status", body)
    except CoderAPIError as error:
        if error.status == 400 and "app" in (error.message + error.detail).lower() and "slug" in error.detail.lower():
            raise CoderInputError("app_slug", f"the agent has no app '{app_slug}' (Coder says: {error.detail}).") \
                from None
        raise


# ---- the activity plan ------------------------------------------------------------------------

def plan_activity(route, workspace=None, extension=None, app_slug=None, status_message="", agent_token=None,
                  validate_certs=True, ca_path=None):
    """The plan of one activity task. ``extension`` is ``plan_extension``'s answer for the extend route."""
    if route == "extend":
        plan = Plan(action="update")
        if extension.action == "extend":
            deadline, _max = deadlines(workspace)
            plan.add("deadline", format_time(deadline), format_time(extension.target),
                     Step(extension.message[0].lower() + extension.message[1:],
                          lambda client, context: extend(client, workspace, extension.target)))
        return plan
    descriptions = {
        "usage": "report usage of the workspace (POST /workspaces/{id}/usage)",
        "report_stats": "report one connection (POST /workspaceagents/me/report-stats)",
        "rpc": "report one connection over the agent channel (UpdateStats)",
        "app_status": f"set the status of app '{app_slug}' to working (PATCH /workspaceagents/me/app-status)",
    }

    def run(client, context):
        if route == "usage":
            report_usage(client, workspace)
        elif route == "report_stats":
            context["report_interval"] = report_stats(client)
        elif route == "rpc":
            context["report_interval"] = report_rpc(client, agent_token, validate_certs, ca_path)
        else:
            set_app_status(client, app_slug, status_message)

    return Plan(action="update", steps=[Step(descriptions[route], run)])


# ---- logs -------------------------------------------------------------------------------------

def log_source_id(name):
    return str(uuid.uuid5(LOG_SOURCE_NAMESPACE, name))


def split_lines(lines, limit=MAX_LOG_LINE):
    """Each entry split at line breaks, then into pieces of at most ``limit`` characters."""
    pieces = []
    for entry in lines:
        for line in str(entry).splitlines() or [""]:
            if not line:
                pieces.append("")
            for start in range(0, len(line), limit):
                pieces.append(line[start:start + limit])
    return pieces


def log_entries(lines, level, when=None):
    """The logs of one PATCH, timestamped in RFC 3339 UTC (one timestamp per run: the order is the list's)."""
    when = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"
    return [{"created_at": stamp, "output": line, "level": level} for line in lines]


def batches(entries, source_id=None, max_bytes=MAX_REQUEST_BYTES):
    """Entries grouped so that each request body stays under ``max_bytes``."""
    envelope = len(json.dumps({"log_source_id": source_id, "logs": []}).encode("utf-8"))
    groups, current, size = [], [], envelope
    for entry in entries:
        # requests encodes with json.dumps' default separators: ", " between entries.
        entry_size = len(json.dumps(entry).encode("utf-8")) + 2
        if current and size + entry_size > max_bytes:
            groups.append(current)
            current, size = [], envelope
        current.append(entry)
        size += entry_size
    if current:
        groups.append(current)
    return groups


def register_log_source(client, source_id, name, icon=""):
    """POST /workspaceagents/me/log-source; the same id again is accepted without a second source."""
    agent_request(client, "POST", "/workspaceagents/me/log-source",
                  {"id": source_id, "display_name": name, "icon": icon or ""})


def push_logs(client, source_id, groups):
    """PATCH /workspaceagents/me/logs per group. Stops at Coder's per-agent log limit (413) and returns
    ``{"sent": lines, "requests": n, "dropped": lines, "dropped_bytes": bytes}``."""
    result = {"sent": 0, "requests": 0, "dropped": 0, "dropped_bytes": 0}
    for index, group in enumerate(groups):
        body = {"logs": group}
        if source_id:
            body["log_source_id"] = source_id
        try:
            agent_request(client, "PATCH", "/workspaceagents/me/logs", body)
        except CoderAPIError as error:
            if error.status != 413:
                raise
            rest = [entry for later in groups[index:] for entry in later]
            result["dropped"] = len(rest)
            result["dropped_bytes"] = sum(len(entry["output"].encode("utf-8")) for entry in rest)
            return result
        result["sent"] += len(group)
        result["requests"] += 1
    return result
