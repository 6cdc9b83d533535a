# Every target works on a fresh machine with Python 3.11: it builds the virtualenvs it needs first.
PYTHON ?= python3
export PYTHON
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# .venv holds the newest ansible-core (2.19) and the tools. Each older release the collection is tested on has a
# file in hack/cores/ and its own venv, .venv-cores/<release>: sanity and units run on all of them, integration on
# the oldest (the floor that meta/runtime.yml states) and on 2.19.
CORES := $(sort $(basename $(notdir $(wildcard hack/cores/*.txt))))
FLOOR := $(firstword $(CORES))

.PHONY: venv demo test lint python-lint ansible-lint docs-lint changelog-lint changelog sanity units integration \
  emulator-tests older-cores package awx bench clean \
  $(addprefix sanity-,$(CORES)) $(addprefix units-,$(CORES)) $(addprefix integration-,$(CORES))

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	hack/venv.sh $(VENV) -r requirements-dev.txt

# Kept once built (make would otherwise treat them as intermediate files of the pattern rules below).
.PRECIOUS: .venv-cores/%/.installed
.venv-cores/%/.installed: hack/cores/%.txt
	hack/venv.sh .venv-cores/$* -r $<

demo: venv
	hack/demo.sh

# Everything, as CI runs it (.ci/run).
test: lint units sanity integration older-cores package awx

lint: python-lint ansible-lint docs-lint changelog-lint

python-lint: venv
	$(VENV)/bin/ruff check .
	# The continuation-line rules of ansible-test's pep8 sanity test, which ruff does not have, caught early.
	$(VENV)/bin/pycodestyle --max-line-length 160 --ignore E402,W503,W504,E741,E203,E701,E704 \
	  --exclude tests/output,.venv,.venv-cores plugins tests hack bench
	hack/check_floor.sh
	# ansible-test's shellcheck covers the collection's scripts; the harness's own are checked here.
	$(VENV)/bin/shellcheck hack/*.sh .ci/run

# The roles, examples and playbooks at ansible-lint's production profile (settings and reasons in .ansible-lint).
ansible-lint: venv
	hack/with-collection.sh ansible-lint roles examples playbooks

# Every plugin's and role's documentation, as the Ansible docsite would render it.
docs-lint: venv
	hack/with-collection.sh antsibull-docs lint-collection-docs --plugin-docs \
	  --validate-collection-refs all --disallow-unknown-collection-refs .

# Changelog fragments and changelogs/changelog.yaml are valid, CHANGELOG.rst is what they generate, and every plugin
# and role is in the notes of the release its version_added names (hack/changelog.sh).
changelog-lint: venv
	hack/changelog.sh check

# Regenerates CHANGELOG.rst, with the plugins' descriptions in changelogs/changelog.yaml refreshed.
changelog: venv
	hack/changelog.sh update

sanity: venv
	hack/ansible-test.sh sanity --python 3.11 --venv

# Unit tests of the collection (ansible-test units) and of the emulator (pytest).
units: venv emulator-tests
	hack/ansible-test.sh units --python 3.11 --venv

emulator-tests: venv
	$(VPY) -m pytest -q tests/emulator/tests

integration: venv
	hack/integration.sh

# The older ansible-core releases: make sanity-2.16, units-2.17, integration-2.16 and so on, or all that make test
# runs on them with make older-cores.
older-cores: $(addprefix sanity-,$(CORES)) $(addprefix units-,$(CORES)) integration-$(FLOOR)

$(addprefix sanity-,$(CORES)): sanity-%: .venv-cores/%/.installed
	VENV=$(CURDIR)/.venv-cores/$* hack/ansible-test.sh sanity --python 3.11 --venv

$(addprefix units-,$(CORES)): units-%: .venv-cores/%/.installed
	VENV=$(CURDIR)/.venv-cores/$* hack/ansible-test.sh units --python 3.11 --venv

$(addprefix integration-,$(CORES)): integration-%: .venv-cores/%/.installed
	VENV=$(CURDIR)/.venv-cores/$* hack/integration.sh

# The release tarball: built, checked for what must not ship, installed into an empty collections path, and the
# demo playbooks run from the installed copy against a fresh emulator.
package: venv .venv-importer/.installed
	hack/package.sh

.venv-importer/.installed: hack/importer-requirements.txt
	hack/venv.sh .venv-importer -r $<

# What AWX does with the collection, without an AWX: the execution environment metadata (ansible-builder), the
# credential type and its playbook, and the onboarding playbook run as an ansible-runner job (docs/awx.md).
awx: venv
	$(VPY) -m pytest -q tests/awx

bench: venv
	$(VPY) bench/emulator_requests.py
	$(VPY) bench/onboarding_scale.py

clean:
	rm -rf tests/output .pytest_cache .ruff_cache
