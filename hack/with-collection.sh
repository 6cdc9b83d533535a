#!/usr/bin/env bash
# Runs a command (from $VENV, default .venv) on this repository as the collection coder.automation, where Ansible's
# tools look for one: in ansible_collections/coder/automation, here a link to the repository in a temporary
# directory that is alone on ANSIBLE_COLLECTIONS_PATH, so no copy installed in ~/.ansible/collections is picked up.
#   hack/with-collection.sh ansible-lint roles examples     (make ansible-lint, make docs-lint)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/ansible_collections/coder"
ln -s "$root" "$work/ansible_collections/coder/automation"
export ANSIBLE_COLLECTIONS_PATH=$work PATH=$venv/bin:$PATH
cd "$work/ansible_collections/coder/automation"
"$@"
