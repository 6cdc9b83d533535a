#!/usr/bin/env bash
# Copies the collection's files into DEST (which must exist): what git tracks plus new files it does not ignore, less
# the development harness (bench/, hack/, .ci/). Tools that need the collection as a tree of its own, laid out as
# ansible_collections/coder/automation, work on such a copy; the repository itself is never moved.
#   hack/copy-collection.sh DEST
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$1

cd "$root"
git ls-files -co --exclude-standard -z \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | grep -zv -e '^bench/' -e '^hack/' -e '^\.ci/' \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
