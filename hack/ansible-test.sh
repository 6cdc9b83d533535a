#!/usr/bin/env bash
# Runs ansible-test on this repository, offline-capable.
#   hack/ansible-test.sh sanity|units|integration [ansible-test options...]
# ansible-test only works on a tree laid out as ansible_collections/<namespace>/<name>/, so the
# collection's files (tracked and new, minus what .gitignore excludes) are copied into a temporary
# directory with that layout; the repository itself is never moved. tests/output is copied back.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
command=$1
shift

# Seed ansible-test's pip bootstrap cache with our offline stand-in (see hack/get_pip_offline.py): the official
# bootstrap script lives on a host this machine and CI cannot reach. The cache is named after the pip release that
# this venv's ansible-test bootstraps (23.1.2 up to 2.17, 24.2 from 2.18), so each ansible-core finds its own.
pip_version=$("$venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class Python:  # get_venv_packages only reads .version
    version = "3.11"
print(get_venv_packages(Python())["pip"])
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
if ! cmp -s "$root/hack/get_pip_offline.py" "$cache"; then
  cp "$root/hack/get_pip_offline.py" "$cache"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/coder/automation
mkdir -p "$dest"
"$root/hack/copy-collection.sh" "$dest"
# The integration targets' settings (URL, token) that hack/integration.sh wrote for this run, in a private file
# named by INTEGRATION_CONFIG so that runs side by side each keep their own; or one a developer wrote by hand.
config=${INTEGRATION_CONFIG:-$root/tests/integration/integration_config.yml}
if [ -f "$config" ]; then
  (umask 077 && cp "$config" "$dest/tests/integration/integration_config.yml")
fi

export PATH=$venv/bin:$PATH
status=0
(cd "$dest" && ansible-test "$command" --color no "$@") || status=$?
if [ -d "$dest/tests/output" ]; then
  mkdir -p "$root/tests/output"
  cp -r "$dest/tests/output/." "$root/tests/output/"
fi
exit $status
