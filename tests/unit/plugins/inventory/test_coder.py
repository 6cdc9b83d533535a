# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin through Ansible's own machinery (plugin loader, options, cache, constructed features),
against a scripted HTTP session: no request leaves the process."""

from __future__ import annotations

import json
import shlex
import sys

import pytest
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.coder.automation.plugins.module_utils import _client
from ansible_collections.coder.automation.tests.unit.plugins.module_utils.fake_http import FakeSession, make_response

TOKEN = "AbCdEfGhIj-0123456789abcdefghijkl"
URL = "https://coder.example.test"


def coder_workspace(name, owner, template="docker", status="running", agents=("main",)):
    return {"id": f"id-{owner}-{name}", "name": name, "owner_name": owner, "organization_name": "coder",
            "template_name": template, "outdated": False,
            "latest_build": {"id": f"b-{name}", "build_number": 1, "status": status,
                             "transition": "start" if status == "running" else "stop", "deadline": None,
                             "max_deadline": None, "job": {"status": "succeeded"},
                             "resources": [{"name": "main", "type": "docker_container",
                                            "agents": [{"id": f"a-{a}", "name": a, "status": "connected"}
                                                       for a in (agents if status == "running" else ())]}]}}


WORKSPACES = [coder_workspace("dev", "alice"), coder_workspace("old", "alice", status="stopped"),
              coder_workspace("gpu", "bob", template="k8s-gpu", agents=("main", "tools"))]


def page(workspaces):
    return make_response(200, {"workspaces": workspaces, "count": len(workspaces)})


@pytest.fixture
def sessions(monkeypatch):
    """The plugin's clients get scripted sessions; the test appends answers and reads the calls."""
    made = []
    real_client = _client.CoderClient
    plugin_module = sys.modules[type(inventory_loader.get("coder.automation.coder")).__module__]

    def scripted_client(*args, **kwargs):
        session = FakeSession(made[0].answers if made else [])
        made.append(session)
        return real_client(*args, session=session, sleep=lambda _s: None, **kwargs)

    monkeypatch.setattr(plugin_module, "CoderClient", scripted_client)
    monkeypatch.delenv("CODER_URL", raising=False)
    monkeypatch.delenv("CODER_SESSION_TOKEN", raising=False)
    return made


def run(tmp_path, config, answers=None, sessions=None, cache=True, file_name="test.coder.yml"):
    """Parse a configuration file as ansible-inventory does; returns the inventory."""
    if sessions is not None:
        sessions.clear()
        sessions.append(FakeSession(answers or []))  # a template for the next client's answers
    path = tmp_path / file_name
    path.write_text(config)
    plugin = inventory_loader.get("coder.automation.coder")
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=cache)
    if hasattr(plugin, "_cache"):
        # What ansible-inventory does after parse; the cache exists only when the configuration turns it on.
        plugin.update_cache_if_changed()
    return inventory


def requests_made(sessions):
    return [call for session in sessions[1:] for call in session.calls]


def host_vars(inventory, name):
    return inventory.get_host(name).get_vars()


def test_only_files_ending_in_coder_yml_are_read(tmp_path):
    plugin = inventory_loader.get("coder.automation.coder")
    for name, expected in (("x.coder.yml", True), ("coder.yaml", True), ("x.yml", False), ("coder.yml.bak", False)):
        (tmp_path / name).write_text("plugin: coder.automation.coder\n")
        assert plugin.verify_file(str(tmp_path / name)) is expected


def test_hosts_groups_and_variables_with_url_and_token_from_the_environment(tmp_path, sessions, monkeypatch):
    monkeypatch.setenv("CODER_URL", URL)
    monkeypatch.setenv("CODER_SESSION_TOKEN", TOKEN)
    inventory = run(tmp_path, "plugin: coder.automation.coder\n", [page(WORKSPACES)], sessions)

    calls = requests_made(sessions)
    assert [(call["url"], call["params"]) for call in calls] == [(URL + "/api/v2/workspaces", {"limit": 100})]
    assert sorted(inventory.hosts) == ["alice.dev", "alice.old", "bob.gpu"]
    assert inventory.groups["coder_template_k8s_gpu"].get_hosts()[0].name == "bob.gpu"
    assert sorted(h.name for h in inventory.groups["coder_owner_alice"].get_hosts()) == ["alice.dev", "alice.old"]
    assert [h.name for h in inventory.groups["coder_status_stopped"].get_hosts()] == ["alice.old"]
    dev = host_vars(inventory, "alice.dev")
    assert dev["coder_workspace"]["template"] == "docker" and dev["coder_agents"][0]["name"] == "main"
    assert "alice/dev.main" in dev["ansible_ssh_common_args"]


