# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: coder
short_description: Coder workspaces as inventory hosts, reached over coder ssh
version_added: 0.1.0
description:
  - Reads the workspaces of a Coder deployment through its REST API and makes each one a host, grouped by
    template, owner and status, with the workspace, its latest build and its agents as host variables.
  - Sets the connection of each host to OpenSSH with C(coder ssh --stdio) as its ProxyCommand, as
    C(coder config-ssh) does, so that playbooks (for example the C(coder.automation.agent_keepalive) role)
    run inside workspaces.
  - The configuration file must end in C(coder.yml) or C(coder.yaml), and its O(plugin) must be
    V(coder.automation.coder).
author:
  - coder.automation contributors (@coder-automation)
extends_documentation_fragment:
  - constructed
  - inventory_cache
requirements:
  - requests (on the controller)
  - the C(coder) CLI on the controller, logged in to the deployment, to connect to workspaces
options:
  plugin:
    description: The name of this plugin; it must always be set to V(coder.automation.coder).
    type: str
    required: true
    choices: [coder.automation.coder]
  url:
    description:
      - Address of the Coder deployment, such as C(https://coder.example.com), with or without C(/api/v2).
      - May be a template, such as C({{ lookup('ansible.builtin.env', 'MY_CODER_URL') }}).
    type: str
    required: true
    env:
      - name: CODER_URL
  token:
    description:
      - A session or API token of the user whose view of the workspaces the inventory shows (C(coder tokens create)).
        An owner or auditor sees every workspace; a member only their own.
      - May be a template or a vaulted value. It is sent only in the C(Coder-Session-Token) header; it is never a
        host variable, never cached, never in an error message, and never on the C(coder ssh) command line.
    type: str
    required: true
    env:
      - name: CODER_SESSION_TOKEN
  validate_certs:
    description: Whether to verify the TLS certificate of the deployment.
    type: bool
    default: true
    env:
      - name: CODER_VALIDATE_CERTS
  ca_path:
    description: A CA bundle (PEM file) to verify the deployment's certificate with, for a private CA.
    type: path
  timeout:
    description: Seconds to wait for each answer from the API.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried after a connection error or an HTTP 429, 502, 503 or 504 answer, with
        exponential backoff. Each retry is shown as a warning.
    type: int
    default: 3
  owners:
    description:
      - Only workspaces of these users (usernames; V(me) is the token's user).
      - Coder's workspace search takes one owner, template and status at a time, so the plugin runs one search per
        combination of the values of O(owners), O(templates) and O(statuses) (at most 100) and merges the answers.
    type: list
    elements: str
    default: []
  templates:
    description: Only workspaces of these templates (by name, in any organization).
    type: list
    elements: str
    default: []
  statuses:
    description:
      - Only workspaces whose latest build has one of these statuses.
      - Deleted workspaces are never listed by Coder.
      - One or more of V(pending), V(starting), V(running), V(stopping), V(stopped), V(failed), V(canceling),
        V(canceled), V(deleting) and V(deleted), in any letter case.
    type: list
    elements: str
    default: []
  query:
    description:
      - More terms of Coder's workspace search, added to every search, such as V(has-agent:connected) or
        V(outdated:true). Each key may appear only once, so do not repeat C(owner), C(template) or C(status) here when
        the options above are set.
    type: str
  host_name_format:
    description:
      - The host name of a workspace, a format string over V({owner}), V({workspace}), V({organization}),
        V({template}) and V({id}).
      - Two workspaces with the same host name are an error.
    type: str
    default: "{owner}.{workspace}"
  group_by:
    description:
      - Which groups to put each host in, named C(<group_prefix><kind>_<value>), such as C(coder_template_docker),
        C(coder_owner_alice) or C(coder_status_running).
      - Group names are in lower case, with every character other than letters, digits and underscores replaced
        by an underscore (C(my-template) becomes C(coder_template_my_template)).
    type: list
    elements: str
    choices: [template, owner, status, organization]
    default: [template, owner, status]
  group_prefix:
    description: The start of the name of every group of O(group_by).
    type: str
    default: coder_
  vars_prefix:
    description:
      - The start of the name of the host variables the plugin sets, C(workspace), C(agents), C(agent) and
        C(ssh_target). With the default they are C(coder_workspace), C(coder_agents), C(coder_agent) and
        C(coder_ssh_target).
    type: str
    default: coder_
  use_coder_ssh:
    description:
      - Set C(ansible_connection), C(ansible_host) and C(ansible_ssh_common_args) of each host so that Ansible's
        ssh connection reaches the workspace through C(coder ssh --stdio) as ProxyCommand, with
        C(StrictHostKeyChecking=no), C(UserKnownHostsFile=/dev/null) and C(LogLevel=ERROR) as
        C(coder config-ssh) writes them.
      - With V(false), no connection variables are set; use O(compose) to set your own.
    type: bool
    default: true
  preferred_agents:
    description:
      - In a workspace with several agents, the agent to connect to is the first of these names it has; otherwise
        the first agent Coder lists that is not a dev container's sub-agent.
    type: list
    elements: str
    default: []
  coder_binary:
    description: The C(coder) CLI on the controller, by name (found in E(PATH)) or by path.
    type: str
    default: coder
  coder_global_config:
    description:
      - A configuration directory of the C(coder) CLI (its C(--global-config)), where C(coder login) stored the
        deployment and the session. Without it, the CLI uses its default directory, or E(CODER_URL) and
        E(CODER_SESSION_TOKEN) from the environment of the Ansible run.
    type: path
  coder_ssh_args:
    description: More arguments for C(coder ssh), such as V(--wait=no) or V(--log-dir=/tmp/coder-ssh).
    type: list
    elements: str
    default: []
  start_stopped_workspaces:
    description:
      - Let C(coder ssh) start a stopped workspace when Ansible connects to it, which it does by default.
      - With V(false), the plugin gives C(coder ssh) the C(--disable-autostart) flag, and a stopped workspace is
        unreachable instead of being started (and billed) by a playbook run.
    type: bool
    default: false
notes:
  - Connecting needs the C(coder) CLI on the controller (or the execution environment), logged in with
    C(coder login) or given E(CODER_URL) and E(CODER_SESSION_TOKEN) in the environment. ssh passes its environment
    on to the ProxyCommand; the token is never written into the inventory.
  - The ProxyCommand is quoted for a POSIX shell (sh, bash, zsh), which ssh runs it with (E(SHELL)).
  - Coder's API does not say which operating system user a workspace agent runs as, so C(ansible_user) is not set.
    Commands run as the user the agent runs as.
  - A stopped workspace has no agents in its latest build; its host has no C(coder_agent), and C(coder ssh) is told
    the workspace only.
  - Owner, workspace and agent names that C(coder ssh) could read another way (with a dot, a slash or C(--)) get
    no connection settings, with a warning.
  - The cache holds the shaped workspaces only; its key depends on the configuration file, the URL and the filters.
seealso:
  - module: coder.automation.coder_workspace_info
  - module: coder.automation.coder_workspace_activity
"""

EXAMPLES = r"""
# The smallest configuration, a file coder.yml holding only the line below, lists every workspace the token can
# see, grouped by template, owner and status; CODER_URL and CODER_SESSION_TOKEN come from the environment (in AWX,
# from a Coder credential).
#
#   plugin: coder.automation.coder

# running.coder.yml: the running workspaces of two templates, with more groups and variables.
plugin: coder.automation.coder
url: https://coder.example.com
templates: [docker, kubernetes]
statuses: [running]
preferred_agents: [main]
coder_ssh_args: [--wait=no]
compose:
  coder_template_version: coder_workspace.latest_build.template_version_name
groups:
  coder_outdated: coder_workspace.outdated
keyed_groups:
  - key: coder_workspace.organization
    prefix: coder_organization
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/coder-inventory
cache_timeout: 300
"""

import difflib
import hashlib
import json
import os

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.coder.automation.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    CoderClient,
)
from ansible_collections.coder.automation.plugins.module_utils._errors import (
    CoderAPIError,
    CoderError,
    CoderInputError,
    redact,
)
from ansible_collections.coder.automation.plugins.module_utils._inventory import HostOptions, build_hosts
from ansible_collections.coder.automation.plugins.module_utils._module import STATUS_HINTS
from ansible_collections.coder.automation.plugins.module_utils._workspace_search import (
    list_workspaces,
    search_queries,
    workspace_with_agents,
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "coder.automation.coder"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("coder.yml", "coder.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path) or {}
        self._check_keys(config)
        validate_certs = self._strict_validate_certs(config)
        token = self._templated("token")

        try:
            options = self._host_options()
            workspaces = self._workspaces(path, token, cache, validate_certs)
            hosts, warnings = build_hosts(workspaces, options)
        except CoderInputError as error:
            raise AnsibleParserError(redact(f"Invalid {error.field}: {error.message}", [token])) from None
        except CoderError as error:
            hint = STATUS_HINTS.get(error.status, "") if isinstance(error, CoderAPIError) else ""
            raise AnsibleParserError(redact(f"Could not list Coder workspaces: {error} {hint}".rstrip(), [token])) \
                from None
        for warning in warnings:
            self.display.warning(warning)

        for host in hosts:
            self._add_host(host)

    def _check_keys(self, config):
        """Ansible ignores keys a plugin does not know; here a misspelt filter (status: for statuses:) would
        silently widen the inventory to every workspace, so an unknown key is an error."""
        unknown = sorted(set(config) - set(self._options) - {"plugin"})
        if unknown:
            hints = [f"{key} (did you mean {', '.join(difflib.get_close_matches(key, self._options, n=1))}?)"
                     if difflib.get_close_matches(key, self._options, n=1) else key for key in unknown]
            raise AnsibleParserError(f"Unknown option(s) of coder.automation.coder: {', '.join(hints)}. "
                                     "ansible-doc -t inventory coder.automation.coder lists them.")

    def _strict_validate_certs(self, config):
        """validate_certs as a strict boolean. Ansible's configuration converts an unrecognised value ('ture', '')
        to false, which would turn verification off; the modules refuse such values, and so does the plugin."""
        raw = config["validate_certs"] if "validate_certs" in config else os.environ.get("CODER_VALIDATE_CERTS")
        if raw is None:
            return self.get_option("validate_certs")
        try:
            return boolean(raw, strict=True)
        except TypeError:
            raise AnsibleParserError(f"Invalid validate_certs (or CODER_VALIDATE_CERTS): {str(raw)!r} is not a "
                                     "boolean; use true or false.") from None

    def _templated(self, option):
        """An option that may be a template or a vaulted value, as plain text (None when unset)."""
        value = self.get_option(option)
        if value is not None and self.templar.is_template(value):
            value = self.templar.template(value)
        return None if value is None else str(value)

    def _searches(self):
        return search_queries(self.get_option("owners"), self.get_option("templates"), self.get_option("statuses"),
                              query=self.get_option("query"))

    def _workspaces(self, path, token, cache, validate_certs):
        """The shaped workspaces, from the cache when it is on and fresh, else from the API."""
        url = self._templated("url")
        queries = self._searches()
        # The URL, the searches and who asks are part of the key, so that a file read with another CODER_URL,
        # other filters or another user's token (who may see fewer workspaces, or none) does not get this one's
        # answer. Only a digest of a digest of the token goes into the key: the token never reaches the disk.
        who = hashlib.sha256((token or "").encode()).hexdigest()
        scope = hashlib.sha256(json.dumps([url, queries, who]).encode()).hexdigest()[:12]
        cache_key = f"{self.get_cache_key(path)}_{scope}"
        use_cache = self.get_option("cache") and cache
        if use_cache:
            try:
                return self._cache[cache_key]
            except KeyError:
                pass

        found = list_workspaces(self._client(url, token, validate_certs), queries)
        workspaces = [workspace_with_agents(workspace) for workspace in found]
        if self.get_option("cache"):
            self._cache[cache_key] = workspaces
        return workspaces

    def _client(self, url, token, validate_certs):
        if not HAS_REQUESTS:
            raise AnsibleError(f"The coder.automation.coder inventory plugin needs the Python library requests on the "
                               f"controller: {REQUESTS_IMPORT_ERROR}")
        if self.get_option("retries") < 0 or self.get_option("timeout") <= 0:
            raise AnsibleParserError("retries must be 0 or more and timeout more than 0 seconds.")
        return CoderClient(url, token, validate_certs=validate_certs,
                           ca_path=self.get_option("ca_path"), timeout=self.get_option("timeout"),
                           retries=self.get_option("retries"), warn=self.display.warning)

    def _host_options(self):
        return HostOptions(
            host_name_format=self.get_option("host_name_format"), group_by=self.get_option("group_by"),
            group_prefix=self.get_option("group_prefix"), vars_prefix=self.get_option("vars_prefix"),
            use_coder_ssh=self.get_option("use_coder_ssh"), preferred_agents=self.get_option("preferred_agents"),
            coder_binary=self.get_option("coder_binary"), coder_global_config=self.get_option("coder_global_config"),
            coder_ssh_args=self.get_option("coder_ssh_args"),
            start_stopped_workspaces=self.get_option("start_stopped_workspaces"),
        )

    def _add_host(self, host):
        self.inventory.add_host(host.name)
        for group in host.groups:
            self.inventory.add_group(group)
            self.inventory.add_child(group, host.name)
        for name, value in host.variables.items():
            self.inventory.set_variable(host.name, name, value)

        strict = self.get_option("strict")
        variables = self.inventory.get_host(host.name).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host.name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host.name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host.name, strict=strict)
