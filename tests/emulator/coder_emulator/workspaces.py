"""Workspaces, builds, agents and apps (reference sections 9 and 13): the model rules and the JSON views.

Builds are not run by the provisioner here: a test states each build's transition and job status
(POST /__emulator/workspaces, POST /__emulator/workspaces/{id}/builds). Every time in this area comes
from the test clock (State.clock). Autostop is applied lazily (``run_autostop``) on the reads and writes
of this area and when the clock is advanced, instead of coderd's lifecycle executor ticking every minute.
"""

import datetime as dt

from .util import NIL_UUID, ApiError, fmt_time, new_uuid, not_found, parse_uuid

TRANSITIONS = ("start", "stop", "delete")
JOB_STATUSES = ("pending", "running", "succeeded", "failed", "canceling", "canceled")
_COMPLETED = ("succeeded", "failed", "canceled")
EXTERNAL_LOG_SOURCE_ID = "3b579bf4-1ed8-4b99-87a8-e9a1e3410410"  # agentsdk.ExternalLogSourceID
_SITE_READERS = {"owner", "auditor"}


def ms(value) -> dt.timedelta:
    return dt.timedelta(milliseconds=value)


# ---------------------------------------------------------------------- builds
def add_build(state, ws, *, transition="start", job_status="succeeded", initiator_id=None, reason="initiator",
              at=None):
    """Append a build. A start build gets fresh agents (new tokens), so the previous build's tokens stop
    authenticating; stop and delete builds have no agents, as a typical template's stopped resources.

    A completed start build gets deadline = completion + workspace TTL (none without a TTL: manual shutdown)
    and, when the test gave ``max_ttl_ms``, max_deadline = completion + that (provisionerdserver does this on
    job completion from the template schedule).

    A delete build whose job succeeded marks the workspace deleted: provisionerdserver's CompleteJob calls
    UpdateWorkspaceDeletedByID for a delete transition. A pending, running, failed or canceled one does not:
    only that success path sets the flag, and nothing clears it."""
    if transition not in TRANSITIONS:
        raise ValueError(f"transition must be one of {', '.join(TRANSITIONS)}")
    if job_status not in JOB_STATUSES:
        raise ValueError(f"job_status must be one of {', '.join(JOB_STATUSES)}")
    t = at or state.clock()
    tpl = state.templates.get(ws.template_id) if ws.template_id else None
    if tpl is not None:
        # New builds use the template's active version.
        ws.template_version_id = tpl.active_version_id
    from .state import WorkspaceBuild
    build = WorkspaceBuild(id=new_uuid(), workspace_id=ws.id, number=len(ws.builds) + 1, transition=transition,
                           job_status=job_status, job_id=new_uuid(), initiator_id=initiator_id or ws.owner_id,
                           created_at=t, updated_at=t, template_version_id=ws.template_version_id, reason=reason,
                           resource_id=new_uuid())
    if job_status != "pending":
        build.job_started_at = t
    if job_status in _COMPLETED:
        build.job_completed_at = t
    if transition == "start":
        for name in ws.agent_names:
            agent = _new_agent(state, ws, build, name, t)
            build.agents.append(agent)
        if job_status in _COMPLETED:
            if ws.ttl_ms:
                build.deadline = t + ms(ws.ttl_ms)
            if ws.max_ttl_ms:
                build.max_deadline = t + ms(ws.max_ttl_ms)
                if build.deadline is not None and build.deadline > build.max_deadline:
                    build.deadline = build.max_deadline
    if transition == "delete" and job_status == "succeeded":
        ws.deleted = True
    ws.builds.append(build)
    ws.updated_at = t
    state.workspace_builds[build.id] = build
    return build


def _new_agent(state, ws, build, name, t):
    from .state import WorkspaceAgent, WorkspaceApp
    agent = WorkspaceAgent(id=new_uuid(), name=name, token=new_uuid(), resource_id=build.resource_id,
                           build_id=build.id, workspace_id=ws.id, created_at=t)
    # Apps belong to the first agent (an app resource references one agent).
    if name == ws.agent_names[0]:
        agent.apps = [WorkspaceApp(id=new_uuid(), slug=slug, display_name=slug) for slug in ws.app_slugs]
    state.agents[agent.id] = agent
    state.agents_by_token[agent.token] = agent
    return agent


def job_completed(build) -> bool:
    return build.job_completed_at is not None


def build_status(build) -> str:
    """codersdk.WorkspaceStatus from the transition and the job status (db2sdk / convertWorkspaceStatus)."""
    job = build.job_status
    if job == "pending":
        return "pending"
    if job == "running":
        return {"start": "starting", "stop": "stopping", "delete": "deleting"}[build.transition]
    if job in ("failed", "canceling", "canceled"):
        return job
    return {"start": "running", "stop": "stopped", "delete": "deleted"}[build.transition]


