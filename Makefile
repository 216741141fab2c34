PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-web test test-any-hour run lint i18n clean bench bench-fanout bench-standby bench-updates bench-checkin bench-api bench-expenses bench-opportunities \
	bench-replies bench-import bench-company bench-company-stats bench-matching bench-pipeline bench-web

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crmbot demo

# The demo, then its bot keeps running with the dashboard (the Mini App) on 127.0.0.1:8090:
# open the printed link in a browser; Ctrl-C ends it.
demo-web: $(STAMP)
	$(BIN)/crmbot demo --serve 8090

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The chat tests (the real bot, its scheduler and outbox) with the machine's clock and time
# zone moved by libfaketime to hours that once broke them: an evening in the team's zone,
# just before its midnight on another machine zone, and a Sunday. Every test has its own
# clock, so each run must pass exactly as `make test` does.
ANY_HOUR := 2026-12-04T14:05:00/UTC 2026-12-03T15:58:00/America/Los_Angeles \
            2026-12-06T03:00:00/Asia/Shanghai

test-any-hour: $(STAMP)
	@command -v faketime >/dev/null || { echo "test-any-hour needs faketime (apt-get install faketime)"; exit 2; }
	@for moment in $(ANY_HOUR); do \
		at="$${moment%%/*}"; zone="$${moment#*/}"; \
		echo "chat tests with the machine's clock at $$at UTC, TZ=$$zone"; \
		TZ="$$zone" faketime "$$(echo $$at | tr T ' ') UTC" $(BIN)/python -m pytest tests/chat \
			-p no:cacheprovider || exit 1; \
	done

run: $(STAMP)
	$(BIN)/crmbot run --config config.toml

lint: $(STAMP)
	$(BIN)/ruff check .

# Benchmarks print their figures and the command that made them.
bench: bench-updates bench-fanout bench-standby bench-checkin bench-api bench-expenses bench-opportunities bench-company bench-web

# The Mini App's Today view for the head of 600 people with 2,000 check-ins today: its JSON
# over HTTP and its first render in Chromium, on SQLite and PostgreSQL (the test server, in a
# schema of its own) (~2 min).
bench-web: $(STAMP)
	$(BIN)/python -m bench.web

# Updates per second with 50 ms Bot API round trips: sequential vs per-chat processing.
bench-updates: $(STAMP)
	$(BIN)/python -m bench.updates

# 10,000 notifications enqueued, then delivered under Telegram's limits scaled x10 (~40 s).
bench-fanout: $(STAMP)
	$(BIN)/python -m bench.fanout --members 10000 --scale 10

# Two `crmbot run` processes on one PostgreSQL database (a scratch database on the test server):
# the same fan-out, the active one killed half way and the standby finishing it (~1 min).
bench-standby: $(STAMP)
	$(BIN)/python -m bench.fanout --members 10000 --scale 10 --processes 2 --kill-at 0.5

# Check-in replies during a fan-out to 10,000 members at Telegram's own limits: in call
# order, then replies first (~15 min).
bench-replies: $(STAMP)
	$(BIN)/python -m bench.replies --members 10000 --scale 1

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

# `crmbot org import` of 10,000 members and 100,000 customers: fresh, unchanged, 1% changed,
# with reps checking in meanwhile, on SQLite and PostgreSQL (a database of its own) (~3 min).
bench-import: $(STAMP)
	$(BIN)/python -m bench.org_import

# A company's shape, every figure of its own: /stats and the totals' upkeep, check-in matching
# against clustered customers, the org import, replies during a fan-out, /pipeline at 300,000
# open deals (about an hour and a half in all).
bench-company: bench-company-stats bench-matching bench-import bench-replies bench-pipeline

# 5,000 members in a 4-level tree, 1,000,000 claims over two years: /stats for finance, a
# region manager and a team manager; the totals' upkeep per claim (~15 min).
bench-company-stats: $(STAMP)
	$(BIN)/python -m bench.company

# Matching check-ins (on a site, between sites, outside every site) against 100,000 customers
# around 20 cities, and how long the event loop is held (~5 min).
bench-matching: $(STAMP)
	$(BIN)/python -m bench.checkin --skip-throughput

# /pipeline at 300,000 open deals for the organisation and a department's head, against the
# reads before the kept sums; the sums' upkeep per stage move (~15 min).
bench-pipeline: $(STAMP)
	$(BIN)/python -m bench.opportunities --pipeline --opportunities 375000 --runs 7 --moves 300

# Refresh the message catalogs after changing user-facing text.
i18n: $(STAMP)
	$(BIN)/python -m bot.i18n_catalogs

clean:
	rm -rf $(VENV) build *.egg-info
