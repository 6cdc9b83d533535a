#!/usr/bin/env bash
# make demo: start the emulator, apply examples/users.yml twice (the second run changes nothing),
# and show the users the API now holds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
work=$(mktemp -d)
emulator_pid=
cleanup() {
  [ -n "$emulator_pid" ] && kill -TERM "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The collection, as ansible-playbook looks for it: <path>/ansible_collections/coder/automation.
mkdir -p "$work/collections/ansible_collections/coder"
ln -s "$root" "$work/collections/ansible_collections/coder/automation"
export ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_NOCOLOR=1
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export PATH=$venv/bin:$PATH

# A fresh owner token, handed over in the environment only (never on a command line).
CODER_SESSION_TOKEN=$(python -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(10)) + "-" + "".join(secrets.choice(a) for _ in range(22)))')
export CODER_SESSION_TOKEN
python -m coder_emulator --host 127.0.0.1 --port 0 --token-env CODER_SESSION_TOKEN >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
  grep -q '^Coder emulator listening on ' "$work/emulator.log" && break
  sleep 0.1
done
CODER_URL=$(sed -n 's/^Coder emulator listening on //p' "$work/emulator.log")
[ -n "$CODER_URL" ] || { cat "$work/emulator.log"; exit 1; }
export CODER_URL
echo "== Coder API emulator at $CODER_URL"

echo "== First run: creates the users"
ansible-playbook "$root/examples/users.yml"
echo "== Second run: nothing to change"
ansible-playbook "$root/examples/users.yml" | tee "$work/second.log"
grep -q 'changed=0' "$work/second.log" || { echo "the second run changed something"; exit 1; }

echo "== Users on the server"
python - <<'PY'
import json, os, urllib.request
request = urllib.request.Request(os.environ["CODER_URL"] + "/api/v2/users",
                                 headers={"Coder-Session-Token": os.environ["CODER_SESSION_TOKEN"]})
users = json.load(urllib.request.urlopen(request))["users"]
print(f"{'username':<18}{'email':<30}{'status':<11}{'login':<10}roles")
for user in users:
    roles = ",".join(role["name"] for role in user["roles"])
    print(f"{user['username']:<18}{user['email']:<30}{user['status']:<11}{user['login_type']:<10}{roles}")
PY
