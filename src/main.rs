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
    /// Measure the simulator itself: kernel events per second and the wall time of a large
    /// cascade (figures for the notes, not a test).
    Bench {
        /// Node servers in the cascade run.
        #[arg(long, default_value_t = 10_000)]
        nodes: u32,
        /// Chunks of the file distributed.
        #[arg(long, default_value_t = 256)]
        chunks: u32,
        /// Cascade fanout.
        #[arg(long, default_value_t = 4)]
        fanout: u32,
    },
}

/// Bad input (exit 2) or a failure of ours or of the system (exit 1).
enum Failure {
    Input(ScenarioError),
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
        Command::Bench { nodes, chunks, fanout } => {
            cascade_sim::bench::print_figures(nodes, chunks, fanout);
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
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
