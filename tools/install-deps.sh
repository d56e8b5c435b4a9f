#!/usr/bin/env bash
# Installs what SparseFleet needs on Debian bookworm, and nothing that is already there.
# Usage: tools/install-deps.sh            (system packages for build, tests and the demo)
set -euo pipefail

# slurmctld slurmd slurm-client munge: the one-machine Slurm cluster of `fleet submit --slurm`'s tests
apt_packages=(libzmq3-dev libopenblas-dev zlib1g-dev pkg-config dataset-fashion-mnist slurmctld slurmd slurm-client munge)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "==> installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "error: swift is not on PATH; install Swift 6.3 (https://swift.org/install) and retry" >&2
  exit 1
fi

# Python packages for tools/interop_client.py and its test (pyzmq + protobuf runtime).
if command -v python3 >/dev/null 2>&1; then
  if ! python3 -c 'import zmq, google.protobuf, numpy' 2>/dev/null; then
    echo "==> installing Python packages (numpy, tools/requirements-interop.txt)"
    python3 -m pip install -q numpy -r tools/requirements-interop.txt
  fi
else
  echo "warning: python3 not found; the interop test and the weights importer need it" >&2
fi
