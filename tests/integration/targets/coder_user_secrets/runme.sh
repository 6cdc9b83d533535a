#!/usr/bin/env bash
# A failing task run with -vvvv must not show the session token or the password anywhere in its output.
# ansible-test passes "-e @integration_config.yml" as arguments; they go on to ansible-playbook.
set -euo pipefail
output=$(mktemp)
trap 'rm -f "$output"' EXIT

if ansible-playbook -vvvv fail.yml "$@" >"$output" 2>&1; then
  echo "expected the playbook to fail"; cat "$output"; exit 1
fi
grep -q "Invalid login_type\|cannot change\|Could not" "$output" || { echo "the failure is not the expected one"; cat "$output"; exit 1; }

# The token comes from integration_config.yml; compare without ever printing it.
token=$(python3 - "$@" <<'PY'
import json, sys
args = sys.argv[1:]
path = args[args.index("-e") + 1].lstrip("@")
print(json.load(open(path))["coder_token"])
PY
)
for secret in "$token" "Swordfish-Tango-Lima-2026-zebra"; do
  if grep -qF -- "$secret" "$output"; then
    echo "a secret appears in the -vvvv output"; exit 1
  fi
done
lines=$(wc -l <"$output")
echo "checked $lines lines of -vvvv output: no secret in them"
