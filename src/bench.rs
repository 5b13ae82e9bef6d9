//! Figures about the simulator itself, printed by `cascade-sim bench`: named workloads, each
//! timed on the wall clock with its event rate and peak memory. These are measurements for notes
//! and tuning, never assertions (tests stay fast and deterministic).
//!
//! Workloads (`--workload NAME`; sizes take a `k` suffix, e.g. `shared-upload-30k`):
//!
//! - `kernel`: the bare event queue under the hold model (pop one, push one), 10k pending.
//! - `shared-upload-N`: N raw transfers from one 100 MB/s upload, sizes 1, 2, .., N MB, all at
//!   t=0, each to its own receiver with a 100 GB/s download (no links: the core model).
//! - `tree-N`: N raw transfers over a two-level tree: 1,000 clients (100 MB/s up and down) in 10
//!   racks of 100, each rack joined to a core router by a 1 GB/s link, clients joined to their
//!   rack by 10 GB/s links; transfer k (k = 1..N) carries k MB between a random pair of distinct
//!   clients (ChaCha8 seeded with 1), all at t=0; zero latency.
//! - `cascade-N`: the cascade strategy over N node servers (50–150 Mbit/s uploads), a 256 MB
//!   file in `--chunks` chunks, fanout `--fanout`.
//! - `swarm-N` or `swarm-NxC`: the BitTorrent-like swarm strategy over N peers shaped like the
//!   Kraken-like reference (`scenarios/references/large/kraken.json`): every peer 300 MB/s
//!   (2,400 Mbit/s) up and down, zero latency, a file of C pieces of 4 MB each (C from the name,
//!   else `--chunks`). `swarm-2600x750` is that reference scenario itself (3 GB in 750 pieces),
//!   `swarm-10kx256` the issue's 10,000 peers with a 1 GB file.
//!
//! The CLI runs each workload in a child process of the same binary, so each one's peak memory
//! (VmHWM of `/proc/self/status`, read by the child at the end) is its own.

use crate::kernel::{EventQueue, SimDuration, SimTime};
use crate::scenario::{parse, Scenario};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::time::Instant;

/// A named benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// The event queue alone, hold model.
    Kernel,
    /// Raw transfers sharing one upload.
    SharedUpload(u32),
    /// Raw transfers over a two-level tree.
    Tree(u32),
    /// A cascade run.
    Cascade {
        /// Node servers.
        nodes: u32,
        /// Chunks of the file.
        chunks: u32,
        /// Fanout.
        fanout: u32,
    },
    /// A BitTorrent-like swarm shaped like the Kraken-like reference.
    Swarm {
        /// Peers (node servers).
        peers: u32,
        /// Pieces of the file, 4 MB each.
        pieces: u32,
    },
}

/// Size of one swarm piece, MB (the Kraken-like reference's 4 MB pieces).
pub const SWARM_PIECE_MB: u32 = 4;

/// Most transfers of a raw-transfer workload: `shared-upload-N` gives each transfer a receiver
/// host of its own, and a scenario holds at most [`crate::scenario::limits::MAX_HOSTS`] hosts
/// (the sender is one); `tree-N` stops at the same size. Checked when the name is parsed, since
/// the workload's scenario is written out in full (a `shared-upload-20m` took gigabytes before
/// it could be refused).
pub const MAX_RAW_TRANSFERS: u32 = (crate::scenario::limits::MAX_HOSTS - 1) as u32;

/// Workloads run by `cascade-sim bench` without `--workload` (each under a few seconds).
pub const DEFAULT_WORKLOADS: &[&str] = &["kernel", "shared-upload-10k", "tree-10k", "cascade-10k"];

/// Workloads run by `--workload all` (about 3.5 minutes of CPU on the development VM, most of it
/// cascade-100k; the issue's large swarms are left out: run them by name).
pub const ALL_WORKLOADS: &[&str] =
    &["kernel", "shared-upload-10k", "shared-upload-100k", "tree-10k", "cascade-10k", "cascade-100k", "swarm-1kx256"];

/// Why a workload name or parameter is not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

/// Parses `10000`, `10k` or `1m`; zero is refused.
fn parse_count(what: &str, text: &str) -> Result<u32, BenchError> {
    let (digits, factor) = match text.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000),
        None => match text.strip_suffix(['m', 'M']) {
            Some(d) => (d, 1_000_000),
            None => (text, 1),
        },
    };
    let n = digits.parse::<u32>().ok().and_then(|n| n.checked_mul(factor));
    match n {
        Some(n) if n > 0 => Ok(n),
        _ => Err(BenchError(format!("{what}: `{text}` is not a positive count (e.g. 1000, 10k)"))),
    }
}

/// Checks that a size parameter is positive.
pub fn check_positive(flag: &str, value: u32) -> Result<u32, BenchError> {
    if value == 0 {
        Err(BenchError(format!("{flag}: must be at least 1")))
    } else {
        Ok(value)
    }
}

