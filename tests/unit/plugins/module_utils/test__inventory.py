# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.coder.automation.plugins.module_utils._errors import CoderInputError
from ansible_collections.coder.automation.plugins.module_utils._inventory import (
    HostOptions,
    build_hosts,
    check_host_name_format,
    group_names,
    host_name,
    sanitize_group_name,
)


def shaped(name="dev", owner="alice", template="docker", status="running", agents=None, organization="coder"):
    """A workspace as workspace_with_agents shapes it."""
    return {"id": f"id-{owner}-{name}", "name": name, "owner": owner, "template": template, "status": status,
            "organization": organization, "transition": "start", "latest_build": {"build_number": 1},
            "agents": [{"name": agent, "id": f"agent-{agent}"} for agent in (agents or [])]}


# ---- host names ------------------------------------------------------------------------------------

def test_the_default_host_name_is_owner_dot_workspace():
    assert host_name("{owner}.{workspace}", shaped()) == "alice.dev"
    assert host_name("{template}-{id}", shaped()) == "docker-id-alice-dev"


@pytest.mark.parametrize("bad", ["{owner.__class__}", "{name}", "{owner[0]}", "static", "{owner", "{0}"])
def test_a_host_name_format_with_anything_but_plain_known_fields_is_refused(bad):
    with pytest.raises(CoderInputError) as caught:
        check_host_name_format(bad)
    assert caught.value.field == "host_name_format"


def test_two_workspaces_with_one_host_name_are_refused():
    options = HostOptions(host_name_format="{workspace}")
    with pytest.raises(CoderInputError, match="alice/dev and bob/dev would both be host 'dev'"):
        build_hosts([shaped(owner="alice"), shaped(owner="bob")], options)


# ---- groups ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("coder_template_my-docker", "coder_template_my_docker"),
    ("coder_owner_Alice.Smith", "coder_owner_alice_smith"),
    ("x y/z:ü", "x_y_z__"),
])
def test_group_names_are_lower_case_letters_digits_and_underscores(name, expected):
    assert sanitize_group_name(name) == expected


def test_one_group_per_kind_asked_for():
    workspace = shaped(template="k8s-gpu", owner="Bob")
    assert group_names(workspace, ["template", "owner", "status"], "coder_") == [
        "coder_template_k8s_gpu", "coder_owner_bob", "coder_status_running"]
    assert group_names(workspace, ["organization"], "") == ["organization_coder"]
    assert group_names(workspace, [], "coder_") == []


def test_a_workspace_without_a_template_is_in_no_template_group():
    assert group_names(shaped(template=""), ["template", "status"], "coder_") == ["coder_status_running"]


# ---- host variables ------------------------------------------------------------------------------

def test_host_variables_and_connection_settings():
    (host,), warnings = build_hosts([shaped(agents=["main", "gpu"])], HostOptions())
    assert warnings == []
    assert host.name == "alice.dev"
    assert host.groups == ["coder_template_docker", "coder_owner_alice", "coder_status_running"]
    variables = host.variables
    assert variables["coder_workspace"]["name"] == "dev" and "agents" not in variables["coder_workspace"]
    assert [agent["name"] for agent in variables["coder_agents"]] == ["main", "gpu"]
    assert variables["coder_agent"] == "main" and variables["coder_ssh_target"] == "alice/dev.main"
    assert variables["ansible_connection"] == "ssh" and variables["ansible_host"] == "main.dev.alice.coder"
    assert "alice/dev.main" in variables["ansible_ssh_common_args"]
    assert "--disable-autostart" in variables["ansible_ssh_common_args"]


def test_the_preferred_agent_is_the_one_connected_to():
    (host,), _warnings = build_hosts([shaped(agents=["main", "gpu"])], HostOptions(preferred_agents=["gpu"]))
    assert host.variables["coder_agent"] == "gpu" and "alice/dev.gpu" in host.variables["ansible_ssh_common_args"]


def test_a_stopped_workspace_is_reached_by_workspace_only():
    (host,), _warnings = build_hosts([shaped(status="stopped")], HostOptions(start_stopped_workspaces=True))
    assert host.variables["coder_agent"] is None and host.variables["coder_ssh_target"] == "alice/dev"
    assert "--disable-autostart" not in host.variables["ansible_ssh_common_args"]


def test_without_coder_ssh_no_connection_variables_are_set():
    (host,), _warnings = build_hosts([shaped(agents=["main"])], HostOptions(use_coder_ssh=False))
    assert not [name for name in host.variables if name.startswith("ansible_")]
    assert host.variables["coder_ssh_target"] == "alice/dev.main"


def test_the_variables_prefix_and_group_options():
    options = HostOptions(vars_prefix="cw_", group_prefix="", group_by=["status"])
    (host,), _warnings = build_hosts([shaped()], options)
    assert set(host.variables) >= {"cw_workspace", "cw_agents", "cw_agent", "cw_ssh_target"}
    assert not any(name.startswith("coder_") for name in host.variables)
    assert host.groups == ["status_running"]


def test_a_name_coder_ssh_cannot_take_gets_no_connection_settings_and_a_warning():
    hosts, warnings = build_hosts([shaped(name="odd.name"), shaped(name="fine")], HostOptions())
    odd, fine = hosts
    assert "ansible_ssh_common_args" not in odd.variables and odd.variables["coder_ssh_target"] is None
    assert "ansible_ssh_common_args" in fine.variables
    assert len(warnings) == 1 and "alice/odd.name" in warnings[0] and "alice.odd.name" in warnings[0]


def test_a_bad_coder_command_is_refused_with_the_options():
    with pytest.raises(CoderInputError) as caught:
        HostOptions(coder_binary="coder\n")
    assert caught.value.field == "coder_binary"
    with pytest.raises(CoderInputError):
        HostOptions(coder_ssh_args=["--log-dir=/tmp", ""])
    assert HostOptions(coder_binary="coder\n", use_coder_ssh=False).use_coder_ssh is False
