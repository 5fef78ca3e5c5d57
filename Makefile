# capgo.cloud: build, test and demo.  `make help` lists the targets.
#
# Everything generated (venvs, the ansible_collections layout ansible-test
# needs, build output, the installed collection) lives under $(WORK), outside
# the repository.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
WORK ?= $(HOME)/.cache/capgo-cloud
# The main toolchain's Python: 3.13 (or 3.12), from pyenv's versions directory
# or PATH (.ci/find-python).  `make PYTHON=/path/to/python3.12` overrides it.
ifndef PYTHON
PYTHON := $(shell $(ROOT)/.ci/find-python 3.13 3.12 2>/dev/null)
endif

NAMESPACE := capgo
NAME := cloud
VERSION := $(shell sed -n 's/^version: *//p' $(ROOT)/galaxy.yml)

VENV := $(WORK)/venv
BIN := $(VENV)/bin
REQS := $(ROOT)/.ci/requirements.txt
REQS_HASH := $(shell cat $(REQS) | sha256sum | cut -c1-12)
VENV_STAMP := $(VENV)/.capgo-ready-$(REQS_HASH)

# Older ansible-core releases, one venv each ($(WORK)/venv-core-2.NN, from
# .ci/requirements-core-2.NN.txt), on a Python that core supports as a
# controller.  The main venv above is ansible-core 2.21 (.ci/requirements.txt).
CORES := 2.16 2.18 2.20
ifndef PYTHON_2.16
PYTHON_2.16 := $(shell $(ROOT)/.ci/find-python 3.12 3.11 3.10 2>/dev/null)
endif
ifndef PYTHON_2.18
PYTHON_2.18 := $(shell $(ROOT)/.ci/find-python 3.13 3.12 3.11 2>/dev/null)
endif
ifndef PYTHON_2.20
PYTHON_2.20 := $(shell $(ROOT)/.ci/find-python 3.12 3.13 2>/dev/null)
endif
core_venv = $(WORK)/venv-core-$(1)

# `make demo`: ansible-core + requests only, what a user of the collection needs.
RUNTIME_VENV := $(WORK)/venv-runtime
RUNTIME_REQS := $(ROOT)/.ci/requirements-runtime.txt
RUNTIME_STAMP := $(RUNTIME_VENV)/.capgo-ready-$(shell cat $(RUNTIME_REQS) | sha256sum | cut -c1-12)
RUNTIME_COLLECTIONS := $(WORK)/demo-collections

STAGE := $(WORK)/ac
STAGED := $(STAGE)/ansible_collections/$(NAMESPACE)/$(NAME)
LIVE := $(WORK)/live
DIST := $(WORK)/dist
TARBALL := $(DIST)/$(NAMESPACE)-$(NAME)-$(VERSION).tar.gz
INSTALLED := $(WORK)/collections

PYTEST_ARGS ?=
# --import-mode=importlib: test files share basenames across tests/unit and tests/integration
PYTEST_MOD := pytest -p no:cacheprovider --import-mode=importlib
PYTEST := python -m $(PYTEST_MOD)
XDIST := -n 2

ifeq ($(filter $(BIN),$(subst :, ,$(PATH))),)
export PATH := $(BIN):$(PATH)
endif
export VIRTUAL_ENV := $(VENV)
export LC_ALL := C.UTF-8
export PYTHONDONTWRITEBYTECODE := 1
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_LOCALHOST_WARNING := False
export ANSIBLE_INVENTORY_UNPARSED_WARNING := False
unexport ANSIBLE_COLLECTIONS_PATH ANSIBLE_CONFIG

.PHONY: help venv stage live sanity sanity-all lint docs-lint changelog-lint changelog build install \
        importer ee compat units units-2.16 integration test demo chaos bench clean distclean docs docs-check
# sanity-2.NN, compat-2.NN, core-venv-2.NN are pattern rules: not .PHONY (make
# skips the implicit rule search for phony targets).

help:  ## list the targets
	@grep -E '^[a-z0-9.%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

# --- environment ------------------------------------------------------------

venv: $(VENV_STAMP)  ## create $(WORK)/venv from .ci/requirements.txt (idempotent)

no_python = { echo "No Python $(1) found (pyenv versions or PATH); pass $(2)=/path/to/python"; exit 1; }

