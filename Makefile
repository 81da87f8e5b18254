# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest explore bench clean systemd-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: install, then run the daemon on the bundled offline demo (Ctrl-C stops it)
run: $(STAMP)
	$(BIN)/monitor run --config examples/demo.toml

## test: install, then lint, format check, type check and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy monitor

pytest: $(STAMP) systemd-tools
	$(BIN)/pytest -q

## explore: the test suite with fresh random property-test examples (`make test` repeats the same ones)
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q

# tests/test_service.py checks systemd/monitor.service with systemd-analyze when it is there.
# As root on Debian, install it (it does not start anything); anywhere else, or if apt
# fails, carry on: those tests then skip.
systemd-tools:
	@command -v systemd-analyze >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null 2>&1 \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends systemd; } >/dev/null 2>&1; } || true

## bench: run the benchmarks and write their results into docs/performance.md
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
