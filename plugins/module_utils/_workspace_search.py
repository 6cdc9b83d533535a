# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading workspaces for the coder inventory plugin and coder_workspace_info: Coder's workspace search
(``GET /workspaces?q=...``), one workspace by reference, and the shape both show of a workspace and its agents.

Coder's search takes each key once: ``owner:ana owner:bo`` is refused ("provided more than once"), and a key has
no list syntax. Several owners, templates or statuses are therefore read with one search per combination, and the
answers merged by workspace id.
"""

from __future__ import annotations

import itertools
import re

from ._errors import CoderAPIError, CoderInputError
from ._workspaces import workspace_path

# codersdk.WorkspaceStatus: the status of a workspace is the status of its latest build.
STATUSES = ("pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting",
            "deleted")
# A value inside q must stay one term: no space, quote or colon. Coder's names (users, templates, workspaces) are
# letters, digits and single hyphens; dots and underscores are let through for older names.
SEARCH_VALUE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_SEARCHES = 100

# (shown name, Coder's field) of what the shape keeps of a workspace, when Coder returns it.
WORKSPACE_FIELDS = (
    ("id", "id"), ("name", "name"), ("owner", "owner_name"), ("owner_id", "owner_id"),
    ("organization", "organization_name"), ("organization_id", "organization_id"),
    ("template", "template_name"), ("template_id", "template_id"), ("template_display_name", "template_display_name"),
    ("template_active_version_id", "template_active_version_id"), ("outdated", "outdated"), ("ttl_ms", "ttl_ms"),
    ("autostart_schedule", "autostart_schedule"), ("next_start_at", "next_start_at"),
    ("automatic_updates", "automatic_updates"), ("last_used_at", "last_used_at"), ("dormant_at", "dormant_at"),
    ("deleting_at", "deleting_at"), ("created_at", "created_at"), ("updated_at", "updated_at"),
    ("favorite", "favorite"), ("is_prebuild", "is_prebuild"),
)
BUILD_FIELDS = (
    ("id", "id"), ("build_number", "build_number"), ("reason", "reason"), ("initiator", "initiator_name"),
    ("template_version_id", "template_version_id"), ("template_version_name", "template_version_name"),
    ("created_at", "created_at"), ("updated_at", "updated_at"),
)
AGENT_FIELDS = (
    "id", "name", "parent_id", "status", "lifecycle_state", "operating_system", "architecture", "directory",
    "expanded_directory", "version", "api_version", "first_connected_at", "last_connected_at", "disconnected_at",
    "started_at", "ready_at", "health",
)


# ---- searching ----------------------------------------------------------------------------------

def _search_values(option, values, allowed=None):
    """The distinct values of one filter (letter case ignored, as Coder does), each checked to be one term."""
    seen, result = set(), []
    for value in values or []:
        if value is None or not str(value).strip():
            raise CoderInputError(option, "has an empty value; remove it, or remove the option to look for any.")
        value = str(value).strip()
        if allowed is not None and value.lower() not in allowed:
            raise CoderInputError(option, f"'{value}' is not a workspace status; use one of {', '.join(allowed)}.")
        if not SEARCH_VALUE_RE.match(value):
            raise CoderInputError(option, f"'{value}' is not a name Coder's workspace search can look for (letters, "
                                  "digits, '-', '_' and '.' only).")
        if value.lower() not in seen:
            seen.add(value.lower())
            result.append(value.lower() if allowed is not None else value)
    return result


def search_queries(owners=None, templates=None, statuses=None, name=None, query=None):
    """The ``q`` of every search needed: one per combination of owner, template and status, each with the name
    term and the free ``query`` terms. One empty ``q`` (every visible workspace) without filters."""
    terms = [
        [f"owner:{value}" for value in _search_values("owners", owners)],
        [f"template:{value}" for value in _search_values("templates", templates)],
        [f"status:{value}" for value in _search_values("statuses", statuses, STATUSES)],
    ]
    fixed = []
    if name:
        fixed.append(f"name:{_search_values('name', [name])[0]}")
    if query and query.strip():
        # Coder refuses a search key given twice; say which option already sets it before asking.
        set_by = {"owner": ("owners", owners), "template": ("templates", templates),
                  "status": ("statuses", statuses), "name": ("name", name)}
        for term in query.split():
            key = term.partition(":")[0].lower() if ":" in term else None
            if key in set_by and set_by[key][1]:
                raise CoderInputError("query", f"'{term}' sets {key}, which {set_by[key][0]} already sets; Coder's "
                                      f"search takes each key once, so give it in one place.")
        fixed.append(query.strip())
    count = 1
    for choices in terms:
        count *= max(1, len(choices))
    if count > MAX_SEARCHES:
        raise CoderInputError("owners", f"the filters need {count} searches (one per combination of owner, template "
                              f"and status), more than {MAX_SEARCHES}; list fewer values.")
    combinations = itertools.product(*[choices or [None] for choices in terms])
    return [" ".join([term for term in combination if term] + fixed) for combination in combinations]


def list_workspaces(client, queries):
    """Every workspace the searches find, each once, sorted by owner and name. Reads every page."""
    found = {}
    for query in queries:
        params = {"q": query} if query else None
        for workspace in client.paginate("/workspaces", "workspaces", params=params):
            if not workspace.get("id"):
                raise CoderAPIError(200, "GET", "/api/v2/workspaces", "a workspace in the answer has no id; check that "
                                    "the url option (or CODER_URL) leads to Coder itself")
            found.setdefault(workspace["id"], workspace)
    return sorted(found.values(), key=lambda ws: ((ws.get("owner_name") or "").lower(), (ws.get("name") or "").lower()))


def read_workspace(client, reference):
    """One workspace by ``owner/name``, a bare ``name`` (the token's own) or id; None when Coder has none visible."""
    path = workspace_path(reference)
    # 410: a deleted workspace read by id on servers that keep its record.
    response = client.request("GET", path, expected=(404, 410))
    return None if response.status in (404, 410) else response.body


# ---- the shape shown ------------------------------------------------------------------------------

def _copy(source, fields):
    return {shown: source[field] for shown, field in fields if field in source}


def shape_workspace(workspace):
    """What the inventory's ``coder_workspace`` host variable and coder_workspace_info show of a workspace.

    Fields Coder leaves out (such as ``ttl_ms`` without an autostop) are left out. ``status``, ``transition``,
    ``deadline`` and ``max_deadline`` are those of the latest build, described further by ``latest_build``.
    """
    build = workspace.get("latest_build") or {}
    shaped = _copy(workspace, WORKSPACE_FIELDS)
    shaped.update(
        status=build.get("status"),
        transition=build.get("transition"),
        deadline=build.get("deadline") or None,
        max_deadline=build.get("max_deadline") or None,
        healthy=(workspace.get("health") or {}).get("healthy"),
    )
    latest = _copy(build, BUILD_FIELDS)
    latest["job_status"] = (build.get("job") or {}).get("status")
    shaped["latest_build"] = latest
    return shaped


def shape_agents(workspace):
    """The agents of the latest build (``latest_build.resources[].agents[]``), in Coder's order, with the resource
    each belongs to and the slugs of its apps."""
    agents = []
    for resource in (workspace.get("latest_build") or {}).get("resources") or []:
        for agent in resource.get("agents") or []:
            shaped = {field: agent[field] for field in AGENT_FIELDS if field in agent}
            shaped["resource_name"] = resource.get("name")
            shaped["resource_type"] = resource.get("type")
            shaped["app_slugs"] = [app.get("slug") for app in agent.get("apps") or [] if app.get("slug")]
            agents.append(shaped)
    return agents


def workspace_with_agents(workspace):
    """The shape coder_workspace_info returns: ``shape_workspace`` with ``agents`` from ``shape_agents``."""
    shaped = shape_workspace(workspace)
    shaped["agents"] = shape_agents(workspace)
    return shaped
