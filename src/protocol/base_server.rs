//! The base server (\[0037\], \[0043\], \[0050\], \[0053\]–\[0055\], \[0063\]–\[0077\], claims 1–4, 7–12):
//! accepts or denies job requests, creates job objects, receives each job's log (content and
//! commands) from its client and streams it to the first node servers, collects receipt,
//! progress and command-completion notifications, keeps the client informed, relays status
//! queries, serves servers that lost their source, and after end-job chases every server that
//! has not reported: wait periods, status queries, repair and reactivation, notices to the
//! client, and finally the closing notification — sent even if the client's session has ended.
//!
//! Sans-IO like every role: the engine calls [`BaseServer::handle_message`],
//! [`BaseServer::on_item`], [`BaseServer::on_timer`], [`BaseServer::on_repair_result`],
//! [`BaseServer::on_stream_drained`], [`BaseServer::on_upload_lost`] and
//! [`BaseServer::on_undeliverable`] and drains the [`Outbox`] after each call.
//!
//! # The duty (\[0074\]–\[0077\])
//!
//! The wait starts at `T0`, the later of the end-job command's arrival and the job's *expected
//! completion* (its creation plus the Kumar–Ross lower bound computed from the declared
//! capacities). At the end of each wait period `T1, T2, …` the base server queries the servers
//! that have not completed and showed no progress during the period. Progress is measured in
//! items and bytes held — from `Holding`/`Received` notifications and from status answers — not
//! in completions, so a server that is receiving is never a laggard. A server that answers
//! without progress is left waiting while its source progresses (it is waiting for its turn in
//! the cascade); it is *reactivated* — offered the job by the base server, resuming from what it
//! holds (\[0076\]) — when it has no source or its chain of sources made no progress for a
//! period, or when the whole job made no progress for two periods (which also reaches servers
//! never approached because their source died). That last verdict is confirmed two periods
//! later: every pending server is asked in between, and only if the job still looks quiet are
//! the suspects reactivated. A job whose content is a few large items goes many periods
//! without a notice while one level of the tree receives, and only the receiving servers'
//! answers show their bytes. A server that does not answer is *repaired*: each
//! attempt takes `repair_time` and works with `repair_success`; a repaired server is
//! reactivated. At most `max_repairs` attempts are made; then the server is given up on and the
//! client told (\[0077\]). The job closes when every server completed end-job or was given up on.
//!
//! Every server's verdict is final and one of: completed; completed after a fault (it lost its
//! source, crashed or was reactivated, but needed no repair); repaired then completed; failed
//! (with the reason). The client's notices are sent in that order of knowledge and never
//! contradict each other: delays only for servers still pending, at most one failure per
//! server, the closing last.

use super::job::{IndexList, Item, JobId, JobObject, JobRequest, StrategyKind};
use super::message::{ControlConfig, Message, NodeStatus, Outbox, Output, QueryOrigin, RepairOutcome, Timer};
use super::node_server::ResumePoint;
use super::origin;
use super::plan::{plan_cascade, CascadePlan, PlanInputs};
use super::source::{Forwarder, SourceContext, SourceHost};
use crate::kernel::{SimDuration, SimTime};
use crate::net::bounds::{job_lower_bound, JobBoundInputs};
use crate::net::HostId;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// The base server's accountability duty after end-job (\[0074\]–\[0077\]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DutyConfig {
    /// Off: the base server never queries, repairs or reactivates (for comparisons).
    pub enabled: bool,
    /// A wait period T0..T1 and each extension; `None` derives it from the job (a quarter of
    /// its expected completion time, between `min_auto_wait` and 60 s).
    pub wait_period: Option<SimDuration>,
    /// Shortest automatic wait period (1 s, or more when the horizon would otherwise hold too
    /// many periods).
    pub min_auto_wait: SimDuration,
    /// A status query unanswered this long counts as no answer.
    pub query_timeout: SimDuration,
    /// One repair attempt takes this long.
    pub repair_time: SimDuration,
    /// Probability that a repair attempt works.
    pub repair_success: f64,
    /// Repair attempts (successful or not) made on one server at most; 0 gives up on a server
    /// as soon as it fails to answer.
    pub max_repairs: u32,
}

impl Default for DutyConfig {
    fn default() -> Self {
        DutyConfig {
            enabled: true,
            wait_period: None,
            min_auto_wait: SimDuration::from_secs(1),
            query_timeout: SimDuration::from_secs(2),
            repair_time: SimDuration::from_secs(15),
            repair_success: 1.0,
            max_repairs: 3,
        }
    }
}

/// The automatic wait period for a job expected to take `expected`: a quarter of it, at least
/// `min` (1 s by default) and at most 60 s (or `min`, if larger).
pub fn auto_wait_period(expected: SimDuration, min: SimDuration) -> SimDuration {
    let max = min.as_nanos().max(60_000_000_000);
    SimDuration::from_nanos((expected.as_nanos() / 4).clamp(min.as_nanos(), max))
}

/// The base server's final word on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Still pending (the run ended first).
    Pending,
    /// Completed end-job.
    Done,
    /// Given up on, with the reason.
    Failed(String),
    /// It left the network before completing (churn: not a fault, nothing to repair).
    Left,
}

/// What the base server knows of one server's part in a job.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerReport {
    /// When it learned that the server holds the job object.
    pub reached_at: Option<SimTime>,
    /// When the server's receipt notification (or a status answer showing it) arrived.
    pub received_at: Option<SimTime>,
    /// Progress last known: (items held, bytes of the next item).
    pub progress: (u32, u64),
    /// When progress was last seen.
    pub progress_at: Option<SimTime>,
    /// When the base server learned the server's current tenth of the content (or that it was
    /// reached): its place among the servers of the same tenth in the help order. Unlike
    /// `progress_at` it does not move when a status answer shows bytes within the tenth, so
    /// the duty's queries do not reorder whom the base server helps.
    decile_at: Option<SimTime>,
    /// The time between the last two progress observations.
    progress_gap: Option<SimDuration>,
    /// The server's source, as last reported.
    pub source: Option<HostId>,
    /// Command completions reported.
    pub commands_completed: u32,
    /// When the base server learned that the server completed end-job.
    pub done_at: Option<SimTime>,
    /// The verdict.
    pub verdict: Verdict,
    /// When the verdict `Failed` was given.
    pub failed_at: Option<SimTime>,
    /// A server given up on that completed all the same, after the verdict.
    pub late_done_at: Option<SimTime>,
    /// Status queries the base server sent it.
    pub queries: u32,
    /// Status queries it answered.
    pub answers: u32,
    /// Repair attempts made on it.
    pub repairs: u32,
    /// A repair fixed it.
    pub repaired: bool,
    /// It went through a fault the base server saw: it asked for a source, did not answer, or
    /// was reactivated.
    pub faulted: bool,
    /// Reactivations (activation offers) the base server sent it.
    pub activations: u32,
    /// The base server offered it help once already.
    helped: bool,
    /// When the last activation offer went out (requests within a retry period are answered
    /// by that one).
    last_activation: Option<SimTime>,
    /// The query awaiting an answer, if any.
    awaiting: Option<u32>,
    /// A repair (or, once the attempts are used up, an inspection) is under way.
    repairing: bool,
    /// The visit under way only inspects: no repair attempts are left.
    inspecting: bool,
    /// Tenths of the content it reported holding.
    decile: u32,
    /// Wait periods between checks while it keeps progressing (doubles up to 8 each time a
    /// check finds progress, back to 1 when one does not).
    check_every: u32,
    /// No periodic check before this.
    next_check: SimTime,
    /// When the base server learned that the server left the network (churn).
    pub left_at: Option<SimTime>,
    /// A visit found the server not yet in the network: it is not checked until it joins.
    absent: bool,
    /// Servers the base server asked this one to serve once it held the content (churn).
    served: u32,
    /// It answered without progress while the job looked quiet, though its own chain of
    /// sources leads to a live one: reactivated if the job still looks quiet after the next
    /// wait period asked every pending server (a chain's head may be receiving a large item
    /// without notices, which only its answer shows).
    suspect: bool,
}

impl Default for ServerReport {
    fn default() -> Self {
        ServerReport {
            reached_at: None,
            received_at: None,
            progress: (0, 0),
            progress_at: None,
            decile_at: None,
            progress_gap: None,
            source: None,
            commands_completed: 0,
            done_at: None,
            verdict: Verdict::Pending,
            failed_at: None,
            late_done_at: None,
            queries: 0,
            answers: 0,
            repairs: 0,
            repaired: false,
            faulted: false,
            activations: 0,
            helped: false,
            last_activation: None,
            awaiting: None,
            repairing: false,
            inspecting: false,
            decile: 0,
            check_every: 1,
            next_check: SimTime::ZERO,
            left_at: None,
            absent: false,
            served: 0,
            suspect: false,
        }
    }
}

impl ServerReport {
    fn pending(&self) -> bool {
        self.verdict == Verdict::Pending
    }

    /// Able to serve another server, as far as the base server knows: not left the network,
    /// not under repair, not given up on.
    fn can_serve(&self) -> bool {
        self.left_at.is_none() && !self.repairing && !matches!(self.verdict, Verdict::Failed(_))
    }

    /// The base server learned that the server holds the job object: it is at tenth 0 since.
    fn note_reached(&mut self, now: SimTime) {
        self.reached_at = Some(now);
        self.decile_at = Some(now);
    }

