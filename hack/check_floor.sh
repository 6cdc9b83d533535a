#!/usr/bin/env bash
# meta/runtime.yml's requires_ansible states the floor that is really tested: the ansible-core pinned for the oldest
# release in hack/cores/ (make older-cores runs sanity, units and integration on it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
oldest=$(find "$root/hack/cores" -name '*.txt' -printf '%f\n' | sort -V | head -n1)
tested=$(sed -n 's/^ansible-core==//p' "$root/hack/cores/$oldest")
stated=$(sed -n 's/^requires_ansible: *"\(.*\)"$/\1/p' "$root/meta/runtime.yml")
if [ "$stated" != ">=$tested" ]; then
  echo "meta/runtime.yml says requires_ansible: \"$stated\", but the oldest ansible-core tested is $tested" \
    "(hack/cores/$oldest): make them agree."
  exit 1
fi
echo "requires_ansible $stated: the oldest ansible-core tested (hack/cores/$oldest)."
