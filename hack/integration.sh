#!/usr/bin/env bash
# Runs the integration targets (ansible-test integration) against a Coder API.
# - With CODER_URL and CODER_SESSION_TOKEN set: against that deployment, unchanged.
# - Otherwise: starts the emulator on 127.0.0.1 with a fresh owner token, and stops it afterwards.
# Either way it writes the targets' integration_config.yml (URL and token) into a private temporary directory, and
# hack/ansible-test.sh puts it where ansible-test hands it to every target as extra vars. Runs with another ansible-core
# (VENV=.venv-cores/2.16, as make integration-2.16 does) or side by side each have their own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
umask 077
work=$(mktemp -d)
export INTEGRATION_CONFIG=$work/integration_config.yml
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill -TERM "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${CODER_URL:-}" ] && [ -n "${CODER_SESSION_TOKEN:-}" ]; then
  echo "Integration tests against $CODER_URL"
  url=$CODER_URL token=$CODER_SESSION_TOKEN emulator_url=
else
  token=$("$venv/bin/python" -c 'import secrets, string
a = string.ascii_letters + string.digits
print("".join(secrets.choice(a) for _ in range(10)) + "-" + "".join(secrets.choice(a) for _ in range(22)))')
  export EMULATOR_TOKEN=$token
  log=$work/emulator.log
  "$venv/bin/python" -m coder_emulator --host 127.0.0.1 --port 0 --token-env EMULATOR_TOKEN >"$log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 100); do
    grep -q '^Coder emulator listening on ' "$log" && break
    kill -0 "$emulator_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  url=$(sed -n 's/^Coder emulator listening on //p' "$log" | head -n1)
  [ -n "$url" ] || { echo "the emulator did not start:"; cat "$log"; exit 1; }
  emulator_url=$url
  echo "Integration tests against the emulator at $url"
fi

"$venv/bin/python" - "$INTEGRATION_CONFIG" "$url" "$emulator_url" <<'PY'
import json, os, sys
path, url, emulator_url = sys.argv[1:4]
# JSON is YAML; the token comes from the environment so it never sits on a command line.
token = os.environ.get("CODER_SESSION_TOKEN") or os.environ["EMULATOR_TOKEN"]
with open(path, "w") as handle:
    json.dump({"coder_url": url, "coder_token": token, "coder_emulator_url": emulator_url}, handle)
PY
"$root/hack/ansible-test.sh" integration --python 3.11 "$@"