    /// Its place among the servers the base server may offer help to (fewest tenths of the
    /// content first, then the longest at that tenth, as far as the base server knows), while
    /// it is one: pending, reached, not holding the content, not yet helped. The key only
    /// grows (tenths and the times they were learned never go back), and a server that stops
    /// being one never becomes one again. It changes only with what the servers' notices tell
    /// (reach, tenths), which status answers repeat later, never sooner: so the order, and with
    /// it a fault-free job's course, is the same with the duty's queries and without them.
    fn help_key(&self) -> Option<(u32, SimTime)> {
        (self.pending() && self.received_at.is_none() && self.reached_at.is_some() && !self.helped)
            .then(|| (self.decile, self.decile_at.unwrap_or(SimTime::ZERO)))
    }
}

/// The base server's reports on one job's servers, by host, in host order: what a
/// `BTreeMap<HostId, ServerReport>` gives, with a lookup that reads two records instead of
/// walking a tree. Every node server's notice looks its report up; at 10^5 servers each level of
/// a B-tree is a cache miss. The server list is fixed when the job is created (\[0043\]), so the
/// reports are a sorted list, indexed by host id where the ids are dense enough (at most
/// [`ServerReports::INDEX_SPREAD`] times as many ids as servers, so the index never outgrows the
/// list out of proportion), and found by binary search otherwise.
#[derive(Debug, Clone, Default)]
pub struct ServerReports {
    hosts: Vec<HostId>,
    reports: Vec<ServerReport>,
    /// Position in `hosts` by host id (`u32::MAX`: not listed); empty when ids are sparse.
    index: Vec<u32>,
}

impl ServerReports {
    /// Host ids an index may span per listed server.
    pub const INDEX_SPREAD: usize = 8;

    /// A fresh report for each of `servers` (a server listed twice has one).
    pub fn new(servers: &[HostId]) -> Self {
        let mut hosts = servers.to_vec();
        hosts.sort_unstable();
        hosts.dedup();
        let span = hosts.last().map_or(0, |h| h.0 as usize + 1);
        let mut index = Vec::new();
        if span <= hosts.len().saturating_mul(Self::INDEX_SPREAD) {
            index = vec![u32::MAX; span];
            for (i, h) in hosts.iter().enumerate() {
                index[h.0 as usize] = i as u32;
            }
        }
        let reports = vec![ServerReport::default(); hosts.len()];
        ServerReports { hosts, reports, index }
    }

    /// Asks for what looking up `server` reads: `deeper` false, its place in the index;
    /// true (once that has arrived), its report. Nothing when the ids are sparse (a binary
    /// search reads too many lines to be worth asking for).
    fn prefetch(&self, server: HostId, deeper: bool) {
        use crate::kernel::prefetch::{prefetch, prefetch_lines_at};
        let Some(slot) = self.index.get(server.0 as usize) else { return };
        if !deeper {
            prefetch(slot);
        } else if let Some(report) = self.reports.get(*slot as usize) {
            // Every line the report spans (not aligned to lines).
            let start = (report as *const ServerReport).cast::<u8>();
            prefetch_lines_at(start, (start as usize % 64 + std::mem::size_of::<ServerReport>()).div_ceil(64));
        }
    }

    /// Whether `server` is a candidate for help with the key (`tenth`, `at`) now.
    fn holds_help_key(&self, server: HostId, tenth: u32, at: SimTime) -> bool {
        self.get(&server).and_then(ServerReport::help_key) == Some((tenth, at))
    }

    fn position(&self, server: &HostId) -> Option<usize> {
        if self.index.is_empty() {
            self.hosts.binary_search(server).ok()
        } else {
            self.index.get(server.0 as usize).filter(|&&i| i != u32::MAX).map(|&i| i as usize)
        }
    }

    /// The report on `server`, if it is listed.
    pub fn get(&self, server: &HostId) -> Option<&ServerReport> {
        self.position(server).map(|i| &self.reports[i])
    }

    /// The report on `server`, if it is listed, to change.
    pub fn get_mut(&mut self, server: &HostId) -> Option<&mut ServerReport> {
        self.position(server).map(|i| &mut self.reports[i])
    }

    /// Listed servers.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when no server is listed.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Servers and their reports, in host order.
    pub fn iter(&self) -> impl Iterator<Item = (&HostId, &ServerReport)> {
        self.hosts.iter().zip(&self.reports)
    }

    /// Servers and their reports to change, in host order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&HostId, &mut ServerReport)> {
        self.hosts.iter().zip(&mut self.reports)
    }

    /// The reports, in host order.
    pub fn values(&self) -> impl Iterator<Item = &ServerReport> {
        self.reports.iter()
    }
}

impl std::ops::Index<&HostId> for ServerReports {
    type Output = ServerReport;

    fn index(&self, server: &HostId) -> &ServerReport {
        self.get(server).expect("a listed server")
    }
}

/// The duty's timing for one job, for reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DutyTiming {
    /// The job's expected completion time (its lower bound from declared capacities).
    pub expected: SimDuration,
    /// T0: when the waiting started.
    pub t0: SimTime,
    /// The wait period.
    pub wait_period: SimDuration,
    /// Wait periods that ended before the job closed.
    pub periods: u32,
}

/// The servers a base server may offer help to, in the order of their keys (tenths of the
/// content reported, then when that tenth was learned, then host id; see
/// [`ServerReport::help_key`]): a queue per tenth, each sorted by (time, host). A server is
/// entered each time its key changes while it is a candidate (it is reached, or reports a
/// new tenth), always at the time it changes, so an entry joins its queue at or near the
/// back. Its earlier entries are then stale, as are all of its entries once it stops being a
/// candidate; a walk drops the stale entries it meets, and when the entries have doubled
/// since the last time only current ones were left, the stale ones are dropped everywhere
/// (so it never holds twice as many entries as the most candidates there have been, or
/// 2,048). A queue emptied by walks or sweeps gives back its room, and the job's closing drops
/// the whole queue (popped entries keep their room in a `VecDeque`: at 10^6 servers that kept
/// 100 MB past the end of the help). Entering is a push and dropping a pop, where a sorted set
/// moved each entry as its key grew (a removal and an insertion, about a thousand instructions
/// and several cache misses each at 10^5 servers).
#[derive(Debug, Clone)]
struct HelpQueue {
    by_tenth: Vec<VecDeque<(SimTime, HostId)>>,
    /// Entries left by the last sweep of stale ones.
    swept_to: usize,
    /// Below twice this many entries the stale ones are left to the walks.
    sweep_from: usize,
}

impl Default for HelpQueue {
    fn default() -> Self {
        HelpQueue { by_tenth: Vec::new(), swept_to: 0, sweep_from: 1024 }
    }
}

/// Gives back the room of a queue that holds less than a quarter of it.
fn give_back_room(queue: &mut VecDeque<(SimTime, HostId)>) {
    if queue.capacity() > 64 && queue.len() < queue.capacity() / 4 {
        queue.shrink_to(2 * queue.len());
    }
}

impl HelpQueue {
    /// Entries in all queues, stale ones included.
    fn entries(&self) -> usize {
        self.by_tenth.iter().map(VecDeque::len).sum()
    }

    /// Enters `server` with the key (`tenth`, `at`); `current` tells whether an entry holds
    /// its server's key now (for the sweep of stale entries).
    fn enter(&mut self, tenth: u32, at: SimTime, server: HostId, current: impl Fn(u32, SimTime, HostId) -> bool) {
        let slot = tenth as usize;
        if self.by_tenth.len() <= slot {
            self.by_tenth.resize_with(slot + 1, VecDeque::new);
        }
        let queue = &mut self.by_tenth[slot];
        if queue.back().is_none_or(|&last| last < (at, server)) {
            queue.push_back((at, server)); // nearly always: entered at the latest time
        } else if let Err(place) = queue.binary_search(&(at, server)) {
            queue.insert(place, (at, server));
        } else {
            return; // entered already
        }
        if self.entries() >= 2 * self.swept_to.max(self.sweep_from) {
            for (tenth, queue) in self.by_tenth.iter_mut().enumerate() {
                queue.retain(|&(at, server)| current(tenth as u32, at, server));
                // A tenth's queue fills as servers reach it and empties as they move on.
                give_back_room(queue);
            }
            self.swept_to = self.entries();
        }
    }

    /// The first `count` entries in key order that are `current` (the server's key now) and
    /// `eligible`, dropping the entries met on the way that are not current.
    fn first(
        &mut self,
        count: usize,
        current: impl Fn(u32, SimTime, HostId) -> bool,
        eligible: impl Fn(HostId) -> bool,
    ) -> Vec<((u32, SimTime), HostId)> {
        let mut chosen = Vec::new();
        for (tenth, queue) in self.by_tenth.iter_mut().enumerate() {
            let mut i = 0;
            while chosen.len() < count {
                let Some(&(at, server)) = queue.get(i) else { break };
                if !current(tenth as u32, at, server) {
                    queue.remove(i);
                    continue;
                }
                if eligible(server) {
                    chosen.push(((tenth as u32, at), server));
                }
                i += 1;
            }
            give_back_room(queue); // popping keeps the room
        }
        chosen
    }
}

