#!/usr/bin/python
# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: coder_template
short_description: Push a Coder template directory idempotently, wait for its build, manage settings and access
version_added: 0.1.0
description:
  - Makes a Coder template match a Terraform directory, variable values, settings and an access list.
  - A new template version is built only when the directory's files, the variables or the provisioner tags
    differ from the template's active version, as read from the server (its archive is downloaded and compared
    file by file). Any machine can run the task, and a rerun changes nothing.
  - The archive is deterministic, the file set being the one C(coder templates push) uploads.
  - Builds are waited for. A build that fails, or that no provisioner can pick up, fails the task with the
    reason and the last log lines; the active version stays as it was.
  - A template that does not exist yet is created from its first successful version.
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - coder.automation.coder
  - coder.automation.coder.attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is uploaded or written; the task still compares the directory with the active version.
  diff_mode:
    support: full
    details:
      - The diff names the files added, removed and changed, the settings and the access entries that change.
options:
  name:
    description:
      - The template's name in its organization (1 to 32 letters, digits and single hyphens; not V(new) or
        V(create)). Found without regard to letter case.
    type: str
    required: true
  organization:
    description: The organization, by name or id. The default organization when omitted.
    type: str
  path:
    description:
      - The template directory (Terraform files). Needed to create a template; without it, an existing
        template's settings and access list are managed and its versions left alone.
      - Hidden files and directories are left out except C(.terraform.lock.hcl), and so are C(.terraform/),
        Terraform state files and C(.tfvars) files. A symbolic link is followed when it points inside the
        directory and refused otherwise.
    type: path
  version_name:
    description:
      - The name of the version built when one is needed (Coder picks a random name when omitted).
      - It does not force a new version. When a version of that name exists with the same files (a rerun after
        a failure), it is reused.
    type: str
  version_message:
    description:
      - The message of the version built when one is needed (C(coder templates push --message)). Ansible reserves
        the option name C(message) for itself.
    type: str
  variables:
    description:
      - Values of the template's Terraform variables, by name. They win over O(variables_files) and over
        C(terraform.tfvars), C(terraform.tfvars.json), C(*.auto.tfvars) and C(*.auto.tfvars.json) in the directory,
        which are read as the CLI does.
      - A new version is built when a value differs from the active version's, and when a value the active version
        was given is no longer given (its default then applies). Values for variables the template does not
        declare are ignored, with a warning.
      - Hidden from task output, since values are often secrets.
    type: dict
  variables_files:
    description:
      - Files with variable values, applied in order after the directory's C(.tfvars) files. C(.tfvars) files
        are read as Terraform variable files, others as YAML mappings (like C(coder templates push
        --variables-file)).
    type: list
    elements: path
  provisioner_tags:
    description: Tags a provisioner must have to build the template (C(coder templates push --provisioner-tag)).
    type: dict
  activate:
    description: Whether a new version becomes the active one.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a build.
    type: int
    default: 600
  display_name:
    description: The name shown in the dashboard. V("") clears it.
    type: str
  description:
    description: The template's description. V("") clears it.
    type: str
  icon:
    description: An icon URL or path, such as C(/icon/docker.png). V("") clears it.
    type: str
  default_ttl:
    description: How long workspaces run before they stop, such as V(8h), V(90m), V(1d2h), or milliseconds.
    type: raw
  activity_bump:
    description: How much activity extends a running workspace's deadline (V(0) disables it), as a duration.
    type: raw
  failure_ttl:
    description: How long failed workspaces are kept before they stop (Premium), as a duration.
    type: raw
  time_til_dormant:
    description: Inactivity before a workspace becomes dormant (Premium), as a duration.
    type: raw
  time_til_dormant_autodelete:
    description: How long dormant workspaces are kept before deletion (Premium), as a duration.
    type: raw
  autostop_requirement:
    description: Days workspaces must stop (Premium), as C(days_of_week) (monday to sunday) and C(weeks).
    type: dict
  autostart_requirement:
    description: Days workspaces may start automatically (Premium), as C(days_of_week).
    type: dict
  allow_user_autostart:
    description: Whether users may set autostart (V(false) needs Premium).
    type: bool
  allow_user_autostop:
    description: Whether users may set autostop (V(false) needs Premium).
    type: bool
  allow_user_cancel_workspace_jobs:
    description: Whether users may cancel their workspace builds.
    type: bool
  require_active_version:
    description: Whether workspaces must use the active version (V(true) needs Premium).
    type: bool
  deprecation_message:
    description: Marks the template deprecated with this message (Premium); V("") clears it.
    type: str
  max_port_share_level:
    description: The widest level workspace ports may be shared at (other than V(public) needs Premium).
    type: str
    choices: [owner, authenticated, organization, public]
  acl:
    description:
      - Who may use or administer the template. C(groups) and C(users) map names to V(use) or V(admin).
        Group names are exact (V(Everyone) is the organization's everyone group); usernames ignore case.
      - Needs Premium (C(template_rbac)).
    type: dict
  purge_acl:
    description:
      - V(true) makes the access list exactly O(acl) (the Everyone group included); V(false) only adds or
        changes the entries given.
    type: bool
    default: false
  state:
    description: V(present) pushes and configures the template; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Only the settings given are compared and changed. Coder v2.33 and older reset the settings a change leaves
    out, so on those versions the module sends their current values back unchanged.
  - Settings that need a Premium license, on a deployment without it, fail the task before anything is written.
  - Coder returns the values of sensitive variables redacted, so a change to a sensitive variable's value alone
    does not build a new version; change O(version_name) or a file to force one.
  - Coder refuses to delete a template that workspaces use; the task says so.
seealso:
  - module: coder.automation.coder_template_info
"""

EXAMPLES = r"""
- name: Push the Docker template from git
  coder.automation.coder_template:
    name: docker
    path: "{{ playbook_dir }}/templates/docker"
    version_message: "{{ lookup('ansible.builtin.env', 'CI_COMMIT_SHA') | default('manual push', true) }}"
    variables:
      docker_host: unix:///var/run/docker.sock
    display_name: Docker
    default_ttl: 8h
    activity_bump: 1h
    acl:
      groups:
        Everyone: use
        platform: admin
"""

RETURN = r"""
template:
  description: The template as Coder returns it after the task (as it was, in check mode; null after deletion).
  returned: always
  type: dict
version:
  description: The active version after the task (the one that would stay active, in check mode).
  returned: when state is present and the template exists or was created
  type: dict
files_added:
  description: Files of the directory that the active version does not have.
  returned: always
  type: list
  elements: str
files_removed:
  description: Files of the active version that the directory no longer has.
  returned: always
  type: list
  elements: str
files_changed:
  description: Files whose content differs from the active version's.
  returned: always
  type: list
  elements: str
actions:
  description: What the task did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.coder.automation.plugins.module_utils._archive import build_archive, collect_files, manifest
from ansible_collections.coder.automation.plugins.module_utils._client import CoderAPIError
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._module import (
    client_from_module,
    connection_argument_spec,
    fail_with_error,
    plan_result,
)
from ansible_collections.coder.automation.plugins.module_utils._template_inputs import duration_ms, variable_values
from ansible_collections.coder.automation.plugins.module_utils._templates import (
    SETTINGS,
    TemplatePush,
    check_acl,
    check_requirements,
    expected_tags,
    plan_template,
    validate_template_name,
)

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller
    HAS_YAML = False

DURATION_OPTIONS = ("default_ttl", "activity_bump", "failure_ttl", "time_til_dormant", "time_til_dormant_autodelete")
DELETE_HINT = "workspaces still use the template; delete them first"


def desired_from_params(params):
    """The options, validated, with durations in milliseconds; nothing is read from the server yet."""
    validate_template_name(params["name"])
    settings = {setting.option: params[setting.option] for setting in SETTINGS}
    for option in DURATION_OPTIONS:
        settings[option] = duration_ms(settings[option], option)
    check_requirements(settings)
    if params["wait_timeout"] < 0:
        raise CoderInputError("wait_timeout", "must be 0 or more seconds.")
    want = dict(name=params["name"], state=params["state"], settings=settings, acl=check_acl(params["acl"]),
                purge_acl=params["purge_acl"], activate=params["activate"], version_name=params["version_name"])
    return want


def _load_yaml(text):
    return yaml.safe_load(text)


def run_module(module):
    params = module.params
    label = f"template '{params['name']}'"
    if not HAS_YAML and params["variables_files"]:
        module.fail_json(msg=missing_required_lib("PyYAML (for variables_files)"))
    try:
        want = desired_from_params(params)
        pushing = want["state"] == "present" and params["path"]
        files = collect_files(params["path"]) if pushing else None
        local_manifest = manifest(files) if pushing else None
        # Built now so that an archive over Coder's size limit fails before any request, in check mode too.
        archive = build_archive(files) if pushing else None
        variables = variable_values(params["path"], params["variables_files"], params["variables"],
                                    _load_yaml) if pushing else {}
    except Exception as error:  # pylint: disable=broad-exception-caught  # reported redacted, with traceback
        fail_with_error(module, error, f"read the inputs of {label}")

    client = client_from_module(module)
    action = f"plan changes to {label}"
    try:
        organization = client.organization(params["organization"])
        tags = params["provisioner_tags"] or {}
        my_id = client.get_cached("/users/me")["id"] if str(tags.get("scope", "")).lower() == "user" else None
        push = TemplatePush(organization, params["name"], files, variables, expected_tags(tags, my_id),
                            version_name=params["version_name"], message=params["version_message"],
                            wait_timeout=params["wait_timeout"], archive=archive)
        plan = plan_template(client, want, files, local_manifest, push)
    except Exception as error:  # pylint: disable=broad-exception-caught
        if isinstance(error, CoderAPIError) and error.status == 404 and "organizations" in error.path:
            error = CoderInputError("organization", f"organization '{params['organization']}' does not exist or "
                                    "is not visible to this token.")
        fail_with_error(module, error, action)

    version = {"version": plan.version} if getattr(plan, "version", None) else {}
    result = plan_result(module, plan, template=plan.template, files_added=plan.files["added"],
                         files_removed=plan.files["removed"], files_changed=plan.files["changed"], **version)

    context = {}
    try:
        plan.apply(client, context)
        result["changed"] = bool(context["changed"])
        if plan.action != "delete":
            template_id = (context.get("template") or plan.template)["id"]
            result["template"] = client.get(f"/templates/{template_id}").body
            result["version"] = client.get(f"/templateversions/{result['template']['active_version_id']}").body
        else:
            result["template"] = None
    except Exception as error:  # pylint: disable=broad-exception-caught
        # A version created before the failure (a failed build, a refused promote) is a change on the server.
        result["changed"] = bool(context.get("changed")) or push.created_version is not None
        hint = f" ({DELETE_HINT})" if plan.action == "delete" and getattr(error, "status", None) == 400 else ""
        fail_with_error(module, error, context.get("step", action) + hint, **result)
    module.exit_json(**result)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        organization=dict(type="str"),
        path=dict(type="path"),
        version_name=dict(type="str"),
        version_message=dict(type="str"),
        variables=dict(type="dict", no_log=True),
        variables_files=dict(type="list", elements="path"),
        provisioner_tags=dict(type="dict"),
        activate=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        display_name=dict(type="str"),
        description=dict(type="str"),
        icon=dict(type="str"),
        default_ttl=dict(type="raw"),
        activity_bump=dict(type="raw"),
        failure_ttl=dict(type="raw"),
        time_til_dormant=dict(type="raw"),
        time_til_dormant_autodelete=dict(type="raw"),
        autostop_requirement=dict(type="dict"),
        autostart_requirement=dict(type="dict"),
        allow_user_autostart=dict(type="bool"),
        allow_user_autostop=dict(type="bool"),
        allow_user_cancel_workspace_jobs=dict(type="bool"),
        require_active_version=dict(type="bool"),
        deprecation_message=dict(type="str"),
        max_port_share_level=dict(type="str", choices=["owner", "authenticated", "organization", "public"]),
        acl=dict(type="dict"),
        purge_acl=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
