#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_workspace_log
short_description: Add lines to a Coder workspace agent's logs, under a named log source
version_added: 0.1.0
description:
  - Appends lines to the logs of a workspace's agent, where Coder's dashboard shows them next to the agent's own
    startup logs, through Coder's REST API and the agent's token.
  - The lines appear under the log source O(source_name). Its id is derived from the name (the same on every
    host and run), and registering it again is not a second source, so reruns keep using one source.
  - A line longer than 1024 characters (Coder's limit per line) is split into several; line breaks inside an
    entry start new lines. Requests are batched so that each stays under 1 MiB.
  - Coder keeps at most 1 MiB of log output per agent. When that limit is reached, the lines that did not fit are
    dropped and the task warns, saying how many lines and bytes were dropped.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is sent but C(GET /buildinfo); the result says how many lines and requests would be sent, and
        the task reports no change.
  diff_mode:
    support: none
options:
  agent_token:
    description:
      - The token of the workspace's agent (E(CODER_AGENT_TOKEN) inside the workspace), a UUID. Required, as the
        option or the environment variable. It is sent only in the C(Coder-Session-Token) header and never appears
        in results, warnings or errors.
      - O(token) is not used by this module.
    type: str
  source_name:
    description:
      - The name of the log source the lines appear under, at most 127 characters.
      - Coder older than v2.13.0 has no log sources; the lines then go to the built-in C(External) source, with a
        warning.
    type: str
    default: Ansible
  source_icon:
    description:
      - An icon URL or path (such as C(/emojis/1f4dc.png)) for the log source, used when it is first registered.
    type: str
    default: ""
  lines:
    description:
      - The lines to add, in order.
    type: list
    elements: str
  text:
    description:
      - A text to add, one log line per line of the text. Use O(lines) or O(text).
      - This is the message of the log; Ansible reserves the option name C(message).
    type: str
  level:
    description:
      - The level of every line.
    type: str
    choices: [trace, debug, info, warn, error]
    default: info
notes:
  - Logs are appended, so every run that sends lines reports a change; in check mode the task reports no change.
  - Coder stamps each line with the time it stores it; the module sends the time of the run (RFC 3339, UTC) too.
  - A source is registered with the name and icon of its first registration; Coder does not update them later.
  - The agent token is only valid while the workspace runs the build it was issued for; a stopped or rebuilt
    workspace fails the task with a plain explanation.
seealso:
  - module: coder.automation.coder_workspace_activity
"""

EXAMPLES = r"""
- name: Tell the workspace's owner what the nightly job did (CODER_AGENT_TOKEN from the environment)
  coder.automation.coder_workspace_log:
    url: https://coder.example.com
    source_name: Nightly data load
    lines:
      - "Loaded 12,345 rows into the warehouse"
      - "Next run: 02:00 UTC"

- name: A failure, as one error entry per line of the output
  coder.automation.coder_workspace_log:
    url: https://coder.example.com
    agent_token: "{{ agent_token }}"
    source_name: Nightly data load
    level: error
    text: "{{ load.stderr }}"
"""

RETURN = r"""
source_id:
  description: The id of the log source the lines went to (C(uuid5) of O(source_name)); the built-in C(External)
    source's id on Coder older than v2.13.0.
  returned: always
  type: str
  sample: 8f6f5a9e-1c1b-5c53-9e0a-2d7c5b1f4e3a
lines_sent:
  description: How many log lines Coder stored (after splitting); 0 in check mode.
  returned: always
  type: int
  sample: 2
lines_to_send:
  description: How many log lines the task had to send, after splitting long lines and line breaks.
  returned: always
  type: int
  sample: 2
requests:
  description: How many log requests were sent, or would be in check mode.
  returned: always
  type: int
  sample: 1
lines_dropped:
  description: Lines Coder refused because the agent's log limit (1 MiB) was reached.
  returned: always
  type: int
  sample: 0
bytes_dropped:
  description: The bytes of output of RV(lines_dropped).
  returned: always
  type: int
  sample: 0
actions:
  description: What the task did, or would do in check mode.
  returned: always
  type: list
  elements: str
  sample: ["register log source 'Nightly data load'", "send 2 log lines in 1 request"]
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: "Sent 2 log lines under log source 'Nightly data load'."
api_error:
  description: Coder's error when a request failed (status, method, path, message, detail, validations).
  returned: on API failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._module import (
    agent_token_argument_spec,
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._plan import Plan, Step
from ansible_collections.coder.automation.plugins.module_utils._workspaces import (
    LOG_LEVELS,
    LOG_SOURCES_SINCE,
    batches,
    check_agent_token,
    log_entries,
    log_source_id,
    push_logs,
    register_log_source,
    split_lines,
)

MAX_SOURCE_NAME = 127
# Coder's built-in source for logs sent without one (agentsdk.ExternalLogSourceID).
EXTERNAL_LOG_SOURCE_ID = "3b579bf4-1ed8-4b99-87a8-e9a1e3410410"


def run_module(module):
    params = module.params
    label = f"log source '{params['source_name']}'"
    try:
        check_agent_token(params["agent_token"])
        name = params["source_name"].strip()
        if not name or len(name) > MAX_SOURCE_NAME:
            raise CoderInputError("source_name", f"must be 1 to {MAX_SOURCE_NAME} characters.")
        pieces = split_lines(params["lines"] if params["lines"] is not None else [params["text"]])
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported redacted, with traceback
        fail_with_error(module, error, f"send logs under {label}")

    client = client_from_module(module, "agent_token")
    try:
        version = client.server_version()
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "read the server version")
    source_id = log_source_id(name) if version >= LOG_SOURCES_SINCE else None
    if source_id is None:
        module.warn(f"Coder older than v2.13.0 has no log sources: the lines go to the built-in 'External' source, "
                    f"not to '{name}'.")
    groups = batches(log_entries(pieces, params["level"]), source_id)
    plan = _plan(name, params["source_icon"], source_id, groups, len(pieces))

    result = dict(changed=False, source_id=source_id or EXTERNAL_LOG_SOURCE_ID, lines_to_send=len(pieces),
                  lines_sent=0, requests=len(groups), lines_dropped=0, bytes_dropped=0, actions=plan.descriptions())
    if module.check_mode or not pieces:
        result["msg"] = (f"Would send {_count(len(pieces), 'log line')} in {_count(len(groups), 'request')} under "
                         f"{label} (check mode: nothing was sent)." if pieces else "No log lines to send.")
        module.exit_json(**result)

    context = {}
    try:
        plan.apply(client, context)
    except Exception as error:  # pylint: disable=broad-exception-caught
        result["changed"] = bool(context.get("changed"))
        fail_with_error(module, error, context.get("step", f"send logs under {label}"), **result)
    sent = context["sent"]
    result.update(changed=sent["sent"] > 0, lines_sent=sent["sent"], requests=sent["requests"],
                  lines_dropped=sent["dropped"], bytes_dropped=sent["dropped_bytes"])
    result["msg"] = f"Sent {sent['sent']} log lines under {label}."
    if sent["dropped"]:
        module.warn(f"Coder's log limit for this agent (1 MiB of output) is reached: {sent['dropped']} of "
                    f"{len(pieces)} log lines ({sent['dropped_bytes']} bytes) were dropped; {sent['sent']} were "
                    "stored.")
    module.exit_json(**result)


def _plan(name, icon, source_id, groups, line_count):
    plan = Plan(action="update")

    def register(client, context):
        register_log_source(client, source_id, name, icon)
        # The same id again is accepted without a second source, so registering is never a change by itself.
        return False

    if source_id:
        plan.steps.append(Step(f"register log source '{name}'", register))

    def send(client, context):
        context["sent"] = push_logs(client, source_id, groups)
        return context["sent"]["sent"] > 0

    plan.steps.append(Step(f"send {_count(line_count, 'log line')} in {_count(len(groups), 'request')}", send))
    return plan


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(agent_token_argument_spec())
    argument_spec.update(
        source_name=dict(type="str", default="Ansible"),
        source_icon=dict(type="str", default=""),
        lines=dict(type="list", elements="str"),
        text=dict(type="str"),
        level=dict(type="str", default="info", choices=list(LOG_LEVELS)),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("lines", "text")], mutually_exclusive=[("lines", "text")])
    run_module(module)


if __name__ == "__main__":
    main()
