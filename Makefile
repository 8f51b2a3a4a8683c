# The README's commands. Each creates .venv when it is missing and installs what
# it needs into it, so a fresh clone needs nothing but Python 3.10+ and make.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# uv installs the package and its extras into the environment: it resolves and unpacks
# the test extras several times faster than pip, which makes most of a fresh clone's
# set-up. pip installs uv itself, and does the install where uv cannot: uv does not
# read pip's configuration (a private index, a proxy's certificate).
# The stamp is made whether uv installed or not, so that a failed try is not repeated.
UV := $(VENV)/bin/uv
$(VENV)/.uv-tried: | $(PY)
	-$(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'
	@touch $@

install = { [ -x $(UV) ] && $(UV) pip install --quiet --python $(PY) $(1); } || \
	$(PY) -m pip install --quiet --disable-pip-version-check $(1)

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(VENV)/.uv-tried
	$(call install,-e .)
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/.uv-tried
	$(call install,-e '.[test]')
	@touch $@ $(VENV)/.installed-run

# The install is editable: compile the package's bytecode, as a wheel install does,
# since an environment with PYTHONDONTWRITEBYTECODE would compile it at every start.
serve: $(VENV)/.installed-run  ## Start the fake on 127.0.0.1:8000 with the demo data.
	@$(PY) -m compileall -q apollo_fake
	$(VENV)/bin/apollo-fake serve --host $(HOST) --port $(PORT)

# The TypeScript client generators tests/test_openapi_clients.py runs, at the exact
# versions of their lock file, with the machine's node and npm. The stamp re-runs the
# install when the lock file changes.
TS_CLIENTS := tests/clients/ts
$(TS_CLIENTS)/node_modules/.installed: $(TS_CLIENTS)/package-lock.json
	npm ci --prefix $(TS_CLIENTS) --no-audit --no-fund --loglevel=error
	@touch $@

# The headless browser of the page tests (tests/browser.py): Debian's chromium, which
# Playwright drives (it cannot download browsers of its own here). Installed with apt
# when missing, as root or through sudo; the package lists are refreshed only if the
# first try fails, as they are on a fresh machine.
CHROMIUM ?= $(shell command -v chromium 2>/dev/null)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT      := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -y -q -o Dpkg::Use-Pty=0
.PHONY: chromium
chromium:
ifeq ($(CHROMIUM),)
	$(APT) install --no-install-recommends chromium >/dev/null || \
	  { $(APT) update >/dev/null && $(APT) install --no-install-recommends chromium >/dev/null; }
endif

# -n auto: one xdist worker more than the cores (tests/conftest.py says why).
test: $(VENV)/.installed-test $(TS_CLIENTS)/node_modules/.installed chromium  ## Run the whole test suite, on every core.
	$(PY) -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

bench: $(VENV)/.installed-test  ## Run the benchmarks (not part of the tests).
	$(PY) -m bench

lint: $(VENV)/.installed-test  ## Check style, types and the import layers (pyproject.toml).
	$(PY) -m ruff check apollo_fake conftest_plugin.py tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache $(TS_CLIENTS)/node_modules