impl Workload {
    /// Parses a workload name; `chunks` and `fanout` configure cascade workloads.
    pub fn parse(name: &str, chunks: u32, fanout: u32) -> Result<Workload, BenchError> {
        let chunks = check_positive("--chunks", chunks)?;
        let fanout = check_positive("--fanout", fanout)?;
        let what = format!("--workload {name}");
        if name == "kernel" {
            return Ok(Workload::Kernel);
        }
        let transfers = |n: &str| {
            let n = parse_count(&what, n)?;
            if n > MAX_RAW_TRANSFERS {
                return Err(BenchError(format!(
                    "{what}: at most {MAX_RAW_TRANSFERS} transfers (the shared upload gives each a receiver \
                     host of its own, and a scenario holds at most {} hosts)",
                    crate::scenario::limits::MAX_HOSTS
                )));
            }
            Ok(n)
        };
        if let Some(n) = name.strip_prefix("shared-upload-") {
            return Ok(Workload::SharedUpload(transfers(n)?));
        }
        if let Some(n) = name.strip_prefix("tree-") {
            return Ok(Workload::Tree(transfers(n)?));
        }
        if let Some(n) = name.strip_prefix("cascade-") {
            return Ok(Workload::Cascade { nodes: parse_count(&what, n)?, chunks, fanout });
        }
        if let Some(rest) = name.strip_prefix("swarm-") {
            let (peers, pieces) = match rest.split_once(['x', 'X']) {
                Some((n, c)) => (parse_count(&what, n)?, parse_count(&what, c)?),
                None => (parse_count(&what, rest)?, chunks),
            };
            if pieces.checked_mul(SWARM_PIECE_MB).is_none() {
                return Err(BenchError(format!("{what}: {pieces} pieces of {SWARM_PIECE_MB} MB is too large a file")));
            }
            return Ok(Workload::Swarm { peers, pieces });
        }
        Err(BenchError(format!(
            "--workload: unknown workload `{name}` (kernel, shared-upload-N, tree-N, cascade-N, swarm-N, \
             swarm-NxC, all)"
        )))
    }

    /// The workload's name (sizes written as given by [`Workload::parse`]'s canonical form).
    pub fn name(&self) -> String {
        fn count(n: u32) -> String {
            if n.is_multiple_of(1_000_000) {
                format!("{}m", n / 1_000_000)
            } else if n.is_multiple_of(1000) {
                format!("{}k", n / 1000)
            } else {
                n.to_string()
            }
        }
        match *self {
            Workload::Kernel => "kernel".into(),
            Workload::SharedUpload(n) => format!("shared-upload-{}", count(n)),
            Workload::Tree(n) => format!("tree-{}", count(n)),
            Workload::Cascade { nodes, .. } => format!("cascade-{}", count(nodes)),
            Workload::Swarm { peers, pieces } => format!("swarm-{}x{}", count(peers), count(pieces)),
        }
    }

    /// The workload's family (`kernel`, `shared-upload`, `tree`, `cascade`, `swarm`), its size
    /// (flows, servers or peers; 0 for the kernel) and its pieces (chunks or swarm pieces; 0
    /// for raw transfers and the kernel): the axes of the scaling chart.
    pub fn family_size_pieces(&self) -> (&'static str, u64, u32) {
        match *self {
            Workload::Kernel => ("kernel", 0, 0),
            Workload::SharedUpload(n) => ("shared-upload", n.into(), 0),
            Workload::Tree(n) => ("tree", n.into(), 0),
            Workload::Cascade { nodes, chunks, .. } => ("cascade", nodes.into(), chunks),
            Workload::Swarm { peers, pieces } => ("swarm", peers.into(), pieces),
        }
    }

    /// The scenario the workload runs (`None` for the kernel, which runs no scenario).
    pub fn scenario(&self) -> Option<Scenario> {
        match *self {
            Workload::Kernel => None,
            Workload::SharedUpload(n) => Some(shared_upload_scenario(n)),
            Workload::Tree(n) => Some(tree_scenario(n)),
            Workload::Cascade { nodes, chunks, fanout } => Some(cascade_scenario(nodes, chunks, fanout)),
            Workload::Swarm { peers, pieces } => Some(swarm_scenario(peers, pieces)),
        }
    }

    /// The workload as its command line names it, with the parameters that shape its scenario:
    /// `--workload cascade-10 --chunks 256 --fanout 4`.
    fn command_line(&self) -> String {
        match *self {
            Workload::Cascade { chunks, fanout, .. } => {
                format!("--workload {} --chunks {chunks} --fanout {fanout}", self.name())
            }
            _ => format!("--workload {}", self.name()),
        }
    }

