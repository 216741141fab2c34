PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test run lint i18n clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crmbot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

run: $(STAMP)
	$(BIN)/crmbot run --config config.toml

lint: $(STAMP)
	$(BIN)/ruff check .

# Refresh the message catalogs after changing user-facing text.
i18n: $(STAMP)
	$(BIN)/python -m bot.i18n_catalogs

clean:
	rm -rf $(VENV) build *.egg-info
