# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from ansible_collections.coder.automation.plugins.module_utils._coder_ssh import (
    choose_agent,
    connection_vars,
    proxy_command,
    ssh_host_label,
    ssh_target,
)
from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError

# A directory name no shell or ssh would pass through unharmed without quoting and escaping.
AWKWARD_DIR = "it's 100% $HOME `id` & \"quoted\" #not-a-comment"


def split_common_args(common_args):
    """What Ansible's ssh connection does with ansible_ssh_common_args (shlex.split, each word stripped)."""
    return [word.strip() for word in shlex.split(common_args) if word.strip()]


def ssh_unescape(command):
    """ssh's token expansion of a ProxyCommand that uses no token: %% becomes %, any other % is an error."""
    result, index = [], 0
    while index < len(command):
        if command[index] == "%":
            assert command[index + 1:index + 2] == "%", f"an unescaped % in {command!r}"
            index += 1
        result.append(command[index])
        index += 1
    return "".join(result)


# ---- the target --------------------------------------------------------------------------------------

def test_the_target_names_owner_workspace_and_agent():
    assert ssh_target("alice", "dev", "main") == "alice/dev.main"
    assert ssh_target("alice", "dev") == "alice/dev"
    assert ssh_target("a-1", "w_2", "agent-x_y") == "a-1/w_2.agent-x_y"


@pytest.mark.parametrize("owner, workspace, agent", [
    ("alice", "dev.x", None),  # coder ssh would read x as the agent
    ("ali/ce", "dev", None),
    ("alice", "a--b", None),  # coder ssh reads -- as owner--workspace
    ("alice", "dev", "main.2"),
    ("alice", "dev", "bad agent"),
    ("", "dev", None),
    ("alice", None, None),
    ("alice", "dev;rm", None),
])
def test_a_name_coder_ssh_could_read_another_way_is_refused(owner, workspace, agent):
    with pytest.raises(CoderInputError):
        ssh_target(owner, workspace, agent)


# ---- the agent ---------------------------------------------------------------------------------------

AGENTS = [{"name": "devcontainer", "parent_id": "p-1"}, {"name": "main", "parent_id": None}, {"name": "gpu"}]


def test_the_first_preferred_name_the_workspace_has_wins():
    assert choose_agent(AGENTS, ["nope", "gpu", "main"])["name"] == "gpu"


def test_without_preference_the_first_agent_that_is_no_sub_agent():
    assert choose_agent(AGENTS)["name"] == "main"
    assert choose_agent(AGENTS, ["nope"])["name"] == "main"


def test_only_sub_agents_gives_the_first_and_no_agents_gives_none():
    assert choose_agent([{"name": "a", "parent_id": "p"}, {"name": "b", "parent_id": "p"}])["name"] == "a"
    assert choose_agent([]) is None


# ---- the ProxyCommand --------------------------------------------------------------------------------

def test_the_default_command_is_what_coder_config_ssh_runs_without_autostart():
    assert proxy_command("alice/dev.main") == "coder ssh --stdio --disable-autostart alice/dev.main"


def test_autostart_global_config_and_extra_arguments():
    command = proxy_command("alice/dev", "/opt/coder/bin/coder", "/etc/coder cfg", ["--wait=no"], autostart=True)
    assert shlex.split(command) == ["/opt/coder/bin/coder", "--global-config", "/etc/coder cfg", "ssh", "--stdio",
                                    "--wait=no", "alice/dev"]


def test_every_word_is_shell_quoted_and_every_percent_doubled():
    binary = f"/opt/{AWKWARD_DIR}/coder"
    command = proxy_command("alice/dev.main", binary, extra_args=["--log-dir=/tmp/50%"])
    assert "%%" in command and "100% " not in command
    assert shlex.split(ssh_unescape(command)) == [binary, "ssh", "--stdio", "--disable-autostart",
                                                  "--log-dir=/tmp/50%", "alice/dev.main"]


