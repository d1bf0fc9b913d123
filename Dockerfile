# voicegw with CUDA: faster-whisper (CTranslate2), llama.cpp and Piper on the GPU.
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv python3.11-dev build-essential cmake git make \
    && rm -rf /var/lib/apt/lists/* && ln -sf /usr/bin/python3.11 /usr/bin/python3
WORKDIR /app
COPY . .
RUN make setup GPU=1 && .venv/bin/pip install onnxruntime-gpu && .venv/bin/voicegw models fetch
ENV VOICEGW_SERVER__HOST=0.0.0.0
EXPOSE 8080
CMD [".venv/bin/voicegw", "serve"]
