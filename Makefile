# RNN Lab. `make run` executes every notebook (full mode) into build/; `make test` runs the unit tests
# and every notebook under nbval (quick mode). Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Extra pip options, e.g. an index that serves CPU-only torch wheels on machines without one on disk.
PIP_OPTIONS ?=

.PHONY: run test lint unit gradecheck nbval lab bench student grade clean
SUBMISSIONS ?= submissions
JOBS ?= 2
# e.g. GRADE_OPTIONS="--scheduler tcp://host:8786" to grade on a Dask cluster
GRADE_OPTIONS ?=

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_OPTIONS) -e '.[pytorch,grading,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m labutils run --mode full

test: lint unit gradecheck nbval

lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache labutils tests benchmarks

unit: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider

# For every notebook: the solution scores full marks, the student release scores zero and runs to the end.
gradecheck: $(STAMP)
	$(PY) -m labutils.grading.selfcheck

nbval: $(STAMP)
	RNNLAB_MODE=quick $(PY) -m pytest notebooks -q -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

bench: $(STAMP)
	$(PY) benchmarks/charlm_speed.py

student: $(STAMP)
	$(PY) -m labutils release --out build/student

grade: $(STAMP)
	$(PY) -m labutils grade $(SUBMISSIONS) --jobs $(JOBS) --out build/grading $(GRADE_OPTIONS)

clean:
	rm -rf build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
