//! `cascade-sim`: the command-line interface. A thin layer over the library: parse arguments,
//! load the scenario, run, print a summary, write outputs.
//!
//! Exit status: 0 success; 1 drift (`check`) or a failure of the system or of ours (I/O);
//! 2 bad input: any problem with a file or an argument, the message naming the file and the
//! JSON path, nothing written; 141 when stdout is closed early (`| head`), quietly, as a
//! process killed by SIGPIPE would report.

use anyhow::Context;
use cascade_sim::kernel::TraceHashVersion;
use cascade_sim::report::output::{self, OutputError, OutputKind};
use cascade_sim::report::scaling::ChartTime;
use cascade_sim::report::{Results, RunOutputs};
use cascade_sim::scenario::{self, Scenario, ScenarioError};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `--out DIR` means, shown in `--help` of every command that writes.
const OUT_RULES: &str = "A new directory is written as a whole (a temporary directory beside it, \
renamed); into an existing one the files are renamed in one by one, and cascade-sim's manifest \
(.cascade-sim-outputs.json) records what it wrote, so the stale files of an earlier output of the same \
kind (e.g. trace.json) are removed and nothing else is touched. An existing directory without a \
manifest must hold only files cascade-sim writes. A symbolic link is never followed. On any error \
nothing is written.";

