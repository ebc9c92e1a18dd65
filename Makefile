# `make demo` and `make test` work on a fresh machine: they create .venv, install torch (the pinned
# CPU build when torch is missing), build the native extension and install the package in place.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.streamenhance-installed
NATIVE_SOURCES := $(shell find csrc -type f) CMakeLists.txt setup.py pyproject.toml
PYTEST_ARGS ?=

.PHONY: setup demo test weights clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) $(NATIVE_SOURCES)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet $(TORCH_PIN)
	$(PIP) install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/streamenhance demo --out-dir demo_out

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Retrain the shipped weights from ../shared/data/train on this machine's CPU (about 6.5 hours of one core, run one after another).
# The four shipped ar_* files were trained with L1 only (before the MS-SSIM term, which measured no better on CPU
# budgets): --ms-ssim-weight 0 reproduces them.
WEIGHTS := python/streamenhance/weights
weights: setup
	$(VENV)/bin/streamenhance train sr --tier tiny --scale 2 --steps 80000 --expand-convs --threads 1 --out $(WEIGHTS)/sr_tiny_x2_mild.safetensors --run-dir runs/sr_tiny_x2_mild
	$(VENV)/bin/streamenhance train sr --tier small --scale 2 --steps 30000 --expand-convs --threads 1 --out $(WEIGHTS)/sr_small_x2_mild.safetensors --run-dir runs/sr_small_x2_mild
	$(VENV)/bin/streamenhance train sr --tier tiny --scale 4 --steps 30000 --expand-convs --threads 1 --out $(WEIGHTS)/sr_tiny_x4_mild.safetensors --run-dir runs/sr_tiny_x4_mild
	$(VENV)/bin/streamenhance train detail --from $(WEIGHTS)/sr_small_x2_mild.safetensors --steps 4000 --threads 1 --out $(WEIGHTS)/detail/sr_small_x2_mild.safetensors --run-dir runs/detail_sr_small_x2_mild
	$(VENV)/bin/streamenhance train ar --tier tiny --mode strong --steps 16000 --sequences 600 --ms-ssim-weight 0 --expand-convs --threads 1 --out $(WEIGHTS)/ar_tiny_strong.safetensors --run-dir runs/ar_tiny_strong
	$(VENV)/bin/streamenhance train ar --tier tiny --mode mild --steps 16000 --sequences 600 --ms-ssim-weight 0 --expand-convs --threads 1 --out $(WEIGHTS)/ar_tiny_mild.safetensors --run-dir runs/ar_tiny_mild
	$(VENV)/bin/streamenhance train ar --tier small --mode strong --steps 32000 --sequences 600 --ms-ssim-weight 0 --expand-convs --threads 1 --out $(WEIGHTS)/ar_small_strong.safetensors --run-dir runs/ar_small_strong
	$(VENV)/bin/streamenhance train ar --tier small --mode mild --steps 16000 --sequences 600 --ms-ssim-weight 0 --expand-convs --threads 1 --out $(WEIGHTS)/ar_small_mild.safetensors --run-dir runs/ar_small_mild

clean:
	rm -rf build *.egg-info python/*.egg-info python/streamenhance/*.so demo_out .pytest_cache
