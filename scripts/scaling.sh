#!/usr/bin/env bash
# The scaling chart of README "## Performance": runs `cascade-sim bench` over a ladder of sizes,
# writes docs/img/scaling.csv (one row per run, the columns of `bench --csv`) and renders from it
# with `bench --chart` docs/img/scaling.svg (wall time of each run's simulation, as issue 11 asks)
# and docs/img/scaling-cpu.svg (CPU time of each run's process).
#
#   scripts/scaling.sh                    # the ladders (about 3 minutes on the 2-core development VM)
#   scripts/scaling.sh --with-issue-rows  # also swarm-2600x750 and swarm-10kx256 (about 1.5 min more)
#   scripts/scaling.sh --with-million     # also cascade-1m (about 5 minutes, 3.1 GB)
#   scripts/scaling.sh --chart-only       # re-render the SVGs from the existing CSV
#   REPEAT=3 scripts/scaling.sh           # each point the run of median CPU time of 3 (`bench
#                                         # --repeat 3`; the million runs once)
#
# Ladders (one workload at a time, each in its own child process):
#   raw transfers  shared-upload-N and tree-N, N = 1k 3k 10k 30k 100k flows
#   cascade        cascade-N, N = 1k 3k 10k 30k 100k servers, 256 chunks, fanout 4
#   swarm          swarm-Nx256, N = 100 300 1k 2600 peers, 256 pieces of 4 MB
# A ladder stops after the first point that takes more than LADDER_STOP_S (default 360 s) of
# wall time; every point is stopped after TIMEOUT_S (default 900 s) and recorded as not finished.
# Wall time is measured to the nanosecond but counts whatever else the machine does meanwhile; CPU
# time (user + sys of the workload's process) is disturbed less by that, but is counted in 10 ms
# ticks and includes the process's start. The captions name the machine (nproc, CPU model) and the
# date.
set -euo pipefail
cd "$(dirname "$0")/.."

csv=docs/img/scaling.csv
svg=docs/img/scaling.svg
svg_cpu=docs/img/scaling-cpu.svg
stop_s=${LADDER_STOP_S:-360}
timeout_s=${TIMEOUT_S:-900}
repeat=${REPEAT:-1}
issue_rows=false
million=false
chart_only=false
for arg in "$@"; do
    case "$arg" in
        --with-issue-rows) issue_rows=true ;;
        --with-million) million=true ;;
        --chart-only) chart_only=true ;;
        *) echo "scaling.sh: unknown argument \`$arg\` (--with-issue-rows, --with-million, --chart-only)" >&2; exit 2 ;;
    esac
done

cargo build --release --quiet
# A copy, so that a rebuild while the ladders run does not swap the binary under them.
bin=$(mktemp /tmp/cascade-sim-scaling.XXXXXX)
trap 'rm -f "$bin" "$csv.new"' EXIT
cp target/release/cascade-sim "$bin"
chmod +x "$bin"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
caption="$(nproc) cores ($cpu), $(date -u +%Y-%m-%d)"

if ! $chart_only; then
    rm -f "$csv.new"
    # Runs one workload, appends its row (and the header first), and says whether the ladder
    # may go on.
    point() {
        local out row
        out=$("$bin" bench --csv --timeout-s "$timeout_s" --repeat "$repeat" --workload "$1") || {
            echo "scaling.sh: bench --workload $1 failed" >&2
            exit 1
        }
        [ -s "$csv.new" ] || sed -n 1p <<< "$out" > "$csv.new"
        row=$(sed -n 2p <<< "$out")
        echo "$row" >> "$csv.new"
        echo "  $row" >&2
        # Columns: workload,family,size,pieces,finished,wall_s,...
        awk -F, -v stop="$stop_s" '{ exit !($5 == "true" && $6 <= stop) }' <<< "$row"
    }
    ladder() {
        for w in "$@"; do
            point "$w" || { echo "  ladder stopped after $w" >&2; break; }
        done
    }
    ladder shared-upload-1k shared-upload-3k shared-upload-10k shared-upload-30k shared-upload-100k
    ladder tree-1k tree-3k tree-10k tree-30k tree-100k
    ladder cascade-1k cascade-3k cascade-10k cascade-30k cascade-100k
    if $million; then
        TIMEOUT_1M_S=${TIMEOUT_1M_S:-7200}
        timeout_s=$TIMEOUT_1M_S repeat=1 point cascade-1m || true
    fi
    ladder swarm-100x256 swarm-300x256 swarm-1kx256 swarm-2600x256
    if $issue_rows; then
        point swarm-2600x750 || true
        point swarm-10kx256 || true
    fi
    mv "$csv.new" "$csv"
fi
"$bin" bench --chart "$csv" --out "$svg" --caption "$caption" --time wall
"$bin" bench --chart "$csv" --out "$svg_cpu" --caption "$caption; CPU time = user + sys of each workload's own process" --time cpu
