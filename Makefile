# Two commands for a fresh machine:
#   make demo   - the whole life cycle on the built-in synthetic data set
#   make test   - the test suite
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED ?= 0

.PHONY: demo test test-torch lint typecheck bench venv clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[cpu,jax,notebooks,infra,tracking,slides,onnx,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/segkit demo demo_out

test: $(STAMP)
	$(PY) -m pytest

# segkit.train on Keras's PyTorch backend (PyTorch's wheel is several GB; not in make test)
test-torch: $(STAMP)
	$(PY) -m pip install -q -e ".[torch]"
	$(PY) -m pytest -m torch tests/training/test_backends.py

lint: $(STAMP)
	$(VENV)/bin/ruff check segkit tests benchmarks infra_pulumi
	$(VENV)/bin/ruff format --check segkit tests benchmarks infra_pulumi

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench_prepare.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_predict.py
	$(PY) benchmarks/bench_onednn.py
	$(PY) benchmarks/bench_export.py

clean:
	rm -rf demo_out build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
