# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   the audit on the built-in sample organisation (SQLite metadata, DuckDB warehouse)
#   make test   the test suite
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: demo test lint docs clean

demo: .venv/.synced
	$(RUN) python -m oncall_readiness.demo

test: .venv/.synced
	$(RUN) pytest

lint: .venv/.synced
	$(RUN) ruff check .
	$(RUN) ruff format --check .

docs: .venv/.synced
	$(RUN) python -m oncall_readiness.checks.docs > docs/checks.md

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

clean:
	rm -rf .demo out .venv .tools
