PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test run lint i18n clean bench bench-fanout bench-updates bench-checkin bench-api bench-expenses bench-opportunities

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

# Benchmarks print their figures and the command that made them.
bench: bench-updates bench-fanout bench-checkin bench-api bench-expenses bench-opportunities

# Updates per second with 50 ms Bot API round trips: sequential vs per-chat processing.
bench-updates: $(STAMP)
	$(BIN)/python -m bench.updates

# 10,000 notifications enqueued, then delivered under Telegram's limits scaled x10 (~40 s).
bench-fanout: $(STAMP)
	$(BIN)/python -m bench.fanout --members 10000 --scale 10

# Check-ins from 500 reps vs a bare echo bot (0 and 50 ms per answer); matching a point
# against 100,000 customers (~3 min).
bench-checkin: $(STAMP)
	$(BIN)/python -m bench.checkin

# The finance API: a page of 10,000 approved claims out of 100,000, through the ASGI app.
bench-api: $(STAMP)
	$(BIN)/python -m bench.api

# /stats over 1,000,000 claims on SQLite and PostgreSQL (the test server, in a schema of its
# own); the XLSX export of 100,000 claims: time and peak memory (~10 min).
bench-expenses: $(STAMP)
	$(BIN)/python -m bench.expenses

# An opportunity's card and /pipeline over 100,000 opportunities and 2,000,000 linked records,
# on SQLite and PostgreSQL (the test server, in a schema of its own) (~10 min).
bench-opportunities: $(STAMP)
	$(BIN)/python -m bench.opportunities

# Refresh the message catalogs after changing user-facing text.
i18n: $(STAMP)
	$(BIN)/python -m bot.i18n_catalogs

clean:
	rm -rf $(VENV) build *.egg-info
