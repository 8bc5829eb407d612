PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lint test demo sim chaos bench bench-year clean app garden

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

# ruff (style, imports, bug patterns) and mypy --strict on the package; configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check integration tests bench app
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/zdtriage demo

sim: $(STAMP)
	$(BIN)/zdtriage sim --tickets 500 --seed 1

chaos: $(STAMP)
	$(BIN)/python tests/chaos/killharness.py --kills 40 --tickets 400 --rounds 5

bench: $(STAMP)
	$(BIN)/python bench/run.py

# A year of tickets (3.65 M) beside one day: about 4 minutes on 2 cores and 12 GB in a temporary folder, deleted after.
bench-year: $(STAMP)
	$(BIN)/python -m bench.year

# The Zendesk app's upload zip, packed like `zcli apps:package` but without zcli or a login.
# STATUS_URL=https://host/healthz puts that host into the packaged manifest's domainWhitelist.
APP_ZIP ?= tmp/zendesk-batch-triage-app.zip
app:
	$(PYTHON) app/build_i18n.py --check
	$(PYTHON) app/make_app.py --out $(APP_ZIP) $(if $(STATUS_URL),--status-url '$(STATUS_URL)')

# Rebuild the app's generated assets (committed): Garden CSS from npm, sidebar strings.
garden:
	cd app && npm ci --no-audit --no-fund && node build-garden.mjs
	$(PYTHON) app/build_i18n.py

clean:
	rm -rf $(VENV) .pytest_cache demo-work