def test_the_token_is_in_no_host_variable_and_in_no_cached_file(tmp_path, sessions):
    cache_dir = tmp_path / "cache"
    config = (f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\ncache: true\n"
              f"cache_plugin: ansible.builtin.jsonfile\ncache_connection: {cache_dir}\n")
    inventory = run(tmp_path, config, [page(WORKSPACES)], sessions)
    everything = json.dumps({name: host_vars(inventory, name) for name in inventory.hosts}, default=str)
    assert TOKEN not in everything and "CODER_SESSION_TOKEN" not in everything
    cached = [path.read_text() for path in cache_dir.iterdir()]
    assert cached and not any(TOKEN in text for text in cached)


def test_a_fresh_cache_answers_without_a_request_and_a_flush_reads_again(tmp_path, sessions):
    config = (f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\ncache: true\n"
              f"cache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\n")
    run(tmp_path, config, [page(WORKSPACES)], sessions)
    assert len(requests_made(sessions)) == 1

    cached = run(tmp_path, config, [], sessions)
    assert requests_made(sessions) == [] and sorted(cached.hosts) == ["alice.dev", "alice.old", "bob.gpu"]

    flushed = run(tmp_path, config, [page(WORKSPACES[:1])], sessions, cache=False)
    assert len(requests_made(sessions)) == 1 and list(flushed.hosts) == ["alice.dev"]


def test_other_filters_do_not_get_the_cached_answer_of_these(tmp_path, sessions):
    base = (f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\ncache: true\n"
            f"cache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\n")
    run(tmp_path, base, [page(WORKSPACES)], sessions)
    filtered = run(tmp_path, base + "owners: [bob]\n", [page(WORKSPACES[2:])], sessions)
    assert requests_made(sessions)[0]["params"]["q"] == "owner:bob" and list(filtered.hosts) == ["bob.gpu"]


def test_filters_become_one_search_per_combination(tmp_path, sessions):
    config = (f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\nowners: [alice, bob]\n"
              "statuses: [running]\nquery: 'has-agent:connected'\n")
    inventory = run(tmp_path, config, [page(WORKSPACES[:1]), page(WORKSPACES[2:])], sessions)
    assert [call["params"]["q"] for call in requests_made(sessions)] == [
        "owner:alice status:running has-agent:connected", "owner:bob status:running has-agent:connected"]
    assert sorted(inventory.hosts) == ["alice.dev", "bob.gpu"]


def test_constructed_features_and_plugin_options(tmp_path, sessions):
    config = (f"plugin: coder.automation.coder\nurl: {URL}\ntoken: '{{{{ \"{TOKEN}\" }}}}'\n"
              "host_name_format: '{workspace}-{owner}'\ngroup_by: [template]\ngroup_prefix: cw_\n"
              "preferred_agents: [tools]\ncoder_binary: /opt/coder tools/coder\n"
              "compose:\n  workspace_template: coder_workspace.template\n"
              "groups:\n  stopped_ones: coder_workspace.status == 'stopped'\n"
              "keyed_groups:\n  - key: coder_agent\n    prefix: agent\n")
    inventory = run(tmp_path, config, [page(WORKSPACES)], sessions)
    assert sorted(inventory.hosts) == ["dev-alice", "gpu-bob", "old-alice"]
    assert {"cw_template_docker", "cw_template_k8s_gpu", "stopped_ones", "agent_main", "agent_tools"} <= set(
        inventory.groups)
    assert "coder_owner_alice" not in inventory.groups
    gpu = host_vars(inventory, "gpu-bob")
    assert gpu["workspace_template"] == "k8s-gpu" and gpu["coder_agent"] == "tools"
    assert shlex.split(gpu["ansible_ssh_common_args"])[1] == (
        "ProxyCommand='/opt/coder tools/coder' ssh --stdio --disable-autostart bob/gpu.tools")
    assert requests_made(sessions)[0]["url"].startswith(URL)


