# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Local development runs with DEBUG on; production sets DEBUG=false and SECRET_KEY.
export DEBUG ?= true

.PHONY: demo serve test fuzz lint format check bench loadtest loadtest-short replica replica-remove clean vendor-js messages

# Translations: the .po files are the source, the .mo files are built (and not
# committed). A file rule, so compilemessages reruns only when a .po changed.
PO := $(wildcard locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)
I18N_IGNORE := --ignore=.venv --ignore=node_modules --ignore=staticfiles \
	--ignore=tests --ignore=bench --ignore=media

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(VENV)/.runtime
	$(PY) manage.py compilemessages -l $* $(I18N_IGNORE)

# After marking strings: refresh the catalogues, then translate the new entries.
messages: $(VENV)/.runtime
	$(PY) manage.py makemessages -l fr --no-obsolete --add-location=file $(I18N_IGNORE)

$(VENV)/.runtime: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/.runtime $(MO)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving the CRM at http://127.0.0.1:8000/ (admin: /admin/, API: /api/v1/, docs: /api/docs/)"
	$(PY) manage.py runserver 127.0.0.1:8000

# The production stack on one machine: gunicorn, Celery worker and beat, from the
# Procfile (honcho), on PostgreSQL and Redis; Ctrl-C stops it. docs/deploy.md.
serve: $(VENV)/.runtime $(MO)
	DEBUG=false deploy/serve

test: $(VENV)/.dev $(MO)
	$(PY) -m pytest $(PYTEST_ARGS)

# Before a release: the schema fuzzing of `make test`, longer and as every role
# (about 8 minutes on a busy 2-core machine); run it once per database, e.g.
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm make fuzz.
fuzz: $(VENV)/.dev $(MO)
	CRM_FUZZ_EXAMPLES=25 CRM_FUZZ_STATEFUL_EXAMPLES=30 CRM_FUZZ_STATEFUL_STEPS=12 \
		CRM_FUZZ_STATEFUL_ROLES=rep,manager,integration,admin \
		$(PY) -m pytest tests/test_api_contract.py $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r . --severity-level medium
	$(PY) manage.py translations_check

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: $(VENV)/.dev
	$(PY) manage.py makemigrations --check --dry-run
	DEBUG=false SECRET_KEY=ci-$$(head -c 48 /dev/urandom | base64 | tr -d '/+=') \
		ALLOWED_HOSTS=crm.example.com $(PY) manage.py check --deploy --fail-level WARNING

bench: $(VENV)/.dev
	$(PY) -m bench $(BENCH_ARGS)

# nginx in front of two gunicorn app servers on PostgreSQL and Redis, driven by
# locust, one server killed and restarted, then the integrity check; writes
# docs/loadtest.md and .json. LOADTEST_ARGS="--scale 0.1 --duration 120".
loadtest: $(VENV)/.dev $(MO)
	$(PY) -m loadtest $(LOADTEST_ARGS)

# CI's version: 30 s at 10 requests/s on one server and a small database;
# fails on any 5xx or integrity violation.
loadtest-short: $(VENV)/.dev $(MO)
	$(PY) -m loadtest --short $(LOADTEST_ARGS)

# A streaming replica of the local PostgreSQL server on port 5433, for
# DATABASE_REPLICA_URL (docs/deploy.md); rerunning it only makes sure it runs.
replica:
	deploy/replica.sh

replica-remove:
	deploy/replica.sh remove

clean:
	rm -rf $(VENV) db.sqlite3

# Refresh the vendored front-end files from the versions pinned in package.json
# (needs node and npm; neither the app nor the tests need them otherwise).
vendor-js:
	npm ci --no-audit --no-fund --ignore-scripts
	cp node_modules/htmx.org/dist/htmx.min.js workspace/static/workspace/vendor/htmx.min.js
	cp node_modules/htmx.org/LICENSE workspace/static/workspace/vendor/htmx.LICENSE
	cp node_modules/axe-core/axe.min.js tests/browser/vendor/axe.min.js
	cp node_modules/axe-core/LICENSE tests/browser/vendor/axe-core.LICENSE
