#!/usr/bin/env bash
# Compares the speed of two builds of cascade-sim on one bench workload, the way README
# "## Performance" measures its "pairs": both binaries run the workload at once, one per core,
# PAIRS times, so a slow moment of a shared machine costs both alike (one run alone moves by
# about 5 % from minute to minute on the 2-core development VM, which hides changes of a few
# per cent). Prints each pair's CPU times and their ratio B/A, then the medians, and the same for
# user time alone where both builds report the system part (`sys_s`, builds from 2026-11-29 on):
# on the development VM the kernel's first touch of fresh memory moves a run's system time by up
# to a second (README, "Fresh memory on the development VM"), which user time leaves out. A pair
# whose two runs differ in events or trace hash is an error (the builds do not simulate the same
# run).
# COMPARE_EVENTS_ONLY=1 compares the events alone: for a build from before 2026-11-29, whose
# trace hash is version 1 (FNV-1a) where a newer build's is version 2.
#
#   scripts/compare-binaries.sh BIN_A BIN_B WORKLOAD [PAIRS]   # PAIRS defaults to 3
#   scripts/compare-binaries.sh /tmp/before target/release/cascade-sim cascade-100k 5
#
# Build the two binaries first (copy one away before building the other) and build nothing
# while it runs. Needs two cores and python3.
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
    echo "usage: compare-binaries.sh BIN_A BIN_B WORKLOAD [PAIRS]" >&2
    exit 2
fi
bin_a=$1
bin_b=$2
workload=$3
pairs=${4:-3}
for bin in "$bin_a" "$bin_b"; do
    if [[ ! -x "$bin" ]]; then
        echo "compare-binaries.sh: \`$bin\` is not an executable" >&2
        exit 2
    fi
done
if ! [[ "$pairs" =~ ^[1-9][0-9]*$ ]]; then
    echo "compare-binaries.sh: PAIRS must be a positive whole number, not \`$pairs\`" >&2
    exit 2
fi

out=$(mktemp -d /tmp/compare-binaries.XXXXXX)
trap 'rm -rf "$out"' EXIT
for pair in $(seq "$pairs"); do
    "$bin_a" bench --workload "$workload" --json >"$out/a$pair.json" &
    run_a=$!
    "$bin_b" bench --workload "$workload" --json >"$out/b$pair.json" &
    run_b=$!
    wait "$run_a"
    wait "$run_b"
done

python3 - "$out" "$pairs" "$workload" "${COMPARE_EVENTS_ONLY:-0}" <<'EOF'
import json, statistics, sys
out, pairs, workload, events_only = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
def run(name):
    with open(f"{out}/{name}.json") as f:
        rows = json.load(f)
    if len(rows) != 1:
        sys.exit(f"compare-binaries.sh: {name}: expected one measurement, got {len(rows)}")
    return rows[0]
a_cpu, b_cpu, ratios = [], [], []
a_user, b_user, user_ratios = [], [], []
print(f"{workload}: CPU seconds (of which system), A and B run at once")
for pair in range(1, pairs + 1):
    a, b = run(f"a{pair}"), run(f"b{pair}")
    # `detail` ends with the run's trace hash; events and trace must agree.
    same_trace = events_only or a["detail"].split("trace")[-1] == b["detail"].split("trace")[-1]
    if a["events"] != b["events"] or not same_trace:
        sys.exit(f"compare-binaries.sh: pair {pair}: the builds ran different simulations:\n  A {a['events']} events, {a['detail']}\n  B {b['events']} events, {b['detail']}")
    a_cpu.append(a["cpu_s"]); b_cpu.append(b["cpu_s"]); ratios.append(b["cpu_s"] / a["cpu_s"])
    sys_part = lambda m: f" ({m['sys_s']:.2f})" if m.get("sys_s") is not None else ""
    line = f"  pair {pair}: A {a['cpu_s']:.2f} s{sys_part(a)}  B {b['cpu_s']:.2f} s{sys_part(b)}  B/A {ratios[-1]:.3f}"
    if a.get("sys_s") is not None and b.get("sys_s") is not None:
        a_user.append(a["cpu_s"] - a["sys_s"]); b_user.append(b["cpu_s"] - b["sys_s"])
        user_ratios.append(b_user[-1] / a_user[-1])
        line += f"  user B/A {user_ratios[-1]:.3f}"
    print(line)
faster = sum(r < 1 for r in ratios)
print(f"median: A {statistics.median(a_cpu):.2f} s  B {statistics.median(b_cpu):.2f} s  "
      f"B/A {statistics.median(ratios):.3f} (B faster in {faster} of {pairs})")
if len(user_ratios) == pairs:
    faster = sum(r < 1 for r in user_ratios)
    print(f"user time alone: A {statistics.median(a_user):.2f} s  B {statistics.median(b_user):.2f} s  "
          f"B/A {statistics.median(user_ratios):.3f} (B faster in {faster} of {pairs})")
EOF
