"""Fixtures of the AWX tests: the shipped credential type, its injection the way AWX does it, the collection
installed from a built tarball (as AWX installs it from Galaxy or a project's requirements), and an emulator.

These tests run against the emulator only: the onboarding job suspends users who are not in its roster, which
must not happen to a real deployment that happens to be named in CODER_URL.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = Path(__file__).resolve().parents[2]
CREDENTIAL_TYPE_FILE = REPO / "extensions" / "awx" / "coder_credential_type.yml"
VENV_BIN = Path(sys.executable).parent


def load_credential_type():
    return yaml.safe_load(CREDENTIAL_TYPE_FILE.read_text())


def awx_injected_env(credential_type, inputs):
    """The environment a job gets from a credential of ``credential_type`` holding ``inputs``.

    This follows AWX's CredentialType.inject_credential: the inputs a credential holds are the template namespace,
    a boolean field the credential leaves out is set to False, and each ``injectors.env`` value is rendered in a
    sandboxed Jinja environment (undefined names are errors, as AWX's validation of injectors makes them).
    """
    namespace = dict(inputs)
    for field in credential_type["inputs"]["fields"]:
        if field["type"] == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
    missing = [name for name in credential_type["inputs"].get("required", []) if name not in inputs]
    if missing:
        raise ValueError(f"AWX refuses a credential without {missing}")
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    return {name: sandbox.from_string(template).render(**namespace)
            for name, template in credential_type["injectors"].get("env", {}).items()}


def tool(name):
    return str(VENV_BIN / name)


def new_token():
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for position in range(length)) for length in (10, 22))


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    """A fresh collections path with coder.automation installed from the tarball ``ansible-galaxy`` builds."""
    # Built from a copy of the collection's files (hack/copy-collection.sh), so that nothing local (virtualenvs,
    # outputs, caches) can slow the build down, and a file saved during the build cannot spoil its checksums.
    source = tmp_path_factory.mktemp("source")
    subprocess.run([str(REPO / "hack" / "copy-collection.sh"), str(source)], check=True)
    build_dir = tmp_path_factory.mktemp("build")
    subprocess.run([tool("ansible-galaxy"), "collection", "build", str(source), "--output-path", str(build_dir)],
                   check=True, capture_output=True, text=True)
    (tarball,) = build_dir.glob("coder-automation-*.tar.gz")
    path = tmp_path_factory.mktemp("collections")
    subprocess.run([tool("ansible-galaxy"), "collection", "install", str(tarball), "-p", str(path)],
                   check=True, capture_output=True, text=True)
    assert (path / "ansible_collections" / "coder" / "automation" / "MANIFEST.json").is_file()
    return path


@pytest.fixture
def emulator():
    """A fresh emulator seeded like the demo: an owner, and someone who left and is not in the HR roster."""
    from coder_emulator import start_server

    seed = json.loads((REPO / "examples" / "onboarding" / "seed.json").read_text())
    server = start_server("127.0.0.1", 0, new_token(), seed=seed)
    yield server
    server.stop()


@pytest.fixture
def clean_environment(monkeypatch):
    """No Coder settings leak in from the shell that runs the tests: the job gets only what the credential injects."""
    for name in list(os.environ):
        if name.startswith("CODER_") or name.startswith("ANSIBLE_"):
            monkeypatch.delenv(name)
