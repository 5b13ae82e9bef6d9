//! Several origins: hosts besides the base server that hold a job's content and stream it to
//! the first nodes, as a registry's or a CDN's replicas do.
//!
//! The base server keeps coordinating every job: it creates the job object, answers the client,
//! receives the client's log, runs the duty (\[0074\]–\[0077\]) and keeps the account. What it
//! shares out is its role as the first source (\[0053\]): the job object lists the *origins*
//! (the base server first) with each one's part of the server list ([`OriginPart`], computed by
//! [`parts`]), and every origin streams its part as the base server does with one origin:
//!
//! - a cascade with index lists (not moving on) is split exactly as with one origin — the first
//!   `K = Σ first_nodes` servers are the first nodes, every other position is handed down below
//!   them in interleaved shares — and the first nodes are shared out among the origins (origin
//!   `o` takes `first_nodes(o)` of them, in list order). With the rate sort the tree is the one
//!   a single source of the origins' combined upload would build;
//! - a star, a chain, a tree, or a cascade moving on: each origin distributes a contiguous
//!   range of the list, in proportion to its upload, with the strategy's own connection count
//!   (`max_concurrent`, one chain, `arity`, `first_nodes` each);
//! - a cascade without index lists: every origin tries every server, each starting from its own
//!   range.
//!
//! How many first nodes an origin takes: the strategy's count for each origin, or for an
//! automatic cascade as many as the origin's upload feeds at the job's stream rate (the plan
//! sizes the stream rate from the origins' combined upload, [`super::plan`]).
//!
//! An origin ([`OriginServer`]) learns of a job from the base server ([`Message::Assign`]),
//! approaches its first nodes at once (before it holds the content, like every source,
//! \[0057\]), and asks the base server for the part of the job's log it lacks
//! ([`Message::Mirror`]): for a pre-seeded file ([`super::job::JobObject::preseeded`]) only the
//! commands and the end-job command, for an uploaded job everything, which it forwards as it
//! arrives. The base server hands reactivations (\[0076\]) and late joiners to the origins in
//! turn, weighted by upload ([`Message::Serve`]), and the shares a leaving server hands back
//! ([`Message::Adopt`]).
//!
//! Engine-driven strategies (swarm, optimal) take the origins as extra seeds: an origin joins
//! the job's scheduler when its mirror is asked for, holding what it holds (the whole file if
//! pre-seeded, else nothing: it then takes pieces like any peer and seeds them).
//!
//! Origins do not crash (like the base server and clients); partitions, slowdowns and message
//! loss reach them.

use super::job::{IndexList, Item, JobId, JobObject, OriginPart, StrategyConfig};
use super::message::{ControlConfig, Message, Outbox, Output, Timer};
use super::node_server::ResumePoint;
use super::source::{Forwarder, SourceContext, SourceHost};
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// True when the strategy splits the server list among the first nodes up front (a cascade,
/// chain or tree with index lists, not moving on).
fn splits_up_front(s: &StrategyConfig) -> bool {
    s.relay && s.index_lists && !s.move_on
}

/// Shares `total` positions among weights by largest remainder (ties to the lower index).
fn apportion(total: u32, weights: &[f64]) -> Vec<u32> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut counts: Vec<u32> = exact.iter().map(|e| e.floor() as u32).collect();
    let mut left = total - counts.iter().sum::<u32>().min(total);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// Each origin's part of a job of `servers` servers: `origins` are (host, declared upload), the
