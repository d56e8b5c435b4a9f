#!/usr/bin/env bash
# `make bench-fleet` (issue 16): SparseFleet's fleet throughput against a Flower baseline, measured
# in one run on this machine, with the ratio.
#   tools/bench-fleet.sh [OUT]          (DEVICES=16 ROUNDS=3 STEPS=20 by default)
# For each plan (1MB at batch 8, the plan that trains weight channels; 256KB at batch 1, the real
# device setting), both precisions of the simulated device:
#   1. `node bench`, one process per core at the same time, the devices split between them;
#   2. tools/bench_flower.py: the same layout (read from node bench's --json), devices, batch,
#      local steps and synthetic data under Flower's simulation engine (Ray), one actor per core,
#      PyTorch clients.
# Prints both engines' device-steps/s of the steady rounds (2..ROUNDS), the ratio, and the
# trainable tail's FLOPs as a fraction of this core's sgemm peak. flwr[simulation] and torch go
# into a virtualenv ($BENCH_VENV, default ~/.cache/sparsefleet/bench-venv), never into CI.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-fleet}
devices=${DEVICES:-16} rounds=${ROUNDS:-3} steps=${STEPS:-20}
cores=$(nproc)
per=$(( devices / cores )); [ "$per" -ge 1 ] || per=1
venv=${BENCH_VENV:-$HOME/.cache/sparsefleet/bench-venv}
export OPENBLAS_NUM_THREADS=1 SPARSEFLEET_BLAS_THREADS=1
mkdir -p "$out"

swift build -c release --product node > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
if ! "$venv/bin/python" -c "import flwr, torch" 2> /dev/null; then
    echo "==> installing flwr[simulation] 1.42.0 and torch (CPU) into $venv (once)"
    python3 -m venv "$venv"
    wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2> /dev/null | head -1 || true)
    "$venv/bin/pip" install -q "${wheel:-torch}" "flwr[simulation]==1.42.0"
fi

echo "==> $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $cores cores, $(date -u +%F)"
for plan in "1MB 8" "256KB 1"; do
    set -- $plan; budget=$1 batch=$2
    precisions="int8 fp32"
    # An fp32 device cannot train at 256 KB at all (its frozen front alone needs 500 KB at 64×64).
    [ "$budget" = 256KB ] && precisions=int8
    for precision in $precisions; do
        name="$budget-b$batch-$precision"
        echo "==> SparseFleet $name: $cores node bench processes × $per devices, $rounds rounds of $steps steps"
        for i in $(seq 0 $((cores - 1))); do
            .build/release/node bench --devices "$per" --rounds "$rounds" --steps "$steps" --batch "$batch" --budget "$budget" \
                --precision "$precision" --json "$out/$name-sparsefleet-$i.json" > "$out/$name-sparsefleet-$i.log" 2>&1 &
        done
        wait
    done
    name="$budget-b$batch"
    echo "==> Flower $name: $((per * cores)) devices, $cores Ray actors, $rounds rounds of $steps steps"
    "$venv/bin/python" tools/bench_flower.py --layout "$out/$name-int8-sparsefleet-0.json" --devices $((per * cores)) \
        --rounds "$rounds" --actors "$cores" --json "$out/$name-flower.json" > "$out/$name-flower.log" 2>&1 \
        || { tail -30 "$out/$name-flower.log"; exit 1; }
done
python3 tools/bench_fleet_summary.py "$out"
