#!/usr/bin/env bash
# The coder inventory plugin from the command line, as users and AWX run it: ansible-inventory --list and --graph,
# playbooks using the inventory (hosts, groups, host variables, filters, the constructed options, the coder ssh
# connection through a stand-in coder binary, the cache), coder_workspace_info against the same workspaces, and
# the session token nowhere in what the inventory prints, caches or logs with -vvvv.
#
# With the emulator it creates two users, two templates and four workspaces (running, stopped, running with two
# agents, failed). Against a real deployment it creates nothing and reads the token user's own workspaces
# (owners: [me]), checking what holds for any set of workspaces.
set -euo pipefail
config=../../integration_config.yml
work=$(mktemp -d)
# A coder binary in a directory whose name needs quoting for the shell and escaping for ssh.
bin_dir="$work/bin dir's 100%"
emulated=
cleanup() {
  if [ -n "$emulated" ]; then ansible-playbook cleanup.yml -e "@$config" >"$work/cleanup.log" 2>&1 || cat "$work/cleanup.log"; fi
  rm -rf "$work"
}
trap cleanup EXIT

value() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or "")' "$config" "$1"; }
# The plugin reads the deployment from the environment, as in AWX, where a credential injects both.
CODER_URL=$(value coder_url)
CODER_SESSION_TOKEN=$(value coder_token)
export CODER_URL CODER_SESSION_TOKEN
[ ${#CODER_SESSION_TOKEN} -ge 20 ] || { echo "no token in $config"; exit 1; }
[ -n "$(value coder_emulator_url)" ] && emulated=true

mkdir -p "$bin_dir" "$work/cache"
# The stand-in coder binary, run by the Python that runs this test.
{ printf '#!%s\n' "$(command -v python3)"; cat files/fake_coder.py; } >"$bin_dir/coder"
chmod 700 "$bin_dir/coder"
if [ -n "$emulated" ]; then owners='[it-inv-alice, it-inv-bob]'; else owners='[me]'; fi

cat >"$work/all.coder.yml" <<EOF
plugin: coder.automation.coder
owners: $owners
preferred_agents: [tools]
coder_binary: "$bin_dir/coder"
compose:
  coder_template_version: coder_workspace.latest_build.template_version_name
groups:
  coder_outdated: coder_workspace.outdated
keyed_groups:
  - key: coder_workspace.organization
    prefix: coder_organization
EOF
cat >"$work/filtered.coder.yml" <<EOF
plugin: coder.automation.coder
owners: [it-inv-alice, it-inv-bob]
templates: [it-inv-docker, it-inv-k8s]
statuses: [running]
host_name_format: "{workspace}-{owner}"
group_by: [template]
use_coder_ssh: false
EOF
cat >"$work/cached.coder.yml" <<EOF
plugin: coder.automation.coder
owners: [it-inv-alice]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: "$work/cache"
EOF

if [ -n "$emulated" ]; then
  ansible-playbook setup.yml -e "@$config"
else
  echo "coder_inventory: against $CODER_URL, the token user's own workspaces are read; nothing is created."
fi

# ansible-inventory as a user (or AWX) runs it. -vvvv output is kept to look for the token in it.
ansible-inventory -i "$work/all.coder.yml" --list >"$work/list.json"
ansible-inventory -i "$work/all.coder.yml" --graph >"$work/graph.txt"
ansible-inventory -vvvv -i "$work/all.coder.yml" --list >"$work/list-vvvv.txt" 2>&1
python3 - "$work/list.json" "$work/graph.txt" "$emulated" <<'PY'
import json, sys
listing, graph, emulated = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3] == "true"

def plain(value):
    # ansible-core 2.19 marks values from inventory plugins as untrusted ({"__ansible_unsafe": ...}) in --list.
    if isinstance(value, dict):
        return plain(value["__ansible_unsafe"]) if set(value) == {"__ansible_unsafe"} else {
            k: plain(v) for k, v in value.items()}
    return [plain(v) for v in value] if isinstance(value, list) else value

hostvars = plain(listing["_meta"]["hostvars"])
for host, variables in hostvars.items():
    workspace = variables["coder_workspace"]
    assert host == f"{workspace['owner']}.{workspace['name']}", host
    assert host in listing[f"coder_status_{workspace['status']}"]["hosts"], host
    assert f"--{host}" in graph, host
if emulated:
    assert sorted(hostvars) == ["it-inv-alice.dev", "it-inv-alice.old", "it-inv-bob.broken", "it-inv-bob.gpu"]
    assert sorted(listing["coder_template_it_inv_k8s"]["hosts"]) == ["it-inv-bob.broken", "it-inv-bob.gpu"]
    assert "@coder_owner_it_inv_alice:" in graph and "@coder_status_failed:" in graph
    assert hostvars["it-inv-bob.gpu"]["coder_ssh_target"] == "it-inv-bob/gpu.tools"
print(f"--list and --graph agree: {len(hostvars)} hosts")
PY

ansible-playbook -i "$work/all.coder.yml" check.yml -e "@$config" -e "emulated=${emulated:-false}"
if [ -n "$emulated" ]; then
  ansible-inventory -i "$work/filtered.coder.yml" --list >"$work/filtered.json"
  ansible-playbook -i "$work/filtered.coder.yml" check_filtered.yml
  # The connection: Ansible's ssh runs the ProxyCommand, here the stand-in binary, which records its arguments.
  # Run with -vvvv, which shows the ssh command lines, to look for the token in them below.
  if ! CALLS_FILE="$bin_dir/calls.jsonl" ansible-playbook -vvvv -i "$work/all.coder.yml" connect.yml \
      >"$work/connect-vvvv.txt" 2>&1; then
    cat "$work/connect-vvvv.txt"; exit 1
  fi
  grep -q "ProxyCommand=" "$work/connect-vvvv.txt" || { echo "no ssh command line in the -vvvv output"; exit 1; }
  # The cache answers until it is flushed: a workspace removed meanwhile stays until --flush-cache (an option of
  # ansible-playbook on every ansible-core; ansible-inventory has it from 2.17 on).
  HOSTS_FILE=$work/cached-1.json ansible-playbook -i "$work/cached.coder.yml" cache_hosts.yml
  ansible-playbook cache_remove.yml -e "@$config"
  HOSTS_FILE=$work/cached-2.json ansible-playbook -i "$work/cached.coder.yml" cache_hosts.yml
  HOSTS_FILE=$work/cached-3.json ansible-playbook -i "$work/cached.coder.yml" --flush-cache cache_hosts.yml
  python3 - "$work"/cached-{1,2,3}.json <<'PY'
import json, sys
hosts = [json.load(open(path)) for path in sys.argv[1:]]
assert hosts[0] == hosts[1] == ["it-inv-alice.dev", "it-inv-alice.old"], hosts
assert hosts[2] == ["it-inv-alice.dev"], hosts
print("the cache answered until flushed")
PY
fi

# The token must be in nothing the inventory printed, logged or cached. Compared without ever printing it.
checked=0
for file in "$work"/*.json "$work"/*.txt "$work"/cache/*; do
  [ -f "$file" ] || continue
  if grep -qF -- "$CODER_SESSION_TOKEN" "$file"; then echo "the token appears in $(basename "$file")"; exit 1; fi
  checked=$((checked + 1))
done
echo "the token appears in none of $checked outputs"
