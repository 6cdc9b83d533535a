#!/usr/bin/env bash
# The changelog (antsibull-changelog, settings in changelogs/config.yaml).
#   hack/changelog.sh check    make changelog-lint: the fragments in changelogs/fragments/ and changelogs/changelog.yaml
#                              are valid; CHANGELOG.rst is what changelog.yaml generates; and each released version
#                              lists every module, plugin and role whose version_added is that version (a plugin
#                              added later for a released version fails here until the changelog is regenerated).
#   hack/changelog.sh update   make changelog: CHANGELOG.rst regenerated, and the plugins' descriptions in
#                              changelog.yaml refreshed, in place.
# A release is made with antsibull-changelog release, after bumping galaxy.yml's version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
# antsibull-changelog finds the plugins with ansible-doc: the one next to it.
export PATH=$venv/bin:$PATH

case ${1:-} in
  check)
    cd "$root"
    antsibull-changelog lint
    antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$root/hack/copy-collection.sh" "$work"
    (cd "$work" && antsibull-changelog generate)
    diff -u "$root/CHANGELOG.rst" "$work/CHANGELOG.rst" \
      || { echo "CHANGELOG.rst is not what changelogs/changelog.yaml generates. Run make changelog."; exit 1; }
    # Every module, plugin and role whose version_added is a released version is listed in that release: the
    # plugin cache that antsibull-changelog builds from ansible-doc holds each one's version_added.
    (cd "$work" && antsibull-changelog generate --reload-plugins)
    python - "$root/changelogs/changelog.yaml" "$work/changelogs/.plugin-cache.yaml" <<'PY'
import sys

import yaml

changelog, cache = (yaml.safe_load(open(path)) for path in sys.argv[1:3])
listed = set()
for version, release in changelog["releases"].items():
    listed.update((version, "module", entry["name"]) for entry in release.get("modules", []))
    for kind in ("plugins", "objects"):
        for type_, entries in release.get(kind, {}).items():
            listed.update((version, type_, entry["name"]) for entry in entries)
present = set()
for kind in ("plugins", "objects"):
    for type_, entries in cache[kind].items():
        present.update((str(entry["version_added"]), type_, name) for name, entry in entries.items()
                       if str(entry.get("version_added")) in changelog["releases"])
problems = [f"{type_} {name}: version_added {version}, a released version, but not in its release notes"
            for version, type_, name in sorted(present - listed)]
problems += [f"{type_} {name}: in the release notes of {version}, but not in the collection (or another version_added)"
             for version, type_, name in sorted(listed - present)]
if problems:
    print("\n".join(problems))
    sys.exit("changelogs/changelog.yaml does not list what the collection has. A plugin new in an unpublished release:"
             " antsibull-changelog release --update-existing --date DATE; otherwise give it the next version_added.")
PY
    echo "Changelog fragments and changelogs/changelog.yaml valid, CHANGELOG.rst current, every plugin and role listed."
    ;;
  update)
    cd "$root"
    antsibull-changelog generate --reload-plugins --refresh-plugins
    ;;
  *)
    echo "usage: $0 check|update" >&2
    exit 2
    ;;
esac