    /// Checks that the workload's scenario is one the simulator accepts (every size within the
    /// limits of `src/scenario/limits.rs`, e.g. at most 1,000,000 chunks and 1,100,000 hosts) by
    /// building it, as [`crate::simulate`] would. The error names the workload's parameters and
    /// the scenario's JSON path.
    pub fn check_scenario(&self) -> Result<(), BenchError> {
        match self.scenario() {
            Some(scenario) => scenario.build(None).map(|_| ()).map_err(|e| self.invalid(e)),
            None => Ok(()),
        }
    }

    fn invalid(&self, e: crate::scenario::ScenarioError) -> BenchError {
        BenchError(format!("{}: the workload's scenario is not valid: {e}", self.command_line()))
    }

    /// Runs the workload in this process and measures it; a workload whose scenario the
    /// simulator refuses is an error (see [`Self::check_scenario`]), not a panic.
    pub fn run(&self) -> Result<Measurement, BenchError> {
        let (wall_s, events, detail, huge_pages_mb) = match self.scenario() {
            None => {
                let operations = 5_000_000;
                let start = Instant::now();
                kernel_hold_model(10_000, operations);
                (
                    start.elapsed().as_secs_f64(),
                    operations as u64,
                    "hold model, 10k pending".to_string(),
                    huge_pages_mb(),
                )
            }
            Some(scenario) => {
                let start = Instant::now();
                let run = crate::simulate(&scenario, &crate::RunOptions::default()).map_err(|e| self.invalid(e))?;
                // Read while the finished simulation still holds its memory: freeing it splits
                // and gives back huge pages (the million: 2.6 GB on huge pages before, 0.7 GB
                // after). It is freed inside the timed span, as it always was.
                let huge_pages = huge_pages_mb();
                let crate::Run { results: r, engine } = run;
                drop(engine);
                let wall = start.elapsed().as_secs_f64();
                let mut detail = format!("makespan {:.3} s", r.makespan_s.unwrap_or(f64::NAN));
                if !r.transfers.is_empty() {
                    let done = r.transfers.iter().filter(|t| t.finish_at_s.is_some()).count();
                    write!(detail, ", {done}/{} transfers done", r.transfers.len()).expect("string");
                }
                if let Some(ratio) = r.ratio_to_bound {
                    write!(detail, ", ratio to bound {ratio:.2}").expect("string");
                }
                write!(detail, ", trace {}", r.trace_hash).expect("string");
                (wall, r.events, detail, huge_pages)
            }
        };
        let cpu_times = cpu_user_and_system_seconds();
        Ok(Measurement {
            workload: self.name(),
            wall_s,
            events,
            events_per_s: events as f64 / wall_s,
            cpu_s: cpu_times.map(|(user, system)| user + system),
            sys_s: cpu_times.map(|(_, system)| system),
            max_rss_mb: max_rss_mb(),
            huge_pages_mb,
            huge_pages_asked: allocator_asks_for_huge_pages(),
            detail,
            build: BUILD.to_string(),
        })
    }
}

/// Several runs of one workload (`bench --repeat N`), each in its own process, summed up by
/// the run of median CPU time (wall time where CPU time is missing; the lower of the two middle
/// runs for an even count): its figures are those of one real run, not averages of several.
/// The spread says how much the machine moved the figures while they were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeated {
    /// The median run.
    #[serde(flatten)]
    pub median: Measurement,
    /// Runs made.
    pub runs: u32,
    /// Smallest and largest CPU seconds over the runs (`None` where `/proc` is missing).
    pub cpu_min_s: Option<f64>,
    /// See `cpu_min_s`.
    pub cpu_max_s: Option<f64>,
    /// Smallest and largest wall-clock seconds over the runs.
    pub wall_min_s: f64,
    /// See `wall_min_s`.
    pub wall_max_s: f64,
}

impl Repeated {
    /// Sums up `runs` of one workload (at least one). Runs of a workload are the same
    /// simulation: runs whose events or details (makespan, trace hash) differ are refused, as a
    /// determinism bug.
    pub fn of(runs: Vec<Measurement>) -> Result<Repeated, BenchError> {
        let first = runs.first().ok_or_else(|| BenchError("no run to sum up".into()))?;
        if let Some(other) = runs.iter().find(|m| m.events != first.events || m.detail != first.detail) {
            return Err(BenchError(format!(
                "workload {}: runs differ ({} events, {}; then {} events, {}): the simulation is not reproducible",
                first.workload, first.events, first.detail, other.events, other.detail
            )));
        }
        let cost = |m: &Measurement| m.cpu_s.unwrap_or(m.wall_s);
        let mut order: Vec<&Measurement> = runs.iter().collect();
        order.sort_by(|a, b| cost(a).total_cmp(&cost(b)));
        let cpus: Vec<f64> = runs.iter().filter_map(|m| m.cpu_s).collect();
        let walls = runs.iter().map(|m| m.wall_s);
        Ok(Repeated {
            median: order[(order.len() - 1) / 2].clone(),
            runs: runs.len() as u32,
            cpu_min_s: cpus.iter().copied().reduce(f64::min),
            cpu_max_s: cpus.iter().copied().reduce(f64::max),
            wall_min_s: walls.clone().fold(f64::INFINITY, f64::min),
            wall_max_s: walls.fold(f64::NEG_INFINITY, f64::max),
        })
    }