/// Deterministic simulator of cascaded streaming-media distribution (US 2002/0065918 A1).
///
/// Exit status: 0 ok, 1 drift (check) or an I/O failure, 2 bad input (file or argument),
/// 141 stdout closed early.
#[derive(Parser)]
#[command(name = "cascade-sim", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What a sweep file holds, shown by `sweep --help`.
const SWEEP_FILE: &str = "The sweep file (JSON, unknown fields rejected):

  {
    \"scenario\": \"../cascade-1000.json\",
    \"parameters\": [
      { \"path\": \"network.groups[0].count\", \"values\": [100, 1000, 10000] },
      { \"path\": \"clients[0].jobs[0].strategy.fanout\", \"values\": [1, 2, 4, 8] }
    ],
    \"seeds\": [1, 2, 3],
    \"metrics\": [\"makespan_s\", \"ratio_to_bound\", \"jobs[0].closed_s\", \"bytes.resent\"]
  }

scenario: the base scenario, relative to the sweep file. parameters: scenario fields by JSON path \
(the syntax of error messages) and the values each takes (numbers, booleans, strings); the grid is \
every combination, the first parameter varying slowest. seeds: run at every grid point (at least \
one; two or more give confidence intervals). metrics: paths of number or boolean fields of \
results.json, per-job ones included (jobs[0].duty.repairs, jobs[0].live_stream.lag_s.p99; see \
`cascade-sim schema --results`), checked before anything runs; default makespan_s and \
ratio_to_bound.

Outputs: sweep.json (the spec), runs.csv (one row per run: run, parameters, seed, metrics), \
summary.csv (per grid point and metric: n, mean, sd, ci95_low, ci95_high over the seeds, Student \
t) and <metric>_vs_<parameter>.svg (means with 95 % intervals).

Example:
  cascade-sim sweep scenarios/sweeps/fanout.json --out reports/sweep-fanout
  cascade-sim sweep scenarios/sweeps/fanout.json --out shard0 --shard 0/2   # then merge";

#[derive(Subcommand)]
enum Command {
    /// Run one scenario: print a summary and write results.json, CSV data (nodes, streams,
    /// throughput, progress, live), charts (completion.svg/.png, timeline.svg, throughput.svg,
    /// progress.svg, lag.svg) and index.html into --out.
    #[command(after_help = "Examples:
  cascade-sim run scenarios/quickstart.json --out reports/quickstart
  cascade-sim run scenarios/fault-relay-crash.json --set faults.resume=false --out reports/restart
  cascade-sim run scenarios/multi-client.json --seed 7 --trace --log-x")]
    Run {
        /// Scenario file (JSON).
        scenario: PathBuf,
        /// Output directory (default: reports/<the scenario's name, made one safe path
        /// component>).
        #[arg(long, long_help = format!("Output directory (default: reports/<the scenario's name as one safe path component: letters, digits, -, _, . kept, anything else _, no leading dot>). {OUT_RULES}"))]
        out: Option<PathBuf>,
        /// Seed for every random stream, overriding the scenario's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write trace.json (Chrome trace event format: open it in Perfetto or
        /// chrome://tracing) with every control message; messages go to a temporary file beside
        /// the outputs as they are sent, so a big trace costs disk, not memory.
        #[arg(long)]
        trace: bool,
        /// Set a scenario field before running, PATH=VALUE (a JSON value; repeatable), e.g.
        /// `faults.resume=false`, `clients[0].jobs[0].strategy.fanout=2`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Logarithmic time axis on the completion chart (chosen by itself when the jobs'
        /// scales differ by 10× or more).
        #[arg(long)]
        log_x: bool,
        /// The function of `trace_hash`: 2 (the default) or 1, FNV-1a as builds before
        /// 2026-11-29 computed it, to compare with their results.
        #[arg(long, value_name = "N", value_parser = parse_trace_hash_version)]
        trace_hash_version: Option<TraceHashVersion>,
    },
    /// Check scenario files without running them.
    #[command(after_help = "Example:\n  cascade-sim validate scenarios/*.json")]
    Validate {
        /// Scenario files (JSON).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Run one scenario under several strategies over the same seeds: a table of means with
    /// 95 % confidence intervals, compare.csv (per strategy: n, mean, sd, ci95_low, ci95_high of
    /// every metric), compare_runs.csv (per strategy and seed), compare.md (a Markdown table:
    /// makespan, ratio to the bound, to the closed-form optimum and to the `optimal` reference,
    /// wall time), an overlay of completion CDFs and a makespan bar chart with the intervals and
    /// the lower bound.
    #[command(after_help = "Examples:
  cascade-sim compare scenarios/quickstart.json --out reports/compare-quickstart
  cascade-sim compare scenarios/cascade-1000.json --strategies tree,cascade --seeds 10 --out reports/c")]
    Compare {
        /// Scenario file (JSON).
        scenario: PathBuf,
        /// Comma-separated strategies, or `all` for every registered one.
        #[arg(long, value_delimiter = ',', default_value = "star,chain,tree,cascade,swarm")]
        strategies: Vec<String>,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
        /// First seed, overriding the scenario's.
        #[arg(long)]
        seed: Option<u64>,
        /// Replications: run every strategy with this many seeds (the first seed and the ones
        /// after it) and report means with Student-t 95 % confidence intervals.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        seeds: u32,
        /// Set a scenario field before running, PATH=VALUE (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Logarithmic time axis on the CDF overlay (chosen by itself when the strategies'
        /// makespans differ by 10× or more).
        #[arg(long)]
        log_x: bool,
    },
    /// Run a grid of parameter values times seeds in parallel: runs.csv, summary.csv (means
    /// and 95 % confidence intervals over the seeds) and one chart per metric and parameter.
    /// With --shard I/N, only runs k with k mod N = I (merge the shards with `merge`).
    #[command(after_help = SWEEP_FILE)]
    Sweep {
        /// Sweep file (JSON).
        sweep: PathBuf,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
        /// Run one slice of the grid, e.g. 0/4 (for Slurm arrays, GNU parallel, ...).
        #[arg(long)]
        shard: Option<cascade_sim::analysis::sweep::Shard>,
    },
    /// Join sweep shards into the files a single sweep run writes.
    #[command(after_help = "Example:\n  cascade-sim merge shard0 shard1 --out reports/sweep")]
    Merge {
        /// Shard output directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
    },
    /// Run every scenario of DIR and compare with DIR/expected/; exit 1 on any drift.
    #[command(
        after_help = "Examples:\n  cascade-sim check\n  cascade-sim check scenarios --bless   # on purpose; say why in the commit"
    )]
    Check {
        /// Directory of scenarios.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Rewrite the expectations from the current results (on purpose: say why in the
        /// commit).
        #[arg(long)]
        bless: bool,
    },
    /// Print the JSON Schema of the scenario format (or of results.json), or write both
    /// for editors.
    #[command(after_help = "Examples:
  cascade-sim schema > scenarios/schema.json
  cascade-sim schema --results
  cascade-sim schema --markdown > docs/scenario-format.md
  cascade-sim schema --write ~/.config/cascade-sim   # then \"$schema\": \"/root/.config/cascade-sim/schema.json\"")]
    Schema {
        /// The schema of results.json instead (versioned by its `schema_version` field).
        #[arg(long, conflicts_with_all = ["markdown", "write"])]
        results: bool,
        /// The scenario format reference in Markdown (docs/scenario-format.md), generated from
        /// the schema.
        #[arg(long, conflicts_with = "write")]
        markdown: bool,
        /// Write schema.json (scenarios), results.schema.json and sweep.schema.json into DIR
        /// (created if needed), for editors outside the repository.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
    /// Put the outputs of several runs (or a compare or sweep output) side by side in one
    /// self-contained HTML page, report.html in --out (with report_cdf.svg, the runs'
    /// completion overlay), and print a Markdown table of chosen results.json fields of the runs.
    #[command(after_help = "Examples:
  cascade-sim report reports/switching-on reports/switching-off --out reports/switching
  cascade-sim report reports/a reports/b --labels resume,restart --metrics jobs[0].closed_s,bytes.resent --out r")]
    Report {
        /// Output directories of run, compare or sweep.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
        /// Labels of the directories, comma-separated, in order (default: their names).
        #[arg(long, value_delimiter = ',')]
        labels: Vec<String>,
        /// results.json fields (paths, as sweep metrics) for the table of runs.
        #[arg(long, value_delimiter = ',')]
        metrics: Vec<String>,
        /// Logarithmic time axis on the completion overlay.
        #[arg(long)]
        log_x: bool,
    },
    /// Measure the simulator itself: named workloads (kernel hold model, raw transfers sharing an
    /// upload or crossing a tree, cascades, swarms), each run in a child process, printing wall time,
    /// events/s and peak memory (figures for the notes, not a test).
    #[command(
        after_help = "Examples:\n  cascade-sim bench\n  cascade-sim bench --workload shared-upload-100k --json\n  cascade-sim bench --nodes 100000\n  cascade-sim bench --workload swarm-2600x750   # the Kraken-like reference: 2,600 peers, 750 pieces of 4 MB\n  cascade-sim bench --workload swarm-10kx256    # 10,000 peers, a 1 GB file in 256 pieces\n  cascade-sim bench --workload swarm-1k --chunks 150"
    )]
    Bench {
        /// Workload to run (repeatable): kernel, shared-upload-N, tree-N, cascade-N, swarm-N or
        /// swarm-NxC (N peers, C pieces of 4 MB; without xC, `--chunks` pieces) (N like 10000 or
        /// 10k), or `all`. Default: kernel, shared-upload-10k, tree-10k, cascade-10k.
        #[arg(long = "workload")]
        workloads: Vec<String>,
        /// Also run a cascade over this many node servers (same as `--workload cascade-N`).
        #[arg(long)]
        nodes: Option<u32>,
        /// Chunks of the file distributed in cascade workloads (and pieces in `swarm-N`).
        #[arg(long, default_value_t = 256)]
        chunks: u32,
        /// Fanout of cascade workloads.
        #[arg(long, default_value_t = 4)]
        fanout: u32,
        /// Print one JSON array of measurements instead of a table.
        #[arg(long)]
        json: bool,
        /// Print CSV rows (the columns of docs/img/scaling.csv: workload, family, size, pieces,
        /// finished, wall_s, cpu_s, events, max_rss_mb) instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Stop a workload's child process after this many wall-clock seconds and report it as
        /// not finished (a CSV row with finished=false; a line in the table; left out of --json).
        #[arg(long, value_name = "SECONDS")]
        timeout_s: Option<u64>,
        /// Run every workload this many times, each run in a fresh process, the workloads taking
        /// turns (a slow moment of a shared machine then costs each of them alike), and report
        /// the run of median CPU time with the spread; runs of one workload that do not
        /// reproduce each other (events, trace hash) are an error.
        #[arg(long, value_name = "N", default_value_t = 1)]
        repeat: u32,
        /// Render the scaling chart (SVG) from a CSV written by --csv instead of running
        /// workloads (see scripts/scaling.sh); needs --out.
        #[arg(long, value_name = "CSV", requires = "out")]
        chart: Option<PathBuf>,
        /// Where --chart writes the SVG.
        #[arg(long, value_name = "SVG", requires = "chart")]
        out: Option<PathBuf>,
        /// Caption under the chart's title (the machine and the date).
        #[arg(long, default_value = "", requires = "chart")]
        caption: String,
        /// Which time --chart plots: the wall time of each run's simulation, or the CPU time
        /// of its process (counted in 10 ms ticks, disturbed less by other work on the machine).
        #[arg(long, value_enum, default_value_t = ChartTime::Wall, requires = "chart")]
        time: ChartTime,
        /// Print the scenario of each (non-kernel) workload as JSON instead of running it, e.g.
        /// for the SimGrid comparison in benches/simgrid/.
        #[arg(long)]
        emit_scenario: bool,
        /// Run the named workload in this process and print its measurement as one JSON line
        /// (what the parent process does for each workload).
        #[arg(long, hide = true)]
        child: bool,
    },
}

