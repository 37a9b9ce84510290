# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Debian packages the integration tests drive for real (command -> package).
DEB_NEEDS := initdb:postgresql redis-server:redis-server restic:restic pgbackrest:pgbackrest haproxy:haproxy monit:monit chromium:chromium promtool:prometheus prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager

.PHONY: run test lint typecheck unit deps venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Installs missing Debian packages when we may (root, apt-get present); otherwise
# says what is missing and lets the tests report it.
deps:
	@missing=""; for pair in $(DEB_NEEDS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  if ! command -v $$cmd >/dev/null 2>&1 && [ ! -x /usr/lib/postgresql/*/bin/$$cmd ]; then missing="$$missing $$pkg"; fi; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install them: sudo apt-get install$$missing)"; fi; \
	fi

# The main job on the embedded default: the agent (SQLite state) owning the demo service,
# with its dashboard and API on loopback. Ctrl-C stops it and the service; see the README
# for the first recovery in five minutes.
LISTEN ?= 127.0.0.1:8300
run: venv
	$(BIN)/paramedic plan examples/demo/paramedic.yaml
	@echo "dashboard: http://$(LISTEN)/   (API token: examples/demo/var/run/api-token)"
	$(BIN)/paramedic run examples/demo/paramedic.yaml --listen $(LISTEN)

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

test: venv deps lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