    /// One line of the human-readable table: the median run's, and the spread when there were
    /// several.
    pub fn line(&self) -> String {
        let mut line = self.median.line();
        if self.runs > 1 {
            let spread = match (self.cpu_min_s, self.cpu_max_s) {
                (Some(lo), Some(hi)) => format!("cpu {lo:.2}-{hi:.2} s"),
                _ => format!("wall {:.3}-{:.3} s", self.wall_min_s, self.wall_max_s),
            };
            write!(line, "   [median of {} runs; {spread}]", self.runs).expect("string");
        }
        line
    }
}

/// One workload's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Workload name.
    pub workload: String,
    /// Wall-clock seconds of the run, collecting results included (building and parsing the
    /// workload's scenario excluded: that is counted in `cpu_s` only).
    pub wall_s: f64,
    /// Events processed (kernel: queue operations).
    pub events: u64,
    /// Events per wall-clock second.
    pub events_per_s: f64,
    /// CPU seconds (user + system) of the process that ran it: less sensitive than wall time
    /// to other processes sharing the machine (`None` where `/proc` is missing).
    pub cpu_s: Option<f64>,
    /// Of `cpu_s`, the seconds the kernel spent for that process (`None` where `/proc` is
    /// missing or in measurements written before this field): nearly all of it the first touch
    /// of fresh memory, which on a VM that hands freed memory back to its host costs up to
    /// about a second per 300 MB on huge pages (README, *Fresh memory on the development VM*).
    #[serde(default)]
    pub sys_s: Option<f64>,
    /// Peak resident memory of the process that ran it, MB (`None` where `/proc` is missing).
    pub max_rss_mb: Option<f64>,
    /// Memory of that process on transparent huge pages when the simulation finished, before
    /// its memory was freed, MB (`None` where `/proc` is missing): 0 when the heap was on 4 KB
    /// pages (see README, Performance).
    pub huge_pages_mb: Option<f64>,
    /// Whether that process's allocator asked the kernel for huge pages (see
    /// [`allocator_asks_for_huge_pages`]): false means 4 KB pages by choice or by glibc's
    /// failure to see the kernel's mode; true with `huge_pages_mb` 0 means the kernel gave none.
    pub huge_pages_asked: Option<bool>,
    /// What the run produced (makespan, trace hash, ...), to tell runs apart.
    pub detail: String,
    /// The build that measured it ([`BUILD`]): `release`, `release+pgo` (built by
    /// `scripts/pgo-build.sh`) or `debug`.
    #[serde(default)]
    pub build: String,
}

/// The kind of build this binary is: `debug` without optimisation, else the
/// `CASCADE_SIM_BUILD` it was compiled with (`scripts/pgo-build.sh` sets `release+pgo`),
/// else `release`. `bench` reports it with every measurement: a profile-guided build runs the
/// same simulation faster, so figures name the build they come from.
pub const BUILD: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    match option_env!("CASCADE_SIM_BUILD") {
        Some(build) => build,
        None => "release",
    }
};

impl Measurement {
    /// One line of the human-readable table.
    pub fn line(&self) -> String {
        let rss = match (self.max_rss_mb, self.huge_pages_mb) {
            (Some(m), Some(h)) if h > 0.0 => format!("{m:.0} MB ({h:.0} MB on huge pages)"),
            (Some(m), _) => format!("{m:.0} MB"),
            (None, _) => "-".to_string(),
        };
        let cpu = match (self.cpu_s, self.sys_s) {
            (Some(c), Some(sys)) => format!("{c:.2} s ({sys:.2} sys)"),
            (Some(c), None) => format!("{c:.2} s"),
            (None, _) => "-".to_string(),
        };
        let rate = if self.events_per_s >= 1e6 {
            format!("{:.2} M", self.events_per_s / 1e6)
        } else {
            format!("{:.1} k", self.events_per_s / 1e3)
        };
        let build = if self.build == "release" { String::new() } else { format!("   [{} build]", self.build) };
        format!(
            "{:<20} {:>9.3} s wall {:>18} cpu  {:>9} events/s  {:>9} events  max RSS {:>8}   {}{build}",
            self.workload, self.wall_s, cpu, rate, self.events, rss, self.detail
        )
    }
}

