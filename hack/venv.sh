#!/usr/bin/env bash
# Builds or updates one of the project's virtualenvs (the Makefile calls it when its requirements change):
#   hack/venv.sh DIR PIP-INSTALL-ARGUMENTS...
# An existing DIR is updated in place, not rebuilt, so that commands running from it meanwhile keep working.
# The emulator is a package of the test tree; a .pth file makes it importable as coder_emulator from DIR's Python,
# so every venv can start it. DIR/.installed is written last: the Makefile's sign of a complete venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift

"${PYTHON:-python3}" -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
purelib=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$root/tests/emulator" >"$purelib/coder_emulator.pth"
touch "$dir/.installed"
