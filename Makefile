# The two set-up commands: `make demo` and `make test`. Both build .venv with the machine's python3
# (3.11 or newer) when it is missing or older than pyproject.toml, install aiapy editable, then run.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aiapy-installed
DEMO_OUT ?= demo_output

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) docs/examples/demo.py --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) build src/*.egg-info