/// Why a command stopped.
enum Failure {
    /// Bad input (exit 2): the message names the file or argument.
    Input(String),
    /// A failure of the system or of ours (exit 1).
    Other(String),
    /// Stdout was closed early (exit 141, nothing printed).
    Pipe,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::Input(e.to_string())
    }
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        match e {
            OutputError::Refused { .. } => Failure::Input(e.to_string()),
            OutputError::Io { .. } => Failure::Other(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(cascade_sim::scenario::limits::one_line(&format!("{e:#}")))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::Pipe
        } else {
            Failure::Other(format!("writing to stdout: {e}"))
        }
    }
}

/// Prints a line on stdout; a closed stdout becomes [`Failure::Pipe`] instead of a panic.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(Failure::from)
    };
}

/// Output printed with `println!` outside this file (e.g. `bench`) panics on a closed stdout;
/// this hook turns exactly that panic into the quiet exit 141 of [`say!`]. Any other panic is
/// reported as usual.
fn exit_quietly_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}

/// The glibc tunable that backs malloc's memory with transparent huge pages.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HUGE_PAGES_TUNABLE: &str = "glibc.malloc.hugetlb";

/// Starts of the process with the huge-page tunable before it settles for 4 KB pages (see
/// [`restart_with_huge_pages`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HUGE_PAGE_STARTS: u32 = 16;

