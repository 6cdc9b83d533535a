# Every target works on a fresh machine with Python 3.11: it builds .venv first when needed.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test sanity lint units integration emulator-tests bench clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The emulator is a package of the test tree, importable as coder_emulator from the venv.
	$(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
	  | xargs -I{} sh -c 'echo "$(CURDIR)/tests/emulator" > {}/coder_emulator.pth'
	touch $(STAMP)

demo: venv
	hack/demo.sh

test: lint units sanity integration

lint: venv
	$(VENV)/bin/ruff check .
	# The continuation-line rules of ansible-test's pep8 sanity test, which ruff does not have, caught early.
	$(VENV)/bin/pycodestyle --max-line-length 160 --ignore E402,W503,W504,E741,E203,E701,E704 \
	  --exclude tests/output,.venv plugins tests hack bench

sanity: venv
	hack/ansible-test.sh sanity --python 3.11 --venv

# Unit tests of the collection (ansible-test units) and of the emulator (pytest).
units: venv emulator-tests
	hack/ansible-test.sh units --python 3.11 --venv

emulator-tests: venv
	$(VPY) -m pytest -q tests/emulator/tests

integration: venv
	hack/integration.sh

bench: venv
	$(VPY) bench/emulator_requests.py
	$(VPY) bench/onboarding_scale.py

clean:
	rm -rf tests/output .pytest_cache .ruff_cache