/// base server first; `first_nodes[o]` is the count the strategy or the plan gives origin `o`.
/// With one origin the part is the base server's whole list with the strategy's count, as
/// without origins; engine-driven strategies leave the offers to the base server.
pub fn parts(
    strategy: &StrategyConfig,
    servers: usize,
    origins: &[(HostId, f64)],
    first_nodes: &[u32],
    engine_driven: bool,
) -> Vec<OriginPart> {
    let all = IndexList::all(servers);
    if origins.len() == 1 || engine_driven {
        return origins
            .iter()
            .enumerate()
            .map(|(o, &(host, _))| {
                let (k, share) = if o == 0 { (first_nodes[0], all) } else { (0, IndexList::default()) };
                OriginPart { host, first_nodes: k, share }
            })
            .collect();
    }
    let n = servers as u32;
    if splits_up_front(strategy) {
        // At most one first node per server: trim the largest counts first.
        let mut k = first_nodes.to_vec();
        while k.iter().sum::<u32>() > n {
            let (i, _) = k.iter().enumerate().max_by_key(|&(i, &v)| (v, i)).expect("origins");
            k[i] -= 1;
        }
        let mut start = 0;
        return origins
            .iter()
            .zip(&k)
            .map(|(&(host, _), &k)| {
                let share = IndexList { start, step: 1, len: k };
                start += k;
                OriginPart { host, first_nodes: k, share }
            })
            .collect();
    }
    let uploads: Vec<f64> = origins.iter().map(|&(_, u)| u).collect();
    let sizes = apportion(n, &uploads);
    let mut start = 0;
    origins
        .iter()
        .zip(sizes)
        .zip(first_nodes)
        .map(|((&(host, _), len), &k)| {
            let share = IndexList { start, step: 1, len };
            start += len;
            OriginPart { host, first_nodes: if len == 0 { 0 } else { k.max(1) }, share }
        })
        .collect()
}

/// The forwarder origin number `o` of `job` streams its part with.
pub fn forwarder(job: &JobObject, o: usize) -> Forwarder {
    let s = job.strategy;
    let part = job.origins[o];
    let n = job.servers.len();
    // The base server helps lagging servers its own way (it knows them from the duty).
    let help = o > 0 && s.relay && s.index_lists && s.dynamic_switching;
    if job.origins.len() == 1 {
        // One origin: the base server's list, exactly as without origins.
        let k = part.first_nodes;
        return if s.index_lists || !s.relay {
            Forwarder::new(IndexList::all(n), k, k, s.relay).with_move_on(s.move_on).with_help(help)
        } else {
            Forwarder::full_list(n, None, k, k)
        };
    }
    let k = part.first_nodes.max(1);
    if part.first_nodes == 0 {
        return Forwarder::new(IndexList::default(), 1, 1, s.relay).with_help(help);
    }
    if splits_up_front(&s) {
        let total: u32 = job.origins.iter().map(|p| p.first_nodes).sum();
        let rest = IndexList { start: total, step: 1, len: n as u32 - total };
        let targets =
            (0..part.share.len()).map(|i| (part.share.get(i), rest.every(part.share.get(i), total))).collect();
        Forwarder::presplit(targets, k, k, IndexList::all(n)).with_help(help)
    } else if s.index_lists || !s.relay {
        Forwarder::new(part.share, k, k, s.relay).with_move_on(s.move_on).with_help(help)
    } else {
        Forwarder::full_list_from(n, part.share.start, k, k)
    }
}

/// An origin's copy of one job.
#[derive(Debug, Clone)]
pub struct OriginJob {
    /// The job object.
    pub job: Rc<JobObject>,
    /// Items of the log held: always the prefix `0..held`.
    pub held: u32,
    /// Content chunks held.
    pub chunks_held: u32,
    /// The end-job command is held.
    pub log_complete: bool,
    /// Items that arrived ahead of a gap (pieces of an engine-driven job).
    early: BTreeMap<u32, Item>,
    /// Where the copy from the base server stopped (it is asked for again from there).
    resume: ResumePoint,
    /// This origin's index in `job.origins`.
    index: usize,
    forwarder: Forwarder,
}

/// One origin server.
#[derive(Debug, Clone)]
pub struct OriginServer {
    host: HostId,
    upload_bps: f64,
    control: ControlConfig,
    jobs: Vec<OriginJob>,
}

impl OriginServer {
    /// An origin on `host` with declared upload `upload_bps`; `control` sets its retry period.
    pub fn new(host: HostId, upload_bps: f64, control: ControlConfig) -> Self {
        OriginServer { host, upload_bps, control, jobs: Vec::new() }
    }

    /// The origin's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The jobs it knows, in order of assignment.
    pub fn jobs(&self) -> &[OriginJob] {
        &self.jobs
    }

    /// Its copy of `job`.
    pub fn job(&self, job: JobId) -> Option<&OriginJob> {
        self.jobs.iter().find(|j| j.job.id == job)
    }

