# The two commands of the README, and the rest of the daily work.
PY := .venv/bin/python
PORT ?= 8000

.PHONY: setup run test bench lint format docs demo serve mutants image

setup:
	bash scripts/setup.sh

# Set up, then run the main job on the demo data.
run: setup
	$(PY) build.py check
	$(PY) build.py query --leader 赵敏 --semester 2025-2026-1 --format brief
	$(PY) build.py pdf
	$(PY) build.py export --semester 2026-2027-1
	PORT=$(PORT) $(PY) build.py build
	$(PY) scripts/preview.py public $(PORT)

# Set up, then pass the tests: one worker more than there are cores (pytest-xdist; a worker that runs out of
# tests takes some of another's), as a single `python -m pytest` would run them one after another. The extra
# worker keeps both cores busy while a test waits on a server, a timeout or a browser: 0.91x the time of one
# worker a core on this 2-core machine (a pair run back to back at a slow hour, 4 min 5 s against 4 min 28 s;
# a fresh clone's `make test` takes 1 min 36 s to 1 min 47 s: BENCHMARKS.md, seventh round, 2026-12-08).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: setup
	$(PY) -m ruff check .
	.venv/bin/lint-imports
	$(PY) -m pytest -q --numprocesses $(TEST_WORKERS) --dist worksteal

bench: setup
	$(PY) bench/check.py
	$(PY) bench/pdf.py
	$(PY) bench/export.py
	$(PY) bench/workbook.py
	$(PY) bench/site.py
	$(PY) bench/submit.py
	$(PY) bench/audit.py
	$(PY) bench/review.py
	$(PY) bench/import.py
	$(PY) bench/gitlayer.py
	$(PY) bench/checkcache.py
	$(PY) bench/historyindex.py
	$(PY) bench/siteincremental.py
	$(PY) bench/incremental.py
	$(PY) bench/speed2.py --pipeline

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Rewrite the generated parts of docs/development.md: the command reference (from --help) and the layout.
docs: setup
	$(PY) scripts/docs.py

# Rewrite the shipped demo data (after a schema change, say).
demo: setup
	$(PY) bench/synth.py --demo .

# The web form with the development login, on loopback only.
serve: setup
	$(PY) build.py serve --dev-login $(if $(filter-out file,$(origin PORT)),--port $(PORT))

# An occasional check (minutes): one-line mutations of core logic the tests must catch (docs/mutation.md).
mutants: setup
	$(PY) scripts/mutants.py

# The CI and form images, built from a debootstrapped Debian (root, minutes; not in make test).
image:
	bash scripts/build-image.sh
