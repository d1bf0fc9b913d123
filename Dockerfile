# voicegw image: CPU by default, CUDA with `--build-arg GPU=1` (docker-compose.gpu.yml does that).
#
#   docker build -t voicegw .                              # CPU: llama.cpp built for AVX2
#   docker build -t voicegw:cuda --build-arg GPU=1 .       # faster-whisper, llama.cpp, Piper on CUDA
#
# Both are Ubuntu 22.04 with its Python 3.11, built in one stage and run from a slimmer one: the
# compilers and the CUDA toolkit (nvcc, headers) stay behind, the GPU image keeps only the CUDA 12
# and cuDNN 9 libraries. It needs an NVIDIA driver >= 550 on the host (CUDA 12.4) and the NVIDIA
# container toolkit.
ARG GPU=0
ARG UBUNTU_VERSION=22.04
ARG CUDA_VERSION=12.4.1

FROM ubuntu:${UBUNTU_VERSION} AS build-base-0
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-devel-ubuntu${UBUNTU_VERSION} AS build-base-1
FROM ubuntu:${UBUNTU_VERSION} AS run-base-0
FROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-ubuntu${UBUNTU_VERSION} AS run-base-1

# ---- build: the venv in /app/.venv, with llama.cpp compiled for this flavour ----------------------
# (the base is one of the stages above, picked by GPU; hadolint cannot see through the ARG)
# hadolint ignore=DL3006
FROM build-base-${GPU} AS build
ARG GPU
# GPUs llama.cpp is compiled for: SASS for T4 (75), A100/A30 (80), A10/A40/RTX 30 (86),
# L4/L40S/RTX 40 (89), H100/H200 (90), plus PTX of 90 that the driver compiles for newer ones.
# Named, because a native build targets the GPUs visible at build time and `docker build` sees
# none. Fewer build faster, e.g. --build-arg CUDA_ARCHITECTURES=89-real.
ARG CUDA_ARCHITECTURES="75-real;80-real;86-real;89-real;90"
# onnxruntime-gpu on PyPI is a CUDA 12 build up to 1.26 and a CUDA 13 one from 1.27 on. This image
# is CUDA 12, as CTranslate2's wheels (faster-whisper) are: see the onnxruntime step below.
ARG ONNXRUNTIME_GPU_BELOW=1.27
ARG DEBIAN_FRONTEND=noninteractive
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv python3.11-dev build-essential cmake make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# Dependencies first, from the files that name them, so that a source change does not recompile
# llama.cpp (the CUDA build takes a long while). Ubuntu's python3 is 3.10: the venv is made here
# with 3.11 and `make setup` finds it. GPU=1 builds llama.cpp with -DGGML_CUDA=on
# -DGGML_NATIVE=OFF and these architectures (see the Makefile), and must yield its CUDA backend.
COPY pyproject.toml Makefile README.md ./
RUN python3.11 -m venv .venv \
    && .venv/bin/python -m pip install -q --upgrade pip \
    && if [ "$GPU" = 1 ]; then \
           make setup GPU=1 "CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES" \
           && test -e .venv/lib/python3.11/site-packages/llama_cpp/lib/libggml-cuda.so; \
       else \
           make setup; \
       fi

# onnxruntime and onnxruntime-gpu install the same `onnxruntime` package; with both present the
# CPU one can win and hide CUDAExecutionProvider (Piper and Silero then run on the CPU). The GPU
# image keeps only onnxruntime-gpu: of the major.minor the project resolved when that one is a
# CUDA 12 build (below ONNXRUNTIME_GPU_BELOW), else the newest CUDA 12 one. This stays the last
# pip step that resolves dependencies: any later one would bring onnxruntime back.
RUN if [ "$GPU" = 1 ]; then \
        spec="$(.venv/bin/python -c 'import sys; from importlib.metadata import version; v = version("onnxruntime").split(".")[:2]; below = sys.argv[1]; same = tuple(map(int, v)) < tuple(map(int, below.split("."))); print("==" + ".".join(v) + ".*" if same else "<" + below)' "$ONNXRUNTIME_GPU_BELOW")" \
        && echo "onnxruntime-gpu$spec" \
        && .venv/bin/python -m pip uninstall -y onnxruntime \
        && .venv/bin/python -m pip install "onnxruntime-gpu$spec" \
        && .venv/bin/python -c 'import onnxruntime as o; p = o.get_available_providers(); assert "CUDAExecutionProvider" in p, p'; \
    fi