$(VENV_STAMP): $(REQS)
	@test -n "$(PYTHON)" || $(call no_python,3.13 or 3.12,PYTHON)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check uv \
	  && UV_NATIVE_TLS=1 $(VENV)/bin/python -m uv pip install -q --python $(VENV)/bin/python -r $(REQS) \
	  || $(VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(REQS)
	$(VENV)/bin/python -m pip check
	touch $@

# A copy of the working tree (tracked + untracked, minus .gitignore'd) at
# .../ansible_collections/capgo/cloud: ansible-test needs that layout and does
# not follow a symlinked collection directory.
stage: venv
	rm -rf $(STAGE)
	mkdir -p $(STAGED)
	cd $(ROOT) && if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do \
	    [[ -e "$$f" || -L "$$f" ]] && printf '%s\0' "$$f"; done \
	  | tar --null -T - -cf - | tar -C $(STAGED) -xf - ; \
	else \
	  tar --exclude=./tests/output --exclude=./.ansible -cf - . | tar -C $(STAGED) -xf - ; \
	fi

# A symlink layout over the live working tree, for imports from unit tests.
live:
	mkdir -p $(LIVE)/ansible_collections/$(NAMESPACE)
	ln -sfn $(ROOT) $(LIVE)/ansible_collections/$(NAMESPACE)/$(NAME)

# --- quality gates ----------------------------------------------------------

# ansible-test sanity from the venv $(1), on that venv's Python, on the staged
# copy.  ansible-test fetches a get-pip script it cannot reach here: the shim
# goes where it looks first (toolchain.md, pitfall 1).  --python is always
# given: without it ansible-test picks up pyenv shims that do not run.
define run_sanity
	PIPV=$$($(1)/bin/python -c 'import re, pathlib, ansible_test as t; p = pathlib.Path(t.__file__).parent / "_internal/python_requirements.py"; print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))'); \
	  mkdir -p $(HOME)/.ansible/test/cache; \
	  cp $(ROOT)/.ci/get_pip_shim.py $(HOME)/.ansible/test/cache/get_pip_$${PIPV//./_}.py
	cd $(STAGED) && rm -rf tests/output && PYV=$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
	  && echo "== ansible-test sanity: ansible-core $$($(1)/bin/python -c 'import ansible; print(ansible.__version__)') on Python $$PYV" \
	  && PATH=$(1)/bin:$$PATH VIRTUAL_ENV=$(1) $(1)/bin/ansible-test sanity --python $$PYV --local --color no
endef

sanity: stage  ## ansible-test sanity, ansible-core 2.21 (main venv), on a staged copy
	$(call run_sanity,$(VENV))

sanity-%: core-venv-% stage  ## ansible-test sanity on ansible-core 2.16 / 2.18 / 2.20 (e.g. make sanity-2.16)
	$(call run_sanity,$(call core_venv,$*))

sanity-all: sanity $(addprefix sanity-,$(CORES))  ## ansible-test sanity on every claimed core (2.16 2.18 2.20 2.21)

lint: venv live  ## ansible-lint, production profile, offline
	cd $(ROOT) && ANSIBLE_COLLECTIONS_PATH=$(LIVE) ansible-lint --nocolor

docs-lint: venv  ## antsibull-docs lint-collection-docs
	cd $(ROOT) && antsibull-docs lint-collection-docs --plugin-docs .

# The module and role reference in docs/reference, generated by antsibull-docs
# from the installed tarball (the modules' DOCUMENTATION and the roles'
# meta/argument_specs.yml). `make test` fails when the committed copy is stale.
REFERENCE := $(ROOT)/docs/reference
ANTSIBULL_DOCS := antsibull-docs collection --use-current --squash-hierarchy \
  --output-format simplified-rst --fail-on-error

docs: install  ## regenerate docs/reference (module and role reference) with antsibull-docs
	rm -rf $(REFERENCE) && mkdir -p $(REFERENCE)
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(ANTSIBULL_DOCS) --dest-dir $(REFERENCE) $(NAMESPACE).$(NAME) >/dev/null
	@echo "docs/reference regenerated: commit it with the change that caused it"

docs-check: install  ## fail when docs/reference differs from what `make docs` would write
	rm -rf $(WORK)/reference && mkdir -p $(WORK)/reference
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(ANTSIBULL_DOCS) --dest-dir $(WORK)/reference $(NAMESPACE).$(NAME) >/dev/null
	diff -r $(WORK)/reference $(REFERENCE) \
	  || { echo "docs/reference is stale: run 'make docs' and commit the result"; exit 1; }
	@echo "docs/reference: up to date"

# The check releases again on a copy, with the release date already recorded (a CI run on a later
# day must not call the notes stale).
changelog-lint: venv  ## antsibull-changelog lint + CHANGELOG.rst up to date
	cd $(ROOT) && antsibull-changelog lint
	cd $(ROOT) && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	rm -rf $(WORK)/changelog-check && mkdir -p $(WORK)/changelog-check
	cd $(ROOT) && tar --exclude=./.git --exclude=./tests/output -cf - . | tar -C $(WORK)/changelog-check -xf -
	cd $(WORK)/changelog-check && antsibull-changelog release --reload-plugins --version $(VERSION) \
	  $$(python -c 'import sys, yaml; r = (yaml.safe_load(open("changelogs/changelog.yaml"))["releases"] or {}).get(sys.argv[1]) or {}; print("--date %s" % r["release_date"] if r.get("release_date") else "")' $(VERSION)) \
	  >/dev/null 2>&1
	cmp -s $(WORK)/changelog-check/CHANGELOG.rst $(ROOT)/CHANGELOG.rst \
	  && cmp -s $(WORK)/changelog-check/changelogs/changelog.yaml $(ROOT)/changelogs/changelog.yaml \
	  || { echo "CHANGELOG.rst / changelogs/changelog.yaml are stale: run 'make changelog' and commit the result"; exit 1; }

changelog: venv  ## fold changelogs/fragments into the $(VERSION) release notes
	cd $(ROOT) && antsibull-changelog release --reload-plugins --version $(VERSION)

# --- artifact ---------------------------------------------------------------

build: venv  ## ansible-galaxy collection build into $(WORK)/dist
	mkdir -p $(DIST)
	rm -f $(TARBALL)
	ansible-galaxy collection build --force --output-path $(DIST) $(ROOT)

install: build  ## install the built tarball offline into $(WORK)/collections
	rm -rf $(INSTALLED)/ansible_collections/$(NAMESPACE)/$(NAME)
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) ansible-galaxy collection install --offline --no-deps --force -p $(INSTALLED) $(TARBALL)

importer: build  ## galaxy-importer on the tarball; fails on errors and warnings
	rm -rf $(WORK)/importer && mkdir -p $(WORK)/importer
	cd $(WORK)/importer && GALAXY_IMPORTER_CONFIG=$(ROOT)/.ci/galaxy-importer.cfg \
	  python -m galaxy_importer.main $(TARBALL) > importer.log 2>&1 \
	  || { cat importer.log; echo "galaxy-importer failed"; exit 1; }
	python $(ROOT)/.ci/check_importer.py $(WORK)/importer/importer.log $(WORK)/importer/importer_result.json $(ROOT)/meta/runtime.yml

ee: install  ## ansible-builder: introspect the installed collection, create an EE context
	rm -rf $(WORK)/ee && mkdir -p $(WORK)/ee
	touch $(WORK)/ee/introspected.txt  # introspect writes no file when there is nothing to install
	ansible-builder introspect $(INSTALLED) --write-pip $(WORK)/ee/introspected.txt >/dev/null
	# what ansible-builder finds must be exactly requirements.txt's packages (today: none, stdlib only)
	diff <(grep -v '^\s*#' $(ROOT)/requirements.txt | sed '/^\s*$$/d' | sort) \
	     <(grep -v '^\s*#' $(WORK)/ee/introspected.txt | sed 's/\s*#.*//; /^\s*$$/d' | sort) \
	  || { echo "meta/execution-environment.yml: ansible-builder did not pick up requirements.txt"; exit 1; }
	printf '%s\n' '---' 'version: 3' 'images:' '  base_image:' '    name: quay.io/ansible/awx-ee:latest' \
	  'dependencies:' '  python: $(ROOT)/requirements.txt' '  galaxy:' '    collections:' \
	  '      - name: $(TARBALL)' '        type: file' > $(WORK)/ee/execution-environment.yml
	ansible-builder create -f $(WORK)/ee/execution-environment.yml --context $(WORK)/ee/context --output-filename Containerfile >/dev/null
	test -s $(WORK)/ee/context/Containerfile
	@echo "ansible-builder: EE context created in $(WORK)/ee/context"

# ansible-core 2.16 (the floor in meta/runtime.yml) against the same installed
# tarball, latest API profile (the bulk device tests run on latest and classic).  The whole suite takes ~4x longer than the
# 3-minute budget, so by default a representative part runs: the harness, one
# lifecycle per module, module_defaults, retries, and the demo story (both
# roles).  `make compat COMPAT_TESTS=tests/integration` runs everything.
# A renamed test here fails loudly ("not found"), it is never skipped silently.
COMPAT_TESTS ?= \
  tests/integration/test_harness.py \
  tests/integration/test_capgo_channel.py::test_channel_lifecycle \
  tests/integration/test_capgo_device_link.py::test_lifecycle_upper_case_id \
  tests/integration/test_capgo_device_link.py::test_bulk_1000_link_then_rerun \
  tests/integration/test_capgo_bundle.py::test_delete_one_then_again_unchanged \
  tests/integration/test_capgo_bundle.py::test_keep_two_of_six_spares_bundles_channels_serve \
  tests/integration/test_capgo_info.py::test_module_defaults_group_supplies_connection_options \
  tests/integration/test_capgo_info.py::test_429_with_retry_after_then_success \
  tests/integration/test_roles.py::test_demo_story_twice_second_run_changes_nothing

COMPAT_CORES ?= 2.16 2.20
COMPAT_PROFILES ?= latest

core-venv-%: $(WORK)/venv-core-%/.capgo-ready
	@:

.PRECIOUS: $(WORK)/venv-core-%/.capgo-ready  # else make deletes the stamp as an intermediate file

$(WORK)/venv-core-%/.capgo-ready: $(ROOT)/.ci/requirements-core-%.txt
	@test -n "$(PYTHON_$*)" || $(call no_python,for ansible-core $*,PYTHON_$*)
	rm -rf $(call core_venv,$*)
	$(PYTHON_$*) -m venv $(call core_venv,$*)
	$(call core_venv,$*)/bin/python -m pip install -q --disable-pip-version-check uv \
	  && UV_NATIVE_TLS=1 $(call core_venv,$*)/bin/python -m uv pip install -q --python $(call core_venv,$*)/bin/python -r $< \
	  || $(call core_venv,$*)/bin/python -m pip install -q --disable-pip-version-check -r $<
	$(call core_venv,$*)/bin/python -m pip check
	touch $@

compat: $(addprefix compat-,$(COMPAT_CORES))  ## integration tests (representative part, latest profile) on ansible-core 2.16 and 2.20

compat-%: core-venv-% install  ## the compat subset on one older core (e.g. make compat-2.16)
	cd $(ROOT) && PATH=$(call core_venv,$*)/bin:$$PATH VIRTUAL_ENV=$(call core_venv,$*) CAPGO_TEST_PROFILES=$(COMPAT_PROFILES) \
	  CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) \
	  $(call core_venv,$*)/bin/python -m $(PYTEST_MOD) $(XDIST) $(COMPAT_TESTS) $(PYTEST_ARGS)

