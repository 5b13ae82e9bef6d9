//! Faults the engine keeps track of: the random crash process (`faults.random`), drawn lazily
//! while the run goes, and the log of faults that happened.
//!
//! Every subject host alternates between up-times and down-times, exponentially distributed
//! with means `mtbf_s` and `mean_down_s`, drawn from the host's own ChaCha stream
//! (`StreamId::Entity(RANDOM_FAULT_STREAMS, host)`), so a host's schedule depends only on the
//! seed and the host. Each host has at most one pending event on the queue — its next crash or
//! recovery — and draws the one after when it fires, until the horizon. Memory is one entry per
//! subject host; work is one event per fault that happens.
//!
//! The log lists the first [`MAX_LISTED_FAULTS`] faults that happened and counts them all, so
//! a long random process does not grow `results.json` without end.

use crate::kernel::{RngStreams, SimDuration, SimTime, StreamId};
use crate::net::HostId;
use crate::scenario::{FaultAction, RandomFaultProcess};
use rand::Rng;
use rand_chacha::ChaCha12Rng;

/// Entity kind of the per-host random fault streams (kinds 1–3 are taken by the swarm, the
/// base server's repairs and message loss).
pub const RANDOM_FAULT_STREAMS: u32 = 4;

struct Subject {
    host: HostId,
    rng: ChaCha12Rng,
    /// The pending event is the recovery (the host is down by this process).
    down: bool,
}

/// The state of the random crash process: each subject's stream and what its pending event is.
pub struct RandomFaults {
    mtbf_s: f64,
    mean_down_s: f64,
    horizon: SimTime,
    subjects: Vec<Subject>,
}

/// An exponentially distributed span with mean `mean_s`, at least one nanosecond so that a
/// host's events never repeat at one instant.
fn exponential(rng: &mut ChaCha12Rng, mean_s: f64) -> SimDuration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    SimDuration::from_secs_f64(-mean_s * u.ln()).max(SimDuration::from_nanos(1))
}

impl RandomFaults {
    /// The process for `seed` (no subjects without one).
    pub fn new(process: Option<&RandomFaultProcess>, seed: u64, horizon: SimTime) -> RandomFaults {
        let streams = RngStreams::new(seed);
        let subjects = process.map_or_else(Vec::new, |p| {
            p.hosts
                .iter()
                .map(|&host| Subject {
                    host,
                    rng: streams.stream(StreamId::Entity(RANDOM_FAULT_STREAMS, host.0)),
                    down: false,
                })
                .collect()
        });
        let (mtbf_s, mean_down_s) = process.map_or((1.0, 1.0), |p| (p.mtbf_s, p.mean_down_s));
        RandomFaults { mtbf_s, mean_down_s, horizon, subjects }
    }

    /// The first crash of every subject before the horizon, as (time, subject index).
    pub fn first_events(&mut self) -> Vec<(SimTime, u32)> {
        let mut out = Vec::new();
        for i in 0..self.subjects.len() {
            let s = &mut self.subjects[i];
            let at = SimTime::ZERO + exponential(&mut s.rng, self.mtbf_s);
            if at < self.horizon {
                out.push((at, i as u32));
            }
        }
        out
    }

    /// Subject `index`'s pending event fires at `now`: what happens, and when the subject's
    /// next event is (`None` at or past the horizon).
    pub fn fire(&mut self, index: u32, now: SimTime) -> (FaultAction, Option<SimTime>) {
        let s = &mut self.subjects[index as usize];
        let (action, crash, mean) = if s.down {
            (FaultAction::Recover { host: s.host }, false, self.mtbf_s)
        } else {
            (FaultAction::Crash { host: s.host, repairable: true }, true, self.mean_down_s)
        };
        s.down = crash;
        let next = now + exponential(&mut s.rng, mean);
        (action, (next < self.horizon).then_some(next))
    }
}

/// Most faults listed in a run's results (every fault is counted).
pub const MAX_LISTED_FAULTS: usize = 1_000;

/// The faults that happened, apart from their ends (recoveries, heals, restorations): the
/// first [`MAX_LISTED_FAULTS`] of each with their time and label, and how many there were.
#[derive(Debug, Clone, Default)]
pub struct FaultLog {
    listed: Vec<(SimTime, String)>,
    total: u64,
    ends_listed: Vec<(SimTime, String)>,
    ends_total: u64,
}

impl FaultLog {
    /// A fault began (or, with `ends` set, one ended) at `at`; `label` is only made when it
    /// is listed.
    pub fn record(&mut self, at: SimTime, ends: bool, label: impl FnOnce() -> String) {
        let (listed, total) =
            if ends { (&mut self.ends_listed, &mut self.ends_total) } else { (&mut self.listed, &mut self.total) };
        *total += 1;
        if listed.len() < MAX_LISTED_FAULTS {
            listed.push((at, label()));
        }
    }

    /// The first faults that began, in the order they happened.
    pub fn listed(&self) -> &[(SimTime, String)] {
        &self.listed
    }

    /// How many faults began.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The first fault ends, in the order they happened.
    pub fn ends_listed(&self) -> &[(SimTime, String)] {
        &self.ends_listed
    }

    /// How many faults ended.
    pub fn ends_total(&self) -> u64 {
        self.ends_total
    }
}
