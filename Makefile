# The two commands of the README, and the rest of the daily work.
PY := .venv/bin/python

.PHONY: setup run test bench lint format demo

setup:
	bash scripts/setup.sh

# Set up, then run the main job on the demo data.
run: setup
	$(PY) build.py check
	$(PY) build.py query --leader 赵敏 --semester 2025-2026-1
	$(PY) build.py pdf
	$(PY) build.py export --semester 2026-2027-1

# Set up, then pass the tests.
test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/check.py
	$(PY) bench/pdf.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Rewrite the shipped demo data (after a schema change, say).
demo: setup
	$(PY) bench/synth.py --demo .
