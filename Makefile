# Two commands for a newcomer: `make local-up` runs the platform, `make test` runs every test and
# spec. Each does its own set-up from a fresh clone: the virtualenv, the Docker engine, the images.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
BASE_IMAGE ?= cial-base:bookworm
TENANT_IMAGE ?= cial-tenant:dev
APP_IMAGE ?= cial-app:dev

# The reaper image of testcontainers cannot be pulled here; fixtures clean up by label instead.
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: help venv docker wheels base-image postgres-image tenant-image app-image images \
        local-up local-down logs status test test-fast lint bench chromium \
        verify verify-L0 verify-L1 verify-L2 verify-L3 verify-L4 verify-L5 verify-L6 verify-idle \
        verify-fly

help:
	@echo "make local-up     run the platform (admin on http://localhost:3100/admin)"
	@echo "make local-down   stop it and remove the tenant containers (PURGE=1: and all data)"
	@echo "make logs         follow the platform's logs"
	@echo "make status       the services and every tenant: state, address, uptime"
	@echo "make test         lint, then every fast test and every acceptance spec"
	@echo "make verify-L<n>  one phase's acceptance spec (L0 .. L6); make verify runs them all"
	@echo "make verify-idle  idle tenants stop and wake on the next request"
	@echo "make verify-fly   the Fly driver: contract over all drivers, faults on the fake Machines API"
	@echo "make lint         ruff and mypy"
	@echo "make bench        print the figures (never pass/fail on time)"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[app,tenant-core,dev]'
	@touch $@

venv: $(VENV)/.installed

docker:
	@ci/docker-up.sh

chromium:
	@ci/ensure-chromium.sh

build/wheelhouse/.stamp: pyproject.toml ci/requirements.py ci/wheels.sh ci/strip_wheels.py $(VENV)/.installed
	ci/wheels.sh
	@touch $@

wheels: build/wheelhouse/.stamp

base-image: docker
	@ci/base-image.sh

postgres-image: base-image
	@ci/postgres-image.sh

tenant-image: base-image wheels
	@ci/build-image.sh tenant_image/Dockerfile $(TENANT_IMAGE) $(BASE_IMAGE)

app-image: base-image wheels
	@ci/build-image.sh platform/Dockerfile $(APP_IMAGE) $(BASE_IMAGE)

images: tenant-image app-image postgres-image

local-up: images
	@ci/local-up.sh

# PURGE=1 also removes the database, the tenants' volumes and the generated secrets.
local-down: docker
	@PURGE=$(PURGE) ci/local-down.sh

logs: docker
	@ci/compose.sh logs --follow --tail 50

status: venv docker
	@$(PY) ci/status.py

test-fast: venv
	$(PYTEST) tests

# Lint first: ruff and mypy --strict stay clean because nothing is tested past a lint error.
test: lint images chromium
	$(PYTEST) tests spec

verify-L0: venv tenant-image
	$(PYTEST) spec/test_l0_tenant_image.py

verify-L1: venv images chromium
	$(PYTEST) spec/test_l1_app.py

verify-L2: venv images chromium
	$(PYTEST) spec/test_l2_tenants.py spec/test_l2_fuzz.py

verify-L3: venv images chromium
	$(PYTEST) spec/test_l3_orchestrator.py spec/test_l3_app.py

verify-L4: venv images chromium
	$(PYTEST) spec/test_l4_router.py spec/test_l4_change_notifications.py spec/test_l4_database.py spec/test_l4_websocket.py spec/test_l4_app_processes.py spec/test_l4_signin_throttle.py

verify-L5: venv images chromium
	$(PYTEST) spec/test_l5_sso.py spec/test_l5_tenant.py

# From a clean state: the spec runs `make local-down PURGE=1` and `make local-up` itself, on a
# compose project, ports and secrets file of its own (never the developer's `cial`).
verify-L6: venv images chromium
	$(PYTEST) spec/test_l6_smoke.py

# Idle tenants: the fast tests of both halves (router, App), then the spec on the compose stack.
verify-idle: venv images chromium
	$(PYTEST) tests/app/test_router_idle.py tests/app/test_idle.py tests/proxy/test_liveness.py spec/test_idle_tenants.py

# The Fly Machines driver, offline: one contract over every driver (memory; docker on the real
# engine with $(TENANT_IMAGE), skipped, saying so, without it; fly on the fake Machines API), the
# fly faults on the fake, and the App on the fly driver. All under tests/, so `make test` runs them.
verify-fly: venv tenant-image
	$(PYTEST) tests/orchestrator/contract tests/orchestrator/test_fly_faults.py \
		tests/orchestrator/test_fly_states.py tests/orchestrator/test_fly_live.py tests/app/test_fly_app.py

# Every phase in order, each one's spec alone.
verify: verify-L0 verify-L1 verify-L2 verify-L3 verify-L4 verify-L5 verify-L6 verify-idle verify-fly

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy platform proxy tenant_image testkit tests spec bench ci

bench: venv images chromium
	$(PY) bench/tenant_image.py
	$(PY) bench/orchestrator.py
	$(PY) bench/fly_calls.py
	$(PY) bench/app.py
	CIAL_TENANT_IMAGE=$(TENANT_IMAGE) $(PY) bench/proxy.py
	$(PY) bench/router.py
	CIAL_TENANT_IMAGE=$(TENANT_IMAGE) $(PY) bench/sso_verify.py
	$(PY) bench/sso_open.py
	$(PY) bench/local_up.py
	$(PY) bench/idle_wake.py
	$(PY) bench/ws_tunnel.py
