# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint format dashboards bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo shows every source: all the optional extras (an RT-only install is plain `pip install .`)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/vigil demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the Grafana dashboards (English in dashboards/, Russian in dashboards/ru/) from their Python
# definition in dashboards/definition; tests/test_dashboards.py fails while the committed files differ
dashboards: $(VENV)/.installed-test
	$(BIN)/python -m dashboards.definition

bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/probes.py
	$(BIN)/python bench/vision.py
	$(BIN)/python bench/report.py --baseline-cameras 1000

# requirements.lock: what the image installs (vigil[all] and the build backend), pinned with hashes
# for the image's platform (Linux x86_64, CPython 3.11) whatever machine runs this. Pins that still
# fit pyproject.toml are kept; `make lock UPGRADE=1` moves everything to the newest releases.
# uv runs from a throwaway venv, never from $(VENV).
LOCK_TOOLS ?= /tmp/vigil-lock-tools
lock:
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet 'uv>=0.13,<0.14'
	$(LOCK_TOOLS)/bin/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" > $(LOCK_TOOLS)/build-system.in
	$(LOCK_TOOLS)/bin/uv pip compile --quiet pyproject.toml $(LOCK_TOOLS)/build-system.in \
	    --extra all --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	    $(if $(UPGRADE),--upgrade) --custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
