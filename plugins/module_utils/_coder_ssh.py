# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible connection settings that reach a Coder workspace through ``coder ssh --stdio`` as OpenSSH's
ProxyCommand, the way ``coder config-ssh`` sets up ``ssh coder.<workspace>``.

The settings travel through three parsers, and each is given what it expects:

1. Ansible splits ``ansible_ssh_common_args`` with ``shlex.split``: each ``-o`` value is one shell word.
2. ssh reads ``ProxyCommand=<command>`` like a config line, expands ``%`` tokens in it (``%%`` is a ``%``),
   then runs it with ``$SHELL -c "exec <command>"``: every word of the command is quoted for a POSIX shell.
3. ``coder ssh`` reads ``owner/workspace.agent``: names that could be read another way are refused.

The settings never hold a token: the ``coder`` CLI finds its own credentials (``coder login``, or
CODER_URL and CODER_SESSION_TOKEN in the environment ssh passes on to the ProxyCommand).
"""

from __future__ import annotations

import re
import shlex

from ._errors import CoderInputError

# What `coder config-ssh` puts in every workspace's Host stanza besides the ProxyCommand. Coder authenticates the
# connection (the CLI's token, then an encrypted tunnel to the agent); the agent's host key changes with every
# rebuild, so checking or recording it only produces "host identification has changed" failures and warnings.
SSH_OPTIONS = ("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR")
# `coder ssh` splits its argument at "/", "." and "--"; a name is safe when it cannot contain any of them.
SSH_NAME_RE = re.compile(r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$")


def _has_control_characters(text):
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


def ssh_target(owner, workspace, agent=None):
    """``owner/workspace.agent`` (or ``owner/workspace`` without an agent) for ``coder ssh``."""
    for what, name in (("owner", owner), ("workspace", workspace), ("agent", agent)):
        if name is None and what == "agent":
            continue
        if not isinstance(name, str) or not SSH_NAME_RE.match(name):
            raise CoderInputError(what, f"'{name}' cannot be named to coder ssh (letters, digits and single '-' or "
                                  "'_' between them only).")
    return f"{owner}/{workspace}" + (f".{agent}" if agent else "")


def choose_agent(agents, preferred=None):
    """The agent to connect to: the first name of ``preferred`` the workspace has, else the first agent that is not
    a sub-agent (a dev container's), else the first agent. None when the latest build has no agent (stopped)."""
    by_name = {agent.get("name"): agent for agent in agents}
    for name in preferred or []:
        if name in by_name:
            return by_name[name]
    for agent in agents:
        if not agent.get("parent_id"):
            return agent
    return agents[0] if agents else None


def check_command(coder_binary="coder", global_config=None, extra_args=None):
    """Refuse what no quoting carries through an ssh option: an empty word, a line break, a control character."""
    for word in [coder_binary, *([global_config] if global_config else []), *(extra_args or [])]:
        if not isinstance(word, str) or not word or _has_control_characters(word):
            raise CoderInputError("coder_binary", "the coder binary, coder_global_config and coder_ssh_args must be "
                                  "non-empty strings without line breaks or other control characters.")


def proxy_command(target, coder_binary="coder", global_config=None, extra_args=None, autostart=False):
    """The ProxyCommand, ready for ssh: each word quoted for a POSIX shell, then every ``%`` doubled so that ssh's
    token expansion gives it back unchanged."""
    check_command(coder_binary, global_config, extra_args)
    words = [coder_binary]
    if global_config:
        words += ["--global-config", global_config]
    words += ["ssh", "--stdio"]
    if not autostart:
        # Without it, `coder ssh` starts a stopped workspace to connect to it.
        words.append("--disable-autostart")
    words += list(extra_args or [])
    words.append(target)
    return " ".join(shlex.quote(word) for word in words).replace("%", "%%")


def ssh_host_label(owner, workspace, agent=None):
    """The host name ssh is given. The ProxyCommand names the workspace itself, so this is a label only, unique per
    workspace and agent, which ssh uses for its connection sharing (ControlPath)."""
    return ".".join(part for part in (agent, workspace, owner, "coder") if part)


def connection_vars(owner, workspace, agent=None, coder_binary="coder", global_config=None, extra_args=None,
                    autostart=False):
    """The host variables of Ansible's ssh connection that reach the workspace through ``coder ssh --stdio``."""
    command = proxy_command(ssh_target(owner, workspace, agent), coder_binary, global_config, extra_args, autostart)
    options = [f"ProxyCommand={command}", *SSH_OPTIONS]
    return {
        "ansible_connection": "ssh",
        "ansible_host": ssh_host_label(owner, workspace, agent),
        "ansible_ssh_common_args": " ".join(f"-o {shlex.quote(option)}" for option in options),
    }
