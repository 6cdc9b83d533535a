"""The collection's execution environment metadata, as ansible-builder reads it, and the EE definition the
docs give."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys

import yaml
from conftest import REPO, tool

EE_DEFINITION = REPO / "extensions" / "awx" / "execution-environment.yml"


def introspect(collections_path):
    run = subprocess.run([tool("ansible-builder"), "introspect", "--sanitize", str(collections_path)],
                         check=True, capture_output=True, text=True)
    return yaml.safe_load(run.stdout)


def requirement_names(lines):
    return {re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0].lower() for line in lines if line.strip()}


def third_party_imports():
    """Top-level packages the plugins import that are neither the standard library nor Ansible nor ours."""
    found = {}
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "ansible_collections", "__future__"):
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_introspect_finds_the_collections_python_and_system_requirements(collections_path):
    """ansible-builder, reading the collection installed from its tarball, finds what an EE must add."""
    data = introspect(collections_path)
    python = [line.split("#")[0] for line in data["python"]]
    system = [line.split("#")[0].strip() for line in data["system"]]
    assert all("from collection coder.automation" in line for line in data["python"] + data["system"])
    assert "requests" in requirement_names(python)
    # ssh, for the inventory plugin's connection through `coder ssh`, on both package families.
    assert "openssh-clients [platform:rpm]" in system and "openssh-client [platform:dpkg]" in system


def provided_by_ansible_core():
    """Import names of the packages ansible-core itself requires (PyYAML's yaml, jinja2...): every EE has them."""
    needed = requirement_names(line.split(";")[0] for line in importlib.metadata.requires("ansible-core"))
    return {module for module, distributions in importlib.metadata.packages_distributions().items()
            if any(distribution.lower() in needed for distribution in distributions)}


def test_every_third_party_import_is_a_declared_requirement(collections_path):
    declared = requirement_names(line.split("#")[0] for line in introspect(collections_path)["python"])
    declared |= provided_by_ansible_core()
    imported = third_party_imports()
    assert "requests" in imported
    assert {name: where for name, where in imported.items() if name.lower() not in declared} == {}


def test_the_documented_ee_definition_builds_a_context(tmp_path):
    """ansible-builder accepts the EE definition of docs/awx.md and writes a build context that installs the
    collection and the coder CLI (building the image itself needs a container engine, which CI lacks)."""
    run = subprocess.run([tool("ansible-builder"), "create", "--file", str(EE_DEFINITION), "--context",
                          str(tmp_path / "context")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    requirements = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    assert [collection["name"] for collection in requirements["collections"]] == ["coder.automation"]
    containerfile = next((tmp_path / "context").glob("[CD]*file")).read_text()
    assert "/usr/local/bin coder" in containerfile and "coder --version" in containerfile
    assert "ansible-core>=2.16.19,<2.20" in containerfile


def test_docs_show_the_ee_definition_as_shipped():
    guide = (REPO / "docs" / "awx.md").read_text()
    assert EE_DEFINITION.read_text().split("\n", 1)[1].strip() in guide