    fn job_mut(&mut self, job: JobId) -> Option<&mut OriginJob> {
        self.jobs.iter_mut().find(|j| j.job.id == job)
    }

    /// Items of `job` held here.
    pub fn held(&self, job: JobId) -> u32 {
        self.job(job).map_or(0, |j| j.held)
    }

    /// True when all of `job`'s content is here.
    pub fn content_complete(&self, job: JobId) -> bool {
        self.job(job).is_some_and(|j| j.chunks_held == j.job.content.chunks)
    }

    /// True when `job`'s end-job command is here.
    pub fn log_complete(&self, job: JobId) -> bool {
        self.job(job).is_some_and(|j| j.log_complete)
    }

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, from: HostId, msg: Message, out: &mut Outbox) {
        let Some(msg) = self.on_receiver_answer(from, msg, out) else { return };
        match msg {
            Message::Assign { job } => self.on_assign(job, out),
            Message::Serve { job, server } => {
                let Some(state) = self.job(job) else { return };
                let msg = state.forwarder.activation_offer(&state.job, self.upload_bps, state.held);
                out.push(Output::Send { to: server, msg });
            }
            Message::Adopt { job, shares } => self.run_forwarder(job, out, |f, ctx, out| f.adopt(&shares, ctx, out)),
            other => panic!("origin {} got unexpected {other:?}", self.host),
        }
    }

    /// The job object arrived: take this origin's part of the first nodes, approach them, and
    /// ask the base server for the part of the log not held here.
    fn on_assign(&mut self, job: Rc<JobObject>, out: &mut Outbox) {
        if self.job(job.id).is_some() {
            return; // a repeated assignment
        }
        let index = job.origins.iter().position(|p| p.host == self.host).expect("assigned origins are listed");
        let chunks = if job.preseeded { job.content.chunks } else { 0 };
        let id = job.id;
        self.jobs.push(OriginJob {
            forwarder: forwarder(&job, index),
            job,
            held: chunks,
            chunks_held: chunks,
            log_complete: false,
            early: BTreeMap::new(),
            resume: ResumePoint { item: chunks, byte: 0 },
            index,
        });
        self.run_forwarder(id, out, |f, ctx, out| f.fill(ctx, out));
        self.ask_for_log(id, out);
    }

    fn ask_for_log(&self, job: JobId, out: &mut Outbox) {
        let Some(state) = self.job(job) else { return };
        let at = state.resume;
        out.push(Output::Send {
            to: state.job.base_server,
            msg: Message::Mirror { job, from_item: at.item.max(state.held), from_byte: at.byte },
        });
    }

    /// An item of `job`'s log arrived (from the base server's stream, or a piece of an
    /// engine-driven job from anyone); paused streams to children that lack it reopen.
    pub fn on_item(&mut self, job: JobId, index: u32, item: Item, out: &mut Outbox) {
        let Some(state) = self.job_mut(job) else { return };
        if index < state.held {
            return;
        }
        if index > state.held {
            state.early.insert(index, item);
            return;
        }
        let mut item = item;
        loop {
            state.held += 1;
            match &item {
                Item::Chunk(_) => state.chunks_held += 1,
                Item::Command(c) if c.end_job => state.log_complete = true,
                Item::Command(_) => {}
            }
            match state.early.remove(&state.held) {
                Some(next) => item = next,
                None => break,
            }
        }
        state.resume = ResumePoint { item: state.held, byte: 0 };
        let held = state.held;
        state.forwarder.on_new_items(job, held, out);
    }

    /// The stream of `job` to `to` has sent everything held here (paused at `next_item`), or
    /// everything there will ever be (`done`).
    pub fn on_stream_drained(&mut self, job: JobId, to: HostId, next_item: u32, done: bool, out: &mut Outbox) {
        self.run_forwarder(job, out, |f, ctx, out| f.on_stream_drained(to, next_item, done, ctx, out));
    }

    /// The stream of `job` to `to` is gone (the receiver crashed, left or was cut off): move on.
    pub fn on_receiver_lost(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        self.run_forwarder(job, out, |f, ctx, out| f.on_released(to, ctx, out));
    }

    /// The base server's stream of `job` to this origin broke at `at` (a partition): ask for
    /// it again after a retry period.
    pub fn on_source_lost(&mut self, job: JobId, at: ResumePoint, out: &mut Outbox) {
        let retry = self.control.retry;
        if let Some(state) = self.job_mut(job) {
            if !state.log_complete {
                state.resume = at;
                out.push(Output::SetTimer { after: retry, timer: Timer::MirrorRetry { job } });
            }
        }
    }

    /// The transport gave up on `msg` to `to`: an offer counts as declined; a request for the
    /// log is made again after a retry period.
    pub fn on_undeliverable(&mut self, to: HostId, msg: Message, out: &mut Outbox) {
        match msg {
            Message::Offer { job, activation: false, .. } => {
                let id = job.id;
                self.run_forwarder(id, out, |f, ctx, out| f.on_declined(to, ctx, out));
            }
            Message::Mirror { job, .. } => {
                out.push(Output::SetTimer { after: self.control.retry, timer: Timer::MirrorRetry { job } })
            }
            _ => {}
        }
    }

    /// A timer set by this origin fired.
    pub fn on_timer(&mut self, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::OfferTimeout { job, to } => {
                self.run_forwarder(job, out, |f, ctx, out| f.on_offer_timeout(to, ctx, out))
            }
            Timer::MirrorRetry { job } => {
                if self.job(job).is_some_and(|j| !j.log_complete) {
                    self.ask_for_log(job, out);
                }
            }
            other => unreachable!("not an origin timer: {other:?}"),
        }
    }

    /// This origin's index among `job`'s origins.
    pub fn index(&self, job: JobId) -> Option<usize> {
        self.job(job).map(|j| j.index)
    }
}

