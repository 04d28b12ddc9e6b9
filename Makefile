# perfconsole: `make run` for the console, `make test` for the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format db-start db-stop clean

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py console

test: $(STAMP)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "Browser suite (tests/browser): runs in $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else \
		echo "Browser suite (tests/browser): SKIPPED, Chromium not installed: apt-get install chromium chromium-driver"; \
	fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

db-start: $(STAMP)
	$(BIN)/python manage.py embeddedpg start

db-stop: $(STAMP)
	$(BIN)/python manage.py embeddedpg stop

clean:
	rm -rf $(VENV) var/static .pytest_cache