# --- tests ------------------------------------------------------------------

UNIT_DIRS = $(wildcard tests/unit tests/simulator)

units: venv live  ## unit + simulator tests (pytest), ansible-core 2.21
	cd $(ROOT) && PYTHONPATH=$(LIVE) $(PYTEST) $(XDIST) $(UNIT_DIRS) $(PYTEST_ARGS)

# .ci/pytest_core_compat.py gives 2.16 the patch_module_args helper the unit tests use (new in 2.19).
units-2.16: core-venv-2.16 live  ## unit + simulator tests on the oldest claimed core, 2.16
	cd $(ROOT) && PATH=$(call core_venv,2.16)/bin:$$PATH VIRTUAL_ENV=$(call core_venv,2.16) PYTHONPATH=$(LIVE):$(ROOT)/.ci \
	  $(call core_venv,2.16)/bin/python -m $(PYTEST_MOD) -p pytest_core_compat $(XDIST) $(UNIT_DIRS) $(PYTEST_ARGS)

integration: install  ## integration tests against the installed tarball (pytest)
	cd $(ROOT) && CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) $(PYTEST) $(XDIST) tests/integration $(PYTEST_ARGS)

# `make test` = CI.  Each stage's wall time goes to the output and to
# $(WORK)/ci-times.txt.  The last stage is the main pytest run (unit, simulator
# and the whole integration suite on ansible-core 2.21): its summary is the
# last line printed.  KEEP_GOING=1 runs every stage even when one fails (the
# failed ones are listed before the pytest run, and `make test` then fails).
TEST_STAGES := sanity $(addprefix sanity-,$(CORES)) lint docs-lint changelog-lint install docs-check \
  importer ee units-2.16 $(addprefix compat-,$(COMPAT_CORES)) live
