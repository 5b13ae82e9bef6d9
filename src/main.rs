//! `cascade-sim`: the command-line interface. A thin layer over the library: parse arguments,
//! load the scenario, run, print a summary, write outputs. Exit status 2 means bad input (the
//! message names the file and JSON path), 1 any other failure.

use anyhow::Context;
use cascade_sim::report::{Results, RunOutputs};
use cascade_sim::scenario::{self, Scenario, ScenarioError};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Deterministic simulator of cascaded streaming-media distribution (US 2002/0065918 A1).
#[derive(Parser)]
#[command(name = "cascade-sim", version, about, long_about = None)]
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
        /// Output directory (default: reports/<scenario name>).
        #[arg(long)]
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
        /// Comma-separated strategies.
        #[arg(long, value_delimiter = ',', default_value = "star,chain,tree,cascade,swarm")]
        strategies: Vec<String>,
        /// Output directory.
        #[arg(long)]
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
        #[arg(long)]
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
        #[arg(long)]
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
    /// Measure the simulator itself: named workloads (kernel hold model, raw transfers sharing an
    /// upload or crossing a tree, cascades), each run in a child process, printing wall time,
    /// events/s and peak memory (figures for the notes, not a test).
    Bench {
        /// Workload to run (repeatable): kernel, shared-upload-N, tree-N, cascade-N (N like
        /// 10000 or 10k), or `all`. Default: kernel, shared-upload-10k, tree-10k, cascade-10k.
        #[arg(long = "workload")]
        workloads: Vec<String>,
        /// Also run a cascade over this many node servers (same as `--workload cascade-N`).
        #[arg(long)]
        nodes: Option<u32>,
        /// Chunks of the file distributed in cascade workloads.
        #[arg(long, default_value_t = 256)]
        chunks: u32,
        /// Fanout of cascade workloads.
        #[arg(long, default_value_t = 4)]
        fanout: u32,
        /// Print one JSON array of measurements instead of a table.
        #[arg(long)]
        json: bool,
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

/// Bad input (exit 2) or a failure of ours or of the system (exit 1).
enum Failure {
    Input(ScenarioError),
    Usage(String),
    Other(anyhow::Error),
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::Input(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run { scenario, out, seed, trace } => run(&scenario, out, seed, trace),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Compare { scenario, strategies, out, seed } => compare(&scenario, &strategies, &out, seed),
        Command::Sweep { sweep, out, shard } => sweep_cmd(&sweep, &out, shard),
        Command::Merge { shards, out } => merge(&shards, &out),
        Command::Check { dir, bless } => return check(&dir, bless),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&scenario::json_schema()).expect("schema serialises"));
            Ok(())
        }
        Command::Bench { workloads, nodes, chunks, fanout, json, emit_scenario, child } => {
            bench(&workloads, nodes, chunks, fanout, json, emit_scenario, child)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
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
    let options = cascade_sim::RunOptions { seed, record_messages: trace };
    let run = cascade_sim::simulate(&scenario, &options).map_err(|e| e.in_file(&file))?;
    let out = out.unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    let outputs = RunOutputs::render(&run, trace)?;
    outputs.write(&out).with_context(|| format!("writing results to {}", out.display()))?;
    print_summary(&run.results);
    let names: Vec<_> = outputs.files.iter().map(|(n, _)| out.join(n).display().to_string()).collect();
    println!("wrote {}", names.join(", "));
    Ok(())
}

