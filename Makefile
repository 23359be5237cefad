# Two commands: `make demo` and `make test`. Both bootstrap .venv idempotently.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# A CPU-only machine gets the CPU build of torch from the pinned version; a machine with an
# NVIDIA GPU gets pip's default (CUDA) build.
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_SPEC := $(if $(HAS_GPU),torch,torch==2.13.0)

.PHONY: venv test demo lint bench bench-peers mutation mutation-kernels clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,dev]"
	touch $(STAMP)

# Static checks first (seconds), then the suite on both cores.
test: lint
	$(PY) -m pytest -q -n 2 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check synnet_triton kernels tests benchmarks tools
	$(VENV)/bin/mypy synnet_triton kernels

demo: $(STAMP)
	$(VENV)/bin/synnet-triton demo --force

# Side-by-side benchmark against the peers installed in .venv (Rockpool, snnTorch).
bench: $(STAMP)
	$(VENV)/bin/synnet-triton bench --out bench-results

# The same with Norse and SpikingJelly too: they need torchvision, hence a venv of their own
# (a CUDA build of torch, ~5.5 GB on x86_64; see benchmarks/setup_peers_venv.sh).
bench-peers:
	bash benchmarks/setup_peers_venv.sh .venv-peers
	.venv-peers/bin/python -m synnet_triton.bench --out bench-results-peers

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

# Mutation testing of the code that computes results (outside CI; [tool.mutmut] in
# pyproject.toml says which modules and tests). MUTANTS narrows it, e.g.
# `make mutation MUTANTS='synnet_triton.ops.lif.surrogates*'`.
# MUTATION_TESTS keeps only the tests under these node-id prefixes (a module's own tests:
# a surviving mutant runs every selected test that reaches it).
MUTANTS ?=
MUTATION_TESTS ?=
mutation: $(STAMP)
	SYNNET_TRITON_MUTATION=1 SYNNET_TRITON_MUTATION_TESTS="$(MUTATION_TESTS)" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/mutmut run $(MUTANTS) || true
	$(PY) tools/mutation_report.py

# The same for the Triton kernels' arithmetic (mutmut skips decorated functions): operator
# mutants inside @triton.jit functions, each against the kernels' interpreter tests.
mutation-kernels: $(STAMP)
	$(PY) tools/mutate_kernels.py --sample 20
