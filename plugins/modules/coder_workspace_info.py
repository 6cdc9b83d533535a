#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_workspace_info
short_description: Read Coder workspaces with their latest build and agents
version_added: 0.1.0
description:
  - Reads one workspace, or every workspace matching filters, through Coder's REST API. Reads every page.
  - Each workspace has the shape the C(coder.automation.coder) inventory plugin gives its hosts, that is the host
    variable C(coder_workspace) with C(agents) set to the host variable C(coder_agents).
  - Never changes anything.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
  - coder.automation.coder.info_module
options:
  workspace:
    description:
      - One workspace, as C(owner/name), as the name of one of the token user's own workspaces, or by id.
        Returns an empty list when there is none (or the token cannot see it).
      - Cannot be combined with the filters.
    type: str
  owners:
    description:
      - Only workspaces of these users (usernames; V(me) is the token's user).
      - Coder's workspace search takes one owner, template and status at a time, so the module runs one search per
        combination of the values of O(owners), O(templates) and O(statuses) (at most 100) and merges the answers.
    type: list
    elements: str
  templates:
    description: Only workspaces of these templates (by name, in any organization).
    type: list
    elements: str
  statuses:
    description: Only workspaces whose latest build has one of these statuses. Coder never lists deleted workspaces.
    type: list
    elements: str
    choices: [pending, starting, running, stopping, stopped, failed, canceling, canceled, deleting, deleted]
  name:
    description: Only workspaces whose name contains this text (without regard to letter case), as Coder's C(name:)
      search term does.
    type: str
  query:
    description:
      - More terms of Coder's workspace search, such as V(has-agent:connected) or V(outdated:true).
      - Each key may appear only once, so do not repeat C(owner), C(template), C(status) or C(name) here when the
        options above are set.
    type: str
seealso:
  - plugin: coder.automation.coder
    plugin_type: inventory
  - module: coder.automation.coder_workspace_activity
"""

EXAMPLES = r"""
- name: The running workspaces of the docker template
  coder.automation.coder_workspace_info:
    templates: [docker]
    statuses: [running]
  register: running

- name: Their owners and deadlines
  ansible.builtin.debug:
    msg: "{{ running.workspaces | map(attribute='owner') | zip(running.workspaces | map(attribute='deadline')) }}"

- name: One workspace
  coder.automation.coder_workspace_info:
    workspace: dana-dev/training
  register: training
"""

RETURN = r"""
workspaces:
  description:
    - The workspaces found, sorted by owner and name.
    - Fields Coder leaves out (such as C(ttl_ms) of a workspace without autostop, or C(directory) of an agent whose
      template sets none) are left out. C(status), C(transition), C(deadline) and C(max_deadline) are those of the
      latest build; a deadline is null when the workspace does not stop on its own or is not running.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The workspace's id.
      type: str
    name:
      description: The workspace's name.
      type: str
    owner:
      description: The owner's username.
      type: str
    template:
      description: The template's name.
      type: str
    status:
      description: The status of the latest build, such as C(running), C(stopped) or C(failed).
      type: str
    transition:
      description: What the latest build does, C(start), C(stop) or C(delete).
      type: str
    latest_build:
      description: The latest build's id, number, reason, initiator, template version and job status.
      type: dict
    agents:
      description:
        - The agents of the latest build, each with its C(name), C(id), C(status), C(lifecycle_state),
          C(operating_system), C(architecture), C(resource_name), C(app_slugs) and, where Coder has them,
          C(directory), C(version) and connection times.
        - Empty for a workspace that is not running.
      type: list
      elements: dict
  sample:
    - id: 1f9d4b8e-3c2a-4e5f-9a7b-6c5d4e3f2a1b
      name: training
      owner: dana-dev
      owner_id: 8c52d6e2-5d3b-4a3c-9f4c-1f4c0b7d2a11
      organization: coder
      organization_id: 5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21
      template: docker
      template_id: 0e6b1f2a-7c3d-4b8e-9f1a-2d3c4b5a6f7e
      template_display_name: Docker
      template_active_version_id: 3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d
      outdated: false
      ttl_ms: 28800000
      automatic_updates: never
      last_used_at: "2026-12-04T10:55:12.123456Z"
      created_at: "2026-12-01T09:00:00.123456Z"
      updated_at: "2026-12-04T09:00:00.123456Z"
      favorite: false
      is_prebuild: false
      status: running
      transition: start
      deadline: "2026-12-04T17:00:00Z"
      max_deadline: null
      healthy: true
      latest_build:
        id: 6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a
        build_number: 7
        reason: initiator
        initiator: dana-dev
        template_version_id: 3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d
        template_version_name: brave_turing1
        created_at: "2026-12-04T09:00:00.123456Z"
        updated_at: "2026-12-04T09:01:10.123456Z"
        job_status: succeeded
      agents:
        - id: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
          name: main
          parent_id: null
          status: connected
          lifecycle_state: ready
          operating_system: linux
          architecture: amd64
          directory: /home/coder
          expanded_directory: /home/coder
          version: v2.34.3
          first_connected_at: "2026-12-04T09:01:20.123456Z"
          last_connected_at: "2026-12-04T10:55:00.123456Z"
          ready_at: "2026-12-04T09:01:40.123456Z"
          health: {healthy: true}
          resource_name: main
          resource_type: docker_container
          app_slugs: [code-server]
count:
  description: How many workspaces were found.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._workspace_search import (
    STATUSES,
    list_workspaces,
    read_workspace,
    search_queries,
    workspace_with_agents,
)

FILTERS = ("owners", "templates", "statuses", "name", "query")


def read_workspaces(client, params):
    # An empty workspace (a variable that came out empty) must not widen the read to every workspace.
    if params["workspace"] is not None and not params["workspace"].strip():
        raise CoderInputError("workspace", "is empty; give owner/name, a name of your own workspace or an id, or "
                              "leave the option out to list workspaces by the filters.")
    if params["workspace"]:
        workspace = read_workspace(client, params["workspace"])
        return [workspace] if workspace else []
    queries = search_queries(params["owners"], params["templates"], params["statuses"], params["name"],
                             params["query"])
    return list_workspaces(client, queries)


def run_module(module):
    client = client_from_module(module)
    try:
        workspaces = [workspace_with_agents(workspace) for workspace in read_workspaces(client, module.params)]
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "read workspaces")
    module.exit_json(changed=False, workspaces=workspaces, count=len(workspaces))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        workspace=dict(type="str"),
        owners=dict(type="list", elements="str"),
        templates=dict(type="list", elements="str"),
        statuses=dict(type="list", elements="str", choices=list(STATUSES)),
        name=dict(type="str"),
        query=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("workspace", option) for option in FILTERS])
    run_module(module)


if __name__ == "__main__":
    main()
