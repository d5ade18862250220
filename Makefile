# Two commands do all the set-up on a fresh machine:
#   make up     installs Fireside into .venv and starts it on 127.0.0.1:4566
#   make test   installs the dev tools and runs lint, type checks and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install system-deps dev-system-deps dev sdks tools lint bench clean

$(BIN)/fireside: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(BIN)/fireside system-deps

system-deps:
	@scripts/system-deps.sh

# The AWS SDKs Lambda's images preinstall (boto3 per Python version, the AWS SDK for JavaScript
# v3, the AWS SDK for Ruby), downloaded once into the SDK cache; says what it could not get.
sdks: $(BIN)/fireside
	$(BIN)/fireside sdks install

dev-system-deps:
	@scripts/system-deps.sh --dev

$(VENV)/.dev: $(BIN)/fireside | dev-system-deps
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

dev: $(VENV)/.dev

# The deploy tools the tests drive (aws-sam-cli, the AWS CDK), from PyPI and npm into .tools/.
tools:
	@scripts/deploy-tools.sh

up: install sdks
	$(BIN)/fireside up $(ARGS)

lint: dev
	$(BIN)/ruff check fireside tests bench
	$(BIN)/ruff format --check fireside tests bench
	$(BIN)/mypy

test: lint sdks tools
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/invoke.py
	$(BIN)/python bench/sandbox.py

clean:
	rm -rf $(VENV) .tools .fireside .mypy_cache .pytest_cache .ruff_cache
