# Stockroom — the two commands are `make run` and `make test`; the rest is for day-to-day work.
# Variables passed through to scripts/devstack.sh: PORT (8080), STACK_DIR (.run),
# STOCKROOM_PROCESSES, STOCKROOM_THREADS, LOG_LEVEL (set them in the environment or on the command line).
# `make chaos` (also run by `make test`) starts its own stack: see scripts/chaos-test.sh.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PORT ?= 8080
STACK_DIR ?= $(CURDIR)/.run
export PORT STACK_DIR

DEVSTACK := bash scripts/devstack.sh

.PHONY: help deps build run up down status admin migrate test chaos fuzz bench install clean settings-doc

help:
	@echo "make run      build, start MariaDB + responders + nginx on http://127.0.0.1:$(PORT), Ctrl-C stops it all"
	@echo "make test     unit tests, integration tests, the fault suite and the OpenAPI fuzzing, each stack private on a free port"
	@echo "make chaos    the fault suite alone (release build, then faults under order load on a private stack)"
	@echo "make fuzz     schemathesis against docs/openapi.yaml through nginx, alone"
	@echo "make bench    wrk through nginx against nginx and sysbench ceilings measured in the same run"
	@echo "make up       start the stack in the background (idempotent); make down stops it; make status"
	@echo "make admin NAME=alice   create or promote an admin on the running stack (password from stdin)"
	@echo "make settings-doc   rewrite docs/configuration.md's settings table from the code"
	@echo "make deps | build | migrate | install | clean"

deps:
	$(DEVSTACK) deps

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

test:
	$(DEVSTACK) deps --test
	swift build -c release
	swift build --build-tests
	swift test --skip-build
	bash scripts/wrapper-test.sh
	if [ -f scripts/verify-units.sh ]; then bash scripts/verify-units.sh; fi
	bash scripts/integration-test.sh
	bash scripts/chaos-test.sh
	bash scripts/fuzz-test.sh

chaos:
	$(DEVSTACK) deps --test
	swift build -c release
	bash scripts/chaos-test.sh

install:
	bash scripts/install.sh

clean: down
	rm -rf .run .build

# make bench: wrk through nginx against nginx/sysbench ceilings of the same run, on its own stack (scripts/bench.sh).
bench: build
	bash scripts/bench.sh

# Schemathesis against docs/openapi.yaml through nginx (also part of `make test`).
fuzz:
	$(DEVSTACK) deps --test
	swift build -c release
	bash scripts/fuzz-test.sh

settings-doc:
	bash scripts/settings-doc.sh
