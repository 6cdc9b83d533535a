#!/usr/bin/env bash
# make demo: on a fresh emulator, apply examples/users.yml, the onboarding role with a 200-person HR roster, and
# examples/templates.yml, each twice (the second run changes nothing), and show the result.
# The examples are this repository's, or with DEMO_COLLECTION set those of the collection installed there (for
# hack/package.sh, with COLLECTIONS_PATH naming where it is installed; see hack/with-emulator.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
examples=${DEMO_COLLECTION:-$root}/examples

if [ "${1:-}" != "--inside" ]; then
  EMULATOR_ARGS="--seed $examples/onboarding/seed.json" exec "$root/hack/with-emulator.sh" "$0" --inside
fi

export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_NOCOLOR=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== Coder API emulator at $CODER_URL"

echo "== examples/users.yml, first run: creates the users"
ansible-playbook "$examples/users.yml"
echo "== examples/users.yml, second run: nothing to change"
ansible-playbook "$examples/users.yml" | tee "$log"
grep -q 'changed=0' "$log" || { echo "the second run changed something"; exit 1; }
python "$root/hack/show_deployment.py" users

echo "== Back to the seeded deployment (two people who are not in the HR roster)"
python -c "import os, urllib.request
urllib.request.urlopen(urllib.request.Request(os.environ['CODER_URL'] + '/__emulator/reset', method='POST'))"
echo "== The onboarding role with examples/onboarding/people.csv, first run"
ansible-playbook "$examples/onboarding/onboarding.yml"
echo "== The onboarding role again: nothing to change"
ansible-playbook "$examples/onboarding/onboarding.yml" | tee "$log"
grep -q 'changed=0' "$log" || { echo "the second run changed something"; exit 1; }
python "$root/hack/show_deployment.py" groups

echo "== examples/templates.yml, first run: builds the Docker and Kubernetes templates"
ansible-playbook "$examples/templates.yml"
echo "== examples/templates.yml, second run: nothing uploaded, no new version"
ansible-playbook "$examples/templates.yml" | tee "$log"
grep -q 'changed=0' "$log" || { echo "the second run changed something"; exit 1; }
python "$root/hack/show_deployment.py" templates
