//! `cascade-sim`: the command-line interface. A thin layer over the library: parse arguments,
//! load the scenario, run, print a summary, write outputs.
//!
//! Exit status: 0 success; 1 drift (`check`) or a failure of the system or of ours (I/O);
//! 2 bad input: any problem with a file or an argument, the message naming the file and the
//! JSON path, nothing written; 141 when stdout is closed early (`| head`), quietly, as a
//! process killed by SIGPIPE would report.

use cascade_sim::report::output::{self, OutputError, OutputKind};
use cascade_sim::report::{Results, RunOutputs};
use cascade_sim::scenario::limits::{MAX_CHUNKS, MAX_HOSTS};
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

#[derive(Subcommand)]
enum Command {
    /// Run one scenario: print a summary and write results.json, nodes.csv, charts
    /// (completion.svg/.png, timeline.svg, throughput.svg) and index.html into --out.
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
        /// chrome://tracing); records every control message, so it costs memory on big runs.
        #[arg(long)]
        trace: bool,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (JSON).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Run one scenario under several strategies (same seed): a table, compare.csv, an overlay
    /// of completion CDFs and a makespan bar chart with the lower bound.
    Compare {
        /// Scenario file (JSON).
        scenario: PathBuf,
        /// Comma-separated strategies, or `all` for every registered one.
        #[arg(long, value_delimiter = ',', default_value = "star,chain,tree,cascade,swarm")]
        strategies: Vec<String>,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
        /// Seed, overriding the scenario's.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run a grid of parameter values times seeds in parallel: runs.csv and one chart per
    /// metric and parameter. With --shard I/N, only runs k with k mod N = I (merge the shards
    /// with `merge`).
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
    Merge {
        /// Shard output directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, long_help = format!("Output directory. {OUT_RULES}"))]
        out: PathBuf,
    },
    /// Run every scenario of DIR and compare with DIR/expected/; exit 1 on any drift.
    Check {
        /// Directory of scenarios.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Rewrite the expectations from the current results (on purpose: say why in the
        /// commit).
        #[arg(long)]
        bless: bool,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Measure the simulator itself: kernel events per second and the wall time of a large
    /// cascade (figures for the notes, not a test).
    Bench {
        /// Node servers in the cascade run.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=MAX_HOSTS as i64))]
        nodes: u32,
        /// Chunks of the file distributed.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=MAX_CHUNKS as i64))]
        chunks: u32,
        /// Cascade fanout.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=MAX_HOSTS as i64))]
        fanout: u32,
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

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run { scenario, out, seed, trace } => run(&scenario, out, seed, trace),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Compare { scenario, strategies, out, seed } => compare(&scenario, &strategies, &out, seed),
        Command::Sweep { sweep, out, shard } => sweep_cmd(&sweep, &out, shard),
        Command::Merge { shards, out } => merge(&shards, &out),
        Command::Check { dir, bless } => check(&dir, bless),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&scenario::json_schema()).expect("schema serialises");
            say!("{schema}")
        }
        Command::Bench { nodes, chunks, fanout } => {
            cascade_sim::bench::print_figures(nodes, chunks, fanout);
            Ok(())
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

fn load_checked(path: &Path, seed: Option<u64>) -> Result<Scenario, ScenarioError> {
    let scenario = scenario::load(path)?;
    let file = path.display().to_string();
    scenario.build(seed).map_err(|e| e.in_file(&file))?;
    Ok(scenario)
}

fn run(path: &Path, out: Option<PathBuf>, seed: Option<u64>, trace: bool) -> Result<(), Failure> {
    let scenario = load_checked(path, seed)?;
    let file = path.display().to_string();
    let out = out.unwrap_or_else(|| Path::new("reports").join(output::safe_component(&scenario.name)));
    output::check_target(&out, OutputKind::Run, output::run_files(trace))?;
    let options = cascade_sim::RunOptions { seed, record_messages: trace };
    let run = cascade_sim::simulate(&scenario, &options).map_err(|e| e.in_file(&file))?;
    let outputs = RunOutputs::render(&run, trace)?;
    outputs.write(&out)?;
    print_summary(&run.results)?;
    let names: Vec<_> = outputs.files.iter().map(|(n, _)| out.join(n).display().to_string()).collect();
    say!("wrote {}", names.join(", "))
}

fn compare(path: &Path, strategies: &[String], out: &Path, seed: Option<u64>) -> Result<(), Failure> {
    use cascade_sim::analysis::compare;
    compare::check_strategies(strategies)?;
    load_checked(path, seed)?;
    let names = output::COMPARE_FILES;
    output::check_target(out, OutputKind::Compare, &names)?;
    let file = path.display().to_string();
    let text = scenario::parse::read_text(path)?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| ScenarioError::Parse {
        file: file.clone(),
        path: "invalid JSON".into(),
        message: e.to_string(),
    })?;
    let rows = compare::run_all(&doc, strategies, seed).map_err(|e| e.in_file(&file))?;
    let files = vec![
        (names[0].to_string(), compare::csv(&rows)?),
        (names[1].to_string(), compare::cdf_svg(&rows).map_err(anyhow::Error::msg)?.into_bytes()),
        (names[2].to_string(), compare::makespan_svg(&rows).map_err(anyhow::Error::msg)?.into_bytes()),
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

fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    for path in paths {
        load_checked(path, None)?;
        say!("{}: ok", path.display())?;
    }
    Ok(())
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3} s"))
}

fn print_summary(r: &Results) -> Result<(), Failure> {
    let servers: usize = r.jobs.iter().map(|j| j.servers).sum();
    say!(
        "scenario {} (seed {}): {} job(s), {} server deliveries, {} raw transfer(s), strategy {}",
        r.scenario,
        r.seed,
        r.jobs.len(),
        servers,
        r.transfers.len(),
        r.strategy
    )?;
    let ratio = r.ratio_to_bound.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    say!("makespan {}   lower bound {}   ratio {}", fmt_s(r.makespan_s), fmt_s(r.lower_bound_s), ratio)?;
    let c = &r.completion_s;
    say!(
        "node completion: p50 {}  p90 {}  p99 {}  max {}  ({} complete, {} unfinished)",
        fmt_s(c.p50),
        fmt_s(c.p90),
        fmt_s(c.p99),
        fmt_s(c.max),
        c.count,
        r.unfinished
    )?;
    for j in &r.jobs {
        say!(
            "  job {} [{}]: {}/{} servers, makespan {}, bound {:.3} s, {}",
            j.name,
            j.strategy,
            j.completed,
            j.servers,
            fmt_s(j.makespan_s),
            j.lower_bound_s,
            match (&j.closed_s, &j.outcome_reason) {
                (Some(t), _) => format!("closed at {t:.3} s"),
                (None, Some(reason)) => format!("{}: {reason}", j.outcome),
                (None, None) => j.outcome.clone(),
            }
        )?;
    }
    for j in &r.jobs {
        if let Some(a) = &j.accountability {
            let count = |state: &str| a.servers.iter().filter(|s| s.state == state).count();
            if count("completed") < a.servers.len() || !a.consistent {
                say!(
                    "  account of {}: {} completed, {} completed after a fault, {} repaired then completed, {} failed, \
                     {} unfinished; {}",
                    j.name,
                    count("completed"),
                    count("completed_after_fault"),
                    count("repaired_then_completed"),
                    count("failed"),
                    count("unfinished"),
                    if a.consistent {
                        "consistent with the servers' state"
                    } else {
                        "NOT consistent with the servers' state"
                    }
                )?;
            }
        }
    }
    if r.faults_total > 0 {
        say!(
            "faults {}   control messages lost {} (retransmitted; {} given up on)",
            r.faults_total,
            r.messages_lost,
            r.messages_undeliverable
        )?;
    }
    say!("events {}   trace_hash {}   end {:.3} s", r.events, r.trace_hash, r.end_s)?;
    Ok(())
}
