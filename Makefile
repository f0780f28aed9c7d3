# The two set-up commands: `make demo` and `make test` (and `make docs`, the documentation site). All build
# .venv with the machine's python3 (3.11 or newer) when it is missing or older than pyproject.toml, install
# aiapy editable, then run.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aiapy-installed
DEMO_OUT ?= demo_output

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) docs/examples/demo.py --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# HTML into docs/_build/html, gallery executed on the bundled data, warnings (and unresolved references) as
# errors. Offline; AIAPY_DOCS_INTERSPHINX=1 adds links to astropy, sunpy, numpy, scipy, dask (network).
docs: $(STAMP)
	$(PY) -m sphinx -b html -W --keep-going -n docs docs/_build/html

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) build src/*.egg-info docs/_build docs/api/generated docs/api/main docs/api/modules docs/generated
