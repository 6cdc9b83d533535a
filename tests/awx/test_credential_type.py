"""The "Coder" credential type shipped for AWX: its definition, what it injects, that the modules read what it
injects, and that the playbook creating it hands its injectors to awx.awx without templating them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, awx_injected_env, load_credential_type, tool
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# What AWX accepts for a custom credential type (awx/main/fields.py: CredentialTypeInputField and kinds).
AWX_FIELD_TYPES = {"string", "boolean"}
AWX_CUSTOM_KINDS = {"cloud", "net"}


def test_definition_has_the_inputs_and_injectors_the_collection_reads():
    definition = load_credential_type()
    assert definition["kind"] in AWX_CUSTOM_KINDS
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert len(fields) == len(definition["inputs"]["fields"]), "field ids must be unique"
    assert all(field["type"] in AWX_FIELD_TYPES and field.get("label") for field in fields.values())
    assert fields["token"].get("secret") is True
    assert not fields["url"].get("secret") and fields["skip_tls_verify"]["type"] == "boolean"
    assert set(definition["inputs"]["required"]) == {"url", "token"}
    assert set(definition["injectors"]) == {"env"}
    assert set(definition["injectors"]["env"]) == {"CODER_URL", "CODER_SESSION_TOKEN", "CODER_VALIDATE_CERTS"}


def test_injector_templates_use_only_defined_fields():
    definition = load_credential_type()
    field_ids = {field["id"] for field in definition["inputs"]["fields"]}
    environment = ImmutableSandboxedEnvironment()
    for name, template in definition["injectors"]["env"].items():
        used = meta.find_undeclared_variables(environment.parse(template))
        assert used and used <= field_ids, f"{name} uses {used - field_ids}"


def test_injection_verifies_certificates_unless_told_to_skip():
    definition = load_credential_type()
    inputs = {"url": "https://coder.example.test", "token": "AbCdEfGhIj-abcdefghijklmnopqrstuv"}
    assert awx_injected_env(definition, inputs) == {
        "CODER_URL": "https://coder.example.test",
        "CODER_SESSION_TOKEN": "AbCdEfGhIj-abcdefghijklmnopqrstuv",
        # A credential created without the box (through the API, awx.awx or the CLI) still verifies.
        "CODER_VALIDATE_CERTS": "true",
    }
    assert awx_injected_env(definition, dict(inputs, skip_tls_verify=False))["CODER_VALIDATE_CERTS"] == "true"
    assert awx_injected_env(definition, dict(inputs, skip_tls_verify=True))["CODER_VALIDATE_CERTS"] == "false"
    with pytest.raises(ValueError):
        awx_injected_env(definition, {"url": "https://coder.example.test"})


@pytest.mark.parametrize("skip, expected", [(False, True), (True, False)])
def test_modules_read_the_injected_variables(collections_path, monkeypatch, skip, expected):
    """The injected environment fills the modules' url, token and validate_certs options."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    monkeypatch.syspath_prepend(str(collections_path))
    from ansible_collections.coder.automation.plugins.module_utils._module import connection_argument_spec

    inputs = {"url": "https://coder.example.test", "token": "AbCdEfGhIj-abcdefghijklmnopqrstuv",
              "skip_tls_verify": skip}
    for name, value in awx_injected_env(load_credential_type(), inputs).items():
        monkeypatch.setenv(name, value)
    result = ArgumentSpecValidator(connection_argument_spec()).validate({})
    assert result.error_messages == []
    params = result.validated_parameters
    assert params["url"] == "https://coder.example.test"
    assert params["token"] == "AbCdEfGhIj-abcdefghijklmnopqrstuv"
    assert params["validate_certs"] is expected
    assert "AbCdEfGhIj-abcdefghijklmnopqrstuv" in result._no_log_values


class _UnsafeLoader(yaml.SafeLoader):
    """Reads Ansible's !unsafe tag as the plain string it marks."""


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def playbook_task():
    plays = yaml.load((REPO / "playbooks" / "awx_credential_type.yml").read_text(), Loader=_UnsafeLoader)
    (task,) = plays[0]["tasks"]
    return task["awx.awx.credential_type"]


def test_playbook_creates_the_shipped_definition():
    task, definition = playbook_task(), load_credential_type()
    for key in ("description", "kind", "inputs", "injectors"):
        assert task[key] == definition[key], key
    assert task["state"] == "present"


FAKE_AWX_MODULE = '''#!/usr/bin/python
# A stand-in for awx.awx.credential_type that records the arguments it gets, for the test only.
import json
import os

from ansible.module_utils.basic import AnsibleModule

module = AnsibleModule(argument_spec=dict(
    name=dict(required=True), description=dict(), kind=dict(), inputs=dict(type="dict"),
    injectors=dict(type="dict"), state=dict(default="present")))
with open(os.environ["FAKE_AWX_RECORD"], "w") as handle:
    json.dump(module.params, handle)
module.exit_json(changed=True)
'''


def test_playbook_hands_injectors_over_untemplated(collections_path, tmp_path, clean_environment):
    """Run the installed collection's playbook by its name; awx.awx must get the injectors' Jinja as written."""
    fake = tmp_path / "fake" / "ansible_collections" / "awx" / "awx" / "plugins" / "modules"
    fake.mkdir(parents=True)
    (fake / "credential_type.py").write_text(FAKE_AWX_MODULE)
    record = tmp_path / "record.json"
    env = dict(os.environ, FAKE_AWX_RECORD=str(record), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_COLLECTIONS_PATH=f"{tmp_path / 'fake'}:{collections_path}",
               PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    run = subprocess.run([tool("ansible-playbook"), "coder.automation.awx_credential_type",
                          "-e", f"ansible_python_interpreter={sys.executable}"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    sent = json.loads(record.read_text())
    definition = load_credential_type()
    assert sent["name"] == "Coder"
    assert sent["injectors"] == definition["injectors"]
    assert sent["inputs"] == definition["inputs"]
    assert sent["injectors"]["env"]["CODER_SESSION_TOKEN"] == "{{ token }}"
