# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest audit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vth demo $(DEMO_ARGS)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check vth tests bench examples
	$(BIN)/ruff format --check vth tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no test at all: say so plainly instead of a bare error.
pytest: $(STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5); the suite is broken"; fi; \
	exit $$rc

# Known vulnerabilities (PyPI's advisory data) of everything installed in .venv but the
# project itself. Fails when vulnerabilities are found, and when the audit could not run:
# a network error, or dependencies the service could not look up (pip-audit would skip
# them and pass; a proxy that answers 404 for every version must not look clean). The
# last line says which; .ci/run reads it.
# Add `--ignore-vuln ID` to AUDIT_ARGS only with a comment saying why (no fix released yet).
AUDIT_ARGS ?=
audit: $(STAMP)
	@out=$$($(BIN)/pip-audit --skip-editable --progress-spinner off $(AUDIT_ARGS) 2>&1); rc=$$?; \
	printf '%s\n' "$$out"; \
	unaudited=$$(printf '%s\n' "$$out" | grep -c 'could not be audited'); \
	if printf '%s\n' "$$out" | grep -Eq 'Found [0-9]+ known vulnerabilit'; then \
	  echo "make audit: known vulnerabilities found (above)"; exit 1; \
	elif [ $$rc -ne 0 ] || [ $$unaudited -gt 0 ]; then \
	  echo "make audit: the audit could not run ($$unaudited dependencies not looked up, pip-audit exit $$rc)"; exit 3; \
	fi; \
	echo "make audit: no known vulnerabilities"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