KEEP_GOING ?=

test: venv  ## every gate on every core, then one pytest run over unit, simulator and integration tests
	@: > $(WORK)/ci-times.txt; failed=; \
	  for stage in $(TEST_STAGES); do \
	    start=$$SECONDS; echo "== make $$stage"; result=ok; \
	    $(MAKE) $$stage || { result=FAILED; failed="$$failed $$stage"; }; \
	    echo "$$stage $$((SECONDS - start)) s $$result" | tee -a $(WORK)/ci-times.txt | sed 's/^/== time: /'; \
	    if [[ -n $$failed && -z "$(KEEP_GOING)" ]]; then echo "== make test: stage $$stage failed"; exit 1; fi; \
	  done; \
	  echo "== main pytest run (ansible-core 2.21, unit + simulator + integration); stage times in $(WORK)/ci-times.txt"; \
	  if [[ -n $$failed ]]; then echo "== stages that failed:$$failed"; fi; \
	  start=$$SECONDS; rc=0; \
	  cd $(ROOT) && PYTHONPATH=$(LIVE) CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) \
	    $(PYTEST) $(XDIST) $(UNIT_DIRS) tests/integration $(PYTEST_ARGS) || rc=$$?; \
	  echo "pytest $$((SECONDS - start)) s rc=$$rc" >> $(WORK)/ci-times.txt; \
	  if [[ -n $$failed ]]; then exit 1; fi; exit $$rc