impl SourceHost for OriginServer {
    fn forwarder_mut(&mut self, job: JobId) -> Option<&mut Forwarder> {
        self.job_mut(job).map(|state| &mut state.forwarder)
    }

    fn run_forwarder(
        &mut self,
        job: JobId,
        out: &mut Outbox,
        f: impl FnOnce(&mut Forwarder, SourceContext, &mut Outbox),
    ) {
        let (upload, offer_timeout) = (self.upload_bps, self.control.offer_timeout());
        if let Some(state) = self.job_mut(job) {
            let object = state.job.clone();
            let ctx = SourceContext {
                job: &object,
                upload_bps: upload,
                held: state.held,
                content_complete: state.chunks_held == object.content.chunks,
                offer_timeout,
                budget: u32::MAX,
            };
            f(&mut state.forwarder, ctx, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_positions_are_apportioned_by_upload_with_largest_remainders() {
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(10, &[2.0, 1.0, 1.0]), vec![5, 3, 2]);
        assert_eq!(apportion(1, &[1.0, 1.0]), vec![1, 0]);
        assert_eq!(apportion(0, &[1.0]), vec![0]);
    }

    #[test]
    fn a_cascade_shares_out_the_first_nodes_of_one_split() {
        // 10 servers, two origins with 2 and 1 first nodes: K = 3 first nodes (positions 0, 1
        // and 2), the other 7 positions handed down in three interleaved shares as with one
        // origin: 3 6 9 / 4 7 / 5 8.
        let s = StrategyConfig::cascade(2, 1);
        let origins = [(HostId(0), 2.0), (HostId(1), 1.0)];
        let p = parts(&s, 10, &origins, &[2, 1], false);
        assert_eq!(p[0].share, IndexList { start: 0, step: 1, len: 2 });
        assert_eq!(p[1].share, IndexList { start: 2, step: 1, len: 1 });
        let rest = IndexList { start: 3, step: 1, len: 7 };
        assert_eq!(rest.every(2, 3), IndexList { start: 5, step: 3, len: 2 });
    }

    #[test]
    fn a_star_gives_each_origin_a_range_in_proportion_to_its_upload() {
        let s = StrategyConfig::star(100);
        let origins = [(HostId(0), 1.0), (HostId(1), 3.0)];
        let p = parts(&s, 8, &origins, &[100, 100], false);
        assert_eq!(p[0].share, IndexList { start: 0, step: 1, len: 2 });
        assert_eq!(p[1].share, IndexList { start: 2, step: 1, len: 6 });
    }
}
