#!/usr/bin/env bash
# A failing task run with -vvvv must not show the session token or the password anywhere in its output.
# ansible-test copies integration_config.yml (URL and token) two levels up from this target's directory.
set -euo pipefail
config=../../integration_config.yml
output=$(mktemp)
trap 'rm -f "$output"' EXIT

if ansible-playbook -vvvv fail.yml -e "@$config" >"$output" 2>&1; then
  echo "expected the playbook to fail"; cat "$output"; exit 1
fi
grep -q "Invalid login_type: user .it-secrets. has login_type .password." "$output" || { echo "the failure is not the expected one"; cat "$output"; exit 1; }

# The token comes from integration_config.yml; compare without ever printing it.
token=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["coder_token"])' "$config")
[ ${#token} -ge 20 ] || { echo "no token in $config"; exit 1; }
for secret in "$token" "Swordfish-Tango-Lima-2026-zebra"; do
  if grep -qF -- "$secret" "$output"; then
    echo "a secret appears in the -vvvv output"; exit 1
  fi
done
lines=$(wc -l <"$output")
echo "checked $lines lines of -vvvv output: no secret in them"