# ---------------------------------------------------------------------- schedule rules
def run_autostop(state, t=None):
    """Stop every running workspace whose deadline has passed (autobuild executor, isEligibleForAutostop:
    latest build is a start whose job succeeded, with a deadline that is not after now).

    The stop build is dated at the deadline, as an executor tick right then would have made it. The
    executor initiates it as the workspace owner with reason ``autostop``."""
    t = t or state.clock()
    with state.lock:
        for ws in list(state.workspaces.values()):
            build = ws.latest_build
            if (build is None or build.transition != "start" or build.job_status != "succeeded"
                    or build.deadline is None or build.deadline > t):
                continue
            add_build(state, ws, transition="stop", reason="autostop", at=build.deadline)


def activity_bump(state, ws, t=None) -> bool:
    """SQL ActivityBumpWorkspace (reference §9.6). Returns whether the deadline moved.

    Left out: the rule that extends a bump crossing the next autostart to autostart + TTL (the emulator
    has no autostart schedules yet)."""
    t = t or state.clock()
    build = ws.latest_build
    tpl = state.templates.get(ws.template_id) if ws.template_id else None
    if build is None or tpl is None:
        return False  # the query joins templates: a workspace without one is never bumped
    if not job_completed(build) or build.transition != "start" or build.deadline is None:
        return False
    bump = ms(tpl.activity_bump_ms)
    if bump <= dt.timedelta(0):
        return False
    # Only once 5% of the bump interval has elapsed relative to the deadline.
    if not build.deadline - bump * 0.95 < t:
        return False
    new = max(build.deadline, t + bump)  # never shortens
    if build.max_deadline is not None:
        new = min(new, build.max_deadline)
    if new == build.deadline:
        return False
    build.deadline = new
    build.updated_at = t
    return True


# ---------------------------------------------------------------------- access
def _org_roles(state, actor, org_id):
    m = state.membership(org_id, actor.id)
    return set(m.roles) if m is not None else set()


def can_read_workspace(state, actor, ws) -> bool:
    if actor.id == ws.owner_id or _SITE_READERS.intersection(actor.roles):
        return True
    return bool({"organization-admin", "organization-auditor"} & _org_roles(state, actor, ws.organization_id))


def can_update_workspace(state, actor, ws) -> bool:
    if actor.id == ws.owner_id or "owner" in actor.roles:
        return True
    return "organization-admin" in _org_roles(state, actor, ws.organization_id)


def uuid_param(req, name):
    raw = req.params[name]
    uid = parse_uuid(raw)
    if uid is None:
        from .template_access import go_uuid_error
        raise ApiError(400, f'Invalid UUID "{raw}".', go_uuid_error(raw))
    return uid


def workspace_param(req, name="workspace"):
    """httpmw.ExtractWorkspaceParam: UUID only; missing or unreadable -> 404."""
    ws = req.state.workspaces.get(uuid_param(req, name))
    if ws is None or not can_read_workspace(req.state, req.actor, ws):
        raise not_found()
    return ws


def agent_param(req, name="workspaceagent"):
    """httpmw.ExtractWorkspaceAgentParam: UUID only; the agent of any build of a readable workspace."""
    agent = req.state.agents.get(uuid_param(req, name))
    ws = req.state.workspaces.get(agent.workspace_id) if agent is not None else None
    if ws is None or not can_read_workspace(req.state, req.actor, ws):
        raise not_found()
    return agent, ws


# ---------------------------------------------------------------------- agent tokens
def authenticate_agent(req):
    """httpmw.ExtractWorkspaceAgentAndLatestBuild (reference §1.3). Returns (agent, workspace, build)."""
    from .server import extract_token
    state = req.state
    token = extract_token(req)
    if not token:
        raise ApiError(401, 'Cookie "coder_session_token" must be provided.')
    uid = parse_uuid(token)
    if uid is None:
        raise ApiError(401, "Workspace agent token invalid.",
                       f"An agent token must be a valid UUIDv4. (len {len(token)})")
    run_autostop(state)
    agent = state.agents_by_token.get(uid)
    ws = state.workspaces.get(agent.workspace_id) if agent is not None else None
    # GetWorkspaceAgentAndLatestBuildByAuthToken has ``workspaces.deleted = FALSE``: the agent of a deleted
    # workspace is unknown, even when a test built that workspace again after deleting it.
    if ws is not None and ws.deleted:
        ws = None
    build = ws.latest_build if ws is not None else None
    if agent is None or build is None or build.id != agent.build_id or not job_completed(build):
        raise ApiError(401, "Workspace agent not authorized.",
                       "The agent cannot authenticate until the workspace provision job has been completed. "
                       "If the job is no longer running, this agent is invalid.")
    return agent, ws, build


