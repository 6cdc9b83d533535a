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

echo "== Galaxy's import checks"
# galaxy-importer is what galaxy.ansible.com runs on an uploaded tarball. Its ansible-test step needs containers,
# which these machines do not have; make sanity runs ansible-test instead.
# It runs in a venv of its own (hack/importer-requirements.txt) and in $work, where it writes its result file.
importer=${IMPORTER_VENV:-$root/.venv-importer}
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\n' >"$work/galaxy-importer.cfg"
(cd "$work" && PATH=$importer/bin:$PATH GALAXY_IMPORTER_CONFIG=$work/galaxy-importer.cfg \
  "$importer/bin/python" -m galaxy_importer.main "$tarball" >"$work/import.log" 2>&1) \
  || { cat "$work/import.log"; echo "Galaxy would refuse this tarball"; exit 1; }
grep -E '^(WARNING|ERROR)' "$work/import.log" || true
grep -q '^Importer processing completed successfully' "$work/import.log"

echo "== Build from a working tree cluttered the usual ways: none of it may ship"
cluttered=$work/cluttered
mkdir -p "$cluttered"
"$root/hack/copy-collection.sh" "$cluttered"
(
  cd "$cluttered"
  mkdir -p .vscode .idea build dist htmlcov plugins/.mypy_cache examples/templates/docker/.terraform
  for file in .env .coverage .vscode/settings.json .idea/workspace.xml build/x dist/x htmlcov/index.html \
    plugins/.mypy_cache/x plugins/modules/.env examples/templates/docker/.terraform/x \
    examples/templates/docker/terraform.tfstate examples/templates/docker/terraform.tfstate.backup \
    .DS_Store docs/.DS_Store README.md~ docs/.awx.md.swp .venv-extra/bin/python; do
    mkdir -p "$(dirname "$file")"
    echo "clutter" >"$file"
  done
)
ansible-galaxy collection build --output-path "$work/cluttered-dist" "$cluttered" >/dev/null
python "$root/hack/check_build.py" "$work"/cluttered-dist/coder-automation-*.tar.gz

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
