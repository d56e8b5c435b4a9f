# SparseFleet — the two front-door commands are `make demo` and `make test`.
# Every target installs what it needs first (tools/install-deps.sh), and nothing already there.

# One BLAS thread per process: a fleet gets its parallelism from processes (see README).
export OPENBLAS_NUM_THREADS ?= 1
export SPARSEFLEET_BLAS_THREADS ?= 1

SWIFT ?= swift

.PHONY: deps demo test build release bench clean

deps:
	@tools/install-deps.sh

## demo: the main job on the embedded default (today: the plumbing check `fleet doctor`).
demo: deps
	$(SWIFT) build -c release --product fleet
	.build/release/fleet doctor

## test: builds and runs the whole test suite.
test: deps
	$(SWIFT) test --disable-swift-testing

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

clean:
	rm -rf .build
