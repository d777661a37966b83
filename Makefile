# The DIFE platform. A newcomer needs two commands: `make run` and `make test`; each sets itself up.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(CURDIR)/deploy/local/uv
RUN := $(UV) run --locked
STACK := $(RUN) python deploy/local/stack.py
BENCH ?=

.PHONY: help setup stack-up stack-down stack-status migrate run test test-faults bench lint mutation tokens

help:
	@echo "make run    start Kafka, PostgreSQL and every service (Ctrl-C stops all)"
	@echo "make test   every test (unit, integration, end-to-end) on real Kafka and PostgreSQL"
	@echo "make test-faults  journeys while services are killed and Kafka/PostgreSQL restart (DIFE_FAULT_JOURNEYS=n)"
	@echo "make bench  every benchmark (BENCH=<name> for one: $(notdir $(basename $(filter-out bench/common.py,$(wildcard bench/*.py)))))"
	@echo "make lint   ruff, mypy and the layer contracts (import-linter)"
	@echo "make mutation  mutation testing of every domain/ with its unit tests (SERVICE=<name> for one)"

# Python 3.11+, uv (deploy/local/uv installs it with pip when absent), the locked workspace.
setup:
	@$(UV) sync --all-packages --locked --quiet

stack-up: setup
	@$(STACK) up

stack-down:
	@$(STACK) down

stack-status:
	@$(STACK) status

migrate: stack-up
	@$(RUN) python deploy/local/run.py migrate

run: stack-up
	@$(RUN) python deploy/local/run.py run

# Three workers: most of a test's time is spent waiting on Kafka and PostgreSQL, not on the two cores.
test: stack-up
	@$(RUN) pytest -n 3

# The fault suite restarts the Kafka and PostgreSQL of this checkout's stack (never run it beside `make test`).
# DIFE_FAULT_JOURNEYS (default: the count CI runs, see tests-e2e/faults/suite.py), DIFE_FAULT_CONCURRENCY,
# DIFE_FAULT_SEED, DIFE_FAULT_KILLS_PER_SERVICE tune it; -s shows each phase's time as it ends.
test-faults: stack-up
	@eval "$$($(STACK) env)" && $(RUN) pytest -p no:cacheprovider -x -s tests-e2e/faults/fault_suite.py

bench: stack-up
	@if [ -n "$(BENCH)" ]; then $(RUN) python bench/$(BENCH).py; \
	else for b in $(filter-out bench/common.py,$(wildcard bench/*.py)); do $(RUN) python $$b || exit 1; done; fi

lint: setup
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy libs/contracts/src libs/servicekit/src $(wildcard services/*/src) $(wildcard tools/*/src) bench deploy
	@for tests in $(wildcard libs/*/tests services/*/tests tools/*/tests) tests-e2e; do $(RUN) mypy $$tests || exit 1; done
	@$(RUN) lint-imports
	@$(RUN) python deploy/validate.py

mutation: setup
	@$(RUN) python deploy/local/mutation.py $(if $(SERVICE),--service $(SERVICE))

tokens: setup
	@for role in agent ops; do echo "$$role: $$($(RUN) python -m servicekit.devtokens --role $$role)"; done
