#!/usr/bin/env bash
# Runs a command with a fresh emulator: CODER_URL and CODER_SESSION_TOKEN exported, the collection on
# ANSIBLE_COLLECTIONS_PATH. Extra emulator flags go in EMULATOR_ARGS. For development, the demo and the integration
# tests:
#   hack/with-emulator.sh ansible-playbook examples/users.yml
# The collection is this repository, linked into a temporary collections path; or, with COLLECTIONS_PATH set, the
# copy installed there (hack/package.sh runs the demo on the collection installed from the release tarball).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill -TERM "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${COLLECTIONS_PATH:-}" ]; then
  collections=$COLLECTIONS_PATH
else
  collections=$work/collections
  mkdir -p "$collections/ansible_collections/coder"
  ln -s "$root" "$collections/ansible_collections/coder/automation"
fi
# That path only: no copy from ~/.ansible/collections or from Python's sys.path takes part.
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
# VENV picks the Python (and ansible-core) of the command, as make integration-2.16 does; every venv can start
# the emulator (hack/venv.sh).
export PATH=${VENV:-$root/.venv}/bin:$PATH

# A fresh owner token, handed over in the environment only (never on a command line).
CODER_SESSION_TOKEN=$(python -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(10)) + "-" + "".join(secrets.choice(a) for _ in range(22)))')
export CODER_SESSION_TOKEN
# shellcheck disable=SC2086  # EMULATOR_ARGS holds several flags
python -m coder_emulator --host 127.0.0.1 --port 0 --token-env CODER_SESSION_TOKEN ${EMULATOR_ARGS:-} \
  >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
  grep -q '^Coder emulator listening on ' "$work/emulator.log" && break
  kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.log"; exit 1; }
  sleep 0.1
done
CODER_URL=$(sed -n 's/^Coder emulator listening on //p' "$work/emulator.log")
[ -n "$CODER_URL" ] || { cat "$work/emulator.log"; exit 1; }
# CODER_EMULATOR_URL says the deployment is this emulator, whose test-only routes targets may then use.
export CODER_URL CODER_EMULATOR_URL=$CODER_URL
"$@"