/// The base server's record of one job.
#[derive(Debug, Clone)]
pub struct BaseJob {
    /// The job object.
    pub object: Rc<JobObject>,
    /// The client that requested it.
    pub client: HostId,
    /// The client's index of the job.
    pub ticket: u32,
    /// The client's name for the job.
    pub name: String,
    /// When the job object was created.
    pub created_at: SimTime,
    /// When the end-job command arrived from the client (the wait starts).
    pub end_job_at: Option<SimTime>,
    /// When every listed server had completed the end-job command or was given up on.
    pub closed_at: Option<SimTime>,
    /// When the client ended its session.
    pub session_ended_at: Option<SimTime>,
    /// Per server, what it reported and what was done about it.
    pub reports: ServerReports,
    /// The servers the base server may offer help to, in the order of their keys (see
    /// [`HelpQueue`]), so that helping costs no pass over every report.
    help_queue: HelpQueue,
    /// What the base server chose for an automatic cascade.
    pub plan: Option<CascadePlan>,
    /// Servers known to hold the job object.
    pub reached: u32,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Servers that completed the job.
    pub done: u32,
    /// Servers given up on.
    pub failed: u32,
    /// Servers that left before completing (churn).
    pub left: u32,
    /// Command completions over all servers.
    pub commands_completed: u32,
    /// Items of the log received from the client.
    pub held: u32,
    /// Content chunks received from the client.
    pub chunks_held: u32,
    /// The end-job command has arrived from the client.
    pub log_complete: bool,
    /// The last progress any server reported.
    pub last_progress: SimTime,
    /// The duty's timing (set when end-job arrives).
    pub duty: Option<DutyTiming>,
    /// Times the client's upload broke and the client was asked to resume.
    pub upload_resumes: u32,
    /// Where the client's upload broke, until it flows again.
    upload_cut: Option<ResumePoint>,
    /// Content percentage last reported to the client.
    reported_percent: u32,
    deciles: u64,
    next_query: u32,
    forwarder: Forwarder,
    /// Origins whose copy of the log is paused, with the next item each needs.
    mirrors: BTreeMap<HostId, u32>,
    /// The last wait period asked every pending server, because the job looked quiet and some
    /// servers were suspects (see [`ServerReport::suspect`]).
    asked_all_while_quiet: bool,
}

impl BaseJob {
    /// Enters `server` among the candidates for help if it is one (see [`ServerReport::help_key`]).
    fn enqueue_help(&mut self, server: HostId) {
        let Some((tenth, at)) = self.reports.get(&server).and_then(ServerReport::help_key) else { return };
        let reports = &self.reports;
        self.help_queue.enter(tenth, at, server, |tenth, at, h| reports.holds_help_key(h, tenth, at));
    }

    /// No server showed any progress for two wait periods: whatever waits is stuck.
    fn quiet(&self, now: SimTime, wait: SimDuration) -> bool {
        now.since(self.last_progress.min(now)) >= wait + wait
    }

    /// True when `server` is being fed: it is done, progressed during the last wait period, or
    /// waits behind a source that is itself being fed (a chain of servers waiting for their
    /// turn is healthy as long as its head progresses). The base server itself always counts
    /// as fed.
    fn fed(&self, server: HostId, base_server: HostId, now: SimTime, wait: SimDuration) -> bool {
        let mut current = server;
        // A chain longer than the server list has a cycle: not fed.
        for _ in 0..=self.reports.len() {
            if current == base_server || self.object.origins.iter().any(|p| p.host == current) {
                return true;
            }
            let Some(r) = self.reports.get(&current) else { return false };
            if r.done_at.is_some() || r.progress_at.is_some_and(|t| now.since(t.min(now)) < wait) {
                return true;
            }
            match r.source {
                Some(next) if r.reached_at.is_some() && r.pending() => current = next,
                _ => return false,
            }
        }
        false
    }
}

/// Declared capacities of every host, bytes per second, and its access latency: what the base
/// server plans with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Declared {
    /// Upload.
    pub upload: f64,
    /// Download.
    pub download: f64,
    /// Access latency, seconds.
    pub latency_s: f64,
}

/// The inputs of a job's lower bound from the declared capacities of the servers that must
/// complete, of the origins (the base server first) and of the client's upload.
pub fn request_bound_inputs(
    request: &JobRequest,
    servers: &[Declared],
    origins: &[Declared],
    client_upload: f64,
) -> JobBoundInputs {
    let content = &request.content;
    let origin_upload: f64 = origins.iter().map(|d| d.upload).sum();
    JobBoundInputs {
        content_bytes: content.total_bytes as f64,
        first_copy_upload: if request.preseeded { origin_upload } else { client_upload.min(origins[0].upload) },
        origin_upload,
        min_download: servers.iter().map(|d| d.download).fold(f64::INFINITY, f64::min),
        sum_peer_upload: servers.iter().map(|d| d.upload).sum(),
        receivers: servers.len(),
        live_duration_s: content.live_chunk_interval.map_or(0.0, |i| i.as_secs_f64() * content.chunks as f64),
    }
}

/// The base server.
#[derive(Debug, Clone)]
pub struct BaseServer {
    host: HostId,
    upload_bps: f64,
    /// Declared capacities of every host, for the rate sort (\[0071\]) and the expected time.
    declared: Rc<[Declared]>,
    max_open_jobs: Option<u32>,
    duty: DutyConfig,
    control: ControlConfig,
    rng: ChaCha12Rng,
    repair_rng: ChaCha12Rng,
    jobs: Vec<BaseJob>,
    /// Jobs by (client, ticket): a repeated request gets the same job.
    by_request: BTreeMap<(HostId, u32), JobId>,
    /// Origins besides the base server ([`super::origin`]).
    origins: Vec<HostId>,
    /// Smooth weighted round robin over the base server and the origins, by upload: who serves
    /// the next reactivation.
    serve_credit: Vec<f64>,
}

impl BaseServer {
    /// A base server on `host`. `declared[h]` is host `h`'s declared capacities;
    /// `max_open_jobs` limits jobs open at once (requests beyond it are denied); `duty` sets the
    /// wait periods and repairs, `control` the retry period; `rng` and `repair_rng` are the
    /// seeded streams for random trees and for repair outcomes.
    pub fn new(
        host: HostId,
        declared: Rc<[Declared]>,
        max_open_jobs: Option<u32>,
        duty: DutyConfig,
        control: ControlConfig,
        rng: ChaCha12Rng,
        repair_rng: ChaCha12Rng,
    ) -> Self {
        BaseServer {
            host,
            upload_bps: declared[host.0 as usize].upload,
            declared,
            max_open_jobs,
            duty,
            control,
            rng,
            repair_rng,
            jobs: Vec::new(),
            by_request: BTreeMap::new(),
            origins: Vec::new(),
            serve_credit: vec![0.0],
        }
    }

    /// Origins besides the base server that hold and stream jobs' content
    /// ([`super::origin`]).
    pub fn with_origins(mut self, origins: Vec<HostId>) -> Self {
        self.serve_credit = vec![0.0; origins.len() + 1];
        self.origins = origins;
        self
    }

    /// The origins besides the base server.
    pub fn origins(&self) -> &[HostId] {
        &self.origins
    }

    /// True when `host` is one of the origins besides the base server.
    fn is_origin(&self, host: HostId) -> bool {
        self.origins.contains(&host)
    }

    /// (host, declared upload) of every origin, the base server first.
    fn origin_uploads(&self) -> Vec<(HostId, f64)> {
        std::iter::once(self.host)
            .chain(self.origins.iter().copied())
            .map(|h| (h, self.declared[h.0 as usize].upload))
            .collect()
    }

    /// The next origin to serve a reactivation (index into the base server and origins), by
    /// smooth weighted round robin on declared upload.
    fn next_server_origin(&mut self) -> usize {
        let uploads = self.origin_uploads();
        let total: f64 = uploads.iter().map(|&(_, u)| u).sum();
        for (c, &(_, u)) in self.serve_credit.iter_mut().zip(&uploads) {
            *c += u;
        }
        let best = (0..uploads.len())
            .max_by(|&a, &b| self.serve_credit[a].total_cmp(&self.serve_credit[b]).then(b.cmp(&a)))
            .expect("the base server at least");
        self.serve_credit[best] -= total;
        best
    }

    /// The base server's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The duty settings.
    pub fn duty(&self) -> DutyConfig {
        self.duty
    }

    /// Every job created so far, indexed by `JobId`.
    pub fn jobs(&self) -> &[BaseJob] {
        &self.jobs
    }

    /// The record of `job`.
    pub fn job(&self, job: JobId) -> &BaseJob {
        &self.jobs[job.0 as usize]
    }

    /// Items of `job` held here.
    pub fn held(&self, job: JobId) -> u32 {
        self.jobs[job.0 as usize].held
    }

    /// Asks for the records that a message about `job` from `server` will read, so that they
    /// load while something else is handled (the engine's look-ahead; at 10^5 servers each
    /// report is a cache miss): `deeper` false, the server's place in the job's reports; true
    /// (once that has arrived), its report. Changes nothing.
    pub fn prefetch_report(&self, job: JobId, server: HostId, deeper: bool) {
        if let Some(state) = self.jobs.get(job.0 as usize) {
            state.reports.prefetch(server, deeper);
        }
    }

    /// True when all content of `job` is here.
    pub fn content_complete(&self, job: JobId) -> bool {
        let j = &self.jobs[job.0 as usize];
        j.chunks_held == j.object.content.chunks
    }

    /// True when the end-job command of `job` is here.
    pub fn log_complete(&self, job: JobId) -> bool {
        self.jobs[job.0 as usize].log_complete
    }

