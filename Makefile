# The two commands of the README: `make lab` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin
NODES ?= 3
# Only the Python packages that exist yet are type-checked.
PKGS := $(wildcard raft discovery peer hypervisor agent console chaos bench testkit distro)
PYTEST_ARGS ?=

.PHONY: setup lab lab-down test test-all lint typecheck pytest bench image demo-os

setup:
	@bash scripts/setup.sh

lab: setup
	@$(VENV)/quantix lab up --nodes $(NODES) --foreground

lab-down: setup
	@$(VENV)/quantix lab down

lint: setup
	@$(VENV)/ruff check .
	@$(VENV)/ruff format --check . >/dev/null || { $(VENV)/ruff format --check .; exit 1; }

typecheck: setup
	@$(VENV)/mypy $(PKGS) > .mypy.out 2>&1 || { cat .mypy.out; exit 1; }

pytest: setup
	@$(VENV)/pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck pytest

test-all: setup
	@$(VENV)/pytest -q -n 2 --dist loadgroup -m '' $(PYTEST_ARGS)

bench: setup
	@$(VENV)/python -m bench all

# Quantix-OS (docs/os.md): the disk image, slot files and a signed update bundle in
# build/os; downloads, the Debian base and wheels are cached in .cache/os.
image: setup
	@$(VENV)/python -m distro build $(IMAGE_ARGS)

# The headline demo: three Quantix-OS VMs (QEMU TCG) in factory state on one bridge
# become one cluster, paired from their consoles (distro/demo.py).
demo-os: setup
	@$(VENV)/python -m distro demo $(DEMO_ARGS)
