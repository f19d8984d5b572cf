# Everything a device maker needs, from a fresh clone with Python 3.11+ and make.
# The first target that needs it creates .venv and installs the pinned dependencies.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DAYS   ?= 60
PORT   ?= 8080
# Where `make bench` writes (results.json + RESULTS.md): untracked by default, so a run on
# your machine leaves the committed figures alone; `make bench-commit` updates those.
BENCH_OUT ?= bench/local/results.json

.PHONY: help demo test lint bench bench-commit bench-frozen soak emulator deploy provision virtual-board clean

help:
	@echo "make demo          60-day, 2-slot simulation on real MicroPython against the fake Amazon"
	@echo "make test          lint + the whole test suite"
	@echo "make lint          ruff check + ruff format --check (no tests)"
	@echo "make bench         measure heap, code size, requests and speed into $(BENCH_OUT)"
	@echo "make bench-commit  the same, into the committed bench/results.json and bench/RESULTS.md"
	@echo "make bench-frozen  the lowest heap with the agent frozen in (MICROPY_SRC=a MicroPython tree)"
	@echo "make soak          fault and power-cut campaigns, a table in build/soak (ARGS=--long: a device-year each)"
	@echo "make emulator      serve the fake Amazon on port $(PORT)"
	@echo "make deploy PORT=/dev/ttyUSB0     copy the compiled agent to a board (what changed)"
	@echo "make provision PORT=/dev/ttyUSB0 CONFIG=provision.json CODE=...   Wi-Fi, slots, LwA; verify"
	@echo "make virtual-board a board without hardware (prints its port)"
	@echo "make clean         remove .venv, build output, demo.png, bench/local and tls/"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off \
		-r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off \
		--no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drsctl simulate --runtime micropython --heap 80k --days $(DAYS) --slots 2 --story --plot demo.png

test: $(STAMP)
	$(BIN)/ruff check tools host_tests firmware
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check tools host_tests firmware
	$(BIN)/ruff format --check tools host_tests firmware

bench: $(STAMP)
	$(BIN)/python -m drsctl.bench --out $(BENCH_OUT)

bench-commit:
	$(MAKE) bench BENCH_OUT=bench/results.json

# The lowest heap with the agent frozen in: builds MicroPython's unix port from a source tree.
# Writes FROZEN.md beside BENCH_OUT (bench/local/; BENCH_OUT=bench/results.json: the committed one).
bench-frozen:
	@test -n "$(MICROPY_SRC)" || { echo "usage: make bench-frozen MICROPY_SRC=path/to/micropython"; exit 2; }
	@$(MAKE) -s $(STAMP)
	@mkdir -p $(dir $(BENCH_OUT))
	$(BIN)/python -m drsctl.bench_frozen --src "$(MICROPY_SRC)" --update $(dir $(BENCH_OUT))

soak: $(STAMP)
	$(BIN)/python -m host_tests.proof.soak $(ARGS)

emulator: $(STAMP)
	$(BIN)/drsctl emulator --port $(PORT) --db emulator.sqlite3

# On a board, PORT is its serial port (the emulator's PORT is a TCP port: different targets).
deploy: $(STAMP)
	@case "$(PORT)" in /*|COM*) ;; *) echo "usage: make deploy PORT=/dev/ttyUSB0"; exit 2;; esac
	$(BIN)/drsctl deploy --port $(PORT)

provision: $(STAMP)
	@case "$(PORT)" in /*|COM*) ;; *) echo "usage: make provision PORT=/dev/ttyUSB0 CONFIG=provision.json"; exit 2;; esac
	$(BIN)/drsctl provision --port $(PORT) $(if $(CONFIG),--config $(CONFIG)) $(if $(CODE),--auth-code $(CODE))

virtual-board: $(STAMP)
	$(BIN)/drsctl virtual-board

clean:
	rm -rf $(VENV) build *.egg-info tools/*.egg-info demo.png bench/local tls