def test_an_api_error_names_what_failed_and_never_the_token(tmp_path, sessions):
    refusal = make_response(401, {"message": "You are signed out or your session has expired.",
                                  "detail": f"API key {TOKEN} is invalid."})
    config = f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\n"
    with pytest.raises(AnsibleParserError) as caught:
        run(tmp_path, config, [refusal], sessions)
    assert "Could not list Coder workspaces" in str(caught.value) and "HTTP 401" in str(caught.value)
    assert "CODER_SESSION_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("option, message", [
    ("owners: ['alice status:running']", "Invalid owners"),
    ("host_name_format: '{owner.__class__}'", "Invalid host_name_format"),
    ("coder_ssh_args: [\"--log-dir=/tmp\\nx\"]", "Invalid coder_binary"),
])
def test_bad_options_are_reported_before_any_request(tmp_path, sessions, option, message):
    config = f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\n{option}\n"
    with pytest.raises(AnsibleParserError, match=message):
        run(tmp_path, config, [], sessions)
    assert requests_made(sessions) == []


def test_another_token_does_not_get_the_cached_answer(tmp_path, sessions):
    """A member's token (or a wrong one) must not be answered from the owner's cached inventory."""
    config = ("plugin: coder.automation.coder\nurl: {url}\ntoken: {token}\ncache: true\n"
              f"cache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\n")
    run(tmp_path, config.format(url=URL, token=TOKEN), [page(WORKSPACES)], sessions)
    member = run(tmp_path, config.format(url=URL, token="ZyXwVuTsRq-9876543210zyxwvutsrqpon"),
                 [page(WORKSPACES[2:])], sessions)
    assert len(requests_made(sessions)) == 1 and list(member.hosts) == ["bob.gpu"]
    assert not any("9876543210zyxwvutsrqpon" in path.name for path in (tmp_path / "cache").iterdir())


@pytest.mark.parametrize("option", ["status: [running]", "owner: alice", "validate_cert: false"])
def test_an_unknown_key_is_an_error_rather_than_a_wider_inventory(tmp_path, sessions, option):
    config = f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\n{option}\n"
    key = option.split(":")[0]
    with pytest.raises(AnsibleParserError, match=f"Unknown option.*{key} \\(did you mean "):
        run(tmp_path, config, [], sessions)
    assert requests_made(sessions) == []


@pytest.fixture
def client_settings(monkeypatch):
    """The validate_certs each client of the plugin was built with."""
    seen = []
    plugin_module = sys.modules[type(inventory_loader.get("coder.automation.coder")).__module__]

    def recording_client(*args, **kwargs):
        seen.append(kwargs["validate_certs"])
        return _client.CoderClient(*args, session=FakeSession([page([])]), **kwargs)

    monkeypatch.setattr(plugin_module, "CoderClient", recording_client)
    return seen


@pytest.mark.parametrize("in_file, in_env, expected", [
    (None, None, True), ("false", None, False), (None, "false", False), (None, "TRUE", True), ("true", "no", True),
])
def test_validate_certs_from_the_file_or_the_environment(tmp_path, monkeypatch, client_settings, in_file, in_env,
                                                         expected):
    if in_env is None:
        monkeypatch.delenv("CODER_VALIDATE_CERTS", raising=False)
    else:
        monkeypatch.setenv("CODER_VALIDATE_CERTS", in_env)
    config = f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\n"
    run(tmp_path, config + (f"validate_certs: {in_file}\n" if in_file else ""))
    assert client_settings == [expected]


@pytest.mark.parametrize("in_file, in_env", [("ture", None), (None, "ture"), (None, ""), (None, "enabled")])
def test_a_validate_certs_that_is_no_boolean_is_refused_not_read_as_false(tmp_path, monkeypatch, client_settings,
                                                                          in_file, in_env):
    """Ansible's configuration reads an unknown word as false, which would silently stop verifying."""
    monkeypatch.delenv("CODER_VALIDATE_CERTS", raising=False)
    if in_env is not None:
        monkeypatch.setenv("CODER_VALIDATE_CERTS", in_env)
    config = f"plugin: coder.automation.coder\nurl: {URL}\ntoken: {TOKEN}\n"
    with pytest.raises(AnsibleParserError, match="not a boolean"):
        run(tmp_path, config + (f"validate_certs: {in_file}\n" if in_file else ""))
    assert client_settings == []
