#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_user_info
short_description: Read users of a Coder deployment
version_added: 0.1.0
description:
  - Reads one user, or every user matching filters, through Coder's REST API. Reads every page.
  - Never changes anything.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
  - coder.automation.coder.info_module
options:
  user:
    description:
      - One user, by username, email or user id (case-insensitive). Returns an empty list when there is none.
      - Cannot be combined with the filters.
    type: str
  query:
    description:
      - Coder's user search, as in the dashboard, for example V(ana), V(login_type:github) or
        V(last_seen_before:"2026-01-01T00:00:00Z").
    type: str
  status:
    description:
      - Only users with one of these statuses.
    type: list
    elements: str
    choices: [active, dormant, suspended]
  role:
    description:
      - Only users with one of these site roles, such as V(owner) or V(template-admin).
    type: list
    elements: str
  organization:
    description:
      - Only members of this organization, by name or id.
    type: str
seealso:
  - module: coder.automation.coder_user
"""

EXAMPLES = r"""
- name: Every suspended user
  coder.automation.coder_user_info:
    status: [suspended]
  register: suspended

- name: One user
  coder.automation.coder_user_info:
    user: dana.dev@example.com
  register: dana
"""

RETURN = r"""
users:
  description: The users found, in Coder's order (by username), as Coder returns them.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 8c52d6e2-5d3b-4a3c-9f4c-1f4c0b7d2a11
      username: dana-dev
      email: dana.dev@example.com
      name: Dana Developer
      status: active
      login_type: oidc
      roles: [{name: template-admin, display_name: Template Admin}]
      organization_ids: [5b3e8c7a-2f4d-4f70-8d59-7a1d6c0e9b21]
      created_at: "2026-12-04T10:00:00.123456Z"
      last_seen_at: "2026-12-04T11:00:00.123456Z"
count:
  description: How many users were found.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._users import list_users, lookup_user


def run_module(module):
    params = module.params
    client = client_from_module(module)
    try:
        if params["user"]:
            user = lookup_user(client, params["user"])
            users = [user] if user else []
        else:
            organization = client.organization(params["organization"]) if params["organization"] else None
            users = list_users(client, params["query"], params["status"], params["role"], organization)
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "read users")
    module.exit_json(changed=False, users=users, count=len(users))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        user=dict(type="str"),
        query=dict(type="str"),
        status=dict(type="list", elements="str", choices=["active", "dormant", "suspended"]),
        role=dict(type="list", elements="str"),
        organization=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("user", "query"), ("user", "status"), ("user", "role"),
                                               ("user", "organization")])
    run_module(module)


if __name__ == "__main__":
    main()