/// One row of `docs/img/scaling.csv` (`bench --csv`): a measurement with the workload's
/// family, size and pieces, or a run stopped at the time limit (`finished` false, `wall_s` the
/// limit, no CPU time, events or memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingRow {
    /// Workload name.
    pub workload: String,
    /// `shared-upload`, `tree`, `cascade`, `swarm` or `kernel`.
    pub family: String,
    /// Flows (raw transfers), servers (cascade) or peers (swarm).
    pub size: u64,
    /// Chunks (cascade) or pieces (swarm); 0 otherwise.
    pub pieces: u32,
    /// Whether the run finished within the time limit.
    pub finished: bool,
    /// Wall-clock seconds (the limit when not finished).
    pub wall_s: f64,
    /// CPU seconds of the child process.
    pub cpu_s: Option<f64>,
    /// Events processed.
    pub events: u64,
    /// Peak resident memory, MB.
    pub max_rss_mb: Option<f64>,
}

impl ScalingRow {
    /// The row of a finished measurement of `workload`.
    pub fn finished(workload: &Workload, m: &Measurement) -> ScalingRow {
        let (family, size, pieces) = workload.family_size_pieces();
        ScalingRow {
            workload: m.workload.clone(),
            family: family.into(),
            size,
            pieces,
            finished: true,
            wall_s: m.wall_s,
            cpu_s: m.cpu_s,
            events: m.events,
            max_rss_mb: m.max_rss_mb,
        }
    }

    /// Longest time a row may give, seconds (about 31 years): a chart's log axis spans the
    /// decades up to it, so a larger or infinite time is an error rather than a chart of
    /// hundreds of empty decades (or one that never finishes drawing).
    pub const MAX_TIME_S: f64 = 1e9;

    /// Checks what the scaling chart reads of a row: `size` at least 1 (a log axis has no 0),
    /// and `wall_s` and `cpu_s` finite numbers of seconds from 0 to [`Self::MAX_TIME_S`]. The
    /// error names the column and its value.
    pub fn check(&self) -> Result<(), String> {
        if self.size == 0 {
            return Err("size is 0: a workload has at least one flow, server or peer".into());
        }
        let times = [("wall_s", Some(self.wall_s)), ("cpu_s", self.cpu_s)];
        for (column, value) in times.into_iter().filter_map(|(c, v)| v.map(|v| (c, v))) {
            if !(0.0..=Self::MAX_TIME_S).contains(&value) {
                return Err(format!(
                    "{column} is {value:?}: a time is a number of seconds from 0 to {:e}",
                    Self::MAX_TIME_S
                ));
            }
        }
        Ok(())
    }

    /// The row of a run of `workload` stopped after `limit_s` seconds.
    pub fn stopped(workload: &Workload, limit_s: f64) -> ScalingRow {
        let (family, size, pieces) = workload.family_size_pieces();
        ScalingRow {
            workload: workload.name(),
            family: family.into(),
            size,
            pieces,
            finished: false,
            wall_s: limit_s,
            cpu_s: None,
            events: 0,
            max_rss_mb: None,
        }
    }
}

/// Memory of this process on transparent huge pages now, MB (Linux `AnonHugePages`).
pub fn huge_pages_mb() -> Option<f64> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = rollup.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    let kb: f64 = line.trim_start_matches("AnonHugePages:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// Whether this process's allocator asks the kernel for huge pages (`None` where
/// `/proc/self/smaps` is missing): some mapping carries the `hg` flag, `madvise(MADV_HUGEPAGE)`.
/// With `glibc.malloc.hugetlb=1` in effect glibc asks when it first grows its heap; a small
/// block (below its 128 KB threshold for separate mappings: freeing a larger one would raise
/// that threshold for the rest of the run, which cost 5 % at 10^5 servers) makes sure it has.
pub fn allocator_asks_for_huge_pages() -> Option<bool> {
    let block = std::hint::black_box(vec![1u8; 64 << 10]);
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let asked =
        smaps.lines().any(|line| line.starts_with("VmFlags:") && line.split_whitespace().any(|flag| flag == "hg"));
    drop(block);
    Some(asked)
}

/// Peak resident set size of this process so far, MB (Linux `VmHWM`).
pub fn max_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds used by this process so far in its own code and in the kernel on its behalf
/// (fields 14 and 15 of Linux `/proc/self/stat`, in clock ticks of 1/100 s).
pub fn cpu_user_and_system_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    user_and_system_seconds_of_stat(&stat)
}

/// Fields 14 (utime) and 15 (stime) of a `/proc/PID/stat` line, in seconds.
fn user_and_system_seconds_of_stat(stat: &str) -> Option<(f64, f64)> {
    // Fields after the command name (which may hold spaces and parentheses) start at state,
    // field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? / 100.0, ticks(15)? / 100.0))
}

/// The bare event queue under a hold model (pop one, push one), `pending` events queued.
pub fn kernel_hold_model(pending: usize, operations: usize) {
    let mut queue = EventQueue::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*, deterministic and cheap
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % 1_000_000
    };
    for i in 0..pending {
        queue.push(SimTime(next()), i as u64);
    }
    for _ in 0..operations {
        let (t, e) = queue.pop().expect("non-empty");
        queue.push(t + SimDuration::from_nanos(next()), e);
    }
}

