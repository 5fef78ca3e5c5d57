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
PYTHON ?= python3.11

NAMESPACE := capgo
NAME := cloud
VERSION := $(shell sed -n 's/^version: *//p' $(ROOT)/galaxy.yml)

VENV := $(WORK)/venv
BIN := $(VENV)/bin
REQS := $(ROOT)/.ci/requirements.txt
REQS_HASH := $(shell cat $(REQS) | sha256sum | cut -c1-12)
VENV_STAMP := $(VENV)/.capgo-ready-$(REQS_HASH)

# ansible-core compatibility job: the lowest core that meta/runtime.yml claims.
COMPAT_VENV := $(WORK)/venv-compat
COMPAT_REQS := $(ROOT)/.ci/requirements-compat.txt
COMPAT_HASH := $(shell cat $(COMPAT_REQS) 2>/dev/null | sha256sum | cut -c1-12)
COMPAT_STAMP := $(COMPAT_VENV)/.capgo-ready-$(COMPAT_HASH)

STAGE := $(WORK)/ac
STAGED := $(STAGE)/ansible_collections/$(NAMESPACE)/$(NAME)
LIVE := $(WORK)/live
DIST := $(WORK)/dist
TARBALL := $(DIST)/$(NAMESPACE)-$(NAME)-$(VERSION).tar.gz
INSTALLED := $(WORK)/collections

PYTEST_ARGS ?=
PYTEST := python -m pytest -p no:cacheprovider
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

.PHONY: help venv stage live sanity lint docs-lint changelog-lint changelog build install \
        importer ee compat units integration test demo bench clean distclean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

# --- environment ------------------------------------------------------------

venv: $(VENV_STAMP)  ## create $(WORK)/venv from .ci/requirements.txt (idempotent)

$(VENV_STAMP): $(REQS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check uv \
	  && $(VENV)/bin/python -m uv pip install -q --python $(VENV)/bin/python -r $(REQS) \
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

sanity: stage  ## ansible-test sanity (Python 3.11, local) on a staged copy
	PIPV=$$(python -c 'import re, pathlib, ansible_test as t; p = pathlib.Path(t.__file__).parent / "_internal/python_requirements.py"; print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))'); \
	  mkdir -p $(HOME)/.ansible/test/cache; \
	  cp $(ROOT)/.ci/get_pip_shim.py $(HOME)/.ansible/test/cache/get_pip_$${PIPV//./_}.py
	cd $(STAGED) && ansible-test sanity --python 3.11 --local --color no

lint: venv live  ## ansible-lint, production profile, offline
	cd $(ROOT) && ANSIBLE_COLLECTIONS_PATH=$(LIVE) ansible-lint --nocolor

docs-lint: venv  ## antsibull-docs lint-collection-docs
	cd $(ROOT) && antsibull-docs lint-collection-docs --plugin-docs .

changelog-lint: venv  ## antsibull-changelog lint + CHANGELOG.rst up to date
	cd $(ROOT) && antsibull-changelog lint
	cd $(ROOT) && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	rm -rf $(WORK)/changelog-check && mkdir -p $(WORK)/changelog-check
	cd $(ROOT) && tar --exclude=./.git --exclude=./tests/output -cf - . | tar -C $(WORK)/changelog-check -xf -
	cd $(WORK)/changelog-check && antsibull-changelog release --reload-plugins --version $(VERSION) >/dev/null 2>&1
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
	ansible-builder introspect $(INSTALLED) --write-pip $(WORK)/ee/introspected.txt >/dev/null
	grep -q '^requests>=2.25' $(WORK)/ee/introspected.txt \
	  || { cat $(WORK)/ee/introspected.txt; echo "meta/execution-environment.yml: requests>=2.25 not picked up"; exit 1; }
	printf '%s\n' '---' 'version: 3' 'images:' '  base_image:' '    name: quay.io/ansible/awx-ee:latest' \
	  'dependencies:' '  python: $(ROOT)/requirements.txt' '  galaxy:' '    collections:' \
	  '      - name: $(TARBALL)' '        type: file' > $(WORK)/ee/execution-environment.yml
	ansible-builder create -f $(WORK)/ee/execution-environment.yml --context $(WORK)/ee/context --output-filename Containerfile >/dev/null
	test -s $(WORK)/ee/context/Containerfile
	@echo "ansible-builder: EE context created in $(WORK)/ee/context"

# ansible-core 2.16 (the floor in meta/runtime.yml): the integration suite on
# the current API profile, against the same installed tarball.
$(COMPAT_STAMP): $(COMPAT_REQS)
	rm -rf $(COMPAT_VENV)
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q --disable-pip-version-check uv \
	  && $(COMPAT_VENV)/bin/python -m uv pip install -q --python $(COMPAT_VENV)/bin/python -r $(COMPAT_REQS) \
	  || $(COMPAT_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(COMPAT_REQS)
	touch $@

compat: $(COMPAT_STAMP) install  ## integration tests (current profile) on ansible-core 2.16
	cd $(ROOT) && PATH=$(COMPAT_VENV)/bin:$$PATH VIRTUAL_ENV=$(COMPAT_VENV) CAPGO_TEST_PROFILES=current \
	  CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) \
	  $(COMPAT_VENV)/bin/python -m pytest -p no:cacheprovider -q $(XDIST) tests/integration $(PYTEST_ARGS)

# --- tests ------------------------------------------------------------------

UNIT_DIRS = $(wildcard tests/unit tests/simulator)

units: venv live  ## unit + simulator tests (pytest)
	cd $(ROOT) && PYTHONPATH=$(LIVE) $(PYTEST) $(XDIST) $(UNIT_DIRS) $(PYTEST_ARGS)

integration: install  ## integration tests against the installed tarball (pytest)
	cd $(ROOT) && CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) $(PYTEST) $(XDIST) tests/integration $(PYTEST_ARGS)

test: venv  ## every gate, then one pytest run over unit, simulator and integration tests
	$(MAKE) sanity
	$(MAKE) lint
	$(MAKE) docs-lint
	$(MAKE) changelog-lint
	$(MAKE) install
	$(MAKE) importer
	$(MAKE) ee
	$(MAKE) compat
	$(MAKE) live
	cd $(ROOT) && PYTHONPATH=$(LIVE) CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) \
	  $(PYTEST) $(XDIST) $(UNIT_DIRS) tests/integration $(PYTEST_ARGS)

# --- demo and benchmarks ----------------------------------------------------

demo: install  ## run playbooks/demo.yml twice against a local simulator
	cd $(ROOT) && WORK=$(WORK) ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) bash .ci/demo.sh

bench: install  ## benchmarks (hook: runs benchmarks/run.py once it exists)
	@test -f $(ROOT)/benchmarks/run.py || { echo "benchmarks not built yet (benchmarks/run.py is missing)"; exit 1; }
	cd $(ROOT) && CAPGO_TEST_COLLECTIONS_PATH=$(INSTALLED) ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) python benchmarks/run.py

clean:  ## remove build output (keeps the venvs)
	rm -rf $(STAGE) $(LIVE) $(DIST) $(INSTALLED) $(WORK)/importer $(WORK)/ee $(WORK)/changelog-check $(ROOT)/tests/output

distclean: clean  ## remove everything under $(WORK)
	rm -rf $(WORK)
