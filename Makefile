# The two commands: `make run` starts the whole tower with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
CT_HOST ?= 127.0.0.1
# The services the second test pass and `make bench-services` use when they answer.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/controltower
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: install run test test-embedded test-services services-pass lint bench bench-services clean

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/.installed

run: install
	CT_DEMO=1 $(BIN)/python manage.py migrate --noinput
	CT_DEMO=1 $(BIN)/python manage.py load_demo
	@echo ""
	@echo "  Integration Control Tower: http://$(CT_HOST):$(PORT)/"
	@echo "  Sign in as admin / admin (also operator, approver, viewer; password = username)"
	@echo "  API docs: http://$(CT_HOST):$(PORT)/api/docs/    Ctrl-C stops everything."
	@echo ""
	@# At first start, 30 days of history: the simulator's traffic through every flow (some of
	@# it bad), taken in day by day by the tower's own services under a moved clock, with SLA
	@# sweeps, part of each day's exceptions resolved and a reconciliation at the end; then
	@# today's traffic over HTTP, run by the worker as it arrives.
	@if [ ! -f var/.demo-traffic-sent ]; then \
		( CT_DEMO=1 $(BIN)/python manage.py generate_traffic --contracts 6 --days 20 --volume 2 \
			--ends-days-ago 3 --error-share 0.15 --batch 10 --out var/demo-history.json > var/demo-traffic.log 2>&1 \
			&& for i in $$(seq 60); do curl -fs http://$(CT_HOST):$(PORT)/healthz > /dev/null && break; sleep 1; done \
			&& CT_DEMO=1 $(BIN)/python manage.py load_history var/demo-history.json --history-days 30 \
				>> var/demo-traffic.log 2>&1 \
			&& CT_DEMO=1 $(BIN)/python manage.py generate_traffic --contracts 2 --days 2 --volume 2 \
				--error-share 0.15 --tower-url http://$(CT_HOST):$(PORT) >> var/demo-traffic.log 2>&1 \
			&& touch var/.demo-traffic-sent ) & \
	fi
	CT_DEMO=1 CT_HOST=$(CT_HOST) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Every test on the embedded default (SQLite, file-system broker, a real worker), and again
# on PostgreSQL and Redis whenever they answer. CT_REQUIRE_SERVICES=1 turns "not answering"
# into a failure instead of a skip. Each pass runs as two shards of the test modules
# (CT_TEST_SHARD), and the four share nothing (database, Redis database, broker, files), so
# they run side by side and keep both cores busy while a test waits on a worker, a server or
# a browser; each one's output is printed whole when it ends. `make test-embedded` and
# `make test-services` run a whole pass in one process.
TEST_REDIS_URL_2 ?= redis://127.0.0.1:6379/2

test: install lint
	$(MAKE) --no-print-directory -j4 --output-sync=target \
		test-embedded-1 test-embedded-2 test-services-1 test-services-2

test-embedded:
	CT_DEMO=1 $(BIN)/pytest --durations=20

test-embedded-%:
	CT_DEMO=1 CT_TEST_SHARD=$*/2 CT_BROKER_DIR=var/test-broker-$* \
		CT_SQLITE_TEST_PATH=var/test-$*.sqlite3 CT_CACHE_DIR=var/test-cache-$* $(BIN)/pytest --durations=10

test-services:
	@$(MAKE) --no-print-directory services-pass DB_URL="$(TEST_DATABASE_URL)" \
		RD_URL="$(TEST_REDIS_URL)" PASS_ENV="CT_BROKER_DIR=var/test-broker-services \
		CT_SQLITE_TEST_PATH=var/test-services.sqlite3" PYTEST_ARGS="--durations=20"

test-services-1 test-services-2: test-services-%:
	@$(MAKE) --no-print-directory services-pass DB_URL="$(TEST_DATABASE_URL)_$*" \
		RD_URL="$(if $(filter 1,$*),$(TEST_REDIS_URL),$(TEST_REDIS_URL_2))" \
		PASS_ENV="CT_TEST_SHARD=$*/2 CT_BROKER_DIR=var/test-broker-services-$* \
		CT_SQLITE_TEST_PATH=var/test-services-$*.sqlite3 CT_CACHE_DIR=var/test-cache-services-$*" \
		PYTEST_ARGS="--durations=10"

services-pass:
	@if $(BIN)/python -m tests.support.services "$(DB_URL)" "$(RD_URL)"; then \
		echo "== PostgreSQL and Redis answer: running the suite against them =="; \
		env CT_DEMO=1 DATABASE_URL="$(DB_URL)" REDIS_URL="$(RD_URL)" $(PASS_ENV) \
			$(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CT_REQUIRE_SERVICES" = "1" ]; then \
		echo "CT_REQUIRE_SERVICES=1 but PostgreSQL or Redis does not answer"; exit 1; \
	else \
		echo "== PostgreSQL or Redis does not answer: the services pass is skipped =="; \
	fi

bench: install
	CT_DEMO=1 $(BIN)/python manage.py bench $(BENCH_ARGS)

bench-services: install
	CT_DEMO=1 DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" $(BIN)/python manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache
