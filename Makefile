# The two commands that matter: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench migrate seed e2e

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

# Web on http://127.0.0.1:8000, a Celery worker and beat, with demo data. Ctrl-C stops all three.
# With no DATABASE_URL/REDIS_URL it runs on SQLite and a file-system Celery transport in ./var.
# PostgreSQL and Redis on 127.0.0.1 are used when they answer (database weshop_demo, Redis db 1, apart from
# the tests' test_weshop and db 0); otherwise SQLite and file-system stand-ins. DATABASE_URL/REDIS_URL override.
run: export DEBUG ?= 1
run: export PATH := $(CURDIR)/$(BIN):$(PATH)
run: export DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgres://postgres@127.0.0.1:5432/weshop_demo || echo sqlite:///$(CURDIR)/var/db.sqlite3)
run: export REDIS_URL ?= $(shell redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && echo redis://127.0.0.1:6379/1)
run: install
	mkdir -p var
	case "$$DATABASE_URL" in postgres://postgres@127.0.0.1:5432/weshop_demo) \
	  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'weshop_demo'" postgres | grep -q 1 \
	  || createdb -h 127.0.0.1 -U postgres weshop_demo;; esac
	@echo "database: $$DATABASE_URL  redis: $${REDIS_URL:-none (file-system stand-ins)}"
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/honcho -f Procfile.dev start

# The whole suite on PostgreSQL and Redis (127.0.0.1 defaults; DATABASE_URL / REDIS_URL override).
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m tests.load.bench