# ---------------------------------------------------------------------- JSON views
def app_status_json(status) -> dict:
    return dict(status, created_at=fmt_time(status["created_at"]))


def app_json(app) -> dict:
    # db2sdk.Apps for a coder_app with only slug and display_name set.
    return {
        "id": app.id,
        "external": False,
        "slug": app.slug,
        "display_name": app.display_name,
        "icon": "",
        "subdomain": False,
        "sharing_level": "owner",
        "healthcheck": {"url": "", "interval": 0, "threshold": 0},
        "health": "disabled",
        "hidden": False,
        "open_in": "slim-window",
        "statuses": [app_status_json(s) for s in reversed(app.statuses)],  # newest first
    }


def log_source_json(agent, src) -> dict:
    return {"workspace_agent_id": agent.id, "id": src["id"], "created_at": fmt_time(src["created_at"]),
            "display_name": src["display_name"], "icon": src["icon"]}


def agent_status(agent) -> str:
    """The connection status rule: "connecting" before any connection (timeout 0 never times out),
    "disconnected" when disconnected_at is not before last_connected_at, else "connected". Only a monitored
    agent RPC connection (agent_rpc.py) writes these timestamps; the emulator has no real agent."""
    if agent.first_connected_at is None:
        return "connecting"
    if agent.disconnected_at is not None and agent.disconnected_at >= agent.last_connected_at:
        return "disconnected"
    return "connected"


def agent_json(state, agent) -> dict:
    """db2sdk.WorkspaceAgent, lifecycle "created"; the status follows agent_status."""
    status = agent_status(agent)
    health = {"healthy": True} if status == "connected" else {"healthy": False, "reason": "agent is not connected"}
    d = {
        "id": agent.id,
        "parent_id": None,  # uuid.NullUUID marshals as null when not set
        "created_at": fmt_time(agent.created_at),
        "updated_at": fmt_time(agent.created_at),
    }
    # *time.Time with omitempty: only once set.
    for name in ("first_connected_at", "last_connected_at", "disconnected_at"):
        if getattr(agent, name) is not None:
            d[name] = fmt_time(getattr(agent, name))
    d.update({
        "status": status,
        "lifecycle_state": "created",
        "name": agent.name,
        "resource_id": agent.resource_id,
        "architecture": "amd64",
        "environment_variables": {},
        "operating_system": "linux",
        "logs_length": agent.logs_length,
        "logs_overflowed": agent.logs_overflowed,
        "version": "",
        "api_version": "",
        "apps": [app_json(a) for a in agent.apps],
        "connection_timeout_seconds": 0,
        "troubleshooting_url": "",
        "subsystems": [],
        "health": health,
        "display_apps": ["vscode", "vscode_insiders", "web_terminal", "ssh_helper", "port_forwarding_helper"],
        "log_sources": [log_source_json(agent, s) for s in agent.log_sources.values()],
        "scripts": [],
        "startup_script_behavior": "non-blocking",
    })
    return d


def _job_json(state, ws, build) -> dict:
    d = {"id": build.job_id, "created_at": fmt_time(build.created_at)}
    if build.job_started_at is not None:
        d["started_at"] = fmt_time(build.job_started_at)
    if build.job_completed_at is not None:
        d["completed_at"] = fmt_time(build.job_completed_at)
    if build.job_status in ("canceling", "canceled"):
        d["canceled_at"] = fmt_time(build.job_completed_at or build.job_started_at or build.created_at)
    if build.job_status == "failed":
        d["error"] = "emulated build failure"
    d["status"] = build.job_status
    tpl = state.templates.get(ws.template_id) if ws.template_id else None
    version = state.versions.get(build.template_version_id) if build.template_version_id else None
    d.update({
        "file_id": version.job.file_id if version else NIL_UUID,
        "tags": {"scope": "organization", "owner": ""},
        "queue_position": 0,
        "queue_size": 0,
        "organization_id": ws.organization_id,
        "initiator_id": build.initiator_id,
        "input": {"workspace_build_id": build.id},
        "type": "workspace_build",
        "metadata": {
            "template_version_name": version.name if version else "",
            "template_id": tpl.id if tpl else NIL_UUID,
            "template_name": tpl.name if tpl else "",
            "template_display_name": tpl.display_name if tpl else "",
            "template_icon": tpl.icon if tpl else "",
            "workspace_id": ws.id,
            "workspace_name": ws.name,
            "workspace_build_transition": build.transition,
        },
        "logs_overflowed": False,
    })
    return d


def resource_json(build) -> dict:
    return {
        "id": build.resource_id,
        "created_at": fmt_time(build.created_at),
        "job_id": build.job_id,
        "workspace_transition": build.transition,
        "type": "docker_container" if build.transition == "start" else "null_resource",
        "name": "main",
        "hide": False,
        "icon": "",
        "agents": None,  # replaced below
        "metadata": [],
        "daily_cost": 0,
    }


def build_json(state, ws, build) -> dict:
    owner = state.users.get(ws.owner_id)
    initiator = state.users.get(build.initiator_id)
    version = state.versions.get(build.template_version_id) if build.template_version_id else None
    resource = resource_json(build)
    resource["agents"] = [agent_json(state, a) for a in build.agents]
    d = {
        "id": build.id,
        "created_at": fmt_time(build.created_at),
        "updated_at": fmt_time(build.updated_at),
        "workspace_id": ws.id,
        "workspace_name": ws.name,
        "workspace_owner_id": ws.owner_id,
    }
    if owner is not None:
        d["workspace_owner_name"] = owner.username
        if owner.avatar_url:
            d["workspace_owner_avatar_url"] = owner.avatar_url
    d.update({
        "template_version_id": build.template_version_id or NIL_UUID,
        "template_version_name": version.name if version else "",
        "build_number": build.number,
        "transition": build.transition,
        "initiator_id": build.initiator_id,
        "initiator_name": initiator.username if initiator else "",
        "job": _job_json(state, ws, build),
        "reason": build.reason,
        "resources": [resource],
        # codersdk.NullTime: null when unset (omitempty does not drop a struct).
        "deadline": fmt_time(build.deadline) if build.deadline is not None else None,
        "max_deadline": fmt_time(build.max_deadline) if build.max_deadline is not None else None,
        "status": build_status(build),
        "daily_cost": 0,
        "template_version_preset_id": None,
        "has_ai_task": False,
        "has_external_agent": False,
    })
    return d


def latest_app_status(ws):
    build = ws.latest_build
    newest = None
    for agent in build.agents if build else ():
        for app in agent.apps:
            for status in app.statuses:
                if newest is None or status["created_at"] > newest["created_at"]:
                    newest = status
    return newest


def _health(build) -> dict:
    """convertWorkspace: the agents whose own health (agent_json: healthy only when connected) fails."""
    failing = [a.id for a in build.agents if agent_status(a) != "connected"]
    return {"healthy": not failing, "failing_agents": failing}


def workspace_json(state, ws) -> dict:
    owner = state.users.get(ws.owner_id)
    org = state.orgs.get(ws.organization_id)
    tpl = state.templates.get(ws.template_id) if ws.template_id else None
    build = ws.latest_build
    status = latest_app_status(ws)
    d = {
        "id": ws.id,
        "created_at": fmt_time(ws.created_at),
        "updated_at": fmt_time(ws.updated_at or ws.created_at),
        "owner_id": ws.owner_id,
        "owner_name": owner.username if owner else "",
        "owner_avatar_url": owner.avatar_url if owner else "",
        "organization_id": ws.organization_id,
        "organization_name": org.name if org else "",
        "template_id": tpl.id if tpl else NIL_UUID,
        "template_name": tpl.name if tpl else "",
        "template_display_name": tpl.display_name if tpl else "",
        "template_icon": tpl.icon if tpl else "",
        "template_allow_user_cancel_workspace_jobs": tpl.allow_user_cancel_workspace_jobs if tpl else False,
        "template_active_version_id": tpl.active_version_id if tpl else NIL_UUID,
        "template_require_active_version": tpl.require_active_version if tpl else False,
        "template_use_classic_parameter_flow": tpl.use_classic_parameter_flow if tpl else False,
        "latest_build": build_json(state, ws, build),
        # *WorkspaceAppStatus: null when there is none.
        "latest_app_status": app_status_json(status) if status is not None else None,
        "outdated": bool(tpl) and build.template_version_id != tpl.active_version_id,
        "name": ws.name,
    }
    if ws.ttl_ms:
        d["ttl_ms"] = ws.ttl_ms  # *int64 with omitempty
    d.update({
        "last_used_at": fmt_time(ws.last_used_at),
        "health": _health(build),
        "automatic_updates": "never",
        "allow_renames": False,
        "favorite": False,
        "is_prebuild": False,
        "task_id": None,  # uuid.NullUUID marshals as null when not set
    })
    return d


def app_status_record(state, agent, ws, app, body, t) -> dict:
    return {"id": new_uuid(), "created_at": t, "workspace_id": ws.id, "agent_id": agent.id,
            "app_id": app.id, "state": body["state"], "message": body["message"], "uri": body["uri"],
            "icon": "", "needs_user_attention": False}