/// Horizon long enough for every bench workload to finish (the default is one day).
const BENCH_HORIZON_S: f64 = 1e9;

/// `n` raw transfers of 1, 2, .., n MB from one 100 MB/s upload to n receivers with
/// 100 GB/s downloads, all at t=0. Transfer k ends at `sum_{j<=k} (n-j+1) / 100` s.
pub fn shared_upload_scenario(n: u32) -> Scenario {
    let mut hosts = String::from(r#"{ "name": "src", "upload_mbps": 800, "download_mbps": 800 }"#);
    let mut transfers = String::new();
    for k in 1..=n {
        write!(hosts, r#", {{ "name": "r{k}", "upload_mbps": 800, "download_mbps": 800000 }}"#).expect("string");
        if k > 1 {
            transfers.push_str(", ");
        }
        write!(transfers, r#"{{ "at_s": 0, "from": "src", "to": "r{k}", "size_mb": {k} }}"#).expect("string");
    }
    parse(&format!(
        r#"{{ "name": "bench-shared-upload-{n}", "seed": 1, "horizon_s": {BENCH_HORIZON_S},
              "network": {{ "hosts": [ {hosts} ] }}, "transfers": [ {transfers} ] }}"#
    ))
    .expect("bench scenario is valid")
}

/// Clients, racks and clients per rack of the tree workload.
pub const TREE_RACKS: u32 = 10;
/// Clients per rack of the tree workload.
pub const TREE_CLIENTS_PER_RACK: u32 = 100;

/// `n` raw transfers over a two-level tree (see the module docs): transfer k carries k MB
/// between a random pair of distinct clients drawn from ChaCha8 seeded with 1.
pub fn tree_scenario(n: u32) -> Scenario {
    let clients = TREE_RACKS * TREE_CLIENTS_PER_RACK;
    let mut hosts = String::new();
    let mut links = String::new();
    for c in 1..=clients {
        let rack = (c - 1) / TREE_CLIENTS_PER_RACK + 1;
        if c > 1 {
            hosts.push_str(", ");
        }
        write!(hosts, r#"{{ "name": "c{c}", "upload_mbps": 800, "download_mbps": 800 }}"#).expect("string");
        write!(links, r#"{{ "a": "c{c}", "b": "rack{rack}", "capacity_mbps": 80000 }}, "#).expect("string");
    }
    let mut routers = String::from(r#""core""#);
    for rack in 1..=TREE_RACKS {
        write!(routers, r#", "rack{rack}""#).expect("string");
        if rack > 1 {
            links.push_str(", ");
        }
        write!(links, r#"{{ "a": "rack{rack}", "b": "core", "capacity_mbps": 8000 }}"#).expect("string");
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut transfers = String::new();
    for k in 1..=n {
        let from = rng.gen_range(1..=clients);
        let mut to = rng.gen_range(1..clients);
        if to >= from {
            to += 1;
        }
        if k > 1 {
            transfers.push_str(", ");
        }
        write!(transfers, r#"{{ "at_s": 0, "from": "c{from}", "to": "c{to}", "size_mb": {k} }}"#).expect("string");
    }
    parse(&format!(
        r#"{{ "name": "bench-tree-{n}", "seed": 1, "horizon_s": {BENCH_HORIZON_S},
              "network": {{ "hosts": [ {hosts} ], "routers": [ {routers} ], "links": [ {links} ] }},
              "transfers": [ {transfers} ] }}"#
    ))
    .expect("bench scenario is valid")
}

/// A homogeneous cascade scenario: `nodes` servers of 50–150 Mbit/s, a 1 Gbit/s base server, a
/// 256 MB file in `chunks` chunks.
pub fn cascade_scenario(nodes: u32, chunks: u32, fanout: u32) -> Scenario {
    parse(&format!(
        r#"{{
        "name": "bench-cascade-{nodes}", "seed": 1,
        "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 1000, "download_mbps": 1000, "latency_ms": 5 }},
            "groups": [ {{ "name": "n", "count": {nodes}, "upload_mbps": {{ "uniform": [50, 150] }},
                          "download_mbps": 200, "latency_ms": {{ "uniform": [5, 40] }} }} ]
        }},
        "clients": [ {{ "name": "c", "upload_mbps": 1000, "download_mbps": 1000, "latency_ms": 5,
            "jobs": [ {{ "name": "file", "content": {{ "kind": "file", "size_mb": 256, "chunks": {chunks} }},
                       "strategy": {{ "kind": "cascade", "fanout": {fanout}, "first_nodes": {fanout} }} }} ] }} ]
    }}"#
    ))
    .expect("bench scenario is valid")
}

/// A swarm shaped like `scenarios/references/large/kraken.json`: `peers` peers and a base server
/// at 2,400 Mbit/s (300 MB/s) up and down (the base server's download and the origin client 100x
/// that), zero latency, a file of `pieces` pieces of [`SWARM_PIECE_MB`] MB, the default horizon.
pub fn swarm_scenario(peers: u32, pieces: u32) -> Scenario {
    let size_mb = pieces * SWARM_PIECE_MB;
    parse(&format!(
        r#"{{
        "name": "bench-swarm-{peers}x{pieces}", "seed": 1,
        "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 2400, "download_mbps": 240000 }},
            "groups": [ {{ "name": "peer", "count": {peers}, "upload_mbps": 2400, "download_mbps": 2400 }} ]
        }},
        "clients": [ {{ "name": "origin", "upload_mbps": 240000, "download_mbps": 240000,
            "jobs": [ {{ "name": "file", "content": {{ "kind": "file", "size_mb": {size_mb}, "chunks": {pieces} }},
                       "strategy": {{ "kind": "swarm" }} }} ] }} ]
    }}"#
    ))
    .expect("bench scenario is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(cpu_s: Option<f64>, wall_s: f64, detail: &str) -> Measurement {
        Measurement {
            workload: "cascade-1k".into(),
            wall_s,
            events: 100,
            events_per_s: 100.0 / wall_s,
            cpu_s,
            sys_s: None,
            max_rss_mb: Some(10.0),
            huge_pages_mb: Some(0.0),
            huge_pages_asked: Some(false),
            detail: detail.into(),
            build: "release".into(),
        }
    }

    #[test]
    fn a_measurement_names_a_build_other_than_the_plain_release() {
        let mut m = measured(Some(1.0), 1.0, "makespan 1 s, trace abc");
        assert!(m.line().ends_with("trace abc"), "{}", m.line());
        m.build = "release+pgo".into();
        assert!(m.line().ends_with("trace abc   [release+pgo build]"), "{}", m.line());
        if cfg!(debug_assertions) {
            assert_eq!(BUILD, "debug", "an unoptimised build does not pass for a release");
        }
    }

    #[test]
    fn cpu_time_is_split_into_user_and_system_time() {
        // A /proc/PID/stat line whose command name holds a space and a parenthesis; utime
        // (field 14) 1,234 ticks and stime (field 15) 56 ticks: 12.34 s and 0.56 s.
        let stat = "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 1 0 100 2000 300";
        assert_eq!(user_and_system_seconds_of_stat(stat), Some((12.34, 0.56)));
        assert_eq!(user_and_system_seconds_of_stat("4242 (x) R 1 2"), None, "a short line has no times");
        let mut m = measured(Some(12.9), 13.0, "x");
        m.sys_s = Some(0.56);
        assert!(m.line().contains("12.90 s (0.56 sys) cpu"), "{}", m.line());
        // A measurement written before the field reads as unknown, not as zero.
        let mut old = serde_json::to_value(&m).unwrap();
        old.as_object_mut().unwrap().remove("sys_s");
        assert_eq!(serde_json::from_value::<Measurement>(old).unwrap().sys_s, None);
        // This process's own /proc line parses.
        let (user, system) = cpu_user_and_system_seconds().expect("Linux /proc");
        assert!(user >= 0.0 && system >= 0.0);
    }

    #[test]
    fn repeated_runs_are_summed_up_by_the_run_of_median_cpu_time() {
        // CPU 3, 1, 2: the median is the third run (wall 0.3), the spread 1-3.
        let runs = vec![measured(Some(3.0), 3.1, "x"), measured(Some(1.0), 1.2, "x"), measured(Some(2.0), 0.3, "x")];
        let r = Repeated::of(runs).unwrap();
        assert_eq!((r.runs, r.median.cpu_s, r.median.wall_s), (3, Some(2.0), 0.3));
        assert_eq!((r.cpu_min_s, r.cpu_max_s, r.wall_min_s, r.wall_max_s), (Some(1.0), Some(3.0), 0.3, 3.1));
        assert!(r.line().ends_with("[median of 3 runs; cpu 1.00-3.00 s]"), "{}", r.line());
        // An even count takes the lower middle run; without CPU times, wall times order them.
        let runs = vec![
            measured(None, 4.0, "x"),
            measured(None, 1.0, "x"),
            measured(None, 2.0, "x"),
            measured(None, 3.0, "x"),
        ];
        let r = Repeated::of(runs).unwrap();
        assert_eq!((r.median.wall_s, r.cpu_min_s), (2.0, None));
        assert!(r.line().ends_with("[median of 4 runs; wall 1.000-4.000 s]"), "{}", r.line());
        // One run: its own line, nothing added.
        let r = Repeated::of(vec![measured(Some(1.0), 1.0, "x")]).unwrap();
        assert_eq!(r.line(), r.median.line());
    }

    #[test]
    fn repeated_runs_that_differ_are_a_determinism_bug() {
        let e =
            Repeated::of(vec![measured(Some(1.0), 1.0, "trace a"), measured(Some(1.0), 1.0, "trace b")]).unwrap_err();
        assert!(e.0.contains("not reproducible") && e.0.contains("trace a") && e.0.contains("trace b"), "{}", e.0);
        assert!(Repeated::of(Vec::new()).is_err());
    }

    #[test]
    fn workload_names_parse_and_round_trip() {
        for name in ["kernel", "shared-upload-10k", "shared-upload-100k", "tree-10k", "cascade-10k", "cascade-1m"] {
            assert_eq!(Workload::parse(name, 256, 4).unwrap().name(), name);
        }
        assert_eq!(Workload::parse("tree-1500", 256, 4).unwrap(), Workload::Tree(1500));
    }

    #[test]
    fn swarm_names_take_pieces_from_the_name_or_from_chunks() {
        let swarm = |peers, pieces| Workload::Swarm { peers, pieces };
        assert_eq!(Workload::parse("swarm-2600x750", 256, 4).unwrap(), swarm(2600, 750));
        assert_eq!(Workload::parse("swarm-10kx256", 100, 4).unwrap(), swarm(10_000, 256));
        assert_eq!(Workload::parse("swarm-1k", 150, 4).unwrap(), swarm(1000, 150));
        assert_eq!(Workload::parse("swarm-300", 256, 4).unwrap().name(), "swarm-300x256");
        for name in ["swarm-2600x750", "swarm-10kx256", "swarm-1kx1k"] {
            assert_eq!(Workload::parse(name, 256, 4).unwrap().name(), name);
        }
        for name in ["swarm-", "swarm-x256", "swarm-100x", "swarm-100x0", "swarm-0x5", "swarm-1x2x3", "swarm-5x2000m"] {
            assert!(Workload::parse(name, 256, 4).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn workloads_know_their_family_size_and_pieces() {
        let parse = |name| Workload::parse(name, 128, 4).unwrap().family_size_pieces();
        assert_eq!(parse("kernel"), ("kernel", 0, 0));
        assert_eq!(parse("tree-3k"), ("tree", 3000, 0));
        assert_eq!(parse("shared-upload-100k"), ("shared-upload", 100_000, 0));
        assert_eq!(parse("cascade-1m"), ("cascade", 1_000_000, 128));
        assert_eq!(parse("swarm-2600x750"), ("swarm", 2600, 750));
        assert_eq!(parse("swarm-300"), ("swarm", 300, 128));
        let stopped = ScalingRow::stopped(&Workload::parse("swarm-10kx256", 256, 4).unwrap(), 900.0);
        assert_eq!((stopped.size, stopped.pieces, stopped.finished, stopped.wall_s), (10_000, 256, false, 900.0));
    }

    #[test]
    fn swarm_2600x750_is_the_kraken_like_reference() {
        let mut reference: Scenario =
            parse(include_str!("../scenarios/references/large/kraken.json")).expect("reference parses");
        let bench = swarm_scenario(2600, 750);
        reference.schema = None;
        reference.description = None;
        reference.name = bench.name.clone();
        assert_eq!(serde_json::to_value(&bench).unwrap(), serde_json::to_value(&reference).unwrap());
    }

    #[test]
    fn a_small_swarm_delivers_every_piece() {
        let r = crate::run(&swarm_scenario(4, 3), None).unwrap();
        // 12 MB to 4 peers: at least 12 MB / 300 MB/s = 0.04 s, and it finishes.
        let makespan = r.makespan_s.expect("finishes");
        assert!(makespan >= 0.04, "makespan {makespan}");
    }

    #[test]
    fn bad_workloads_and_sizes_are_refused() {
        for name in ["shared-upload-0", "tree-", "tree-x", "cascade--1", "nope", "shared-upload-99999999k"] {
            assert!(Workload::parse(name, 256, 4).is_err(), "{name} accepted");
        }
        assert_eq!(Workload::parse("cascade-10k", 0, 4).unwrap_err().0, "--chunks: must be at least 1");
        assert_eq!(Workload::parse("kernel", 256, 0).unwrap_err().0, "--fanout: must be at least 1");
    }

    #[test]
    fn small_shared_upload_ends_at_the_closed_form() {
        // 1, 2 and 3 MB share 100 MB/s: all have sent 1 MB at 0.03 s, when the first ends; the
        // other two send their next MB at 50 MB/s (0.05 s), the last its third alone (0.06 s).
        let r = crate::run(&shared_upload_scenario(3), None).unwrap();
        let finish: Vec<f64> = r.transfers.iter().map(|t| t.finish_at_s.unwrap()).collect();
        assert_eq!(finish, vec![0.03, 0.05, 0.06]);
    }

    #[test]
    fn tree_workload_is_deterministic_and_finishes() {
        let (a, b) = (tree_scenario(50), tree_scenario(50));
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        let r = crate::run(&a, None).unwrap();
        assert!(r.transfers.iter().all(|t| t.finish_at_s.is_some()));
    }
}