    /// With free connections and the whole content, the base server offers itself to the
    /// servers it knows to lag most (fewest tenths of the content reported, then the longest at
    /// that tenth), each at most once: they switch to it if it beats the rate they measure
    /// (\[0073\]). The base server's upload then does not idle once the first nodes are served.
    fn help(&mut self, job: JobId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let s = state.object.strategy;
        let free = state.forwarder.idle_slots();
        if free == 0
            || !(s.relay && s.index_lists && s.dynamic_switching)
            || state.closed_at.is_some()
            || state.chunks_held < state.object.content.chunks
        {
            return;
        }
        // The `free` most lagging candidates not served already, in key order.
        let reports = &state.reports;
        let forwarder = &state.forwarder;
        let chosen = state.help_queue.first(
            free as usize,
            |tenth, at, h| reports.holds_help_key(h, tenth, at),
            |h| !forwarder.serves(h),
        );
        let object = state.object.clone();
        let ctx = SourceContext {
            job: &object,
            upload_bps: self.upload_bps,
            held: state.held,
            content_complete: true,
            offer_timeout: self.control.offer_timeout(),
            budget: u32::MAX,
        };
        #[cfg(debug_assertions)]
        {
            // The queue picks what one pass over every report would (the pass it replaced).
            let mut every: Vec<((u32, SimTime), HostId)> = state
                .reports
                .iter()
                .filter_map(|(&h, r)| r.help_key().filter(|_| !state.forwarder.serves(h)).map(|key| (key, h)))
                .collect();
            every.sort();
            every.truncate(free as usize);
            debug_assert_eq!(chosen, every, "help candidates");
        }
        // Each chosen server stops being a candidate: its entry goes when a walk meets it.
        for (_, h) in chosen {
            state.reports.get_mut(&h).expect("listed").helped = true;
            state.forwarder.offer_help(h, ctx, out);
        }
    }

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        let Some(msg) = self.on_receiver_answer(from, msg, out) else { return };
        match msg {
            Message::RequestJob { ticket, request, content_started_at } => {
                self.on_request(now, from, ticket, &request, content_started_at, out)
            }
            Message::JobReceived { job, source } => {
                let state = &mut self.jobs[job.0 as usize];
                let Some(report) = state.reports.get_mut(&from) else { return };
                report.source = Some(source);
                if report.reached_at.is_none() {
                    report.note_reached(now);
                    state.reached += 1;
                    Self::saw_progress(state, from, now);
                    state.enqueue_help(from);
                    Self::progress(state, job, from, out);
                }
            }
            Message::Holding { job, items_held } => {
                let state = &mut self.jobs[job.0 as usize];
                let Some(report) = state.reports.get_mut(&from) else { return };
                if (items_held, 0) > report.progress {
                    report.progress = (items_held, 0);
                    Self::saw_progress(state, from, now);
                }
                if Self::note_decile(state, from, items_held, now) && state.closed_at.is_none() {
                    Self::progress(state, job, from, out);
                }
            }
            Message::Received { job } => self.on_received(now, job, from, out),
            Message::CommandCompleted { job, end_job, .. } => {
                let state = &mut self.jobs[job.0 as usize];
                let Some(report) = state.reports.get_mut(&from) else { return };
                report.commands_completed += 1;
                state.commands_completed += 1;
                Self::saw_progress(state, from, now);
                if state.closed_at.is_none() {
                    Self::progress(state, job, from, out);
                }
                if end_job {
                    self.on_done(now, job, from, out);
                }
            }
            Message::EndSession { job } => self.jobs[job.0 as usize].session_ended_at = Some(now),
            Message::StatusQuery { job, server: Some(server), origin: QueryOrigin::Client } => {
                out.push(Output::Send {
                    to: server,
                    msg: Message::StatusQuery { job, server: None, origin: QueryOrigin::Client },
                });
            }
            Message::StatusReport { job, server: None, origin: QueryOrigin::Client, status } => {
                let client = self.jobs[job.0 as usize].client;
                out.push(Output::Send {
                    to: client,
                    msg: Message::StatusReport { job, server: Some(from), origin: QueryOrigin::Client, status },
                });
            }
            Message::StatusReport { job, server: None, origin: QueryOrigin::BaseServer, status } => {
                self.on_status(now, job, from, &status, out)
            }
            Message::Mirror { job, from_item, from_byte } => {
                // An origin asks for the part of the log it lacks (again after a break).
                self.jobs[job.0 as usize].mirrors.remove(&from);
                out.push(Output::OpenStream { to: from, job, from_item, from_byte });
            }
            Message::Joined => self.on_joined(now, from, out),
            Message::Leaving { job, done, shares } => {
                if done {
                    self.on_done(now, job, from, out);
                }
                self.on_left(now, job, from, out);
                self.adopt(job, &shares, out);
            }
            Message::NeedSource { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let lost_source = state.reports.get(&from).and_then(|r| r.source);
                // A source that left the network (churn) is no fault of the server's: a holder
                // serves it and nothing is checked on.
                let source_left = lost_source.and_then(|h| state.reports.get(&h)).is_some_and(|r| r.left_at.is_some());
                if let Some(report) = state.reports.get_mut(&from) {
                    report.faulted |= !source_left;
                }
                if source_left {
                    self.serve_churned(now, job, from, false, out);
                } else {
                    self.serve_orphan(now, job, from, lost_source, out);
                    // The source it lost may be down: check on it now rather than at the end of
                    // the job ([0062]: a server is recovered "before or after termination").
                    if let Some(source) = lost_source {
                        self.query(job, source, out);
                    }
                }
            }
            other => panic!("base server got unexpected {other:?}"),
        }
    }

    /// `server` showed progress now.
    fn saw_progress(state: &mut BaseJob, server: HostId, now: SimTime) {
        state.last_progress = now;
        if let Some(report) = state.reports.get_mut(&server) {
            if let Some(before) = report.progress_at.filter(|&t| t < now) {
                report.progress_gap = Some(now.since(before));
            }
            report.progress_at = Some(now);
        }
    }

    /// Records the tenth of the content `server` holds; true when the job's overall percentage
    /// moved (the client should hear of it).
    fn note_decile(state: &mut BaseJob, server: HostId, items_held: u32, now: SimTime) -> bool {
        let chunks = state.object.content.chunks.max(1);
        let decile = (items_held.min(chunks) as u64 * 10 / chunks as u64) as u32;
        let Some(report) = state.reports.get_mut(&server) else { return false };
        if decile > report.decile {
            state.deciles += (decile - report.decile) as u64;
            report.decile = decile;
            report.decile_at = Some(now);
            state.enqueue_help(server);
            let percent = (state.deciles * 10 / state.object.servers.len() as u64) as u32;
            if percent > state.reported_percent {
                state.reported_percent = percent;
                return true;
            }
        }
        false
    }

    fn progress(state: &BaseJob, job: JobId, server: HostId, out: &mut Outbox) {
        out.push(Output::Send {
            to: state.client,
            msg: Message::Progress {
                job,
                server,
                reached: state.reached,
                holders: state.holders,
                content_percent: state.reported_percent,
                commands_completed: state.commands_completed,
            },
        });
    }

    fn on_received(&mut self, now: SimTime, job: JobId, from: HostId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let chunks = state.object.content.chunks;
        let Some(report) = state.reports.get_mut(&from) else { return };
        if report.received_at.is_none() {
            report.received_at = Some(now);
            if report.reached_at.is_none() {
                report.note_reached(now);
                state.reached += 1;
            }
            state.holders += 1;
            Self::saw_progress(state, from, now);
            Self::note_decile(state, from, chunks, now);
            if state.closed_at.is_none() {
                Self::progress(state, job, from, out);
            }
        }
    }

    /// `server` completed the job (a notification, or a status answer showing it).
    fn on_done(&mut self, now: SimTime, job: JobId, server: HostId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let Some(report) = state.reports.get_mut(&server) else { return };
        match report.verdict {
            Verdict::Pending => {
                if std::mem::take(&mut report.repairing) {
                    // It completed while a repair was on its way: it was up all along, so the
                    // repair is called off and not counted.
                    if !std::mem::take(&mut report.inspecting) {
                        report.repairs -= 1;
                    }
                    out.push(Output::CancelTimer { timer: Timer::RepairDone { job, server } });
                }
                report.verdict = Verdict::Done;
                report.done_at = Some(now);
                state.done += 1;
                self.maybe_close(now, job, out);
            }
            // Given up on, yet it completed: the verdict stands (the client was told), the truth
            // is kept beside it.
            Verdict::Failed(_) if report.late_done_at.is_none() => report.late_done_at = Some(now),
            _ => {}
        }
    }

    fn maybe_close(&mut self, now: SimTime, job: JobId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        if state.closed_at.is_none() && (state.done + state.failed + state.left) as usize == state.object.servers.len()
        {
            // Closing: the client is called back even after it left ([0074]). No server is a
            // candidate for help any more: the queue's room goes.
            state.closed_at = Some(now);
            state.help_queue = HelpQueue::default();
            out.push(Output::CancelTimer { timer: Timer::WaitPeriod { job } });
            out.push(Output::Send { to: state.client, msg: Message::JobClosed { job, failed: state.failed } });
        }
    }

    /// Offers `server` the job from here, so it resumes from what it holds: a server that lost
    /// its source, one found stalled, or one just repaired (\[0076\]: "activate").
    ///
    /// With several origins, the origins and the base server take turns by upload: the origin
    /// whose turn it is offers the job ([`Message::Serve`]). Engine-driven jobs are always
    /// served by the base server (its offer only adds the server to the job's scheduler).
    fn serve(&mut self, now: SimTime, job: JobId, server: HostId, out: &mut Outbox) {
        if !self.note_activation(now, job, server) {
            return;
        }
        let state = &self.jobs[job.0 as usize];
        let engine_driven = crate::strategy::by_kind(state.object.strategy.kind).engine_driven();
        if !engine_driven && !self.origins.is_empty() {
            let o = self.next_server_origin();
            if o > 0 {
                out.push(Output::Send { to: self.origins[o - 1], msg: Message::Serve { job, server } });
                return;
            }
        }
        self.offer_from_here(job, server, out);
    }

    /// Serves `server`, whose source `lost` is gone (a fault), from `lost`'s own source, or the
    /// nearest server above it that is still in the job (reached, not left, not under repair,
    /// not given up on), when the base server knows one: the cascade repairs itself one level
    /// up, where the lost source's share of upload has just been freed, instead of
    /// every orphan of every fault piling onto the base server's upload (which also feeds the
    /// first nodes: at 1,000 servers failing every 300 s on average, the base server served
    /// hundreds of orphans at once and the job never finished). When that server is out of
    /// reach the base server serves (see [`Self::on_undeliverable`]).
    fn serve_orphan(&mut self, now: SimTime, job: JobId, server: HostId, lost: Option<HostId>, out: &mut Outbox) {
        let state = &self.jobs[job.0 as usize];
        if crate::strategy::by_kind(state.object.strategy.kind).engine_driven() {
            return self.serve(now, job, server, out);
        }
        let reports = &state.reports;
        // The last reported sources above the lost one, nearest first (at most 64: a report can
        // be stale, and a chain that passes through `server` itself is not used at all, so that
        // no server is ever fed by its own subtree).
        let chain: Vec<HostId> = lost
            .into_iter()
            .flat_map(|l| {
                std::iter::successors(reports.get(&l).and_then(|r| r.source), |h| reports.get(h).and_then(|r| r.source))
            })
            .take(64)
            .collect();
        let in_the_job = |h: &HostId| reports.get(h).is_some_and(|r| r.reached_at.is_some() && r.can_serve());
        match chain.iter().copied().find(in_the_job).filter(|_| !chain.contains(&server)) {
            Some(above) => {
                self.hand_over(now, job, server, above, out);
            }
            None => self.serve(now, job, server, out),
        }
    }

    /// Asks `via` to offer `server` the job as an activation (\[0076\]), counted as the base
    /// server's own would be; false when `server` needs none (see [`Self::note_activation`]).
    fn hand_over(&mut self, now: SimTime, job: JobId, server: HostId, via: HostId, out: &mut Outbox) -> bool {
        if !self.note_activation(now, job, server) {
            return false;
        }
        out.push(Output::Send { to: via, msg: Message::Serve { job, server } });
        true
    }

    /// Counts an activation of `server` now; false when it needs none (done, unlisted, or one
    /// went out within a retry period: requests within it are answered by that one).
    fn note_activation(&mut self, now: SimTime, job: JobId, server: HostId) -> bool {
        let retry = self.control.retry;
        let Some(report) = self.jobs[job.0 as usize].reports.get_mut(&server) else { return false };
        if report.done_at.is_some() || report.last_activation.is_some_and(|t| now.since(t.min(now)) < retry) {
            return false;
        }
        report.last_activation = Some(now);
        report.activations += 1;
        true
    }

    /// The base server's own activation offer of `job` to `server`.
    fn offer_from_here(&mut self, job: JobId, server: HostId, out: &mut Outbox) {
        let state = &self.jobs[job.0 as usize];
        let msg = state.forwarder.activation_offer(&state.object, self.upload_bps, state.held);
        out.push(Output::Send { to: server, msg });
    }

    /// Serves `server`, which churn left without a source (it just `joined`, or its source left
    /// the network), from a server that holds the content and is still there, or for a joiner
    /// one still receiving — holders first, then the one asked least often so far, then the
    /// fastest declared upload — so that joiners do not all pile onto the base server's upload; the base server serves as [`Self::serve`] does when no
    /// such holder is known (and when the holder turns out to be gone, see
    /// [`Self::on_undeliverable`]). Engine-driven jobs go through [`Self::serve`].
    fn serve_churned(&mut self, now: SimTime, job: JobId, server: HostId, joined: bool, out: &mut Outbox) {
        let state = &self.jobs[job.0 as usize];
        let engine_driven = crate::strategy::by_kind(state.object.strategy.kind).engine_driven();
        let upload = |h: HostId| self.declared[h.0 as usize].upload;
        // A server that just joined has no children, so a server still receiving can feed it
        // (relaying as items arrive) without closing a cycle; one whose source left may have
        // children, so only a holder.
        let candidate = |r: &ServerReport| {
            r.received_at.is_some() || (joined && r.reached_at.is_some() && !r.faulted && r.pending())
        };
        let holder = state
            .reports
            .iter()
            .filter(|&(&h, r)| h != server && r.can_serve() && candidate(r))
            .min_by(|(&a, ra), (&b, rb)| {
                (ra.received_at.is_none(), ra.served)
                    .cmp(&(rb.received_at.is_none(), rb.served))
                    .then(upload(b).total_cmp(&upload(a)))
            })
            .map(|(&h, _)| h);
        let Some(holder) = holder.filter(|_| !engine_driven) else {
            return self.serve(now, job, server, out);
        };
        if self.hand_over(now, job, server, holder, out) {
            let state = &mut self.jobs[job.0 as usize];
            state.reports.get_mut(&holder).expect("a listed holder").served += 1;
        }
    }

    /// Sizes an automatic cascade from the declared capacities of the job's servers
    /// ([`super::plan`]).
    fn plan(&self, request: &JobRequest) -> CascadePlan {
        let median = |f: &dyn Fn(&Declared) -> f64| {
            let mut v: Vec<f64> = request.servers.iter().map(|h| f(&self.declared[h.0 as usize])).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let inputs = PlanInputs {
            origin_uploads: self.origin_uploads().iter().map(|&(_, u)| u).collect(),
            median_upload: median(&|d| d.upload),
            median_download: median(&|d| d.download),
            hop_latency_s: 2.0 * median(&|d| d.latency_s),
            servers: request.servers.len() as u32,
        };
        plan_cascade(&request.content, &inputs)
    }

    /// The job's expected completion from declared capacities: its lower bound
    /// ([`job_lower_bound`]: the Kumar–Ross bound over the origins' combined upload, the first
    /// copy leaving the client and the base server or the origins, a live stream's duration).
    fn expected_completion(&self, request: &JobRequest, client: HostId) -> SimDuration {
        let uploads = |hosts: &mut dyn Iterator<Item = HostId>| hosts.map(|h| self.declared[h.0 as usize]).collect();
        let servers: Vec<Declared> = uploads(&mut request.servers.iter().copied());
        let origins: Vec<Declared> = uploads(&mut std::iter::once(self.host).chain(self.origins.iter().copied()));
        let inputs = request_bound_inputs(request, &servers, &origins, self.declared[client.0 as usize].upload);
        SimDuration::from_secs_f64(job_lower_bound(&inputs))
    }

    /// Accepts or denies a request; on acceptance creates the job object (\[0050\]), answers the
    /// client with its id and server list, and approaches the first node servers (\[0053\],
    /// claims 3–4). A repeated request (its answer was slow or lost) gets the same answer.
    fn on_request(
        &mut self,
        now: SimTime,
        client: HostId,
        ticket: u32,
        request: &JobRequest,
        content_started_at: SimTime,
        out: &mut Outbox,
    ) {
        if let Some(&id) = self.by_request.get(&(client, ticket)) {
            let state = &self.jobs[id.0 as usize];
            let servers = state.object.servers.clone();
            out.push(Output::Send { to: client, msg: Message::JobAccepted { ticket, job: id, servers } });
            if state.closed_at.is_some() {
                out.push(Output::Send { to: client, msg: Message::JobClosed { job: id, failed: state.failed } });
            }
            return;
        }
        let open = self.jobs.iter().filter(|j| j.closed_at.is_none()).count() as u32;
        if let Some(limit) = self.max_open_jobs.filter(|&limit| open >= limit) {
            let reason = format!("the base server already runs {open} open job(s) (limit {limit})");
            out.push(Output::Send { to: client, msg: Message::JobDenied { ticket, reason } });
            return;
        }
        let id = JobId(self.jobs.len() as u32);
        self.by_request.insert((client, ticket), id);
        let mut s = request.strategy;
        let plan =
            (s.kind == StrategyKind::Cascade && (s.auto_first_nodes || s.auto_fanout)).then(|| self.plan(request));
        let origins = self.origin_uploads();
        let mut first_nodes = vec![s.first_nodes; origins.len()];
        if let Some(p) = plan.as_ref().filter(|_| s.auto_first_nodes) {
            s.first_nodes = p.first_nodes;
            first_nodes.clone_from(&p.origin_first_nodes);
        }
        let mut servers = request.servers.clone();
        if s.shuffle {
            servers.shuffle(&mut self.rng);
        }
        if s.rate_sort {
            // Descending declared upload; the sort is stable, so ties keep list order.
            let rate = |h: &HostId| self.declared[h.0 as usize].upload;
            servers.sort_by(|a, b| rate(b).total_cmp(&rate(a)));
        }
        let servers: Rc<[HostId]> = servers.into();
        let engine_driven = crate::strategy::by_kind(s.kind).engine_driven();
        let object = Rc::new(JobObject {
            id,
            servers: servers.clone(),
            base_server: self.host,
            content: request.content.clone(),
            strategy: s,
            content_started_at,
            stream_rate_bps: plan.as_ref().map_or(0.0, |p| p.stream_rate_bps),
            origins: origin::parts(&s, servers.len(), &origins, &first_nodes, engine_driven).into(),
            preseeded: request.preseeded,
        });
        let expected = self.expected_completion(request, client);
        out.push(Output::Send { to: client, msg: Message::JobAccepted { ticket, job: id, servers } });
        for &o in &self.origins {
            out.push(Output::Send { to: o, msg: Message::Assign { job: object.clone() } });
        }
        // A pre-seeded file is here from the start: only the commands come from the client.
        let preseeded_chunks = if request.preseeded { request.content.chunks } else { 0 };
        let mut forwarder = origin::forwarder(&object, 0);
        let ctx = SourceContext {
            job: &object,
            upload_bps: self.upload_bps,
            held: preseeded_chunks,
            content_complete: request.preseeded,
            offer_timeout: self.control.offer_timeout(),
            budget: u32::MAX,
        };
        forwarder.fill(ctx, out);
        let reports = ServerReports::new(&object.servers);
        self.jobs.push(BaseJob {
            object,
            client,
            ticket,
            name: request.name.clone(),
            created_at: now,
            end_job_at: None,
            closed_at: None,
            session_ended_at: None,
            reports,
            help_queue: HelpQueue::default(),
            plan,
            reached: 0,
            holders: 0,
            done: 0,
            failed: 0,
            left: 0,
            commands_completed: 0,
            held: preseeded_chunks,
            chunks_held: preseeded_chunks,
            log_complete: false,
            last_progress: now,
            duty: Some(DutyTiming {
                expected,
                t0: SimTime::MAX,
                wait_period: self
                    .duty
                    .wait_period
                    .unwrap_or_else(|| auto_wait_period(expected, self.duty.min_auto_wait)),
                periods: 0,
            }),
            upload_resumes: 0,
            upload_cut: None,
            reported_percent: 0,
            deciles: 0,
            next_query: 0,
            forwarder,
            mirrors: BTreeMap::new(),
            asked_all_while_quiet: false,
        });
    }

    /// Item `index` of `job`'s log arrived from the client (\[0048\], claim 13(c)). When it is
    /// the end-job command, the wait starts (\[0074\]): T0 is the later of now and the job's
    /// expected completion, and the first check comes one wait period later.
    pub fn on_item(&mut self, now: SimTime, job: JobId, index: u32, item: &Item, out: &mut Outbox) {
        let enabled = self.duty.enabled;
        let state = &mut self.jobs[job.0 as usize];
        if index < state.held {
            return; // already here (a resumed upload repeats nothing, but be safe)
        }
        assert_eq!(index, state.held, "the client streams its log in order");
        state.held += 1;
        if state.upload_cut.take().is_some() {
            out.push(Output::CancelTimer { timer: Timer::UploadCheck { job } });
        }
        match item {
            Item::Chunk(_) => state.chunks_held += 1,
            Item::Command(c) if c.end_job => {
                state.log_complete = true;
                state.end_job_at = Some(now);
                let timing = state.duty.as_mut().expect("set at creation");
                timing.t0 = now.max(state.created_at + timing.expected);
                if enabled {
                    let first = timing.t0.since(now) + timing.wait_period;
                    out.push(Output::SetTimer { after: first, timer: Timer::WaitPeriod { job } });
                }
            }
            Item::Command(_) => {}
        }
        let held = state.held;
        state.forwarder.on_new_items(job, held, out);
        let ready: Vec<(HostId, u32)> =
            state.mirrors.iter().filter(|(_, &n)| n < held).map(|(&h, &n)| (h, n)).collect();
        for (origin, next) in ready {
            state.mirrors.remove(&origin);
            out.push(Output::OpenStream { to: origin, job, from_item: next, from_byte: 0 });
        }
    }

    /// The client's upload of `job` broke (a partition) at `at`: ask the client to stream again
    /// from there (\[0005\]), and check again after a retry period.
    pub fn on_upload_lost(&mut self, job: JobId, at: ResumePoint, out: &mut Outbox) {
        let retry = self.control.retry;
        let state = &mut self.jobs[job.0 as usize];
        state.upload_cut = Some(at);
        state.upload_resumes += 1;
        out.push(Output::Send {
            to: state.client,
            msg: Message::ResumeUpload { job, from_item: at.item, from_byte: at.byte },
        });
        out.push(Output::SetTimer { after: retry, timer: Timer::UploadCheck { job } });
    }

    /// The transport gave up on `msg` to `to` (the receiver was down or unreachable all along).
    pub fn on_undeliverable(&mut self, to: HostId, msg: Message, out: &mut Outbox) {
        let retry = self.control.retry;
        match msg {
            Message::Offer { job, activation: false, .. } => {
                let id = job.id;
                self.run_forwarder(id, out, |f, ctx, out| f.on_declined(to, ctx, out));
            }
            Message::JobClosed { job, .. } => {
                out.push(Output::SetTimer { after: retry, timer: Timer::ResendClosed { job } })
            }
            Message::Assign { job } => {
                out.push(Output::SetTimer { after: retry, timer: Timer::AssignRetry { job: job.id, origin: to } })
            }
            // The origin or holder asked to serve is out of reach (or gone): serve from here.
            Message::Serve { job, server } => self.offer_from_here(job, server, out),
            // The origin is out of reach: the base server takes the shares on itself.
            Message::Adopt { job, shares } => self.run_forwarder(job, out, |f, ctx, out| f.adopt(&shares, ctx, out)),
            // Activation offers, queries and notices: the duty's next period or the requester's
            // own retry takes care of them.
            _ => {}
        }
    }

    /// A timer set by the base server fired.
    pub fn on_timer(&mut self, now: SimTime, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::WaitPeriod { job } => self.on_wait_period(now, job, out),
            Timer::QueryTimeout { job, server, query } => {
                let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed server");
                if report.awaiting == Some(query) {
                    // No answer: the server may be down; try to repair it ([0075]).
                    report.awaiting = None;
                    report.faulted = true;
                    self.start_repair(job, server, out);
                }
            }
            Timer::RepairDone { job, server } => {
                let inspecting = self.jobs[job.0 as usize].reports.get(&server).is_some_and(|r| r.inspecting);
                let worked = !inspecting && self.repair_rng.gen_bool(self.duty.repair_success);
                out.push(Output::Repair { job, host: server, worked });
            }
            Timer::UploadCheck { job } => {
                let retry = self.control.retry;
                let state = &self.jobs[job.0 as usize];
                if let Some(at) = state.upload_cut {
                    out.push(Output::Send {
                        to: state.client,
                        msg: Message::ResumeUpload { job, from_item: at.item, from_byte: at.byte },
                    });
                    out.push(Output::SetTimer { after: retry, timer: Timer::UploadCheck { job } });
                }
            }
            Timer::ResendClosed { job } => {
                let state = &self.jobs[job.0 as usize];
                out.push(Output::Send { to: state.client, msg: Message::JobClosed { job, failed: state.failed } });
            }
            Timer::OfferTimeout { job, to } => {
                self.run_forwarder(job, out, |f, ctx, out| f.on_offer_timeout(to, ctx, out));
            }
            Timer::AssignRetry { job, origin } => {
                let object = self.jobs[job.0 as usize].object.clone();
                out.push(Output::Send { to: origin, msg: Message::Assign { job: object } });
            }
            other => unreachable!("not a base server timer: {other:?}"),
        }
    }

    /// End of a wait period (\[0074\]–\[0075\]): query every pending server that showed no progress
    /// during the period — except servers never reached while the job as a whole progresses
    /// (they wait for their turn) — and wait another period.
    fn on_wait_period(&mut self, now: SimTime, job: JobId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        if state.closed_at.is_some() {
            return;
        }
        let timing = state.duty.as_mut().expect("set at creation");
        timing.periods += 1;
        let wait = timing.wait_period;
        let quiet = state.quiet(now, wait);
        // Suspects (servers that answered without progress while the job looked quiet): if the
        // job still looks quiet, every pending server is asked once, also those checked less
        // often because they progressed (their answers show progress no notice did); if it
        // still looks quiet after that, whatever waits is stuck and the suspects are
        // reactivated. If the job progressed meanwhile, they wait for their turn.
        let suspects = state.reports.values().any(|r| r.suspect && r.pending() && !r.repairing);
        let (ask_all, confirm) = match (quiet && suspects, state.asked_all_while_quiet) {
            (false, _) => (false, false),
            (true, false) => (true, false),
            (true, true) => (false, true),
        };
        state.asked_all_while_quiet = ask_all;
        let mut confirmed = Vec::new();
        if !quiet || confirm {
            for (&server, report) in state.reports.iter_mut() {
                if std::mem::take(&mut report.suspect) && confirm && report.pending() && !report.repairing {
                    report.faulted = true;
                    report.check_every = 1;
                    confirmed.push(server);
                }
            }
        }
        let mut due = Vec::new();
        for (&server, report) in state.reports.iter() {
            if !report.pending()
                || report.repairing
                || report.awaiting.is_some()
                || report.absent
                || (now < report.next_check && !ask_all)
            {
                continue;
            }
            // Progressing: some progress within the period, and not silent for more than two of
            // its own usual gaps between progress notices (a server that notices every second
            // and went silent five seconds ago is checked now, not a period later).
            let silent_ok = report.progress_gap.map_or(wait, |gap| (gap + gap).max(SimDuration::from_secs(1)));
            let progressed = report.progress_at.is_some_and(|t| now.since(t.min(now)) < wait.min(silent_ok));
            if progressed || (report.reached_at.is_none() && !quiet) {
                continue;
            }
            due.push(server);
        }
        for server in confirmed {
            self.serve(now, job, server, out);
        }
        for server in due {
            self.query(job, server, out);
        }
        out.push(Output::SetTimer { after: wait, timer: Timer::WaitPeriod { job } });
    }

    /// Sends `server` a status query about `job` (unless one is awaiting an answer or the server
    /// is settled or under repair), with its timeout (\[0075\]).
    fn query(&mut self, job: JobId, server: HostId, out: &mut Outbox) {
        let query_timeout = self.duty.query_timeout;
        if !self.duty.enabled {
            return;
        }
        let state = &mut self.jobs[job.0 as usize];
        let Some(report) = state.reports.get_mut(&server) else { return };
        if !report.pending() || report.repairing || report.awaiting.is_some() {
            return;
        }
        let query = state.next_query;
        state.next_query += 1;
        report.queries += 1;
        report.awaiting = Some(query);
        out.push(Output::Send {
            to: server,
            msg: Message::StatusQuery { job, server: None, origin: QueryOrigin::BaseServer },
        });
        out.push(Output::SetTimer { after: query_timeout, timer: Timer::QueryTimeout { job, server, query } });
    }

    /// A server answered the base server's query (\[0075\]): done; progressing (wait on); waiting
    /// behind a source that progresses (wait on); or stalled — no source, a source that made no
    /// progress for a period, or the whole job quiet — and then reactivated (\[0076\]).
    fn on_status(&mut self, now: SimTime, job: JobId, server: HostId, status: &NodeStatus, out: &mut Outbox) {
        let host = self.host;
        let state = &mut self.jobs[job.0 as usize];
        let wait = state.duty.map_or(SimDuration::from_secs(10), |d| d.wait_period);
        let quiet = state.quiet(now, wait);
        let Some(report) = state.reports.get_mut(&server) else { return };
        if let Some(query) = report.awaiting.take() {
            out.push(Output::CancelTimer { timer: Timer::QueryTimeout { job, server, query } });
        }
        report.answers += 1;
        let reached_now = status.has_job && report.reached_at.is_none();
        if reached_now {
            report.note_reached(now);
            state.reached += 1;
        }
        if status.source.is_some() {
            report.source = status.source;
        }
        let progressed = status.progress() > report.progress;
        if progressed {
            report.progress = status.progress();
            Self::saw_progress(state, server, now);
        }
        if reached_now {
            state.enqueue_help(server);
        }
        if status.content_complete {
            self.on_received(now, job, server, out);
        }
        if status.done {
            self.on_done(now, job, server, out);
            return;
        }
        let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed");
        if report.repairing && report.pending() {
            // A late answer: the server is up after all, so the repair is called off (and not
            // counted as an attempt).
            report.repairing = false;
            if !std::mem::take(&mut report.inspecting) {
                report.repairs -= 1;
            }
            out.push(Output::CancelTimer { timer: Timer::RepairDone { job, server } });
        }
        let state = &self.jobs[job.0 as usize];
        let report = &state.reports[&server];
        if !report.pending() {
            return;
        }
        // A server holding the whole log only runs its commands: it is not stalled. One without
        // a live chain of sources is; one with such a chain, or without the job, is a suspect
        // if the whole job looks quiet (confirmed by the next wait period, see `suspect`).
        let (stalled, suspect) = if !status.has_job {
            (false, quiet)
        } else if status.log_complete {
            (false, false)
        } else if status.orphaned || status.source.is_none_or(|s| !state.fed(s, host, now, wait)) {
            (true, false)
        } else {
            (false, quiet)
        };
        let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed");
        report.suspect = suspect && !progressed;
        if stalled && !progressed {
            report.faulted = true;
            report.check_every = 1;
            self.serve(now, job, server, out);
        } else if report.suspect {
            report.check_every = 1;
        } else {
            // Progressing, or waiting for its turn behind a source that progresses: check it
            // less often while that lasts (a slow but steady server, or the tail of a long
            // chain, is not queried every period).
            let span = wait.as_nanos().saturating_mul(report.check_every as u64) - wait.as_nanos() / 2;
            report.next_check = now + SimDuration::from_nanos(span);
            report.check_every = (report.check_every * 2).min(16);
        }
    }

    fn start_repair(&mut self, job: JobId, server: HostId, out: &mut Outbox) {
        let duty = self.duty;
        let state = &mut self.jobs[job.0 as usize];
        let report = state.reports.get_mut(&server).expect("listed server");
        if report.repairing || !report.pending() {
            return;
        }
        // With attempts left, a repair; without, an inspection that can only find the server
        // running (then it is merely cut off and is not given up on) or down (then it is).
        report.inspecting = report.repairs >= duty.max_repairs;
        if !report.inspecting {
            report.repairs += 1;
        }
        report.repairing = true;
        out.push(Output::SetTimer { after: duty.repair_time, timer: Timer::RepairDone { job, server } });
    }

    fn give_up(&mut self, now: SimTime, job: JobId, server: HostId, reason: String, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let report = state.reports.get_mut(&server).expect("listed server");
        if !report.pending() {
            return;
        }
        report.verdict = Verdict::Failed(reason.clone());
        report.failed_at = Some(now);
        report.repairing = false;
        state.failed += 1;
        if state.closed_at.is_none() {
            out.push(Output::Send { to: state.client, msg: Message::ServerFailed { job, server, reason } });
        }
        self.maybe_close(now, job, out);
    }

    /// The outcome of a repair attempt on `server` (after [`Output::Repair`]): reactivate it,
    /// try again while attempts are left (telling the client the expected wait), or give up on
    /// it.
    pub fn on_repair_result(
        &mut self,
        now: SimTime,
        job: JobId,
        server: HostId,
        outcome: RepairOutcome,
        out: &mut Outbox,
    ) {
        let duty = self.duty;
        let state = &mut self.jobs[job.0 as usize];
        let client = state.client;
        let open = state.closed_at.is_none();
        let report = state.reports.get_mut(&server).expect("listed server");
        report.repairing = false;
        if !report.pending() {
            return;
        }
        if matches!(outcome, RepairOutcome::Departed | RepairOutcome::Absent) {
            // Churn, not a fault: nothing was repaired, so the visit does not count.
            if !std::mem::take(&mut report.inspecting) {
                report.repairs -= 1;
            }
            if outcome == RepairOutcome::Absent {
                // Never in the network yet, so no fault of it: it asks for its jobs when it joins.
                report.absent = true;
                report.faulted = false;
            } else {
                self.on_left(now, job, server, out);
            }
            return;
        }
        if std::mem::take(&mut report.inspecting) {
            if outcome == RepairOutcome::NotNeeded {
                self.query(job, server, out);
            } else {
                let reason = if duty.max_repairs == 0 {
                    "down, and repairs are off".to_string()
                } else {
                    format!("down after {} repair attempt(s)", report.repairs)
                };
                self.give_up(now, job, server, reason, out);
            }
            return;
        }
        match outcome {
            RepairOutcome::Fixed => {
                report.repaired = true;
                self.serve(now, job, server, out);
            }
            // Running all along (its answers were lost, it is cut off, or it came back by
            // itself): nothing was repaired, so the visit does not count as an attempt; ask
            // again, the answer tells whether it needs a source. A server that stays cut off is
            // never given up on: the base server cannot tell it from a slow one.
            RepairOutcome::NotNeeded => {
                report.repairs -= 1;
                self.query(job, server, out)
            }
            RepairOutcome::Failed if report.repairs < duty.max_repairs => {
                report.repairs += 1;
                report.repairing = true;
                if open {
                    out.push(Output::Send {
                        to: client,
                        msg: Message::DelayNotice { job, server, expected_wait: duty.repair_time },
                    });
                }
                out.push(Output::SetTimer { after: duty.repair_time, timer: Timer::RepairDone { job, server } });
            }
            RepairOutcome::Failed => {
                let reason = format!("not repaired after {} attempt(s)", report.repairs);
                self.give_up(now, job, server, reason, out);
            }
            RepairOutcome::Departed | RepairOutcome::Absent => unreachable!("handled above"),
        }
    }

    /// The stream of `job` to `to` is gone (the receiver crashed, left or was cut off): move
    /// on. An origin's copy of the log is asked for again by the origin itself.
    pub fn on_receiver_lost(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        if !self.is_origin(to) {
            self.run_forwarder(job, out, |f, ctx, out| f.on_released(to, ctx, out));
        }
    }

    /// The stream of `job` to `to` has sent everything held here (paused at `next_item`), or
    /// everything there will ever be (`done`). An origin's paused copy reopens when more of
    /// the log arrives.
    pub fn on_stream_drained(&mut self, job: JobId, to: HostId, next_item: u32, done: bool, out: &mut Outbox) {
        if self.is_origin(to) {
            if !done {
                self.jobs[job.0 as usize].mirrors.insert(to, next_item);
            }
            return;
        }
        self.run_forwarder(job, out, |f, ctx, out| f.on_stream_drained(to, next_item, done, ctx, out));
    }

    /// A node server joined the network (churn): every open job that lists it and has not
    /// reached it serves it, as a server that lost its source is served; the server is told
    /// it was heard.
    fn on_joined(&mut self, now: SimTime, server: HostId, out: &mut Outbox) {
        out.push(Output::Send { to: server, msg: Message::JoinAck });
        for j in 0..self.jobs.len() {
            let state = &mut self.jobs[j];
            if state.closed_at.is_some() {
                continue;
            }
            let Some(report) = state.reports.get_mut(&server) else { continue };
            report.absent = false;
            if report.pending() && report.reached_at.is_none() {
                // It was never in the network: a query it could not answer, or a visit on the
                // way, found no fault; both are called off.
                let job = JobId(j as u32);
                report.faulted = false;
                if let Some(query) = report.awaiting.take() {
                    out.push(Output::CancelTimer { timer: Timer::QueryTimeout { job, server, query } });
                }
                if std::mem::take(&mut report.repairing) {
                    if !std::mem::take(&mut report.inspecting) {
                        report.repairs -= 1;
                    }
                    out.push(Output::CancelTimer { timer: Timer::RepairDone { job, server } });
                }
                self.serve_churned(now, job, server, true, out);
            }
        }
    }

    /// `server` left the network (its notice, or a visit that found it gone): not a fault. A
    /// server still pending gets the verdict `left` and the job no longer waits for it; a
    /// server that had completed keeps its verdict.
    fn on_left(&mut self, now: SimTime, job: JobId, server: HostId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let Some(report) = state.reports.get_mut(&server) else { return };
        report.left_at.get_or_insert(now);
        if !report.pending() {
            return;
        }
        if std::mem::take(&mut report.repairing) {
            if !std::mem::take(&mut report.inspecting) {
                report.repairs -= 1;
            }
            out.push(Output::CancelTimer { timer: Timer::RepairDone { job, server } });
        }
        if let Some(query) = report.awaiting.take() {
            out.push(Output::CancelTimer { timer: Timer::QueryTimeout { job, server, query } });
        }
        report.verdict = Verdict::Left;
        state.left += 1;
        self.maybe_close(now, job, out);
    }

    /// Servers a leaving server had not approached: an origin (or the base server) takes them
    /// on, by the same turn as reactivations.
    fn adopt(&mut self, job: JobId, shares: &Rc<[(u32, IndexList)]>, out: &mut Outbox) {
        if shares.is_empty() || self.jobs[job.0 as usize].closed_at.is_some() {
            return;
        }
        match self.next_server_origin() {
            0 => self.run_forwarder(job, out, |f, ctx, out| f.adopt(shares, ctx, out)),
            o => {
                out.push(Output::Send { to: self.origins[o - 1], msg: Message::Adopt { job, shares: shares.clone() } })
            }
        }
    }
}