# --- demo and benchmarks ----------------------------------------------------

# The demo needs only ansible-core and requests: its own small venv, its own
# build and install of the collection (no quality toolchain).
$(RUNTIME_STAMP): $(RUNTIME_REQS)
	@test -n "$(PYTHON)" || $(call no_python,3.13 or 3.12,PYTHON)
	rm -rf $(RUNTIME_VENV)
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(RUNTIME_REQS)
	touch $@

demo: $(RUNTIME_STAMP)  ## run playbooks/demo.yml twice against a local simulator (runtime-only venv)
	rm -rf $(WORK)/demo-dist $(RUNTIME_COLLECTIONS)/ansible_collections/$(NAMESPACE)/$(NAME)
	PATH=$(RUNTIME_VENV)/bin:$$PATH ansible-galaxy collection build --force --output-path $(WORK)/demo-dist $(ROOT) >/dev/null
	PATH=$(RUNTIME_VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(RUNTIME_COLLECTIONS) ansible-galaxy collection install \
	  --offline --no-deps --force -p $(RUNTIME_COLLECTIONS) $(WORK)/demo-dist/$(NAMESPACE)-$(NAME)-$(VERSION).tar.gz >/dev/null
	cd $(ROOT) && PATH=$(RUNTIME_VENV)/bin:$$PATH VIRTUAL_ENV=$(RUNTIME_VENV) WORK=$(WORK) \
	  ANSIBLE_COLLECTIONS_PATH=$(RUNTIME_COLLECTIONS) bash .ci/demo.sh

# Randomised fault injection (tests/integration/test_chaos.py) against the
# installed tarball.  The seed makes a run repeatable: `make chaos SEED=42`.
ifndef SEED
SEED := $(shell od -An -N2 -tu2 /dev/urandom | tr -d ' ')
endif
chaos: install  ## randomised fault-injection tests, repeatable with SEED=<n>
	@test -f $(ROOT)/tests/integration/test_chaos.py \
	  || { echo "make chaos: tests/integration/test_chaos.py does not exist (yet): nothing to run"; exit 1; }
	@echo "== chaos seed $(SEED) (repeat this run with: make chaos SEED=$(SEED))"
	cd $(ROOT) && CAPGO_CHAOS_SEED=$(SEED) CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) \
	  $(PYTEST) tests/integration/test_chaos.py $(PYTEST_ARGS)

bench: install  ## benchmarks (hook: runs benchmarks/run.py once it exists)
	@test -f $(ROOT)/benchmarks/run.py || { echo "benchmarks not built yet (benchmarks/run.py is missing)"; exit 1; }
	cd $(ROOT) && CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) python benchmarks/run.py

clean:  ## remove build output (keeps the venvs)
	rm -rf $(STAGE) $(LIVE) $(DIST) $(INSTALLED) $(WORK)/importer $(WORK)/ee $(WORK)/changelog-check $(WORK)/reference $(ROOT)/tests/output

distclean: clean  ## remove everything under $(WORK)
	rm -rf $(WORK)
