# Two commands from a fresh clone: `make demo` and `make test`.
# Each bootstraps uv (with pip, when it is missing) and installs from the locked uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
UV_RUN := $(UV) run --locked --no-sync

.PHONY: demo test lint typecheck unit install clean bench browser

.venv/.hub-installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --locked
	@touch $@

install: .venv/.hub-installed

demo: install
	$(UV_RUN) hub demo

lint: install
	$(UV_RUN) ruff check hub dags tests bench docs/examples
	$(UV_RUN) ruff format --check hub dags tests bench docs/examples

typecheck: install
	$(UV_RUN) mypy

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: lint typecheck browser
	$(UV_RUN) pytest

# The development keyring is useless without var/secrets/master.key, so it goes with var/.
clean:
	rm -rf var .venv keys/keyring.json