@pytest.mark.parametrize("bad", ["coder\nrm -rf ~", "coder\r", "co\x00der", "", "coder\x7f"])
def test_line_breaks_and_control_characters_are_refused(bad):
    with pytest.raises(CoderInputError):
        proxy_command("alice/dev", bad)
    with pytest.raises(CoderInputError):
        proxy_command("alice/dev", extra_args=[bad])


# ---- the host variables ------------------------------------------------------------------------------

def test_the_host_variables_survive_ansibles_split_and_ssh_expansion():
    settings = connection_vars("alice", "dev", "main", coder_binary=f"/x/{AWKWARD_DIR}/coder")
    assert settings["ansible_connection"] == "ssh"
    assert settings["ansible_host"] == "main.dev.alice.coder"
    words = split_common_args(settings["ansible_ssh_common_args"])
    assert words[0::2] == ["-o"] * 4
    assert words[3::2] == ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"]
    keyword, _equals, command = words[1].partition("=")
    assert keyword == "ProxyCommand"
    assert shlex.split(ssh_unescape(command)) == [f"/x/{AWKWARD_DIR}/coder", "ssh", "--stdio", "--disable-autostart",
                                                  "alice/dev.main"]


def test_the_host_label_is_unique_per_workspace_and_agent():
    assert ssh_host_label("alice", "dev") == "dev.alice.coder"
    assert ssh_host_label("alice", "dev", "main") != ssh_host_label("alice", "dev", "gpu")


def test_no_token_reaches_the_settings(monkeypatch):
    token = "AbCdEfGhIj-0123456789abcdefghijkl"
    monkeypatch.setenv("CODER_SESSION_TOKEN", token)
    settings = connection_vars("alice", "dev", "main")
    assert not any(token in value or "CODER_SESSION_TOKEN" in value or "--token" in value
                   for value in settings.values())


def test_a_refused_name_gives_no_settings():
    with pytest.raises(CoderInputError) as caught:
        connection_vars("alice", "dev.x")
    assert caught.value.field == "workspace"


# ---- end to end: the settings as ssh and the shell run them ----------------------------------------

def fake_coder(directory):
    """A stand-in for the coder binary that writes the arguments it was given, and whether it saw the token
    variable, to a file next to it, then exits (ssh then reports that the connection closed)."""
    directory.mkdir(parents=True)
    script = directory / "coder"
    script.write_text(f"#!{sys.executable}\n"
                      "import json, os, sys\n"
                      "record = {'argv': sys.argv[1:], 'has_token_env': 'CODER_SESSION_TOKEN' in os.environ}\n"
                      "with open(os.path.join(os.path.dirname(sys.argv[0]), 'called.json'), 'w') as f:\n"
                      "    json.dump(record, f)\n")
    script.chmod(0o700)
    return script


def test_the_proxy_command_runs_as_written_under_a_posix_shell(tmp_path):
    script = fake_coder(tmp_path / AWKWARD_DIR)
    command = ssh_unescape(proxy_command("alice/dev.main", str(script), extra_args=["--log-dir=/tmp/50%"]))
    subprocess.run(["/bin/sh", "-c", f"exec {command}"], check=True, env=dict(os.environ, HOME="/nonexistent"))
    record = json.loads((script.parent / "called.json").read_text())
    assert record["argv"] == ["ssh", "--stdio", "--disable-autostart", "--log-dir=/tmp/50%", "alice/dev.main"]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
def test_openssh_runs_the_proxy_command_with_the_coder_arguments(tmp_path):
    script = fake_coder(tmp_path / AWKWARD_DIR)
    settings = connection_vars("alice", "dev", "main", coder_binary=str(script))
    env = dict(os.environ, SHELL="/bin/sh", CODER_SESSION_TOKEN="AbCdEfGhIj-0123456789abcdefghijkl")
    # -F /dev/null: no user or system configuration; the ProxyCommand replaces any network connection.
    command = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", *split_common_args(settings["ansible_ssh_common_args"]),
               settings["ansible_host"], "true"]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert finished.returncode == 255
    record = json.loads((script.parent / "called.json").read_text())
    assert record == {"argv": ["ssh", "--stdio", "--disable-autostart", "alice/dev.main"], "has_token_env": True}
