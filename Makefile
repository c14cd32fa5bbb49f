# The two commands: `make run` and `make test`. Both create .venv/ when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DB ?= sqlite
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest wheel clean stress bench package

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/rmclinic

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests migrations tools benchmarks packaging
	$(PY) -m ruff format --check src tests migrations tools benchmarks packaging

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	@$(PY) tests/postgres_status.py
	$(PY) -m pytest

wheel: $(STAMP)
	$(PY) -m pip wheel --quiet --no-deps -w dist .

# The installable bundle (packaging/README.md): dist/rmclinic/ with the executables rmclinic and rmclinic-cli
# (and on Linux dist/rmclinic-VERSION-linux-ARCH.tar.gz), smoke-tested offscreen on throwaway databases.
package: $(STAMP)
	@$(PY) -c "import PyInstaller" 2>/dev/null || $(PY) -m pip install --quiet -e '.[package]'
	$(PY) packaging/build.py

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache

# Outside the fast suite: 200 SIGKILLs at random moments of writing child processes.
stress: $(STAMP)
	$(PY) tests/stress/kill_stress.py --kills 200

# Outside the fast suite: the performance figures on a 100,000-patient demo clinic (benchmarks/README.md).
# DB=postgresql measures a throwaway PostgreSQL server as well.
bench: $(STAMP)
	$(PY) -m benchmarks.run --db $(DB)
