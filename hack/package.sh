#!/usr/bin/env bash
# make package: what a release publishes, checked the way a user receives it.
# 1. ansible-galaxy collection build, from the working tree, into a temporary directory;
# 2. hack/check_build.py: nothing in the tarball that must not ship (virtualenvs, caches, test output, the
#    harness), nothing missing that must;
# 3. ansible-galaxy collection install of that tarball into an empty collections path, offline (the collection
#    depends on nothing); the installed copy must be what Ansible resolves coder.automation to;
# 4. hack/demo.sh with that collections path alone and the installed copy's own examples, on a fresh emulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
export PATH=$venv/bin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== Build"
ansible-galaxy collection build --output-path "$work/dist" "$root"
tarball=$(echo "$work"/dist/coder-automation-*.tar.gz)
python "$root/hack/check_build.py" "$tarball"

echo "== Install into an empty collections path"
collections=$work/collections
# That path alone (ansible-galaxy warns about an install path that is not configured): no copy from
# ~/.ansible/collections or from Python's sys.path takes part.
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
ansible-galaxy collection install --offline -p "$collections" "$tarball"
installed=$collections/ansible_collections/coder/automation
# A link to the repository (as make demo uses) has no MANIFEST.json; an installed tarball has.
if [ ! -f "$installed/MANIFEST.json" ] || [ -L "$installed" ]; then
  echo "not an installed copy: $installed"
  exit 1
fi
ansible-galaxy collection list coder.automation
module=$(ansible-doc --json coder.automation.coder_user \
  | python -c 'import json, sys; print(json.load(sys.stdin)["coder.automation.coder_user"]["doc"]["filename"])')
case $module in
  "$installed"/*) echo "coder.automation.coder_user resolves to $module" ;;
  *) echo "coder.automation.coder_user resolves to $module, not to the installed copy in $installed"; exit 1 ;;
esac

echo "== The demo, from the installed copy"
COLLECTIONS_PATH=$collections DEMO_COLLECTION=$installed "$root/hack/demo.sh"
