#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_user
short_description: Create, update, suspend and delete users of a Coder deployment
version_added: 0.1.0
description:
  - Makes one Coder user match what the task declares, through Coder's REST API.
  - The user is found by O(username), then by O(email), both case-insensitively; a difference in letter case
    alone is never a change.
  - Options that are not given are not managed, and nothing else about the user is touched.
  - Input that Coder would refuse (an invalid username, a password with a login type other than
    V(password), a new user without an email, an unknown role or organization) fails the task before anything
    is written.
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
      - The diff lists only the fields that change. A password is shown as V((new password)), never in clear.
options:
  username:
    description:
      - The user's username. 1 to 32 letters, digits and single hyphens; not V(new) or V(create).
      - V(me) is refused, because Coder's API reads it as the token's own user.
      - When the user is found by O(email) under another username, the user is renamed to this one.
    type: str
    required: true
  email:
    description:
      - The user's email address. Required to create a user. Plain addresses only (no quotes, spaces or colons).
      - With O(state=present), a user found by this email under another username is renamed to O(username).
        With O(state=absent), the user is found by O(username) only.
      - Coder's API has no way to change the email of an existing user; a different email fails the task with an
        explanation instead of deleting and recreating the user.
    type: str
  name:
    description:
      - The user's real name, at most 128 characters. V("") clears it.
    type: str
  login_type:
    description:
      - How the user signs in. Coder's default when creating is V(password).
      - V(oidc) needs OpenID Connect to be configured on the deployment.
      - The login type of an existing user is not changed by this module; a different value fails the task.
    type: str
    choices: [password, none, github, oidc]
  password:
    description:
      - The password, for O(login_type=password) only. Coder requires a strong password (its entropy check).
      - Used when the user is created, and on every run with O(update_password=always).
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created.
      - V(always) sends it on every run, because Coder cannot compare a password without signing in as the user.
        The task reports a change unless Coder answers that the password is already that one; in check mode a
        change is always predicted. Setting a password signs the user out everywhere (Coder deletes the user's
        tokens), and Coder rate-limits password changes to 60 a minute.
      - The token's own password cannot be set this way (Coder wants the current one).
    type: str
    choices: [on_create, always]
    default: on_create
  roles:
    description:
      - Site-wide roles, such as V(owner), V(template-admin), V(user-admin), V(auditor).
      - When given, the user has exactly these roles. When omitted, roles are not managed.
      - V(member) is implied for every user and may be listed or not.
    type: list
    elements: str
  suspended:
    description:
      - V(true) suspends the user (an owner cannot be suspended; remove V(owner) from O(roles) first).
      - V(false) activates a suspended user. A V(dormant) user (created, never signed in) is not suspended and
        stays dormant; it takes no license seat and becomes active when it first signs in.
      - When omitted, the status is not managed.
    type: bool
  organizations:
    description:
      - The organizations the user is a member of, by name. When given, the user is a member of exactly these.
      - Each item is an organization name, or a dictionary with C(name) and C(roles) (organization roles such as
        V(organization-admin)); when C(roles) is given, the user has exactly those roles in that organization.
      - When omitted, memberships are not managed; a new user joins the default organization.
    type: list
    elements: raw
  state:
    description:
      - V(present) creates or updates the user, V(absent) deletes it.
      - Coder refuses to delete a user who owns workspaces, and a token cannot delete its own user.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Coder keeps deleted users out of sight; a deleted username and email can be used again for a new user.
  - The token's own user cannot be deleted, suspended, removed from an organization or given other roles
    through this module (Coder refuses all four); the task says so before writing anything.
  - A user admin cannot grant the V(owner) role; only owners can.
seealso:
  - name: Coder users documentation
    description: How Coder manages users, roles and their statuses.
    link: https://coder.com/docs/admin/users
"""

EXAMPLES = r"""
- name: A developer who signs in with OIDC
  coder.automation.coder_user:
    url: https://coder.example.com
    token: "{{ coder_token }}"
    username: dana-dev
    email: dana.dev@example.com
    name: Dana Developer
    login_type: oidc

- name: A template administrator, also admin of the data organization
  coder.automation.coder_user:
    username: ops-lead
    email: ops.lead@example.com
    login_type: github
    roles: [template-admin]
    organizations:
      - coder
      - name: data
        roles: [organization-admin]

- name: Suspend a leaver
  coder.automation.coder_user:
    username: former-employee
    suspended: true

- name: Delete a user (who owns no workspaces)
  coder.automation.coder_user:
    username: temp-contractor
    state: absent
"""

RETURN = r"""
user:
  description:
    - The user as Coder returns it after the task. In check mode, and when the task fails, the user as it was
      before the task (null when it would be created). Null after deletion. Never holds a password.
  returned: always
  type: dict
  sample:
    id: 8c52d6e2-5d3b-4a3c-9f4c-1f4c0b7d2a11
    username: dana-dev
    email: dana.dev@example.com
    name: Dana Developer
    status: dormant
    login_type: oidc
    roles: []
    organization_ids: [5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21]
    created_at: "2026-12-04T10:00:00.123456Z"
    updated_at: "2026-12-04T10:00:00.123456Z"
    last_seen_at: "0001-01-01T00:00:00Z"
    has_ai_seat: false
actions:
  description: What the task did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create user 'dana-dev'"]
api_error:
  description: Coder's error when a request failed (status, method, path, message, detail, validations).
  returned: on API failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
    plan_result,
)
from ansible_collections.coder.automation.plugins.module_utils._users import (
    DesiredUser,
    find_user,
    plan_user,
    user_options,
)

# What Coder means by its refusals to delete, in words that say what to do next.
DELETE_HINTS = {
    403: "a token cannot delete its own user, and only owners and user admins can delete users",
    417: "the user still owns workspaces; delete or transfer them first",
}


def run_module(module):
    params = module.params
    try:
        desired = DesiredUser.from_params(params)
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported redacted, with traceback
        fail_with_error(module, error, f"manage user '{params['username']}'")

    client = client_from_module(module)
    action = f"read user '{params['username']}'"
    try:
        # Deleting goes by username alone: an email that matches someone else must never delete them.
        email = params.get("email") if params["state"] == "present" else None
        current = find_user(client, params["username"], email)
        action = f"plan changes to user '{params['username']}'"
        plan = plan_user(client, desired, current, params["state"])
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, action)

    result = plan_result(module, plan, user=current)

    context = {}
    try:
        plan.apply(client, context)
        result["changed"] = bool(context["changed"])
        user_id = (context.get("user") or current or {}).get("id")
        result["user"] = None if plan.action == "delete" else client.get(f"/users/{user_id}").body
    except Exception as error:  # pylint: disable=broad-exception-caught
        result["changed"] = bool(context.get("changed"))
        hint = DELETE_HINTS.get(getattr(error, "status", None)) if plan.action == "delete" else None
        fail_with_error(module, error, context.get("step", action) + (f" ({hint})" if hint else ""), **result)
    module.exit_json(**result)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(user_options())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