fn compare(path: &Path, strategies: &[String], out: &Path, seed: Option<u64>) -> Result<(), Failure> {
    use cascade_sim::analysis::compare;
    load_checked(path, seed)?;
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: file.clone(), source })?;
    let doc: serde_json::Value = serde_json::from_str(&text).context("scenario JSON")?;
    let rows = compare::run_all(&doc, strategies, seed).map_err(|e| e.in_file(&file))?;
    let files = vec![
        ("compare.csv".to_string(), compare::csv(&rows)?),
        ("compare_cdf.svg".to_string(), compare::cdf_svg(&rows).map_err(anyhow::Error::msg)?.into_bytes()),
        ("compare_makespan.svg".to_string(), compare::makespan_svg(&rows).map_err(anyhow::Error::msg)?.into_bytes()),
    ];
    cascade_sim::report::write_files(out, &files)?;
    print!("{}", compare::table(&rows));
    println!("wrote {}", files.iter().map(|(n, _)| out.join(n).display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(())
}

fn sweep_cmd(path: &Path, out: &Path, shard: Option<cascade_sim::analysis::sweep::Shard>) -> Result<(), Failure> {
    use cascade_sim::analysis::sweep;
    use std::io::IsTerminal;
    let (spec, base) = sweep::load(path)?;
    let runs: usize = spec.parameters.iter().map(|p| p.values.len()).product::<usize>() * spec.seeds.len();
    let mine = shard.map_or(runs, |s| (0..runs).filter(|k| k % s.count == s.index).count());
    let bar = indicatif::ProgressBar::new(mine as u64);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let rows = sweep::run(&spec, &base, shard, || bar.inc(1))?;
    bar.finish_and_clear();
    let files = sweep::outputs(&spec, &rows, shard.is_none())?;
    cascade_sim::report::write_files(out, &files)?;
    println!("{} run(s) of {runs}; wrote {} file(s) into {}", rows.len(), files.len(), out.display());
    Ok(())
}

fn merge(shards: &[PathBuf], out: &Path) -> Result<(), Failure> {
    use cascade_sim::analysis::sweep;
    let (spec, rows) = sweep::merge(shards)?;
    let files = sweep::outputs(&spec, &rows, true)?;
    cascade_sim::report::write_files(out, &files)?;
    println!("merged {} run(s) from {} shard(s) into {}", rows.len(), shards.len(), out.display());
    Ok(())
}

fn check(dir: &Path, bless: bool) -> ExitCode {
    use cascade_sim::analysis::check::{check_one, scenario_files, Outcome};
    let files = match scenario_files(dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let mut drifted = 0;
    for file in &files {
        match check_one(file, bless) {
            Ok(Outcome::Same) => println!("ok       {}", file.display()),
            Ok(Outcome::Blessed) => println!("blessed  {}", file.display()),
            Ok(Outcome::Missing) => {
                drifted += 1;
                println!("MISSING  {}: no expectation (run `cascade-sim check --bless`)", file.display());
            }
            Ok(Outcome::Drift(diff)) => {
                drifted += 1;
                println!("DRIFT    {}", file.display());
                for line in diff {
                    println!("           {line}");
                }
            }
            Err(e) => {
                drifted += 1;
                println!("ERROR    {}: {e:#}", file.display());
            }
        }
    }
    println!("{} scenario(s), {} drift(s)", files.len(), drifted);
    if drifted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `cascade-sim bench`: validates every workload first, then runs each in a child process of
/// this binary (so that each peak-memory figure is its own) and prints a table or JSON.
fn bench(
    names: &[String],
    nodes: Option<u32>,
    chunks: u32,
    fanout: u32,
    json: bool,
    emit_scenario: bool,
    child: bool,
) -> Result<(), Failure> {
    use cascade_sim::bench::{check_positive, Measurement, Workload, ALL_WORKLOADS, DEFAULT_WORKLOADS};
    let usage = |e: cascade_sim::bench::BenchError| Failure::Usage(e.0);
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
    if emit_scenario {
        for w in &workloads {
            if let Some(s) = w.scenario() {
                println!("{}", serde_json::to_string(&s).context("scenario JSON")?);
            }
        }
        return Ok(());
    }
    if child {
        for w in &workloads {
            println!("{}", serde_json::to_string(&w.run()).context("measurement JSON")?);
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut all = Vec::new();
    for w in &workloads {
        let (chunks, fanout) = (chunks.to_string(), fanout.to_string());
        let args = ["bench", "--child", "--workload", &w.name(), "--chunks", &chunks, "--fanout", &fanout];
        let out = std::process::Command::new(&exe)
            .args(args)
            .output()
            .with_context(|| format!("running workload {}", w.name()))?;
        if !out.status.success() {
            return Err(anyhow::anyhow!(
                "workload {} failed ({}): {}",
                w.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let m: Measurement = serde_json::from_slice(&out.stdout).context("measurement from the child process")?;
        if !json {
            println!("{}", m.line());
        }
        all.push(m);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all).context("measurements JSON")?);
    }
    Ok(())
}

fn validate(paths: &[PathBuf]) -> Result<(), Failure> {
    for path in paths {
        load_checked(path, None)?;
        println!("{}: ok", path.display());
    }
    Ok(())
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3} s"))
}

fn print_summary(r: &Results) {
    let servers: usize = r.jobs.iter().map(|j| j.servers).sum();
    println!(
        "scenario {} (seed {}): {} job(s), {} server deliveries, {} raw transfer(s), strategy {}",
        r.scenario,
        r.seed,
        r.jobs.len(),
        servers,
        r.transfers.len(),
        r.strategy
    );
    let ratio = r.ratio_to_bound.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    println!("makespan {}   lower bound {}   ratio {}", fmt_s(r.makespan_s), fmt_s(r.lower_bound_s), ratio);
    let c = &r.completion_s;
    println!(
        "node completion: p50 {}  p90 {}  p99 {}  max {}  ({} complete, {} unfinished)",
        fmt_s(c.p50),
        fmt_s(c.p90),
        fmt_s(c.p99),
        fmt_s(c.max),
        c.count,
        r.unfinished
    );
    for j in &r.jobs {
        println!(
            "  job {} [{}]: {}/{} servers, makespan {}, bound {:.3} s, closed at {}",
            j.name,
            j.strategy,
            j.completed,
            j.servers,
            fmt_s(j.makespan_s),
            j.lower_bound_s,
            fmt_s(j.closed_s)
        );
    }
    for j in &r.jobs {
        if let Some(a) = &j.accountability {
            let count = |state: &str| a.servers.iter().filter(|s| s.state == state).count();
            if count("repaired_then_completed") + count("failed") + count("unfinished") > 0 || !a.consistent {
                println!(
                    "  account of {}: {} completed, {} repaired then completed, {} failed, {} unfinished; {}",
                    j.name,
                    count("completed"),
                    count("repaired_then_completed"),
                    count("failed"),
                    count("unfinished"),
                    if a.consistent {
                        "consistent with the servers' state"
                    } else {
                        "NOT consistent with the servers' state"
                    }
                );
            }
        }
    }
    if !r.faults.is_empty() {
        println!("faults {}   control messages lost {}", r.faults.len(), r.messages_lost);
    }
    println!("events {}   trace_hash {}   end {:.3} s", r.events, r.trace_hash, r.end_s);
}
