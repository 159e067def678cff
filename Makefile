# The two commands of the README's quick start; each creates .venv and installs when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m implicit_diffusion.main --file_path=runs --expe_name=demo
	@echo "Outputs are in runs/demo/ (hist_*.npy, samples.npy, metrics.json, config.json, implicit_diffusion.png)."

test: $(STAMP)
	$(PY) -m pytest tests/ -q -n auto --dist loadfile --durations=15

bench: $(STAMP)
	$(PY) benchmarks/implicit_diffusion.py

clean:
	rm -rf runs .pytest_cache

.PHONY: bench-adjoint
bench-adjoint: $(STAMP)
	$(PY) benchmarks/adjoint.py

.PHONY: bench-all
bench-all: $(STAMP)
	$(PY) benchmarks/run.py
