#!/usr/bin/env bash
# Regenerates every chart the README shows (docs/img/) and prints every figure it quotes, from
# the commands the README names: `run`, `compare`, `sweep` and `report` on the bundled
# scenarios. Outputs go to reports/docs/; the charts are copied into docs/img/; the figures are
# printed as Markdown tables, section by section, to paste into the README.
#
#   scripts/regenerate-docs.sh            # about 5 minutes on two cores
#
# The README's reference table (every strategy on every fast reference, with the ratios to the
# bound and to the optimum) is not regenerated here: scripts/reference-table.sh does it and
# rewrites the README itself (about 11 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
sim=target/release/cascade-sim
out=reports/docs
img=docs/img
mkdir -p "$img"
rm -rf "$out"

run() { # run NAME SCENARIO [ARGS...]: one run into $out/NAME, summary printed
  local name=$1 scenario=$2
  shift 2
  "$sim" run "scenarios/$scenario.json" --out "$out/$name" "$@" | grep -v '^wrote'
}
section() { printf '\n### %s\n\n' "$1"; }

section "Quickstart (README: top; charts quickstart-*.svg)"
run quickstart quickstart
cp "$out/quickstart/completion.svg" "$img/quickstart-completion.svg"
cp "$out/quickstart/lag.svg" "$img/quickstart-lag.svg"

section "Dynamic switching (switching.svg)"
run switching-index switching-on --set clients[0].jobs[0].strategy.index_lists=true \
  --set clients[0].jobs[0].strategy.dynamic_switching=false
run switching-full switching-off
run switching-full-switch switching-on
"$sim" report "$out/switching-index" "$out/switching-full" "$out/switching-full-switch" \
  --labels "index lists,full lists no switching,full lists + switching" \
  --metrics makespan_s,ratio_to_bound,jobs[0].switches --out "$out/switching"
cp "$out/switching/report_cdf.svg" "$img/switching.svg"

section "Dynamic switching at the defaults (switching-defaults.svg)"
s='clients[0].jobs[0].strategy'
run switching-defaults switching-defaults
run switching-defaults-off switching-defaults --set "$s.dynamic_switching=false"
for seed in 1 2 3 4 5; do
  printf 'seed %s: on ' "$seed"
  "$sim" run scenarios/switching-defaults.json --seed "$seed" --out "$out/sd-$seed-on" | grep '^makespan'
  printf 'seed %s: off ' "$seed"
  "$sim" run scenarios/switching-defaults.json --seed "$seed" --set "$s.dynamic_switching=false" \
    --out "$out/sd-$seed-off" | grep '^makespan'
done
run switching-on-10 switching-on --set "$s.max_switches=10"
run flapping-no-switching fault-flapping-link --set "$s.dynamic_switching=false"
"$sim" report "$out/switching-defaults" "$out/switching-defaults-off" --labels "switching on,switching off" \
  --metrics makespan_s,ratio_to_bound,jobs[0].switches --out "$out/switching-defaults-report"
cp "$out/switching-defaults-report/report_cdf.svg" "$img/switching-defaults.svg"

section "Moving on against the pipelined cascade; the Dragonfly-like case"
for f in dragonfly-like quickstart switching-defaults; do
  run "$f-pipelined" "$f" > /dev/null
  run "$f-move-on" "$f" --set "$s.move_on=true" > /dev/null
  printf '%s: pipelined ' "$f"; grep -o '"makespan_s": [0-9.]*' "$out/$f-pipelined/results.json" | head -1
  printf '%s: move-on ' "$f"; grep -o '"makespan_s": [0-9.]*' "$out/$f-move-on/results.json" | head -1
done
run dragonfly-like dragonfly-like

section "Data-rate sort order (rate-sort.svg)"
run rate-sort-on rate-sort-on
run rate-sort-off rate-sort-off
run rate-sort-off-no-switching rate-sort-off --set clients[0].jobs[0].strategy.dynamic_switching=false
"$sim" report "$out/rate-sort-on" "$out/rate-sort-off" --labels "rate sort on,rate sort off" \
  --metrics makespan_s,jobs[0].live_stream.servers_sustained,jobs[0].live_stream.lag_s.p99 --out "$out/rate-sort"
cp "$out/rate-sort/report_cdf.svg" "$img/rate-sort.svg"

section "Multiple node handling (fanout.svg)"
s='clients[0].jobs[0].strategy'
run fanout-1 adaptive-fanout --set "$s.fanout=1" --set "$s.adaptive_fanout=false"
run fanout-2 adaptive-fanout --set "$s.fanout=2" --set "$s.adaptive_fanout=false"
run fanout-6 adaptive-fanout --set "$s.fanout=6" --set "$s.adaptive_fanout=false"
run fanout-adaptive adaptive-fanout --set "$s.fanout=6" --set "$s.adaptive_fanout=true"
"$sim" report "$out/fanout-1" "$out/fanout-2" "$out/fanout-6" "$out/fanout-adaptive" \
  --labels "fanout 1,fanout 2,fanout 6,adaptive up to 6" --metrics makespan_s,ratio_to_bound --out "$out/fanout"
cp "$out/fanout/report_cdf.svg" "$img/fanout.svg"

section "Commands and multiple clients (commands.svg, multi-client.svg, multi-client-lag.svg)"
run commands commands
cp "$out/commands/progress.svg" "$img/commands.svg"
run multi-client multi-client
cp "$out/multi-client/completion.svg" "$img/multi-client.svg"
cp "$out/multi-client/lag.svg" "$img/multi-client-lag.svg"

section "Strategies (strategies-*.svg; the strategy table)"
"$sim" compare scenarios/quickstart.json --seeds 5 --log-x --out "$out/strategies-quickstart" | grep -v '^wrote'
cp "$out/strategies-quickstart/compare_cdf.svg" "$img/strategies-quickstart.svg"
cp "$out/strategies-quickstart/compare_makespan.svg" "$img/strategies-quickstart-makespan.svg"
"$sim" compare scenarios/cascade-1000.json --seeds 3 --log-x --out "$out/strategies-1000" | grep -v '^wrote'
cp "$out/strategies-1000/compare_cdf.svg" "$img/strategies-1000.svg"

section "Faults: resume against restart from zero (fault-*.svg; the resume table)"
labels=() dirs=()
for f in fault-relay-crash fault-first-node fault-partition fault-dead-server fault-flapping-link fault-random; do
  run "$f" "$f" > /dev/null
  run "$f-restart" "$f" --set faults.resume=false > /dev/null
  cp "$out/$f/completion.svg" "$img/$f.svg"
  dirs+=("$out/$f" "$out/$f-restart")
  labels+=("$f resume" "$f restart")
done
"$sim" report "${dirs[@]}" --labels "$(IFS=,; echo "${labels[*]}")" \
  --metrics jobs[0].closed_s,bytes.received,bytes.resent,jobs[0].accountability.verdicts.repaired_then_completed,jobs[0].accountability.verdicts.failed \
  --out "$out/faults"

section "Sweep (sweep-fanout.svg)"
time "$sim" sweep scenarios/sweeps/fanout.json --out "$out/sweep-fanout"
cp "$out/sweep-fanout/makespan_s_vs_clients_0__jobs_0__strategy_fanout.svg" "$img/sweep-fanout.svg"

section "One page for everything above"
"$sim" report "$out/quickstart" "$out/multi-client" "$out/strategies-quickstart" "$out/sweep-fanout" --out "$out/overview" \
  > /dev/null
echo "open $out/overview/report.html"
