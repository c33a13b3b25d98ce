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
run: export DEBUG ?= 1
run: export PATH := $(CURDIR)/$(BIN):$(PATH)
run: install
	mkdir -p var
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