/// Large runs are bound by memory latency, much of it address translation: with 4 KB pages
/// nearly every touch of a server's record in a 10^5-server run also misses the TLB (huge pages
/// take a quarter off the CPU time of a 30k-server cascade on the development VM). glibc backs
/// its heap with transparent huge pages when the tunable `glibc.malloc.hugetlb` is 1, and reads
/// tunables only when a process starts: so the binary replaces itself (`exec`: same process,
/// arguments and streams) with the tunable added to `GLIBC_TUNABLES`, unless it is there
/// already, the kernel has transparent huge pages off, or `CASCADE_SIM_HUGE_PAGES=0`. Results do
/// not depend on it; if the `exec` fails the run goes on with ordinary pages.
///
/// The tunable does not always take: glibc 2.36 (Debian 12) compares the kernel's mode, read
/// from `/sys/kernel/mm/transparent_hugepage/enabled`, in a buffer it does not terminate, so in
/// many processes (half to nearly all of the development VM's bench runs) it misses `madvise`
/// mode and leaves the heap on 4 KB pages, and the run is 10-15 % slower. So a restarted
/// process checks that its allocator asks for huge pages and, if not, starts again (another
/// start, another stack), up to [`HUGE_PAGE_STARTS`] times.
fn restart_with_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        const RESTARTED: &str = "CASCADE_SIM_RESTARTED_FOR_HUGE_PAGES";
        let Ok(mode) = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled") else { return };
        if mode.contains("[never]") {
            return;
        }
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        // Starts so far with the tunable set by this function (0: none; glibc drops
        // `GLIBC_TUNABLES` in secure mode, so the count, not the tunable, ends the restarts).
        let starts: u32 = std::env::var(RESTARTED).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        let tunables = if starts > 0 {
            // Only `madvise` mode needs the allocator to ask ("always" gives huge pages anyway).
            if starts >= HUGE_PAGE_STARTS
                || !mode.contains("[madvise]")
                || cascade_sim::bench::allocator_asks_for_huge_pages() != Some(false)
            {
                return;
            }
            tunables
        } else {
            if tunables.contains(HUGE_PAGES_TUNABLE)
                || std::env::var_os("CASCADE_SIM_HUGE_PAGES").is_some_and(|v| v == "0")
                || std::env::var_os(RESTARTED).is_some()
            {
                return;
            }
            if tunables.is_empty() {
                format!("{HUGE_PAGES_TUNABLE}=1")
            } else {
                format!("{tunables}:{HUGE_PAGES_TUNABLE}=1")
            }
        };
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let name = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        // `exec` returns only if it failed: carry on as we are.
        let _ = std::process::Command::new(exe)
            .arg0(name)
            .args(args)
            .env("GLIBC_TUNABLES", tunables)
            .env(RESTARTED, (starts + 1).to_string())
            .exec();
    }
}

fn main() -> ExitCode {
    restart_with_huge_pages();
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run { scenario, out, seed, trace, set, log_x, trace_hash_version } => {
            run(&scenario, out, seed, trace, &set, log_x, trace_hash_version.unwrap_or_default())
        }
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Compare { scenario, strategies, out, seed, seeds, set, log_x } => {
            compare(&scenario, &strategies, &out, seed, seeds, &set, log_x)
        }
        Command::Report { dirs, out, labels, metrics, log_x } => report(&dirs, &out, &labels, &metrics, log_x),
        Command::Sweep { sweep, out, shard } => sweep_cmd(&sweep, &out, shard),
        Command::Merge { shards, out } => merge(&shards, &out),
        Command::Check { dir, bless } => check(&dir, bless),
        Command::Schema { results, markdown, write } => schema(results, markdown, write),
        Command::Bench { chart: Some(csv), out: Some(svg), caption, time, .. } => {
            bench_chart(&csv, &svg, &caption, time)
        }
        Command::Bench {
            workloads, nodes, chunks, fanout, json, csv, timeout_s, repeat, emit_scenario, child, ..
        } => {
            let format = if json {
                BenchFormat::Json
            } else if csv {
                BenchFormat::Csv
            } else {
                BenchFormat::Table
            };
            bench(&workloads, nodes, chunks, fanout, format, timeout_s, repeat, emit_scenario, child)
        }
    };
    let _ = std::io::stdout().flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Pipe) => ExitCode::from(141),
    }
}

