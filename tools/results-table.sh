#!/usr/bin/env bash
# The sparse-update results table of BENCHMARKS.md (issue 14 §5), in two lanes, one per core:
#   lane int8: the int8/QAS device on the 256 KB budget-driven layout;
#   lane fp32: the fp32 device on the same layouts, and dense;
#   lanes ablation, explicit, epochs and the converged-* lanes (not part of `both`): see below.
# Every row searches its rates (and constant against cosine) on the held-out slice at seed 0 and
# keeps them for seeds 1–4; the test set is only evaluated. Writes OUT/<row>.md (the table rows,
# as engine-bench prints them), OUT/<row>.json and OUT/<row>.log.
#   tools/results-table.sh [OUT] [int8|fp32|ablation|explicit|epochs|converged|converged-int8|converged-rest|converged-explicit|converged-final|both]
#   python3 tools/results_summary.py OUT      # the combined table and the paired differences
set -euo pipefail
out=${1:-results}; lanes=${2:-both}
mkdir -p "$out"
bin=.build/release/engine-bench
[ -x "$bin" ] || swift build -c release --product engine-bench
tiny="_conv_head=0.125,_blocks.15._project_conv=0.125,_blocks.15._expand_conv=0.25,_blocks.14._project_conv=0.125,_blocks.14._expand_conv=0.125,_blocks.13._project_conv=0.0625,_blocks.13._expand_conv=0.0625"
grid=(--per-group --ci --no-mobilenet --head-grid 0.001,0.01 --bias-grid 0.003 --weights-grid 0.0001,0.0003 --schedule-grid constant,cosine)

row() {  # row NAME ARGS...: one engine-bench invocation (the log's first line names the commit and CPU)
    local name=$1; shift
    echo "== $name ($(date -u +%H:%M))"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernels ${SPARSEFLEET_KERNELS:-default}" > "$out/$name.log"
    "$bin" results "${grid[@]}" "$@" --json "$out/$name.json" > "$out/$name.md" 2>> "$out/$name.log"
    tail -n +3 "$out/$name.md"
}

