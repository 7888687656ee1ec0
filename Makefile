# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   the audit on the built-in sample organisation (SQLite metadata, DuckDB warehouse)
#   make test   the test suite
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
RUN := $(UV) run --frozen
# Cache byte-code even where the environment says not to (some images set PYTHONDONTWRITEBYTECODE):
# without it every process compiles every module it imports from source, Airflow's and pandas'
# included, each time, and the suite starts hundreds of processes (collection alone: 17 s -> 6 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-fast lint docs clean airflow prometheus benchmark

demo: .venv/.synced prometheus
	$(RUN) python -m readiness_sandbox.demo

# The audit of synthetic organisations of 50, 500 and 2,000 teams behind the emulators (20 ms a
# request, the APIs' rate limits): requests, time and memory against their floors
# (docs/performance.md). Other sizes: make benchmark TEAMS="100 200".
TEAMS ?= 50 500 2000
benchmark: .venv/.synced prometheus
	$(RUN) python -m benchmarks.audit --teams $(TEAMS)

# The whole suite, whole files spread over every core, the slowest files first (tests/conftest.py
# orders them; --no-loadscope-reorder keeps that order). docs/sandbox.md says what runs, how long.
test: .venv/.synced
	$(RUN) pytest -n auto --dist loadfile --no-loadscope-reorder --durations=15

# The quick loop: the unit and contract tests and every other test that starts no Airflow and no
# server costing seconds (none marked integration or e2e; tests under tests/integration/ and
# tests/production/ are marked integration whatever their module says).
test-fast: .venv/.synced
	$(RUN) pytest -n auto --dist loadfile -m "not integration and not e2e" --durations=15

lint: .venv/.synced
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

docs: .venv/.synced
	$(RUN) python -m oncall_readiness.checks.docs > docs/checks.md
	$(RUN) python -m oncall_readiness.config > docs/configuration.md
	$(RUN) python -m oncall_readiness.api.openapi > docs/api-openapi.json

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

clean:
	rm -rf .demo .benchmark out .venv .tools

# The demo runs a real Prometheus with the sample alerting rules (the Debian package
# prometheus, or any binary on PATH or in READINESS_PROMETHEUS_BIN). As root with apt-get
# it is installed here, without letting the package start a daemon on 0.0.0.0:9090.
prometheus:
	@if [ -n "$$READINESS_PROMETHEUS_BIN" ] || command -v prometheus >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "==> Installing Prometheus (Debian package prometheus; no daemon is started)"; \
	  had_policy=$$([ -e /usr/sbin/policy-rc.d ] && echo yes || true); \
	  [ -n "$$had_policy" ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  status=$$?; [ -n "$$had_policy" ] || rm -f /usr/sbin/policy-rc.d; exit $$status; \
	fi; \
	echo "make demo needs Prometheus: install it (Debian/Ubuntu: sudo apt-get install prometheus," >&2; \
	echo "then stop the daemon it starts if you do not want one: sudo systemctl disable --now prometheus;" >&2; \
	echo "elsewhere https://prometheus.io/download/) or set READINESS_PROMETHEUS_BIN to its binary." >&2; \
	exit 1

# Airflow (standalone) on the sample organisation, with the DAGs and the Readiness page at
# http://localhost:8080 (login admin / admin; another port: make airflow PORT=8081); Ctrl-C stops everything.
PORT ?= 8080
airflow: .venv/.synced
	$(RUN) python -m readiness_sandbox.standalone --port $(PORT)
