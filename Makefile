# Orchestrate: `make run` serves the app with a worker and beat; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint bench clean-data

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version" 2>/dev/null || { echo "Python 3.11 is required (found: $(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py run_all

# The structure before the suite: the app layers (import-linter, contracts in
# pyproject.toml), lint (unused noqa included) and no model change without its migration.
check: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Stops the embedded services and deletes their data: the directory they ran from
# (ORCHESTRATE_DATA_DIR, else .data/).
clean-data: install
	$(BIN)/python manage.py embedded stop --delete-data
