# Entry points used by README.md and .ci/run. Each target installs what it needs first.
SCENARIO ?= Scenarios/pbft/normal-case.yaml

.PHONY: setup setup-core run test bench reports specs
setup:
	@scripts/setup.sh

# libsodium only (no Chromium): enough to build and run.
setup-core:
	@BFTSIM_NO_CHROMIUM=1 scripts/setup.sh

# Runs the default scenario end to end (release build: the simulator is 20-25x faster than debug).
run: setup-core
	swift build -c release --product bftsim
	.build/release/bftsim run $(SCENARIO) --check-determinism

# The whole test suite (Swift Testing). CI runs exactly this.
test: setup
	swift build --build-tests
	swift test

bench: setup-core
	swift build -c release --product bftsim
	.build/release/bftsim bench

# Regenerates the sample reports in Reports/ (see Reports/README.md).
reports: setup
	scripts/reports.sh

# SPIN-checks Specs/pbft.pml and Specs/hotstuff.pml, honest and every mutant switch (Specs/README.md).
specs: setup-core
	swift build --product bftsim
	.build/debug/bftsim spec check