impl SourceHost for BaseServer {
    fn forwarder_mut(&mut self, job: JobId) -> Option<&mut Forwarder> {
        self.jobs.get_mut(job.0 as usize).map(|state| &mut state.forwarder)
    }

    fn run_forwarder(
        &mut self,
        job: JobId,
        out: &mut Outbox,
        f: impl FnOnce(&mut Forwarder, SourceContext, &mut Outbox),
    ) {
        let state = &mut self.jobs[job.0 as usize];
        let object = state.object.clone();
        let ctx = SourceContext {
            job: &object,
            upload_bps: self.upload_bps,
            held: state.held,
            content_complete: state.chunks_held == object.content.chunks,
            offer_timeout: self.control.offer_timeout(),
            budget: u32::MAX,
        };
        f(&mut state.forwarder, ctx, out);
        self.help(job, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entered at one instant against host order, the candidates still come out in host order;
    /// a server's entry at its old tenth is stale once it reports a new tenth (both shrunk
    /// from the property test below with a queue that appended out of order, and one that took
    /// stale entries as current).
    #[test]
    fn help_queue_orders_ties_by_host_and_drops_stale_entries() {
        let t = SimTime(5);
        let mut key: BTreeMap<HostId, (u32, SimTime)> = BTreeMap::new();
        let mut queue = HelpQueue::default();
        for h in [HostId(1), HostId(0)] {
            key.insert(h, (0, t));
            queue.enter(0, t, h, |_, _, _| true);
        }
        let current = |key: &BTreeMap<HostId, (u32, SimTime)>, tenth, at, h| key.get(&h) == Some(&(tenth, at));
        let first = queue.first(1, |tenth, at, h| current(&key, tenth, at, h), |_| true);
        assert_eq!(first, vec![((0, t), HostId(0))]);
        // Server 0 reports its first tenth: server 1 is now the most lagging.
        key.insert(HostId(0), (1, SimTime(6)));
        queue.enter(1, SimTime(6), HostId(0), |tenth, at, h| current(&key, tenth, at, h));
        let first = queue.first(2, |tenth, at, h| current(&key, tenth, at, h), |_| true);
        assert_eq!(first, vec![((0, t), HostId(1)), ((1, SimTime(6)), HostId(0))]);
        assert_eq!(queue.entries(), 2, "the stale entry of server 0 at tenth 0 was dropped by the walk");
    }

    proptest::proptest! {
        /// Servers are reached, report new tenths (several at one instant, in any host order),
        /// stop being candidates, and are served or not, at random; whenever asked, the queue
        /// picks what a full pass over every candidate sorted by (tenth, time, host) picks.
        #[test]
        fn help_queue_picks_what_a_full_pass_picks(
            steps in proptest::collection::vec((0u8..5, 0u32..12, 0u32..3, 1usize..4), 1..300),
        ) {
            // Per server: its key while a candidate, and whether it is served.
            let mut key: BTreeMap<HostId, Option<(u32, SimTime)>> = BTreeMap::new();
            let mut served: std::collections::BTreeSet<HostId> = Default::default();
            let mut queue = HelpQueue { sweep_from: 4, ..HelpQueue::default() };
            let mut peak_candidates = 0;
            let mut now = 0u64;
            for (op, server, advance, count) in steps {
                now += u64::from(advance);
                let (h, at) = (HostId(server), SimTime(now));
                match op {
                    0 => {
                        // Reached (once), at tenth 0.
                        if let std::collections::btree_map::Entry::Vacant(slot) = key.entry(h) {
                            slot.insert(Some((0, at)));
                            queue.enter(0, at, h, |t, at, h| key.get(&h).copied().flatten() == Some((t, at)));
                        }
                    }
                    1 => {
                        // A new tenth while a candidate.
                        if let Some(Some((tenth, _))) = key.get(&h).copied() {
                            if tenth < 10 {
                                key.insert(h, Some((tenth + 1, at)));
                                queue.enter(tenth + 1, at, h, |t, at, h| key.get(&h).copied().flatten() == Some((t, at)));
                            }
                        }
                    }
                    2 => {
                        // No longer a candidate (received, given up on, helped): for good.
                        if key.contains_key(&h) {
                            key.insert(h, None);
                        }
                    }
                    3 => {
                        if !served.insert(h) {
                            served.remove(&h);
                        }
                    }
                    _ => {
                        let mut every: Vec<((u32, SimTime), HostId)> = key
                            .iter()
                            .filter_map(|(&h, &k)| k.filter(|_| !served.contains(&h)).map(|k| (k, h)))
                            .collect();
                        every.sort();
                        every.truncate(count);
                        let chosen = queue.first(
                            count,
                            |tenth, at, h| key.get(&h).copied().flatten() == Some((tenth, at)),
                            |h| !served.contains(&h),
                        );
                        proptest::prop_assert_eq!(chosen, every);
                    }
                }
                // Stale entries are swept: the queue never holds more than twice the most
                // candidates there have been (or twice the sweep's threshold).
                peak_candidates = peak_candidates.max(key.values().filter(|k| k.is_some()).count());
                proptest::prop_assert!(queue.entries() < 2 * peak_candidates.max(queue.sweep_from));
            }
        }
    }

    proptest::proptest! {
        /// Server lists with repeats, dense and sparse ids: the reports answer like a B-tree map
        /// from each listed server to its report (lookups of listed and unlisted hosts, changes,
        /// iteration in host order), and an index is built exactly when the ids are dense.
        #[test]
        fn reports_answer_like_a_sorted_map(
            servers in proptest::collection::vec(0u32..64, 0..24),
            spread in 1u32..40,
            marks in proptest::collection::vec(0u32..80, 0..10),
        ) {
            let servers: Vec<HostId> = servers.iter().map(|&h| HostId(h * spread)).collect();
            let mut reports = ServerReports::new(&servers);
            let mut model: BTreeMap<HostId, ServerReport> =
                servers.iter().map(|&h| (h, ServerReport::default())).collect();
            let span = model.keys().last().map_or(0, |h| h.0 as usize + 1);
            let sparse = span > model.len() * ServerReports::INDEX_SPREAD;
            proptest::prop_assert_eq!(reports.index.is_empty(), sparse || model.is_empty());
            for (i, &mark) in marks.iter().enumerate() {
                let host = HostId(mark * spread);
                if let (Some(r), Some(m)) = (reports.get_mut(&host), model.get_mut(&host)) {
                    r.queries = i as u32 + 1;
                    m.queries = i as u32 + 1;
                }
            }
            proptest::prop_assert_eq!(reports.len(), model.len());
            for h in 0..3200 {
                proptest::prop_assert_eq!(reports.get(&HostId(h)), model.get(&HostId(h)));
            }
            let listed: Vec<_> = reports.iter().map(|(h, r)| (*h, r.clone())).collect();
            let expected: Vec<_> = model.iter().map(|(h, r)| (*h, r.clone())).collect();
            proptest::prop_assert_eq!(listed, expected);
        }
    }
}
