#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_roster
short_description: Converge many Coder users and groups at once, from one roster
version_added: 0.1.0
description:
  - Makes a whole roster of users and groups true on a Coder deployment in one module run, for rosters of
    hundreds or thousands of people. The C(coder.automation.onboarding) role is built on it.
  - Each user takes the options of M(coder.automation.coder_user) and each group those of
    M(coder.automation.coder_group), with the same meaning, compared by the same code.
  - The deployment is read once (every page of users, the groups of each organization), so a run that changes
    nothing sends no write and a number of reads that grows with pages, not with people.
  - Every entry is validated, and every group member resolved, before anything is written. Members may name
    users the same run creates.
  - When an object cannot be changed, the others still are; the task then fails listing every error.
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
      - One diff per user or group that changes, with only the fields that change. Passwords are never shown.
options:
  users:
    description:
      - The users, each with the options of M(coder.automation.coder_user) (connection options excluded).
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description: See O(coder.automation.coder_user#module:username).
        type: str
        required: true
      email:
        description: See O(coder.automation.coder_user#module:email).
        type: str
      name:
        description: See O(coder.automation.coder_user#module:name).
        type: str
      login_type:
        description: See O(coder.automation.coder_user#module:login_type).
        type: str
        choices: [password, none, github, oidc]
      password:
        description: See O(coder.automation.coder_user#module:password).
        type: str
      update_password:
        description: See O(coder.automation.coder_user#module:update_password).
        type: str
        choices: [on_create, always]
        default: on_create
      roles:
        description: See O(coder.automation.coder_user#module:roles).
        type: list
        elements: str
      suspended:
        description: See O(coder.automation.coder_user#module:suspended).
        type: bool
      organizations:
        description: See O(coder.automation.coder_user#module:organizations).
        type: list
        elements: raw
      state:
        description: See O(coder.automation.coder_user#module:state).
        type: str
        choices: [present, absent]
        default: present
      source:
        description:
          - Where the entry comes from, such as C(people.csv line 12), named in error messages.
            P(coder.automation.roster_from_csv#filter) sets it.
        type: str
  groups:
    description:
      - The groups, each with the options of M(coder.automation.coder_group) (connection options excluded).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: See O(coder.automation.coder_group#module:name).
        type: str
        required: true
      organization:
        description: See O(coder.automation.coder_group#module:organization).
        type: str
      display_name:
        description: See O(coder.automation.coder_group#module:display_name).
        type: str
      avatar_url:
        description: See O(coder.automation.coder_group#module:avatar_url).
        type: str
      quota_allowance:
        description: See O(coder.automation.coder_group#module:quota_allowance).
        type: int
      members:
        description: See O(coder.automation.coder_group#module:members).
        type: list
        elements: str
      purge_members:
        description: See O(coder.automation.coder_group#module:purge_members).
        type: bool
        default: false
      template_access:
        description:
          - Templates of the group's organization the group may use or administer, as template name to V(use)
            or V(admin). The group's entry is added to (or changed in) each template's access list; other
            entries are left alone. Needs Premium (C(template_rbac)).
        type: dict
      state:
        description: See O(coder.automation.coder_group#module:state).
        type: str
        choices: [present, absent]
        default: present
      source:
        description: Where the entry comes from, named in error messages.
        type: str
  absent_users:
    description:
      - What to do with users of the deployment who are not in O(users) (matched by username or email).
      - V(ignore) leaves them alone. V(suspend) suspends them. V(delete) deletes them (Coder refuses for users
        who own workspaces; those are reported as errors).
      - The token's own user, owners and service accounts are never touched. In check mode they are only
        listed in RV(absent_users).
      - With V(suspend), people of the roster who are suspended (offboarded earlier, now back) are reactivated
        unless their entry sets C(suspended). With the other modes they get a warning.
    type: str
    choices: [ignore, suspend, delete]
    default: ignore
seealso:
  - module: coder.automation.coder_user
  - module: coder.automation.coder_group
"""

EXAMPLES = r"""
- name: The company roster
  coder.automation.coder_roster:
    users:
      - {username: ana, email: ana@example.com, name: Ana, login_type: oidc}
      - {username: bo, email: bo@example.com, login_type: oidc, roles: [template-admin]}
    groups:
      - {name: data-science, members: [ana, bo@example.com], purge_members: true, quota_allowance: 10}
    absent_users: suspend
  register: roster

- name: What it did
  ansible.builtin.debug:
    var: roster.summary
"""

RETURN = r"""
summary:
  description:
    - Counts of what the run did, or would do in check mode. A change that failed counts under C(failed); one
      the server showed was not needed (an unchanged password) counts as unchanged.
  returned: always
  type: dict
  sample:
    users: {created: 3, updated: 1, unchanged: 996, suspended: 2, deleted: 0, failed: 0}
    groups: {created: 1, updated: 2, unchanged: 47, deleted: 0, failed: 0}
    members: {added: 12, removed: 3}
    templates: {access_updated: 1}
absent_users:
  description: Usernames of users not in the roster that were suspended or deleted (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [former-employee]
actions:
  description: Every change made, or that would be made in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create user 'ana'", "add 2 members to group 'data-science' of organization 'coder'"]
errors:
  description: The changes that failed, each with Coder's reason, when some did.
  returned: on failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._errors import redact
from ansible_collections.coder.automation.plugins.module_utils._groups import group_options
from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._roster import apply_roster, plan_roster
from ansible_collections.coder.automation.plugins.module_utils._users import user_options


def run_module(module):
    params = module.params
    client = client_from_module(module)
    try:
        plan = plan_roster(client, params["users"], params["groups"], params["absent_users"])
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "plan the roster")

    for warning in plan.warnings:
        module.warn(warning)
    result = dict(changed=plan.changed, summary=plan.summary(), actions=plan.actions(),
                  absent_users=plan.absent_users)
    if module._diff:
        result["diff"] = plan.diffs()
    if module.check_mode or not plan.changed:
        module.exit_json(**result)

    errors, result["changed"] = apply_roster(client, plan)
    result.update(summary=plan.summary(), absent_users=plan.absent_users)
    if errors:
        secrets = [params.get("token")] + [user.get("password") for user in params["users"] or []]
        message = f"{len(errors)} of {len(result['actions'])} changes failed; the others were made. " + \
            " | ".join(errors[:20])
        module.fail_json(msg=redact(message, secrets), errors=redact(errors, secrets), **result)
    module.exit_json(**result)


def main():
    # The same options as coder_user and coder_group, plus where an entry comes from (a CSV line).
    users = dict(user_options(), source=dict(type="str"))
    groups = dict(group_options(), template_access=dict(type="dict"), source=dict(type="str"))
    argument_spec = connection_argument_spec()
    argument_spec.update(
        users=dict(type="list", elements="dict", default=[], options=users),
        groups=dict(type="list", elements="dict", default=[], options=groups),
        absent_users=dict(type="str", default="ignore", choices=["ignore", "suspend", "delete"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
