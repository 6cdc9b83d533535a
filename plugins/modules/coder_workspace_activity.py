#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_workspace_activity
short_description: Keep a Coder workspace from stopping, by extending its deadline or reporting activity
version_added: 0.1.0
description:
  - Keeps one Coder workspace running, through Coder's REST API, in one of two ways.
  - With a user token (O(token)) and O(workspace), O(keep_alive_for) makes sure the workspace's deadline is at
    least that far from now. The deadline is extended (C(PUT /workspaces/{id}/extend)) only when it is not; an
    extension is at least 30 minutes from now (Coder's minimum) and never past the end of the template's maximum
    lifetime (the build's C(max_deadline)).
  - With the workspace agent's token (O(agent_token)), the module reports activity the way the server supports,
    and Coder moves the deadline by the template's activity bump. Coder v2.12 and older take the agent's
    legacy stats report; Coder v2.31.1 and newer take C(UpdateStats) over the agent channel (O(route=rpc)); from
    v2.30.0 an app status C(working) for O(app_slug) counts as activity too. When none applies, the task fails
    saying what the server needs instead.
  - O(token) is not needed for the agent routes; given together with O(workspace), it lets the task read the
    deadline before and after and check that it moved.
  - A stopped, building, failed or deleted workspace fails the task with a plain explanation, read from the
    workspace before anything is sent when O(token) and O(workspace) are given.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
attributes:
  check_mode:
    support: full
    details:
      - Only reads are sent (the workspace, C(/buildinfo)); the result says what would be done.
  diff_mode:
    support: full
    details:
      - For O(route=extend), the diff shows the deadline before and after. The agent routes have no diff.
options:
  workspace:
    description:
      - The workspace, as C(owner/name), as a C(name) of the token user's own workspaces, or by id.
      - Needed with O(token); optional with O(agent_token), whose workspace is the agent's own.
    type: str
  keep_alive_for:
    description:
      - How long from now the workspace must stay up, as a duration such as V(2h), V(90m), V(1d2h), or a number of
        milliseconds.
      - Not a change when the deadline is already that far ahead (within a minute, so that a rerun right after
        an extension changes nothing). Needs O(token) and O(workspace) (the extend route).
    type: raw
  agent_token:
    description:
      - The token of the workspace's agent (E(CODER_AGENT_TOKEN) inside the workspace), a UUID. It is sent only in
        the C(Coder-Session-Token) header and never appears in results, warnings or errors.
      - If not set, the value of the E(CODER_AGENT_TOKEN) environment variable is used.
    type: str
  route:
    description:
      - How to keep the workspace alive.
      - V(auto) uses V(extend) when O(keep_alive_for) is given, then an agent route when O(agent_token) is given
        (V(report_stats) before Coder v2.13.0, V(rpc) from v2.31.1, V(app_status) when O(app_slug) is given on
        v2.30.0 and newer, V(rpc) on older servers only with O(allow_agent_disconnect_side_effect=true)), otherwise
        V(usage).
      - V(extend) sets the deadline (user token). V(usage) reports use of the workspace (C(POST
        /workspaces/{id}/usage), user token), which always counts against dormancy but moves the deadline only when
        the deployment runs the C(workspace-usage) experiment.
      - V(report_stats) sends the agent's legacy stats report with one connection (Coder v2.12 and older).
      - V(rpc) sends C(UpdateStats) over the agent channel with one connection, no sessions and the role
        C(ansible).
      - V(app_status) sets the status of app O(app_slug) to C(working).
    type: str
    choices: [auto, extend, usage, report_stats, rpc, app_status]
    default: auto
  app_slug:
    description:
      - The slug of an app of the agent, for O(route=app_status).
    type: str
  status_message:
    description:
      - The message of the app status, fewer than 160 characters, shown in Coder's dashboard.
    type: str
    default: Kept active by Ansible
  allow_agent_disconnect_side_effect:
    description:
      - Allow O(route=rpc) on Coder older than v2.31.1, where the call makes the real agent look disconnected for
        a moment (the server takes the module's connection for the agent's).
    type: bool
    default: false
notes:
  - When the template's maximum lifetime is reached (the deadline is at C(max_deadline), or C(max_deadline) is less
    than 30 minutes away), nothing can keep the workspace up. The task then warns, saying when the workspace
    stops, returns RV(limit_reached=true) and RV(stops_at), and reports no change; it does not fail, so a keep-alive
    loop goes on. When the extension falls short of O(keep_alive_for) because of C(max_deadline), the task extends
    as far as it can and warns.
  - The agent routes and O(route=usage) record activity every time they are sent, so they always report a change.
    Coder moves the deadline only when the template's activity bump is set and less than 95% of it remains before
    the deadline; when the deadline can be read (O(token) and O(workspace)) and did not move, the task warns and
    returns RV(deadline_moved=false).
  - An app status C(working) stays on the app in Coder's dashboard until the app reports another state.
  - O(route=rpc) needs the collection's agent channel client (C(plugins/module_utils/_agent_rpc.py)).
  - A workspace whose shutdown is manual (no deadline) does not stop on its own; O(keep_alive_for) is then not a
    change.
  - The module judges "from now" by the server's clock (its C(Date) header), as Coder does.
seealso:
  - module: coder.automation.coder_workspace_log
  - module: coder.automation.coder_template
"""

EXAMPLES = r"""
- name: Keep ana's workspace up for the next two hours of the training
  coder.automation.coder_workspace_activity:
    workspace: ana/training
    keep_alive_for: 2h

- name: Inside a workspace, report activity with the agent's own token (CODER_AGENT_TOKEN from the environment)
  coder.automation.coder_workspace_activity:
    url: https://coder.example.com

- name: On Coder 2.30, through the status of an app
  coder.automation.coder_workspace_activity:
    url: https://coder.example.com
    agent_token: "{{ lookup('ansible.builtin.env', 'CODER_AGENT_TOKEN') }}"
    app_slug: code-server
    status_message: Nightly data load running

- name: Report activity and check that the deadline moved
  coder.automation.coder_workspace_activity:
    workspace: ana/training
    agent_token: "{{ agent_token }}"
  register: activity

- name: Show the deadline
  ansible.builtin.debug:
    msg: "{{ activity.deadline_before }} -> {{ activity.deadline_after }}"
"""

RETURN = r"""
route:
  description: The route used, or that would be used in check mode.
  returned: always
  type: str
  sample: extend
workspace_id:
  description: The id of the workspace, when it was read (O(token) and O(workspace)).
  returned: always
  type: str
  sample: 3f0d9b8e-6c1a-4a55-9b0e-2d7f4c1e8a90
deadline_before:
  description: The deadline before the task (RFC 3339, UTC); null when it cannot be read or there is none.
  returned: always
  type: str
  sample: "2025-03-04T16:30:00Z"
deadline_after:
  description:
    - The deadline after the task, read back from Coder; null when it cannot be read.
    - In check mode, the deadline the extension would set (route V(extend)), otherwise null.
  returned: always
  type: str
  sample: "2025-03-04T18:30:00Z"
max_deadline:
  description: The end of the template's maximum lifetime for this build; null when there is none or it is unknown.
  returned: always
  type: str
  sample: "2025-03-05T00:00:00Z"
deadline_moved:
  description: Whether the deadline read back differs from the one before; null when it could not be read or
    nothing was sent.
  returned: always
  type: bool
  sample: true
limit_reached:
  description: True when the template's maximum lifetime stops the workspace whatever is done.
  returned: always
  type: bool
  sample: false
stops_at:
  description: When the workspace stops if nothing else happens (its deadline), when known.
  returned: always
  type: str
  sample: "2025-03-04T18:30:00Z"
report_interval:
  description: Seconds Coder asks an agent to wait between reports, for the routes V(report_stats) and V(rpc).
  returned: when route is report_stats or rpc and not in check mode
  type: float
  sample: 30.0
actions:
  description: What the task did, or would do in check mode.
  returned: always
  type: list
  elements: str
  sample: ["extend its deadline from 2025-03-04T16:30:00Z to 2025-03-04T18:30:00Z."]
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: "Workspace 'ana/training': extend its deadline from 2025-03-04T16:30:00Z to 2025-03-04T18:30:00Z."
api_error:
  description: Coder's error when a request failed (status, method, path, message, detail, validations).
  returned: on API failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderError, CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._module import (
    agent_token_argument_spec,
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._template_inputs import duration_ms
from ansible_collections.coder.automation.plugins.module_utils._workspaces import (
    AGENT_ROUTES,
    ROUTES,
    check_agent_token,
    choose_route,
    deadlines,
    find_workspace,
    format_time,
    inactive_reason,
    plan_activity,
    plan_extension,
    workspace_label,
)

# Coder refuses app status messages of 160 characters or more.
MAX_STATUS_MESSAGE = 159


def run_module(module):
    params = module.params
    label = f"workspace '{params['workspace']}'" if params["workspace"] else "the agent's workspace"
    try:
        keep_alive_ms = duration_ms(params["keep_alive_for"], "keep_alive_for")
        if keep_alive_ms is not None and keep_alive_ms <= 0:
            raise CoderInputError("keep_alive_for", "must be more than 0.")
        agent_token = check_agent_token(params["agent_token"]) if params["agent_token"] else None
        if len(params["status_message"]) > MAX_STATUS_MESSAGE:
            raise CoderInputError("status_message", f"Coder takes fewer than 160 characters; got "
                                  f"{len(params['status_message'])}.")
        if not params["token"] and not agent_token:
            raise CoderInputError("token", "give token (CODER_SESSION_TOKEN) with workspace, or agent_token "
                                  "(CODER_AGENT_TOKEN).")
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported redacted, with traceback
        fail_with_error(module, error, f"keep {label} active")

    user_client = client_from_module(module) if params["token"] else None
    agent_client = client_from_module(module, "agent_token") if agent_token else None
    action = "choose how to keep the workspace active"
    try:
        version = (user_client or agent_client).server_version()
        route = choose_route(params["route"], version, bool(user_client), bool(params["workspace"]),
                             bool(agent_token), keep_alive_ms, params["app_slug"],
                             params["allow_agent_disconnect_side_effect"])
        workspace = now = extension = None
        deadline = max_deadline = None
        if user_client and params["workspace"]:
            action = f"read {label}"
            workspace, now = find_workspace(user_client, params["workspace"])
            label = f"workspace {workspace_label(workspace)}"
            action = f"keep {label} active"
            reason = inactive_reason(workspace)
            if reason:
                raise CoderError(reason)
            deadline, max_deadline = deadlines(workspace)
        if route == "extend":
            extension = plan_extension(now, deadline, max_deadline, keep_alive_ms)
        plan = plan_activity(route, workspace, extension, params["app_slug"],
                             params["status_message"], agent_token, params["validate_certs"], params["ca_path"])
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, action)

    result = dict(changed=plan.changed, route=route, workspace_id=workspace["id"] if workspace else None,
                  deadline_before=format_time(deadline), deadline_after=None, max_deadline=format_time(max_deadline),
                  deadline_moved=None, limit_reached=False, stops_at=format_time(deadline),
                  actions=plan.descriptions())
    if module._diff:
        result["diff"] = plan.diff()
    if extension is not None and extension.action != "extend":
        result["deadline_after"] = result["deadline_before"]
        result["msg"] = f"{label[0].upper()}{label[1:]}: {extension.message}"
        if extension.action == "limit":
            result["limit_reached"] = True
            module.warn(result["msg"])
        module.exit_json(**result)
    if extension is not None and extension.capped:
        module.warn(f"{label[0].upper()}{label[1:]}: {extension.message}")
    if module.check_mode:
        result["deadline_after"] = format_time(extension.target) if extension else None
        result["msg"] = f"Would {'; '.join(plan.descriptions())} for {label} (check mode: nothing was sent)."
        module.exit_json(**result)

    context = {}
    client = agent_client if route in AGENT_ROUTES else user_client
    try:
        plan.apply(client, context)
        result["changed"] = bool(context["changed"])
        if "report_interval" in context:
            result["report_interval"] = context["report_interval"]
        if workspace is not None:
            action = f"read {label} back"
            after, _now = find_workspace(user_client, workspace["id"])
            _report_deadline(module, result, label, route, deadline, deadlines(after)[0], extension)
    except Exception as error:  # pylint: disable=broad-exception-caught
        result["changed"] = bool(context.get("changed"))
        fail_with_error(module, error, context.get("step", action) + f" of {label}", **result)
    result.setdefault("msg", f"{label[0].upper()}{label[1:]}: {'; '.join(context['changed'])}")
    module.exit_json(**result)


def _report_deadline(module, result, label, route, before, after, extension):
    """Deadline before and after: a 2xx that did not move it is said, not passed off as success."""
    result["deadline_after"] = format_time(after)
    result["stops_at"] = format_time(after)
    result["deadline_moved"] = after != before
    if route == "extend":
        if after is None or abs((after - extension.target).total_seconds()) > 1:
            module.warn(f"Coder accepted the extension of {label} to {format_time(extension.target)}, but its "
                        f"deadline reads {format_time(after) or 'none'} afterwards.")
        return
    if after is None:
        result["deadline_moved"] = None
        result["msg"] = (f"{label[0].upper()}{label[1:]}: activity reported ({route}); its shutdown is manual (no "
                         "deadline), so it does not stop on its own.")
    elif after == before and result.get("max_deadline") and result["max_deadline"] == format_time(after):
        result["limit_reached"] = True
        result["msg"] = (f"{label[0].upper()}{label[1:]} has reached its template's maximum lifetime: it stops at "
                         f"{format_time(after)} and nothing can move that. The activity report ({route}) was sent.")
        module.warn(result["msg"])
    elif after == before:
        result["msg"] = (f"{label[0].upper()}{label[1:]}: activity reported ({route}), but the deadline did not move; "
                         "see the warning.")
        why = ("the template's activity bump is set, less than 95% of it remains before the deadline, and the deadline "
               "is before the template's maximum lifetime")
        if route == "usage":
            why += ", and (for this route) the deployment runs the workspace-usage experiment"
        module.warn(f"Coder accepted the activity report ({route}) for {label}, but its deadline did not move (still "
                    f"{format_time(after)}). Coder moves it only when {why}.")


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(agent_token_argument_spec())
    argument_spec.update(
        workspace=dict(type="str"),
        keep_alive_for=dict(type="raw"),
        route=dict(type="str", default="auto", choices=["auto", *ROUTES]),
        app_slug=dict(type="str"),
        status_message=dict(type="str", default="Kept active by Ansible"),
        allow_agent_disconnect_side_effect=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
