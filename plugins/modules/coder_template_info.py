#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_template_info
short_description: Read Coder templates with their settings, active version and access list
version_added: 0.1.0
description:
  - Reads one template, or the templates of one or every organization, through Coder's REST API.
  - Each template comes with its active version and, where the deployment has the Premium C(template_rbac)
    feature, its access list.
  - Never changes anything.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
  - coder.automation.coder.info_module
options:
  name:
    description: One template, by name (without regard to letter case), in O(organization).
    type: str
  organization:
    description:
      - Only templates of this organization, by name or id. With O(name), the default organization when
        omitted; otherwise every organization.
    type: str
  deprecated:
    description: Also return deprecated templates (Coder hides them from lists by default).
    type: bool
    default: false
  acl:
    description: Read each template's access list (one request per template).
    type: bool
    default: true
seealso:
  - module: coder.automation.coder_template
"""

EXAMPLES = r"""
- name: Every template of the default organization
  coder.automation.coder_template_info:
    organization: default
  register: templates
"""

RETURN = r"""
templates:
  description:
    - The templates as Coder returns them, each with C(active_version) (the version object) and C(acl)
      (C(users) and C(group) with their roles; null when the deployment lacks C(template_rbac)).
  returned: always
  type: list
  elements: dict
count:
  description: How many templates were found.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
)
from ansible_collections.coder.automation.plugins.module_utils._templates import find_template


def read_templates(client, params):
    if params["name"]:
        template = find_template(client, client.organization(params["organization"]), params["name"])
        templates = [template] if template else []
    else:
        query = {"q": "deprecated:true"} if params["deprecated"] else None
        path = f"/organizations/{client.organization(params['organization'])['id']}/templates" \
            if params["organization"] else "/templates"
        templates = client.get(path, params=query).body or []
        if params["deprecated"]:
            # deprecated:true lists only deprecated ones; the others come from the plain listing.
            known = {template["id"] for template in templates}
            templates += [t for t in client.get(path).body or [] if t["id"] not in known]
    with_acl = params["acl"] and client.feature_enabled("template_rbac")
    for template in templates:
        template["active_version"] = client.get(f"/templateversions/{template['active_version_id']}").body
        template["acl"] = client.get(f"/templates/{template['id']}/acl").body if with_acl else None
    return templates


def run_module(module):
    client = client_from_module(module)
    try:
        templates = read_templates(client, module.params)
    except Exception as error:  # pylint: disable=broad-exception-caught
        fail_with_error(module, error, "read templates")
    module.exit_json(changed=False, templates=templates, count=len(templates))


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        organization=dict(type="str"),
        deprecated=dict(type="bool", default=False),
        acl=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
