# Two commands do everything on a fresh machine; each sets up .venv first (deploy/setup.sh is idempotent).
.PHONY: setup demo test lint

setup:
	@bash deploy/setup.sh

demo: setup
	.venv/bin/neurovae demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check neurovae tests benchmarks examples
