# The README's two commands: `make demo` and `make test`. Both set up .venv first
# (once; a second run reuses it) with the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Each demo run writes a new folder, so nothing is overwritten and a second run works.
OUT ?= virtual-biopsy-demo/run-$(shell date +%Y%m%d-%H%M%S)
PIP := $(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# pyradiomics' sdist only builds without build isolation, with numpy and
# versioneer already present (see ../shared/ENVIRONMENT.md).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "setuptools>=77" wheel versioneer numpy
	$(PIP) --no-build-isolation pyradiomics
	$(PIP) --no-build-isolation -e ".[ai,dicom,test,lint]"
	touch $(STAMP)

demo: setup
	$(BIN)/virtual-biopsy demo --out $(OUT)

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -ra

# Style, formatting, types and the library's layer contracts (run by CI before the tests).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
