# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the coder inventory plugin makes of each workspace: its host name, its groups and its host variables.
Pure functions over the shape of ``_workspace_search.workspace_with_agents``, so that they are tested without
Ansible's inventory machinery."""

from __future__ import annotations

import re
import string

from ._coder_ssh import check_command, choose_agent, connection_vars, ssh_target
from ._errors import CoderInputError

HOST_NAME_FIELDS = ("owner", "workspace", "organization", "template", "id")
GROUP_KINDS = ("template", "owner", "status", "organization")
# Group names Ansible accepts without a warning: letters, digits and underscores.
GROUP_NAME_INVALID_RE = re.compile(r"[^a-z0-9_]")


class Host:
    def __init__(self, name, variables, groups):
        self.name = name
        self.variables = variables
        self.groups = groups


class HostOptions:
    """The plugin options that shape hosts, with the plugin's defaults."""

    def __init__(self, host_name_format="{owner}.{workspace}", group_by=GROUP_KINDS[:3], group_prefix="coder_",
                 vars_prefix="coder_", use_coder_ssh=True, preferred_agents=None, coder_binary="coder",
                 coder_global_config=None, coder_ssh_args=None, start_stopped_workspaces=False):
        check_host_name_format(host_name_format)
        if use_coder_ssh:
            check_command(coder_binary, coder_global_config, coder_ssh_args)
        self.host_name_format = host_name_format
        self.group_by = list(group_by or [])
        self.group_prefix = group_prefix or ""
        self.vars_prefix = vars_prefix or ""
        self.use_coder_ssh = use_coder_ssh
        self.preferred_agents = list(preferred_agents or [])
        self.coder_binary = coder_binary
        self.coder_global_config = coder_global_config
        self.coder_ssh_args = list(coder_ssh_args or [])
        self.start_stopped_workspaces = start_stopped_workspaces


def check_host_name_format(host_name_format):
    """Only plain fields of HOST_NAME_FIELDS: no attribute or index lookups inside the braces."""
    try:
        fields = [field for _text, field, _spec, _conversion in string.Formatter().parse(host_name_format)
                  if field is not None]
    except ValueError as error:
        raise CoderInputError("host_name_format", f"'{host_name_format}' is not a format string: {error}.") from None
    unknown = [field for field in fields if field not in HOST_NAME_FIELDS]
    if unknown or not fields:
        raise CoderInputError("host_name_format", f"'{host_name_format}' must use fields among "
                              f"{', '.join('{' + name + '}' for name in HOST_NAME_FIELDS)}, and at least one.")


def host_name(host_name_format, workspace):
    values = {"owner": workspace.get("owner") or "", "workspace": workspace.get("name") or "",
              "organization": workspace.get("organization") or "", "template": workspace.get("template") or "",
              "id": workspace.get("id") or ""}
    return host_name_format.format(**values)


def sanitize_group_name(name):
    """Lower case, anything but letters, digits and underscores replaced by an underscore."""
    return GROUP_NAME_INVALID_RE.sub("_", name.lower())


def group_names(workspace, group_by, prefix):
    """``<prefix><kind>_<value>`` for each kind of ``group_by`` the workspace has a value for, sanitized."""
    values = {"template": workspace.get("template"), "owner": workspace.get("owner"),
              "status": workspace.get("status"), "organization": workspace.get("organization")}
    return [sanitize_group_name(f"{prefix}{kind}_{values[kind]}") for kind in group_by if values.get(kind)]


def build_hosts(workspaces, options):
    """(hosts, warnings) for workspaces shaped by ``workspace_with_agents``.

    Raises CoderInputError when two workspaces would get the same host name.
    """
    hosts, warnings, owners_of = [], [], {}
    for shaped in workspaces:
        workspace = {key: value for key, value in shaped.items() if key != "agents"}
        agents = shaped.get("agents") or []
        label = f"{workspace.get('owner')}/{workspace.get('name')}"
        name = host_name(options.host_name_format, workspace)
        if name in owners_of:
            raise CoderInputError("host_name_format", f"workspaces {owners_of[name]} and {label} would both be host "
                                  f"'{name}'; use a host_name_format that tells them apart, such as "
                                  "'{owner}.{workspace}'.")
        owners_of[name] = label
        agent = choose_agent(agents, options.preferred_agents)
        agent_name = agent.get("name") if agent else None
        prefix = options.vars_prefix
        variables = {f"{prefix}workspace": workspace, f"{prefix}agents": agents, f"{prefix}agent": agent_name}
        try:
            variables[f"{prefix}ssh_target"] = ssh_target(workspace.get("owner"), workspace.get("name"), agent_name)
            if options.use_coder_ssh:
                variables.update(connection_vars(
                    workspace.get("owner"), workspace.get("name"), agent_name, options.coder_binary,
                    options.coder_global_config, options.coder_ssh_args, options.start_stopped_workspaces))
        except CoderInputError as error:
            if error.field not in ("owner", "workspace", "agent"):
                raise
            variables[f"{prefix}ssh_target"] = None
            warnings.append(f"Host '{name}' (workspace {label}) has no coder ssh connection settings: {error.message}")
        hosts.append(Host(name, variables, group_names(workspace, options.group_by, options.group_prefix)))
    return hosts, warnings
