# Stockroom — the two commands are `make run` and `make test`; the rest is for day-to-day work.
# Variables passed through to scripts/devstack.sh: PORT (8080), STACK_DIR (.run),
# STOCKROOM_PROCESSES, STOCKROOM_THREADS, LOG_LEVEL (set them in the environment or on the command line).
# `make chaos` (also run by `make test`) starts its own stack: see scripts/chaos-test.sh.
# `make cluster` runs a 3-node Galera cluster (scripts/cluster.sh, under $(STACK_DIR)/cluster) and a dev
# stack on it in CLUSTER_STACK_DIR ($(STACK_DIR)/cluster-app) on PORT; `make cluster-down` stops both.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PORT ?= 8080
STACK_DIR ?= $(CURDIR)/.run
export PORT STACK_DIR

DEVSTACK := bash scripts/devstack.sh
CLUSTER := bash scripts/cluster.sh
CLUSTER_STACK_DIR ?= $(STACK_DIR)/cluster-app

.PHONY: help deps build run up down status admin migrate check-config test chaos fuzz bench bench-cluster man install clean settings-doc cluster cluster-down cluster-chaos

help:
	@echo "make run      build, start MariaDB + responders + nginx on http://127.0.0.1:$(PORT), Ctrl-C stops it all"
	@echo "make test     unit tests, integration tests, the fault suites (one server, Galera cluster) and the OpenAPI fuzzing, each stack private"
	@echo "make chaos    the fault suite alone (release build, then faults under order load on a private stack)"
	@echo "make fuzz     schemathesis against docs/openapi.yaml through nginx, alone"
	@echo "make bench    wrk through nginx against nginx and sysbench ceilings measured in the same run"
	@echo "make bench-cluster   orders on a 3-node Galera cluster's writer against a single MariaDB, same run, ratios"
	@echo "make up       start the stack in the background (idempotent); make down stops it; make status"
	@echo "make admin NAME=alice   create or promote an admin on the running stack (password from stdin)"
	@echo "make cluster  build, start a 3-node Galera cluster (SQL on 127.0.0.1:3311-3313) and a dev stack on it, http://127.0.0.1:$(PORT)"
	@echo "make cluster-down   stop that dev stack, then the cluster (data kept; scripts/cluster.sh for the rest)"
	@echo "make cluster-chaos  faults on a Galera cluster + 2 app hosts + a front nginx in network namespaces (root; build first)"
	@echo "make check-config   stockroom-fcgi and stockroom-worker --check-config with the dev stack's settings (exit 0, 1 or 2)"
	@echo "make settings-doc   rewrite docs/configuration.md's settings table from the code"
	@echo "make man     the man pages of the three programs (argument-parser's GenerateManual plugin, in .build/plugins)"
	@echo "make install man pages, then scripts/install.sh (as root: binaries, units, completions, config, nginx site)"
	@echo "make deps | build | migrate | clean"

deps:
	bash scripts/deps.sh

build: deps
	$(DEVSTACK) build

run: build
	$(DEVSTACK) run

up: build
	$(DEVSTACK) up

down:
	$(DEVSTACK) down

status:
	$(DEVSTACK) status

admin:
	@if [ -z "$(NAME)" ]; then echo "usage: make admin NAME=<username>   (password read from stdin)" >&2; exit 2; fi
	$(DEVSTACK) admin '$(NAME)'

migrate: build
	$(DEVSTACK) migrate

# The settings, socket and database the stack's responders and workers would start with (docs/operations.md).
check-config:
	$(DEVSTACK) check-config

test:
	bash scripts/deps.sh --test
	swift build -c release
	swift build --build-tests
	swift test --skip-build
	bash scripts/wrapper-test.sh
	if [ -f scripts/verify-units.sh ]; then bash scripts/verify-units.sh; fi
	bash scripts/install-test.sh
	bash scripts/integration-test.sh
	bash scripts/chaos-test.sh
	bash scripts/cluster-chaos-test.sh
	bash scripts/fuzz-test.sh

chaos:
	bash scripts/deps.sh --test
	swift build -c release
	bash scripts/chaos-test.sh

# The man pages: builds the release products (a no-op after `make build`) and argument-parser's
# generate-manual tool, then writes .build/plugins/GenerateManual/outputs/<program>/<program>.1.
man:
	swift package plugin generate-manual

install: man
	bash scripts/install.sh

# The dev stack on the cluster: STOCKROOM_DB_HOSTS makes devstack.sh use the cluster instead of a MariaDB of its own.
cluster: build
	$(CLUSTER) up
	STOCKROOM_DB_HOSTS="$$($(CLUSTER) hosts)" STACK_DIR='$(CLUSTER_STACK_DIR)' $(DEVSTACK) up
	@echo "Stockroom on the Galera cluster: http://127.0.0.1:$(PORT) (app stack $(CLUSTER_STACK_DIR); scripts/cluster.sh status)"

cluster-down:
	STACK_DIR='$(CLUSTER_STACK_DIR)' $(DEVSTACK) down
	$(CLUSTER) down

# The cluster fault suite (scripts/cluster-chaos-test.sh, also run by `make test`): builds nothing, run `make build` first; needs root.
cluster-chaos:
	bash scripts/cluster-chaos-test.sh

clean: down cluster-down
	rm -rf .run .build

# make bench: wrk through nginx against nginx/sysbench ceilings of the same run, on its own stack (scripts/bench.sh).
bench: build
	bash scripts/bench.sh

# make bench-cluster: orders/s on the Galera cluster's writer node against a single plain MariaDB, in the
# same run, interleaved, as ratios (scripts/bench-cluster.sh; its own databases and stacks in .run/bench-cluster).
bench-cluster: build
	bash scripts/bench-cluster.sh

# Schemathesis against docs/openapi.yaml through nginx (also part of `make test`).
fuzz:
	bash scripts/deps.sh --test
	swift build -c release
	bash scripts/fuzz-test.sh

settings-doc:
	bash scripts/settings-doc.sh