# The source, and the project itself (editable, as `make setup` installs it; no dependencies).
COPY . .
RUN .venv/bin/python -m pip install -q --no-deps -e .

# ---- runtime -------------------------------------------------------------------------------------
# hadolint ignore=DL3006
FROM run-base-${GPU} AS runtime
ARG GPU
ARG DEBIAN_FRONTEND=noninteractive
# libgomp1: llama.cpp's OpenMP threads (the rest comes in the wheels, or, on CUDA, the base image).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 libgomp1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 voicegw \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin voicegw
WORKDIR /app
COPY --from=build /app /app
# GPU: every CUDA library the GPU code needs is in this image (all but the driver's libcuda.so.1,
# which the container toolkit brings at run time): the onnxruntime CUDA provider's and
# llama.cpp's CUDA backend's link-time ones, and the cuBLAS CTranslate2 opens. A wheel built for
# another CUDA major fails the build here, instead of falling back to the CPU at run time.
RUN if [ "$GPU" = 1 ]; then \
        /app/.venv/bin/python -c 'import glob, re, subprocess, sys; site = "/app/.venv/lib/python3.11/site-packages"; libs = [site + "/onnxruntime/capi/libonnxruntime_providers_cuda.so", site + "/llama_cpp/lib/libggml-cuda.so"]; missing = [lib + ": " + line.split()[0] for lib in libs for line in subprocess.run(["ldd", lib], capture_output=True, text=True, check=True).stdout.splitlines() if "not found" in line and not line.split()[0].startswith("libcuda.so")]; ct2 = open(glob.glob(site + "/ctranslate2.libs/libctranslate2*.so*")[0], "rb").read(); names = sorted({n.decode() for n in re.findall(rb"libcublas\.so\.[0-9]+", ct2)}); assert names, "no cuBLAS named in libctranslate2"; missing += [n + ": " + r.stderr.strip().splitlines()[-1] for n in names for r in [subprocess.run([sys.executable, "-c", "import ctypes, sys; ctypes.CDLL(sys.argv[1])", n], capture_output=True, text=True)] if r.returncode and "libcuda.so" not in r.stderr]; assert not missing, missing; print("CUDA libraries found for onnxruntime, llama.cpp and CTranslate2", names)'; \
    fi
ENV HOME=/home/voicegw PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 VOICEGW_SERVER__HOST=0.0.0.0
USER 10001:10001
# The embedded models, joined and verified into ~/.cache/voicegw (/home/voicegw/.cache/voicegw)
# now rather than at first start. A named volume mounted there starts as a copy of them. The call
# records' directory is made here too, so a volume mounted on it is the gateway user's.
RUN /app/.venv/bin/voicegw models fetch && mkdir -p /home/voicegw/.local/state/voicegw
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VOICEGW_SERVER__PORT', '8080') + '/readyz', timeout=4)"]
# Listening on every interface is only safe with Twilio signatures enforced: `serve` refuses to
# start on a non-loopback address unless TWILIO_AUTH_TOKEN is set (docker-compose.gpu.yml requires
# it). For a local test without Twilio: --network host -e VOICEGW_SERVER__HOST=127.0.0.1.
# Other commands run as given: `docker run --rm voicegw models verify`.
ENTRYPOINT ["/bin/sh", "-c", "if [ \"${1:-}\" = serve ] && [ -z \"${TWILIO_AUTH_TOKEN:-}\" ]; then case \"${VOICEGW_SERVER__HOST-}\" in 127.0.0.1|localhost|::1) ;; *) echo \"voicegw: refusing to serve on '${VOICEGW_SERVER__HOST-}' without TWILIO_AUTH_TOKEN (Twilio signatures would not be checked). Set it, or for a local test run with --network host -e VOICEGW_SERVER__HOST=127.0.0.1.\" >&2; exit 64;; esac; fi; exec /app/.venv/bin/voicegw \"$@\"", "voicegw"]
CMD ["serve"]
