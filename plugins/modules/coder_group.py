#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_group
short_description: Create, update and delete groups of a Coder organization, and their members
version_added: 0.1.0
description:
  - Makes one Coder group match what the task declares, through Coder's REST API.
  - Groups are a Premium feature of Coder (C(template_rbac)). On a deployment whose license lacks it, the task
    fails before writing anything, quoting Coder's answer.
  - Members are compared as sets of users; order and letter case are never a change, and dormant or suspended
    users count as members.
  - Every member is resolved before anything is written. A member that matches no user, or a user outside the
    group's organization, fails the task naming them, so a group is never created half-way.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff lists only the fields that change; members appear as sorted usernames.
options:
  name:
    description:
      - The group's name, unique in its organization. Coder compares group names with letter case.
      - Letters, digits and single hyphens, at most 255 characters; not V(new) or V(create).
      - V(Everyone) addresses the group that holds every member of the organization; only O(quota_allowance)
        and O(avatar_url) can be managed on it.
    type: str
    required: true
  organization:
    description:
      - The organization of the group, by name or id. The default organization when omitted.
    type: str
  display_name:
    description:
      - A friendlier name shown in Coder's dashboard, at most 64 characters. V("") clears it.
    type: str
  avatar_url:
    description:
      - An image URL shown for the group. V("") clears it.
    type: str
  quota_allowance:
    description:
      - Workspace quota credits each member gets from this group.
    type: int
  members:
    description:
      - Users, by username, email or user id, matched without regard to letter case.
      - When omitted, members are not managed.
    type: list
    elements: str
  purge_members:
    description:
      - V(false) only adds the members that are missing.
      - V(true) makes the members exactly O(members), removing everyone else.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or updates the group, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - A group whose source is C(oidc) is kept in sync by Coder from the identity provider at each login of its
    members; the module manages it but warns that membership changes may not last.
  - The module never renames a group; O(name) is how it finds the group.
seealso:
  - module: coder.automation.coder_user
  - module: coder.automation.coder_group_info
"""

EXAMPLES = r"""
- name: The data science team, exactly these members
  coder.automation.coder_group:
    name: data-science
    display_name: Data Science
    quota_allowance: 10
    members: [ana, bo@example.com, chloe]
    purge_members: true

- name: Everybody gets some quota
  coder.automation.coder_group:
    name: Everyone
    quota_allowance: 2

- name: Remove a group
  coder.automation.coder_group:
    name: old-team
    state: absent
"""

RETURN = r"""
group:
  description:
    - The group as Coder returns it after the task. In check mode, the group as it is now (null when it would be
      created). Null after deletion.
  returned: always
  type: dict
  sample:
    id: 7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f
    name: data-science
    display_name: Data Science
    organization_id: 5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21
    members: [{id: 8c52d6e2-5d3b-4a3c-9f4c-1f4c0b7d2a11, username: ana, email: ana@example.com}]
    total_member_count: 1
    avatar_url: ""
    quota_allowance: 10
    source: user
members_added:
  description: Usernames added to the group, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [ana]
members_removed:
  description: Usernames removed from the group, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: []
actions:
  description: What the task did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create group 'data-science' of organization 'coder'", "add 3 members to group 'data-science' ..."]
api_error:
  description: Coder's error when a request failed (status, method, path, message, detail, validations).
  returned: on API failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._client import CoderAPIError
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._groups import (
    DesiredGroup,
    feature_error_or,
    find_group,
    group_options,
    plan_group,
    resolve_members,
)
from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
    plan_result,
)


def run_module(module):
    params = module.params
    label = f"group '{params['name']}'"
    try:
        desired = DesiredGroup.from_params(params)
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported redacted, with traceback
        fail_with_error(module, error, f"manage {label}")

    client = client_from_module(module)
    action = f"read {label}"
    try:
        organization = _organization(client, params["organization"])
        current = find_group(client, organization, desired.name)
        action = f"plan changes to {label}"
        wanted = None
        if desired.members is not None and params["state"] == "present":
            wanted = resolve_members(client, desired.members, organization)
        plan = plan_group(desired, current, organization, wanted, params["state"])
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, action)

    result = plan_result(module, plan, group=current, members_added=plan.members_added,
                         members_removed=plan.members_removed)

    context = {}
    try:
        plan.apply(client, context)
        result["changed"] = bool(context["changed"])
        result["group"] = None if plan.action == "delete" else context.get("group")
    except Exception as error:  # pylint: disable=broad-exception-caught
        result["changed"] = bool(context.get("changed"))
        # A group created before a later step failed exists: return it, not the state before the task.
        result["group"] = context.get("group") or current
        fail_with_error(module, feature_error_or(client, error), context.get("step", action), **result)
    module.exit_json(**result)


def _organization(client, reference):
    try:
        return client.organization(reference)
    except CoderAPIError as error:
        if error.status == 404:
            raise CoderInputError("organization", f"organization '{reference}' does not exist or is not visible to "
                                  "this token.") from None
        raise


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(group_options())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
