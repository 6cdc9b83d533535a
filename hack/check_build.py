"""Checks a collection tarball from ansible-galaxy collection build before anyone installs it.

    python hack/check_build.py coder-automation-0.1.0.tar.gz

It fails, naming every offending member, when the tarball holds what only a working tree or a test run has
(virtualenvs, caches, test output, compiled Python, the integration targets' URL and token, version control,
an earlier build) or the development harness (hack/, bench/, .ci/, the Makefile, the dev requirements), and when
it lacks what a release needs (the manifest, the metadata, the changelog, the modules, the roles, the examples the
demo runs). galaxy.yml's build_ignore decides what is left out; this is the check that it still does.
"""

import fnmatch
import sys
import tarfile

# Matched against each path component of a member.
FORBIDDEN_COMPONENTS = [
    ".venv*", "venv", ".tox", ".nox", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".cache",
    ".ansible", ".git", ".github", ".idea", ".vscode", "*.egg-info", "node_modules", ".terraform", ".env",
    ".coverage*", "htmlcov",
]
# Matched against each member's whole path.
FORBIDDEN_PATHS = [
    "tests/output", "tests/output/*", "*.pyc", "*.pyo", "*.tar.gz", "*.retry", "*.swp", "*~", "*.DS_Store",
    "*.tfstate", "*.tfstate.*", "build", "build/*", "dist", "dist/*",
    "*/integration_config.yml", "integration_config.yml", "changelogs/.plugin-cache.yaml",
    "hack", "hack/*", "bench", "bench/*", ".ci", ".ci/*", "Makefile", "requirements-dev.txt", ".gitignore",
]
REQUIRED = [
    "MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "CHANGELOG.rst", "changelogs/changelog.yaml",
    "plugins/modules/coder_user.py", "plugins/module_utils/_client.py", "plugins/filter/roster_from_csv.py",
    "roles/onboarding/meta/argument_specs.yml", "roles/agent_keepalive/meta/argument_specs.yml",
    "examples/users.yml", "examples/onboarding/onboarding.yml", "examples/templates.yml",
    # Galaxy's importer refuses a role without a README, and the license belongs with the code.
    "COPYING", "roles/onboarding/README.md", "roles/agent_keepalive/README.md",
]
# A virtualenv that slipped in has thousands of files: the first ones tell enough.
SHOWN = 40


def problems(names):
    found = []
    for name in sorted(names):
        parts = name.split("/")
        if any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in FORBIDDEN_COMPONENTS):
            found.append(f"must not ship: {name}")
        elif any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN_PATHS):
            found.append(f"must not ship: {name}")
    found.extend(f"missing: {name}" for name in REQUIRED if name not in names)
    return found


def main():
    path = sys.argv[1]
    with tarfile.open(path) as tarball:
        names = {member.name.removeprefix("./").rstrip("/") for member in tarball.getmembers()}
    found = problems(names)
    for line in found[:SHOWN]:
        print(line)
    if len(found) > SHOWN:
        print(f"... and {len(found) - SHOWN} more")
    if found:
        print(f"{path}: {len(found)} problem(s) in {len(names)} members; see galaxy.yml's build_ignore")
        return 1
    print(f"{path}: {len(names)} members, nothing that must not ship, nothing missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
