#!/usr/bin/env bash
# Builds cascade-sim with profile-guided optimisation (PGO), the build for big runs and for the
# speed figures of README "## Performance": an instrumented release build runs the training
# workloads below, LLVM merges what they counted, and a second release build uses the profile
# to lay out and inline the hot paths (cascade-100k about 0.84x the CPU time of the plain
# release build in pairs). The profile comes from this checkout's code every time, so it is
# never stale; nothing binary is kept in the repository. Same results, bit for bit: PGO changes
# no arithmetic (`check` passes with either build, and `bench` prints the same trace hashes).
#
#   scripts/pgo-build.sh            # about 6 minutes on 2 cores; prints the binary's path
#   target/pgo/release/cascade-sim bench --workload cascade-100k
#
# Needs the rustup component llvm-tools (for llvm-profdata), which it installs if missing.
# `bench` names the build it measures: "release+pgo" for this one, "release" otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x "$profdata" ]]; then
    rustup component add llvm-tools >/dev/null
fi
if [[ ! -x "$profdata" ]]; then
    echo "pgo-build.sh: llvm-profdata not found at $profdata (rustup component add llvm-tools)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/cascade-sim-pgo.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== 1/3 instrumented build" >&2
RUSTFLAGS="-Cprofile-generate=$work/raw" cargo build --release --quiet --target-dir "$work/instrumented"
trainee="$work/instrumented/release/cascade-sim"

echo "== 2/3 training runs" >&2
# The engine's paths with and without the look-ahead (on from 5,000 hosts), the flow model's
# shared link and tree, the swarm, and whole runs with faults and outputs.
"$trainee" bench --workload kernel --workload shared-upload-10k --workload tree-10k \
    --workload cascade-10k --workload cascade-30k --workload swarm-1kx256 >&2
for scenario in quickstart fault-random fault-relay-crash commands; do
    "$trainee" run "scenarios/$scenario.json" --out "$work/out-$scenario" >/dev/null
done
"$profdata" merge -o "$work/cascade-sim.profdata" "$work/raw"

echo "== 3/3 optimised build" >&2
# A fresh target directory: cargo does not rebuild for a changed profile behind the same path.
rm -rf "$root/target/pgo"
CASCADE_SIM_BUILD=release+pgo RUSTFLAGS="-Cprofile-use=$work/cascade-sim.profdata" \
    cargo build --release --quiet --target-dir "$root/target/pgo"
echo "$root/target/pgo/release/cascade-sim"