# The budget-driven rows of BENCHMARKS.md's table (2026-12-02).
lane_int8() {
    row int8-budget --seeds 5 --policies static,dgsu,random,bias,head --precisions int8
}
lane_fp32() {
    row fp32-budget --seeds 5 --policies static,dgsu,random,bias,head,dense --precisions fp32
}
# Why DGSU does (not) beat static: its age horizon and importance measure, and every policy at the
# same rates (the held-out search picks the classifier's rate per policy, and that rate moves the
# accuracy as much as the policy does).
lane_ablation() {
    row ablation-age2 --seeds 3 --policies dgsu --precisions fp32 --age-horizon 2 --label "age horizon 2"
    row ablation-weight --seeds 3 --policies dgsu --precisions fp32 --importance weight --label "weight importance"
    row ablation-equal-rates --seeds 3 --policies static,dgsu,random --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --label "equal rates"
}
# Is one epoch enough? Two epochs at the equal-rates row's fixed rates (compare ablation-equal-rates).
lane_epochs() {
    row epochs-2 --seeds 3 --policies static,dgsu --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 2 --label "2 epochs"
    row epochs-3-static --seeds 3 --policies static --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 3 --label "3 epochs" &
    row epochs-3-dgsu --seeds 3 --policies dgsu --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 3 --label "3 epochs"
    wait
}
# The tiny-training-style explicit layout (7 layers, the biases of the last 20 convs), both devices
# (BENCHMARKS.md, 2026-12-04).
lane_explicit() {
    row int8-explicit --seeds 5 --policies static,dgsu,random --precisions int8 --layout-weights "$tiny" --layout-biases 20 --label "explicit layout"
    row fp32-explicit --seeds 5 --policies static,dgsu,random --precisions fp32 --layout-weights "$tiny" --layout-biases 20 --label "explicit layout"
}
# At convergence (BENCHMARKS.md, 2026-12-04): 5 epochs, where three more add 0.3 points (static, fp32,
# seed 0: 86.76 / 87.38 / 87.76 / 88.05 % after 2 / 3 / 5 / 8 epochs). One shared rate per device for
# every policy, chosen on the held-out slice by the one-epoch search: fp32 the static row's
# (0.001, 0.003, 0.0003), int8 the choice of two of its three weight policies (0.01, 0.003, 0.0003).
lane_converged() {
    row fp32-converged --seeds 5 --policies static,dgsu,random --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 5 --label "5 epochs"
    row ablation-weight-converged --seeds 5 --policies dgsu --precisions fp32 --importance weight --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 5 --label "5 epochs, weight importance"
}
lane_converged_int8() {
    row int8-converged --seeds 5 --policies static,dgsu,random --precisions int8 --rates 0.01,0.003,0.0003 --schedule-grid cosine --epochs 5 --label "5 epochs"
}
# The rest of the table at 5 epochs (2026-12-06), at the same shared rates: head and bias on both
# devices, then dense (batch 8: its rate 0.03 is its one-epoch held-out choice, the schedule is
# chosen on the held-out slice again).
lane_converged_rest() {
    row fp32-converged-head-bias --seeds 5 --policies head,bias --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 5 --label "5 epochs"
    row int8-converged-head-bias --seeds 5 --policies head,bias --precisions int8 --rates 0.01,0.003,0.0003 --schedule-grid cosine --epochs 5 --label "5 epochs"
    row fp32-converged-dense --seeds 5 --policies dense --precisions fp32 --rates 0.03,0.03,0.03 --schedule-grid constant,cosine --epochs 5 --label "5 epochs"
}
# The explicit layout at 5 epochs, both devices, each at its device's shared rates, 5 seeds.
lane_converged_explicit() {
    row int8-explicit-converged --seeds 5 --policies static,dgsu,random --precisions int8 --rates 0.01,0.003,0.0003 --schedule-grid cosine --epochs 5 --layout-weights "$tiny" --layout-biases 20 --label "explicit layout, 5 epochs"
    row fp32-explicit-converged --seeds 5 --policies static,dgsu,random --precisions fp32 --rates 0.001,0.003,0.0003 --schedule-grid cosine --epochs 5 --layout-weights "$tiny" --layout-biases 20 --label "explicit layout, 5 epochs"
}
# What the 2026-12-08 session ran to finish the converged table, one lane per core, seeds split
# over processes with --first-seed (the rates are fixed, so no part re-chooses them; dense's second
# part fixes cosine, its seed-0 held-out choice): the explicit layout's dgsu, random and bias rows on
# both devices, and dense. results_summary.py joins ROW.PART.json files into ROW.
explicit_part() {  # explicit_part DEVICE PART POLICY FIRST COUNT
    local device=$1 part=$2 policy=$3 first=$4 count=$5 rates=0.001,0.003,0.0003
    [ "$device" = int8 ] && rates=0.01,0.003,0.0003
    row "$device-explicit-converged.$part" --policies "$policy" --first-seed "$first" --seeds "$count" --precisions "$device" --rates "$rates" \
        --schedule-grid cosine --epochs 5 --layout-weights "$tiny" --layout-biases 20 --label "explicit layout, 5 epochs"
}
dense_part() {  # dense_part PART FIRST COUNT SCHEDULES
    row "fp32-converged-dense.$1" --seeds "$3" --first-seed "$2" --policies dense --precisions fp32 --rates 0.03,0.03,0.03 --schedule-grid "$4" --epochs 5 --label "5 epochs"
}
lane_converged_final() {
    { explicit_part int8 dgsu-2-4 dgsu 2 3; explicit_part int8 random random 0 5; explicit_part fp32 random random 0 5
      dense_part s0-2 0 3 constant,cosine; } > "$out/lane-final-a.txt" &
    { explicit_part fp32 static static 0 5; explicit_part fp32 dgsu dgsu 0 5; dense_part s3-4 3 2 cosine
      explicit_part int8 bias bias 0 5; explicit_part fp32 bias bias 0 5; } > "$out/lane-final-b.txt"
    wait
}
case $lanes in
    int8) lane_int8 ;;
    fp32) lane_fp32 ;;
    ablation) lane_ablation ;;
    explicit) lane_explicit ;;
    epochs) lane_epochs ;;
    converged) lane_converged ;;
    converged-int8) lane_converged_int8 ;;
    converged-rest) lane_converged_rest ;;
    converged-explicit) lane_converged_explicit ;;
    converged-final) lane_converged_final ;;
    both) lane_int8 > "$out/lane-int8.txt" & lane_fp32 > "$out/lane-fp32.txt"; wait ;;
    *) echo "lanes: int8, fp32, ablation, explicit, epochs, converged, converged-int8, converged-rest, converged-explicit, converged-final or both" >&2; exit 2 ;;
esac
