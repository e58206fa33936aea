# RNN Lab. `make run` executes every notebook (full mode) into build/; `make test` runs the unit tests
# and every notebook under nbval (quick mode). Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Extra pip options; when set, they replace the CPU wheel index choice below.
PIP_OPTIONS ?=
# On Linux the default index's torch pulls gigabytes of CUDA wheels: PyTorch's CPU-only wheel index is added
# when it answers (otherwise, e.g. offline with torch on disk, the install goes on without it).
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: run test lint unit gradecheck nbval check-seeds lab bench site student publish grade clean
SUBMISSIONS ?= submissions
JOBS ?= 2
# e.g. GRADE_OPTIONS="--scheduler tcp://host:8786" to grade on a Dask cluster
GRADE_OPTIONS ?=

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@extra=""; \
	if [ -z "$(PIP_OPTIONS)" ] && [ "$$(uname -s)" = Linux ] && \
	   $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/', timeout=10)" 2>/dev/null; then \
		extra="--extra-index-url $(TORCH_CPU_INDEX)"; echo "torch: CPU-only wheels from $(TORCH_CPU_INDEX)"; \
	else echo "torch: the CPU wheel index is not used (not Linux, unreachable, or PIP_OPTIONS given)"; fi; \
	echo "$(PY) -m pip install $(PIP_OPTIONS) $$extra -e '.[pytorch,grading,site,dev]'"; \
	$(PY) -m pip install $(PIP_OPTIONS) $$extra -e '.[pytorch,grading,site,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m labutils run --mode full

test: lint unit gradecheck nbval

lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache labutils tests benchmarks notebooks

unit: $(STAMP)
	$(PY) -m pytest tests -q -p no:cacheprovider

# For every notebook: the solution scores full marks, the student release scores zero and runs to the end.
gradecheck: $(STAMP)
	$(PY) -m labutils.grading.selfcheck

nbval: $(STAMP)
	RNNLAB_MODE=quick $(PY) -m pytest notebooks -q -p no:cacheprovider \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900

# Every check on the course's solution for 100,000 seeds (cheap checks) or 10,000 (the others): no correct
# answer may fail on a seed the grader can draw. About an hour on one core, most of it check_overfit's training.
check-seeds: $(STAMP)
	RNNLAB_CHECK_SEEDS=full $(PY) -m pytest tests/test_check_seeds.py -q -p no:cacheprovider

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Learning per second first (about 13 minutes: held-out cross-entropy against wall time, quiet and busy), then
# characters per second. Both start and stop their own CPU-burning processes for the busy runs.
bench: $(STAMP)
	$(PY) benchmarks/charlm_learning.py
	$(PY) benchmarks/charlm_speed.py

# The course website from executed notebooks: EDITION=student (default, safe to publish) or solutions;
# MODE=full (default) or quick.
site: $(STAMP)
	$(PY) -m labutils site --edition $(or $(EDITION),student) --mode $(or $(MODE),full)

# The student repository to publish: make publish REPO=owner/name [SITE=build/site]
publish: $(STAMP)
	$(PY) -m labutils publish --repo $(REPO) --out build/publish $(if $(SITE),--site $(SITE))

student: $(STAMP)
	$(PY) -m labutils release --out build/student

grade: $(STAMP)
	$(PY) -m labutils grade $(SUBMISSIONS) --jobs $(JOBS) --out build/grading $(GRADE_OPTIONS)

clean:
	rm -rf build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
