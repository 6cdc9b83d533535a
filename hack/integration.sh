#!/usr/bin/env bash
# Runs the integration targets (ansible-test integration) against a Coder API.
# - With CODER_URL and CODER_SESSION_TOKEN set: against that deployment, unchanged.
# - Otherwise: inside hack/with-emulator.sh, which starts the emulator on 127.0.0.1 with a fresh owner token.
# Either way it writes the targets' integration_config.yml (URL and token) into a private temporary directory, and
# hack/ansible-test.sh puts it where ansible-test hands it to every target as extra vars. Runs with another ansible-core
# (VENV=.venv-cores/2.16, as make integration-2.16 does) or side by side each have their own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
if [ -z "${CODER_URL:-}" ] || [ -z "${CODER_SESSION_TOKEN:-}" ]; then
  # No deployment given: run again inside a fresh emulator, which sets both (and CODER_EMULATOR_URL).
  exec "$root/hack/with-emulator.sh" "$0" "$@"
fi
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export INTEGRATION_CONFIG=$work/integration_config.yml
echo "Integration tests against ${CODER_EMULATOR_URL:+the emulator at }$CODER_URL"

"$venv/bin/python" - "$INTEGRATION_CONFIG" <<'PY'
import json, os, sys
# JSON is YAML; the token comes from the environment so it never sits on a command line.
with open(sys.argv[1], "w") as handle:
    json.dump({"coder_url": os.environ["CODER_URL"], "coder_token": os.environ["CODER_SESSION_TOKEN"],
               "coder_emulator_url": os.environ.get("CODER_EMULATOR_URL", "")}, handle)
PY
"$root/hack/ansible-test.sh" integration --python 3.11 "$@"
