# One entry point for people and CI. `make demo` and `make test` create .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: install test test-all demo lint bench bench-deps clean

install: $(STAMP)

# Re-runs only when pyproject.toml changes. torch is pinned to the local CPU wheel here so that
# no install step ever pulls a multi-GB CUDA build; the package itself only asks torch>=2.4.
# Distill-MOS (clean-less evaluation) ships its weights in its wheel; it is installed without its
# declared dependencies, which would replace torch (torchaudio pins its own torch build): the
# model needs only torch, and xls-r-sqa's transformer layers.
DISTILLMOS := distillmos==0.9.1 xls-r-sqa==0.1.0

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[torch,test,dnsmos,urgent]'
	$(PY) -m pip install -q --no-deps $(DISTILLMOS)
	touch $(STAMP)

test: install
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/tfgridnet demo --out $(DEMO_OUT)

lint: install
	$(VENV)/bin/ruff check src tests bench
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache

# Optional bench extra: ESPnet's reference class without its dependency tree (bench/ only).
bench-deps: install
	$(PY) -m pip install -q --no-deps espnet==202511 torch_complex
	$(PY) -m pip install -q typeguard

bench: install
	$(PY) bench/model.py
	$(PY) bench/data.py
	$(PY) bench/inference.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
