# gliopet: `make demo` and `make test` on a fresh machine (Python 3.11, make).
# Everything is installed from requirements.lock (pinned, with hashes) into .venv.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The reading app's viewer (NiiVue), pinned in package-lock.json, served by the app itself.
NODE_STAMP := node_modules/.installed
DEMO_OUT ?= demo-output

.PHONY: demo test bench sysdeps lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || ./.ci/sysdeps
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

# System tools the tests drive for real: a PDF rasteriser (poppler), a headless
# browser (Chromium), a PostgreSQL server, the DICOM validator and npm. Installed from Debian when missing.
sysdeps:
	@./.ci/sysdeps

# The demo's output is regenerated from scratch on every run (it is all simulated).
demo: $(STAMP) $(NODE_STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/gliopet demo --out $(DEMO_OUT)

test: $(STAMP) sysdeps $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	$(PYTHON) -m venv /tmp/gliopet-uv && /tmp/gliopet-uv/bin/pip install --quiet uv
	/tmp/gliopet-uv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes \
	    --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
