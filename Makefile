VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint run eval bench phoenix browser
install:
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -e ".[dev]"
test:
	$(PY) -m pytest
lint:
	$(VENV)/bin/ruff check newsroom tests && $(VENV)/bin/ruff format --check newsroom tests && $(VENV)/bin/mypy
run:
	$(VENV)/bin/newsroom run --week 2026-W06
eval:
	$(VENV)/bin/newsroom eval cluster --items evals/dev-2026-W06/items.jsonl
	$(VENV)/bin/newsroom eval factcheck --items evals/dev-2026-W06/items.jsonl --claims evals/dev-2026-W06/claims.jsonl
bench:
	$(PY) benchmarks/guards.py
	$(PY) benchmarks/llm_budget.py
	$(PY) benchmarks/tracing.py 5
	$(PY) benchmarks/orchestration.py 1000
	cd benchmarks && ../$(PY) scale.py 1000 10000
	cd benchmarks && ../$(PY) service.py 10000
# Arize Phoenix in its own venv (it pins mcp 2.x), then the test that exports a run into it.
.phoenix/bin/phoenix:
	python3 -m venv .phoenix && .phoenix/bin/pip install -q arize-phoenix
phoenix: .phoenix/bin/phoenix
	NEWSROOM_PHOENIX=.phoenix/bin/phoenix $(PY) -m pytest -m phoenix
# Debian's Chromium (and CJK fonts for the screenshots), then the browser tests.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium fonts-noto-cjk)
	$(PY) -m pytest -m browser
