#!/usr/bin/env bash
# Regenerates the committed protobuf code from proto/sparsefleet.proto:
#   Sources/Wire/Generated/sparsefleet.pb.swift   (Swift, public, for the Wire module)
#   tools/sparsefleet_pb2.py                      (Python, for tools/interop_client.py)
#
# Needs Debian's protoc (apt-get install protobuf-compiler; 3.21.12 on bookworm) and
# protoc-gen-swift from swift-protobuf 1.39.0, matching the SwiftProtobuf runtime in
# Package.swift. Build the plugin once, outside this repository (about 1-3 minutes):
#   git clone https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#   (cd /tmp/swift-protobuf && git checkout 1.39.0 && swift build -c release --product protoc-gen-swift)
# then run:  PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift tools/gen-proto.sh
# Never use swift-protobuf's build plugin: it compiles protoc from source (about 18 minutes).
#
# The Python output needs the protobuf runtime 4.21.x (tools/requirements-interop.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
if [ -z "$plugin" ] || [ ! -x "$plugin" ]; then
  echo "error: protoc-gen-swift not found; build it (see the top of $0) and set PROTOC_GEN_SWIFT" >&2
  exit 1
fi
if ! command -v protoc >/dev/null 2>&1; then
  echo "error: protoc not found; install it with: apt-get install protobuf-compiler" >&2
  exit 1
fi

mkdir -p Sources/Wire/Generated
protoc --proto_path=proto \
  --plugin=protoc-gen-swift="$plugin" \
  --swift_out=Sources/Wire/Generated \
  --swift_opt=Visibility=Public \
  --python_out=tools \
  proto/sparsefleet.proto

echo "generated with $(protoc --version) and $("$plugin" --version):"
echo "  Sources/Wire/Generated/sparsefleet.pb.swift"
echo "  tools/sparsefleet_pb2.py"
