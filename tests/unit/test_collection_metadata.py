# Copyright: contributors to coder.automation
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeps the collection's metadata telling the truth: the action group lists every module, and the
version sent in the User-Agent is the one in galaxy.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.coder.automation.plugins.module_utils._version import COLLECTION_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_action_group_lists_every_module():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    modules = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
    assert modules, "no modules found"
    assert sorted(runtime["action_groups"]["coder"]) == modules


def test_user_agent_version_matches_galaxy():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION


def test_requires_ansible_is_a_floor_only():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=") and "<" not in runtime["requires_ansible"]