/// The scenario file as JSON with every `--set PATH=VALUE` applied (a value that is not JSON
/// is taken as a string).
fn scenario_json(path: &Path, set: &[String]) -> Result<serde_json::Value, ScenarioError> {
    let file = path.display().to_string();
    let text = scenario::parse::read_text(path)?;
    // Read strictly first, so that errors name the file's own line and column.
    scenario::parse(&text).map_err(|e| e.in_file(&file))?;
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("parsed above");
    for (i, assignment) in set.iter().enumerate() {
        let invalid = |m: String| ScenarioError::Invalid { path: format!("--set[{i}]"), message: m };
        let (key, value) =
            assignment.split_once('=').ok_or_else(|| invalid(format!("expected PATH=VALUE, got `{assignment}`")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        cascade_sim::analysis::set_path(&mut doc, key, value).map_err(invalid)?;
    }
    Ok(doc)
}

fn load_checked(path: &Path, seed: Option<u64>, set: &[String]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let scenario = if set.is_empty() {
        scenario::load(path)?
    } else {
        cascade_sim::analysis::scenario_from_value(&scenario_json(path, set)?).map_err(|e| e.in_file(&file))?
    };
    scenario.build(seed).map_err(|e| e.in_file(&file))?;
    Ok(scenario)
}

/// `--trace-hash-version`'s value: a version number this build computes.
fn parse_trace_hash_version(text: &str) -> Result<TraceHashVersion, String> {
    let n: u32 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a version number ({})", TraceHashVersion::known_numbers()))?;
    TraceHashVersion::try_from(n)
}

fn run(
    path: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    trace: bool,
    set: &[String],
    log_x: bool,
    trace_hash_version: TraceHashVersion,
) -> Result<(), Failure> {
    let scenario = load_checked(path, seed, set)?;
    let file = path.display().to_string();
    let out = out.unwrap_or_else(|| Path::new("reports").join(output::safe_component(&scenario.name)));
    output::check_target(&out, OutputKind::Run, output::run_files(trace))?;
    // With --trace, messages go to an unnamed file beside the outputs as they are sent, and
    // trace.json is written from it straight into the staging directory.
    let spool_file = if trace { Some(output::spool_file(&out)?) } else { None };
    let mut spool = None;
    let options = cascade_sim::RunOptions { seed, trace_hash_version, ..cascade_sim::RunOptions::default() };
    let run = cascade_sim::simulate_with(&scenario, &options, |engine| {
        spool = spool_file.map(|f| cascade_sim::report::trace::TraceSpool::attach(engine, f));
    })
    .map_err(|e| e.in_file(&file))?;
    let outputs = RunOutputs::render(&run, false, log_x)?;
    match &spool {
        Some(spool) => outputs.write_with_trace(&out, &run, spool)?,
        None => outputs.write(&out, &run)?,
    }
    print_summary(&run.results)?;
    let names: Vec<_> = outputs.names(spool.is_some()).iter().map(|n| out.join(n).display().to_string()).collect();
    say!("wrote {}", names.join(", "))
}

fn compare(
    path: &Path,
    strategies: &[String],
    out: &Path,
    seed: Option<u64>,
    seeds: u32,
    set: &[String],
    log_x: bool,
) -> Result<(), Failure> {
    use cascade_sim::analysis::compare;
    compare::check_strategies(strategies)?;
    let scenario = load_checked(path, seed, set)?;
    let names = output::COMPARE_FILES;
    output::check_target(out, OutputKind::Compare, &names)?;
    let file = path.display().to_string();
    let doc = scenario_json(path, set)?;
    let seeds = compare::seeds(seed.unwrap_or(scenario.seed), seeds);
    let rows = compare::run_all(&doc, strategies, &seeds).map_err(|e| e.in_file(&file))?;
    let files = vec![
        (names[0].to_string(), compare::csv(&rows)?),
        (names[1].to_string(), compare::runs_csv(&rows)?),
        (names[2].to_string(), compare::cdf_svg(&rows, log_x).map_err(anyhow::Error::msg)?.into_bytes()),
        (names[3].to_string(), compare::makespan_svg(&rows).map_err(anyhow::Error::msg)?.into_bytes()),
        (names[4].to_string(), compare::markdown(&rows).into_bytes()),
    ];
    output::write_outputs(out, OutputKind::Compare, &files)?;
    write!(std::io::stdout().lock(), "{}", compare::table(&rows))?;
    say!("wrote {}", files.iter().map(|(n, _)| out.join(n).display().to_string()).collect::<Vec<_>>().join(", "))
}

fn sweep_cmd(path: &Path, out: &Path, shard: Option<cascade_sim::analysis::sweep::Shard>) -> Result<(), Failure> {
    use cascade_sim::analysis::sweep;
    use std::io::IsTerminal;
    let (spec, base) = sweep::load(path)?;
    output::check_target(out, OutputKind::Sweep, &["sweep.json", "runs.csv"])?;
    let runs: usize = spec.parameters.iter().map(|p| p.values.len()).product::<usize>() * spec.seeds.len();
    let mine = shard.map_or(runs, |s| (0..runs).filter(|k| k % s.count == s.index).count());
    let bar = indicatif::ProgressBar::new(mine as u64);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let rows = sweep::run(&spec, &base, shard, || bar.inc(1))?;
    bar.finish_and_clear();
    let files = sweep::outputs(&spec, &rows, shard.is_none())?;
    output::write_outputs(out, OutputKind::Sweep, &files)?;
    say!("{} run(s) of {runs}; wrote {} file(s) into {}", rows.len(), files.len(), out.display())
}

fn merge(shards: &[PathBuf], out: &Path) -> Result<(), Failure> {
    use cascade_sim::analysis::sweep;
    let (spec, rows) = sweep::merge(shards)?;
    let files = sweep::outputs(&spec, &rows, true)?;
    output::write_outputs(out, OutputKind::Sweep, &files)?;
    say!("merged {} run(s) from {} shard(s) into {}", rows.len(), shards.len(), out.display())
}

/// Exit 1 on any drift or failure to run, 2 when a scenario is bad input (that wins).
fn check(dir: &Path, bless: bool) -> Result<(), Failure> {
    use cascade_sim::analysis::check::{check_one, scenario_files, Outcome};
    let files = scenario_files(dir).map_err(|e| {
        Failure::Input(format!("{}: {e}", cascade_sim::scenario::limits::one_line(&dir.display().to_string())))
    })?;
    let (mut drifted, mut invalid) = (0, 0);
    for file in &files {
        match check_one(file, bless) {
            Ok(Outcome::Same) => say!("ok       {}", file.display())?,
            Ok(Outcome::Blessed) => say!("blessed  {}", file.display())?,
            Ok(Outcome::Missing) => {
                drifted += 1;
                say!("MISSING  {}: no expectation (run `cascade-sim check --bless`)", file.display())?;
            }
            Ok(Outcome::Drift(diff)) => {
                drifted += 1;
                say!("DRIFT    {}", file.display())?;
                for line in diff {
                    say!("           {line}")?;
                }
            }
            Err(e) => {
                if e.downcast_ref::<ScenarioError>().is_some() {
                    invalid += 1;
                } else {
                    drifted += 1;
                }
                say!("ERROR    {}: {}", file.display(), cascade_sim::scenario::limits::one_line(&format!("{e:#}")))?;
            }
        }
    }
    say!("{} scenario(s), {} drift(s), {} invalid", files.len(), drifted, invalid)?;
    if invalid > 0 {
        Err(Failure::Input(format!("{invalid} scenario(s) in {} are not valid", dir.display())))
    } else if drifted > 0 {
        Err(Failure::Other(format!("{drifted} scenario(s) drifted")))
    } else {
        Ok(())
    }
}

fn report(dirs: &[PathBuf], out: &Path, labels: &[String], metrics: &[String], log_x: bool) -> Result<(), Failure> {
    use cascade_sim::analysis::report;
    if !labels.is_empty() && labels.len() != dirs.len() {
        return Err(Failure::Input(format!("--labels: {} label(s) for {} director(ies)", labels.len(), dirs.len())));
    }
    let metrics: Vec<String> = if metrics.is_empty() {
        report::DEFAULT_METRICS.iter().map(|m| m.to_string()).collect()
    } else {
        metrics.to_vec()
    };
    report::check_metrics(&metrics)?;
    output::check_target(out, OutputKind::Report, &output::REPORT_FILES)?;
    let inputs = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| report::read(d, labels.get(i).cloned().unwrap_or_else(|| report::default_label(d))))
        .collect::<Result<Vec<_>, _>>()?;
    let overlay = report::overlay(&inputs, log_x).transpose().map_err(anyhow::Error::msg)?;
    let page = report::html(&inputs, &metrics, overlay.as_deref()).map_err(anyhow::Error::msg)?;
    let mut files = vec![("report.html".to_string(), page.into_bytes())];
    files.extend(overlay.map(|svg| ("report_cdf.svg".to_string(), svg.into_bytes())));
    output::write_outputs(out, OutputKind::Report, &files)?;
    if inputs.iter().any(|i| matches!(i, report::Input::Run { .. })) {
        write!(std::io::stdout().lock(), "{}", report::markdown(&inputs, &metrics))?;
    }
    say!("wrote {}", out.join("report.html").display())
}

fn schema(results: bool, markdown: bool, write: Option<PathBuf>) -> Result<(), Failure> {
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("schema serialises") + "\n";
    if let Some(dir) = write {
        std::fs::create_dir_all(&dir).map_err(|e| Failure::Other(format!("{}: {e}", dir.display())))?;
        let files = [
            ("schema.json", pretty(&scenario::json_schema())),
            ("results.schema.json", pretty(&cascade_sim::report::results::results_schema())),
            ("sweep.schema.json", pretty(&cascade_sim::analysis::sweep::json_schema())),
        ];
        for (name, text) in files {
            output::write_file_atomically(&dir.join(name), text.as_bytes())?;
            say!("wrote {}", dir.join(name).display())?;
        }
        return Ok(());
    }
    let text = if markdown {
        cascade_sim::scenario::reference::markdown()
    } else if results {
        pretty(&cascade_sim::report::results::results_schema())
    } else {
        pretty(&scenario::json_schema())
    };
    write!(std::io::stdout().lock(), "{text}").map_err(Failure::from)
}

/// How `bench` prints its measurements.
#[derive(Clone, Copy, PartialEq)]
enum BenchFormat {
    Table,
    Json,
    Csv,
}

#[allow(clippy::too_many_arguments)]
fn bench(
    names: &[String],
    nodes: Option<u32>,
    chunks: u32,
    fanout: u32,
    format: BenchFormat,
    timeout_s: Option<u64>,
    repeat: u32,
    emit_scenario: bool,
    child: bool,
) -> Result<(), Failure> {
    use cascade_sim::bench::{check_positive, Repeated, ScalingRow, Workload, ALL_WORKLOADS, DEFAULT_WORKLOADS};
    let usage = |e: cascade_sim::bench::BenchError| Failure::Input(e.0);
    let mut list: Vec<String> = Vec::new();
    for name in names {
        match name.as_str() {
            "all" => list.extend(ALL_WORKLOADS.iter().map(|s| s.to_string())),
            _ => list.push(name.clone()),
        }
    }
    if let Some(n) = nodes {
        list.push(format!("cascade-{}", check_positive("--nodes", n).map_err(usage)?));
    }
    if list.is_empty() {
        list.extend(DEFAULT_WORKLOADS.iter().map(|s| s.to_string()));
    }
    let workloads =
        list.iter().map(|n| Workload::parse(n, chunks, fanout)).collect::<Result<Vec<_>, _>>().map_err(usage)?;
    if timeout_s == Some(0) {
        return Err(Failure::Input("--timeout-s: must be at least 1".into()));
    }
    check_positive("--repeat", repeat).map_err(usage)?;
    if !child {
        // Every workload's scenario is checked before any runs or is printed: one that the
        // simulator refuses is bad input, with nothing half-printed before the error (a child
        // finds it too, but only after the workloads before it have run).
        for w in &workloads {
            w.check_scenario().map_err(usage)?;
        }
    }
    if emit_scenario {
        for w in &workloads {
            if let Some(s) = w.scenario() {
                say!("{}", serde_json::to_string(&s).context("scenario JSON")?)?;
            }
        }
        return Ok(());
    }
    if child {
        for w in &workloads {
            let measurement = w.run().map_err(usage)?;
            say!("{}", serde_json::to_string(&measurement).context("measurement JSON")?)?;
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut all = Vec::new();
    let mut csv = csv::Writer::from_writer(Vec::new());
    // Round after round, every workload once per round; a workload stopped at the time limit
    // is reported then and not run again.
    let mut runs: Vec<Vec<cascade_sim::bench::Measurement>> = vec![Vec::new(); workloads.len()];
    let mut stopped = vec![false; workloads.len()];
    for round in 0..repeat {
        for (i, w) in workloads.iter().enumerate() {
            if stopped[i] {
                continue;
            }
            let Some(m) = bench_child(&exe, w, chunks, fanout, timeout_s)? else {
                stopped[i] = true;
                let limit = timeout_s.unwrap_or_default();
                match format {
                    BenchFormat::Table => say!("{:<20} did not finish in {limit} s (stopped)", w.name())?,
                    BenchFormat::Csv => csv.serialize(ScalingRow::stopped(w, limit as f64)).context("CSV row")?,
                    BenchFormat::Json => eprintln!("workload {} did not finish in {limit} s (left out)", w.name()),
                }
                continue;
            };
            runs[i].push(m);
            if round + 1 < repeat {
                continue;
            }
            let summary = Repeated::of(std::mem::take(&mut runs[i])).map_err(|e| Failure::Other(e.0))?;
            match format {
                BenchFormat::Table => say!("{}", summary.line())?,
                BenchFormat::Csv => csv.serialize(ScalingRow::finished(w, &summary.median)).context("CSV row")?,
                BenchFormat::Json => {}
            }
            all.push(summary);
        }
    }
    match format {
        BenchFormat::Json => say!("{}", serde_json::to_string_pretty(&all).context("measurements JSON")?)?,
        BenchFormat::Csv => {
            let bytes = csv.into_inner().map_err(|e| anyhow::anyhow!("CSV: {e}"))?;
            write!(std::io::stdout().lock(), "{}", String::from_utf8_lossy(&bytes)).map_err(Failure::from)?
        }
        BenchFormat::Table => {}
    }
    Ok(())
}

/// Runs workload `w` once in a child process of this binary; `None` if it was stopped at the
/// time limit.
fn bench_child(
    exe: &Path,
    w: &cascade_sim::bench::Workload,
    chunks: u32,
    fanout: u32,
    timeout_s: Option<u64>,
) -> Result<Option<cascade_sim::bench::Measurement>, Failure> {
    let (chunks, fanout) = (chunks.to_string(), fanout.to_string());
    let args = ["bench", "--child", "--workload", &w.name(), "--chunks", &chunks, "--fanout", &fanout];
    let mut child = std::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running workload {}", w.name()))?;
    // The child prints one short line at its end, well within a pipe's buffer, so waiting
    // before reading cannot block it.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for a workload")? {
            break status;
        }
        if timeout_s.is_some_and(|t| start.elapsed().as_secs() >= t) {
            child.kill().context("stopping a workload at its time limit")?;
            child.wait().context("waiting for a stopped workload")?;
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().context("reading a workload's output")?;
    if status.code() == Some(2) {
        // The child found the workload's scenario invalid (bad input, one line): pass it on.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.trim().trim_start_matches("error: ");
        return Err(Failure::Input(message.to_string()));
    }
    if !status.success() {
        return Err(anyhow::anyhow!(
            "workload {} failed ({}): {}",
            w.name(),
            status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(Some(serde_json::from_slice(&out.stdout).context("measurement from the child process")?))
}

/// `bench --chart CSV --out SVG`: the scaling chart of the rows of a CSV written by `bench --csv`.
fn bench_chart(csv_path: &Path, svg_path: &Path, caption: &str, time: ChartTime) -> Result<(), Failure> {
    use cascade_sim::bench::ScalingRow;
    let bad = |e: String| Failure::Input(format!("{}: {e}", csv_path.display()));
    let mut reader = csv::Reader::from_path(csv_path).map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for (i, row) in reader.deserialize::<ScalingRow>().enumerate() {
        let row = row.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        row.check().map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        rows.push(row);
    }
    let svg = cascade_sim::report::scaling::scaling_svg(&rows, caption, time).map_err(|e| anyhow::anyhow!(e))?;
    std::fs::write(svg_path, svg).with_context(|| format!("writing {}", svg_path.display()))?;
    say!("wrote {}", svg_path.display())
}

fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    for path in paths {
        load_checked(path, None, &[])?;
        say!("{}: ok", path.display())?;
    }
    Ok(())
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3} s"))
}

fn print_summary(r: &Results) -> Result<(), Failure> {
    let o = &r.job_outcomes;
    let mut not_run = Vec::new();
    for (n, what) in [(o.denied, "denied"), (o.unanswered, "unanswered"), (o.not_requested, "not requested")] {
        if n > 0 {
            not_run.push(format!("{n} {what}"));
        }
    }
    let not_run = if not_run.is_empty() { String::new() } else { format!(" ({} never ran)", not_run.join(", ")) };
    say!(
        "scenario {} (seed {}): {} job(s){not_run}, {} server deliveries of the jobs that ran, {} raw transfer(s), strategy {}",
        r.scenario,
        r.seed,
        r.jobs.len(),
        r.deliveries,
        r.transfers.len(),
        r.strategy
    )?;
    let ratio = r.ratio_to_bound.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    say!("makespan {}   lower bound {}   ratio {}", fmt_s(r.makespan_s), fmt_s(r.lower_bound_s), ratio)?;
    let c = &r.completion_s;
    say!(
        "server completion since the job's request: p50 {}  p90 {}  p99 {}  max {}  ({} complete, {} unfinished)",
        fmt_s(c.p50),
        fmt_s(c.p90),
        fmt_s(c.p99),
        fmt_s(c.max),
        c.count,
        r.unfinished
    )?;
    for j in &r.jobs {
        let requested = j.requested_at_s.map_or_else(String::new, |t| format!(" requested at {t:.3} s,"));
        say!(
            "  job {} [{}]:{requested} {}/{} servers, makespan {}, bound {:.3} s, {}",
            j.name,
            j.strategy,
            j.completed,
            j.servers,
            fmt_s(j.makespan_s),
            j.lower_bound_s,
            match (&j.closed_s, &j.outcome_reason) {
                (Some(t), _) => format!("closed {t:.3} s after its request"),
                (None, Some(reason)) => format!("{}: {reason}", j.outcome),
                (None, None) => j.outcome.clone(),
            }
        )?;
        if let Some(l) = &j.live_stream {
            say!(
                "    live {:.3} Mbit/s: {} of {} servers kept up (playout buffer {:.3} s); lag p50 {}  p90 {}  p99 {}  max {}",
                l.rate_mbps,
                l.servers_sustained,
                j.servers,
                l.playout_buffer_s,
                fmt_s(l.lag_s.p50),
                fmt_s(l.lag_s.p90),
                fmt_s(l.lag_s.p99),
                fmt_s(l.lag_s.max)
            )?;
        }
    }
    for j in &r.jobs {
        if let Some(a) = &j.accountability {
            let v = &a.verdicts;
            if v.completed < a.servers.len() || !a.consistent {
                say!(
                    "  account of {}: {} completed, {} completed after a fault, {} repaired then completed, {} failed, \
                     {} left unfinished, {} unfinished; {}",
                    j.name,
                    v.completed,
                    v.completed_after_fault,
                    v.repaired_then_completed,
                    v.failed,
                    v.left_unfinished,
                    v.unfinished,
                    if a.consistent {
                        "consistent with the servers' state"
                    } else {
                        "NOT consistent with the servers' state"
                    }
                )?;
            }
        }
    }
    if r.faults_total + r.recoveries_total > 0 {
        say!(
            "faults {}   ends of faults {}   control messages lost {} (retransmitted; {} given up on)",
            r.faults_total,
            r.recoveries_total,
            r.messages_lost,
            r.messages_undeliverable
        )?;
    }
    say!("events {}   trace_hash {}   end {:.3} s on the run clock", r.events, r.trace_hash, r.end_at_s)?;
    Ok(())
}
