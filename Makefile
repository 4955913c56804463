# Two commands on a fresh machine: `make run` (the app) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8501
ADDRESS ?= 127.0.0.1
DATASET ?= mnist-5k
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint system-deps clean

# Runtime and test pins kept apart; the project itself installed editable (the `lepton` command).
$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Debian packages: Chromium for the browser suite, full Fashion-MNIST, a CJK font for screenshots.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium dataset-fashion-mnist fonts-wqy-microhei >/dev/null; \
	fi

run: $(STAMP)
	LEPTON_DATASET=$(DATASET) $(BIN)/python -m streamlit run app.py \
		--server.address $(ADDRESS) --server.port $(PORT)

# pytest-xdist: a worker per core, at most 4 (each test worker starts TensorFlow processes of
# its own); each test module stays on one worker (its module fixtures are built once), and so
# does the whole browser suite, in order, on its one shared server (tests/conftest.py).
PARALLEL := -n auto --maxprocesses 4 --dist loadgroup

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PARALLEL)

# Style (ruff) and the layer contracts of pyproject.toml (import-linter).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Everything but the real-browser suite.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL) -m "not browser"

clean:
	rm -rf $(VENV) .pytest_cache screenshots
