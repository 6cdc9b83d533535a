#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_group_info
short_description: Read groups of a Coder deployment and their members
version_added: 0.1.0
description:
  - Reads one group, or the groups of one or every organization, through Coder's REST API, members included.
  - Groups are a Premium feature of Coder (C(template_rbac)); without it the task fails naming the feature.
  - Never changes anything.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
  - coder.automation.coder.info_module
options:
  name:
    description:
      - One group, by its exact name (Coder compares group names with letter case), in O(organization).
      - Returns an empty list when there is none.
    type: str
  organization:
    description:
      - Only groups of this organization, by name or id. With O(name), the default organization when omitted;
        otherwise every organization when omitted.
    type: str
  member:
    description:
      - Only groups that have this user as a member, by username or user id.
    type: str
seealso:
  - module: coder.automation.coder_group
"""

EXAMPLES = r"""
- name: Every group of the default organization
  coder.automation.coder_group_info:
    organization: default
  register: groups

- name: The groups Ana is in
  coder.automation.coder_group_info:
    member: ana
  register: ana_groups
"""

RETURN = r"""
groups:
  description: The groups found, as Coder returns them, with C(member_usernames) added for convenience.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f
      name: data-science
      display_name: Data Science
      organization_id: 5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21
      organization_name: coder
      members: [{id: 8c52d6e2-5d3b-4a3c-9f4c-1f4c0b7d2a11, username: ana, email: ana@example.com}]
      member_usernames: [ana]
      total_member_count: 1
      quota_allowance: 10
      source: user
count:
  description: How many groups were found.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._client import CoderAPIError
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._groups import feature_error_or, find_group
from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._users import lookup_user


def read_groups(client, params):
    if params["member"] and not lookup_user(client, params["member"]):
        return []  # Coder answers 400 for a has_member it cannot resolve; no such user is in no group.
    if params["name"]:
        group = find_group(client, client.organization(params["organization"]), params["name"])
        groups = [group] if group else []
        if group and params["member"]:
            wanted = params["member"].lower()
            groups = [g for g in groups if any(wanted in (m["id"], m["username"].lower()) for m in g["members"] or [])]
        return groups
    query = {}
    if params["organization"]:
        query["organization"] = client.organization(params["organization"])["id"]
    if params["member"]:
        query["has_member"] = params["member"]
    try:
        return client.get("/groups", params=query or None).body or []
    except CoderAPIError as error:
        raise feature_error_or(client, error) from None


def run_module(module):
    client = client_from_module(module)
    try:
        groups = read_groups(client, module.params)
    except CoderAPIError as error:
        if error.status == 404 and "/organizations/" in error.path:
            error = CoderInputError("organization", f"organization '{module.params['organization']}' does not "
                                    "exist or is not visible to this token.")
        fail_with_error(module, error, "read groups")
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "read groups")
    for group in groups:
        group["member_usernames"] = sorted(member["username"] for member in group.get("members") or [])
    module.exit_json(changed=False, groups=groups, count=len(groups))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        organization=dict(type="str"),
        member=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
