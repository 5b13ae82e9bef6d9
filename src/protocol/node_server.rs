//! The node server (\[0037\], \[0044\]–\[0045\], \[0053\]–\[0063\], \[0072\]–\[0077\]): receives a job
//! object and the job's log (content chunks and commands) from a source, executes commands,
//! notifies the base server of receipt and of each command's completion, answers status
//! queries, switches to a faster source when one offers, becomes a source itself, and after a
//! lost source or a crash resumes from what it already holds (\[0005\]).
//!
//! Sans-IO: the node owns no clock and does no I/O. The engine calls
//! [`NodeServer::handle_message`] when a message arrives, [`NodeServer::on_item`] when an item
//! of a job's log arrives, [`NodeServer::on_timer`] when a timer it set fires,
//! [`NodeServer::on_stream_drained`] when one of its outgoing streams has sent everything,
//! [`NodeServer::on_incoming_closed`] after it asked to break an incoming stream,
//! [`NodeServer::on_source_lost`] when its source disappeared, [`NodeServer::answer_status`]
//! when a status query arrives, [`NodeServer::on_undeliverable`] when the transport gave up on a
//! message, and [`NodeServer::on_crash`] / [`NodeServer::on_recover`] around a crash; after
//! each call it drains the [`Outbox`].
//!
//! Notifications (\[0054\]–\[0059\]): on receipt of the job object (`JobReceived`), at every tenth
//! of the content (`Holding`), on receipt of the whole content (`Received`) and on every command
//! completion (`CommandCompleted`). A server without a source asks the base server for one
//! (`NeedSource`) and asks again every retry period until it is served; it takes an activation
//! (\[0076\]) from any source, including the one it already has (which then streams again from
//! where this server stands).

use super::job::{IndexList, Item, JobId, JobObject, StrategyKind};
use super::message::{CommandState, ControlConfig, Message, NodeStatus, Outbox, Output, QueryOrigin, Timer};
use super::plan::auto_fanout;
use super::source::{Forwarder, SourceContext, SourceHost};
use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A dynamic switch needs the newcomer to hold at least this many items more than the
/// receiver (or a tenth of the content's chunks, when that is fewer): a switch for the last few
/// items costs more than it saves.
pub const MIN_ITEMS_TO_SWITCH: u32 = 4;

/// Items a newcomer must hold beyond the receiver's for a dynamic switch to it: four, or a tenth
/// of the content (rounded up) when the content has fewer than 40 chunks. A file of a few large
/// chunks is never four items ahead anywhere, yet switching to a faster source halfway through
/// a chunk pays (the new source continues at the byte offset).
pub fn items_ahead_to_switch(chunks: u32) -> u32 {
    MIN_ITEMS_TO_SWITCH.min(chunks.div_ceil(10)).max(1)
}

/// A command's life at one node server.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    /// The command.
    pub command: Rc<super::job::Command>,
    /// Its state (\[0052\]).
    pub state: CommandState,
    /// When it arrived.
    pub received_at: SimTime,
    /// When execution (last) started.
    pub started_at: Option<SimTime>,
    /// When execution finished.
    pub completed_at: Option<SimTime>,
}

/// An item of a job's log arriving over a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The job.
    pub job: JobId,
    /// The item's index in the log.
    pub index: u32,
    /// The item.
    pub item: Item,
    /// The source that sent it.
    pub from: HostId,
    /// Bytes of it that came over this stream (less than its size after a resume).
    pub bytes: u64,
}

/// Where a stream stopped: the next item and the bytes of it already received.
/// Ordered by item, then byte: later is further into the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResumePoint {
    /// First item not fully received.
    pub item: u32,
    /// Bytes of it already received.
    pub byte: u64,
}

/// A node server's copy of one job and what it has done with it.
// Laid out in declaration order (`repr(C)`), the fields read on every item first: a big run is
// bound by cache misses on the per-server state, and this keeps an item's work to a few
// adjacent cache lines instead of a walk over the whole record. The first line (up to
// `received_at`) holds what the engine reads of a *sending* server on every item it sends
// (`held`, and `received_at` when a stream has caught up with it).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct NodeJob {
    /// The job's id (a copy of `job.id`, so lookups need not follow the pointer).
    pub id: JobId,
    /// Items of the log held: always the prefix `0..held`.
    pub held: u32,
    /// Content chunks held.
    pub chunks_held: u32,
    /// Most items ever held.
    high_water: u32,
    /// Deciles of the content reported to the base server so far.
    reported_decile: u32,
    // What an item asks of the record's parts beyond its first two lines, answered here (in
    // what would be padding) so that those lines are only read when they hold something: at
    // 10^5 servers each is a cache miss on every item.
    /// `asked_from` is set.
    asked: bool,
    /// `early` holds items.
    has_early: bool,
    /// The forwarder may have paused children: set after every forwarder call that leaves it
    /// some (`run_forwarder`, the only way a child is paused), cleared when it has none.
    children_paused: bool,
    /// The job object as received.
    pub job: Rc<JobObject>,
    /// The host whose stream delivered last (kept while the stream is paused); always one of
    /// `sources`.
    parent: Option<HostId>,
    /// When the last item arrived or the current source was taken.
    last_progress: SimTime,
    /// When the last content chunk arrived.
    pub received_at: Option<SimTime>,
    /// Content and command bytes received.
    pub bytes_received: u64,
    /// The rate measured from the current source: a moving average of item sizes over their
    /// inter-arrival times, bytes per second (0 until two items arrived).
    rate_ewma: f64,
    /// The current source and the rate it declared.
    pub source: Option<(HostId, f64)>,
    /// When the last item from the current source arrived, and its size.
    last_arrival: Option<(SimTime, u64)>,
    /// Commands received, in order.
    pub commands: Vec<CommandRecord>,
    /// Where the last acceptance asked its source to start, until an item at or past that point
    /// arrives (not one still on the wire from the source it replaced): if that source is
    /// replaced before it sent anything, the next one starts there too.
    asked_from: Option<ResumePoint>,
    /// Items that arrived ahead of a gap (after a switch, or in a swarm), by index.
    early: BTreeMap<u32, Item>,
    forwarder: Forwarder,
    /// Every source that streamed to this server, in order.
    pub sources: Vec<HostId>,
    /// Bytes received again for items this server had held before (restart from zero).
    pub bytes_resent: u64,
    /// Live jobs: delivery lag of each chunk (receipt minus production), microseconds.
    pub chunk_lags_us: Vec<u32>,
    /// A source waiting for the current stream to be broken: (host, declared rate, true for a
    /// reactivation by the base server rather than a dynamic switch).
    switching_to: Option<(HostId, f64, bool)>,
    /// The source is gone (or this server crashed): the next offer is accepted and resumes here.
    orphaned: Option<ResumePoint>,
    /// Dynamic switches made (\[0073\]).
    pub switches: u32,
    /// Times this server lost its source (a crash, a partition, an unreachable source) or was
    /// reactivated: the faults it went through.
    pub faults: u32,
    /// Times it took a reactivation offer (\[0076\]).
    pub reactivations: u32,
    /// When the job object arrived.
    pub job_object_at: SimTime,
    /// When the end-job command completed: the server's part of the job is done.
    pub done_at: Option<SimTime>,
    /// Items the current source declared it held when it offered the job.
    source_held: u32,
    /// When the current source was taken.
    source_since: SimTime,
}

impl NodeJob {
    /// True once the end-job command has arrived (nothing more will come).
    pub fn log_complete(&self) -> bool {
        self.commands.last().is_some_and(|c| c.command.end_job)
    }

    fn status(&self, partial_bytes: u64) -> NodeStatus {
        NodeStatus {
            has_job: true,
            items_held: self.held,
            partial_bytes,
            content_complete: self.received_at.is_some(),
            source: self.source.map(|(h, _)| h).or(self.parent),
            orphaned: self.orphaned.is_some(),
            log_complete: self.log_complete(),
            done: self.done_at.is_some(),
            commands: self.commands.iter().map(|c| (c.command.id, c.state)).collect(),
        }
    }

    fn resume_point(&self) -> ResumePoint {
        self.orphaned.unwrap_or(ResumePoint { item: self.held, byte: 0 })
    }

    /// The rate this server receives at from its current source: the rate measured from item
    /// arrivals (a moving average), or the rate the source declared until two items arrived;
    /// either way less when nothing arrived for twice the time an item should take at that
    /// rate (a source that is itself waiting, or stalled).
    fn current_rate(&self, now: SimTime) -> f64 {
        let declared = self.source.map_or(0.0, |(_, r)| r);
        let (estimate, since, item) = match self.last_arrival {
            Some((at, bytes)) if self.rate_ewma > 0.0 => (self.rate_ewma, at, bytes),
            Some((at, bytes)) => (declared, at, bytes),
            None => (declared, self.source_since, self.job.content.chunk_bytes(0)),
        };
        let elapsed = now.since(since.min(now)).as_secs_f64();
        if estimate > 0.0 && elapsed > 2.0 * item as f64 / estimate {
            estimate.min(item as f64 / elapsed)
        } else {
            estimate
        }
    }

    /// This server's context as a source of the job (`object`, a clone of its job object, so
    /// that the forwarder can be borrowed beside it).
    fn source_context<'a>(
        &self,
        object: &'a Rc<JobObject>,
        upload_bps: f64,
        offer_timeout: SimDuration,
        budget: u32,
    ) -> SourceContext<'a> {
        SourceContext {
            job: object,
            upload_bps,
            held: self.held,
            content_complete: self.received_at.is_some(),
            offer_timeout,
            budget,
        }
    }

    /// An item of `bytes` arrived from the current source at `now`.
    #[inline(always)]
    fn measure(&mut self, now: SimTime, bytes: u64) {
        if let Some((at, _)) = self.last_arrival {
            let gap = now.since(at.min(now)).as_secs_f64();
            if gap > 0.0 {
                let sample = bytes as f64 / gap;
                self.rate_ewma = if self.rate_ewma > 0.0 { 0.5 * self.rate_ewma + 0.5 * sample } else { sample };
            }
        }
        self.last_arrival = Some((now, bytes));
    }

    /// A new source, taken at `now`: what was measured of the old one no longer holds.
    fn reset_measure(&mut self, now: SimTime) {
        self.rate_ewma = 0.0;
        self.last_arrival = None;
        self.source_since = now;
    }
}

/// A node server's jobs in order of arrival, the first inline. Reaching it reads the first cache
/// line of its record only: the `Option`'s tag, and the engine's `Option<NodeServer>`'s, is a
/// niche of a field in that line (the compiled `is_some` reads `received_at`'s tag byte). (A
/// `SmallVec` of these 64-byte aligned records keeps its length in a line of its own, one more
/// cache miss per item at 10^5 servers.)
#[derive(Debug, Clone, Default)]
struct JobList {
    first: Option<NodeJob>,
    rest: Vec<NodeJob>,
}

impl JobList {
    fn iter(&self) -> impl Iterator<Item = &NodeJob> {
        self.first.iter().chain(&self.rest)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut NodeJob> {
        self.first.iter_mut().chain(&mut self.rest)
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// The record of `job`. The first job is checked before the list of the others is read:
    /// `rest` lies nine cache lines past `first`'s start, and chaining the two iterators reads
    /// it at once, a second cache miss on every item at 10^5 servers.
    fn find(&self, job: JobId) -> Option<&NodeJob> {
        match &self.first {
            Some(first) if first.id == job => Some(first),
            Some(_) => self.rest.iter().find(|j| j.id == job),
            None => None,
        }
    }

    /// [`Self::find`], mutable.
    fn find_mut(&mut self, job: JobId) -> Option<&mut NodeJob> {
        match &mut self.first {
            Some(first) if first.id == job => Some(first),
            Some(_) => self.rest.iter_mut().find(|j| j.id == job),
            None => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn push(&mut self, job: NodeJob) {
        match self.first {
            None => self.first = Some(job),
            Some(_) => self.rest.push(job),
        }
    }

    /// Job number `k` in order of arrival (`k < len`).
    fn get_mut(&mut self, k: usize) -> &mut NodeJob {
        match k {
            0 => self.first.as_mut().expect("job 0 of a non-empty list"),
            _ => &mut self.rest[k - 1],
        }
    }
}

/// One node server host.
#[derive(Debug, Clone)]
pub struct NodeServer {
    host: HostId,
    upload_bps: f64,
    /// Declared download, bytes per second (a switch cannot make it receive faster).
    download_bps: f64,
    /// Most down-line connections at once over all jobs (\[0069\]); `None`: no limit.
    max_uploads: Option<u32>,
    /// Resume interrupted transfers from what is held (\[0005\]); false restarts from zero.
    resume: bool,
    control: ControlConfig,
    /// The jobs, the first kept inline: a server reached for a job (every item it receives or
    /// sends) costs one record lookup, not a second trip to a separately allocated list.
    jobs: JobList,
    /// The base server it announced itself to when it joined (churn), until it answers.
    joined_via: Option<HostId>,
}

impl NodeServer {
    /// A node server on `host` whose declared upload rate is `upload_bps`; `resume` chooses
    /// between resuming interrupted transfers and starting over (the prior art, \[0005\]);
    /// `control` sets how often it asks again for a source and how long it waits for answers.
    pub fn new(host: HostId, upload_bps: f64, resume: bool, control: ControlConfig) -> Self {
        NodeServer {
            host,
            upload_bps,
            download_bps: f64::INFINITY,
            max_uploads: None,
            resume,
            control,
            jobs: JobList::default(),
            joined_via: None,
        }
    }

    /// The server joined the network (churn): it asks `base_server` for its jobs, again every
    /// retry period until the base server answers ([`Message::JoinAck`]).
    pub fn on_join(&mut self, base_server: HostId, out: &mut Outbox) {
        self.joined_via = Some(base_server);
        out.push(Output::Send { to: base_server, msg: Message::Joined });
        out.push(Output::SetTimer { after: self.control.retry, timer: Timer::JoinRetry });
    }

    /// The server leaves the network (churn, not a fault): for every job it holds it tells the
    /// base server, handing back the servers it has not approached, which another source takes
    /// on. Its connections are gone with it.
    pub fn on_leave(&mut self, out: &mut Outbox) {
        for state in self.jobs.iter_mut() {
            let shares: Rc<[(u32, IndexList)]> = state.forwarder.take_unapproached().into();
            let done = state.done_at.is_some();
            out.push(Output::Send { to: state.job.base_server, msg: Message::Leaving { job: state.id, done, shares } });
            state.forwarder.drop_connections();
            state.children_paused = false;
            state.source = None;
            state.switching_to = None;
        }
    }

    /// True when every job this server holds is done (and it holds at least one).
    pub fn all_done(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.iter().all(|j| j.done_at.is_some())
    }

    /// Sets the declared download rate (bytes per second) and the most down-line connections
    /// the server keeps at once over all its jobs (\[0069\]).
    pub fn with_limits(mut self, download_bps: f64, max_uploads: Option<u32>) -> Self {
        self.download_bps = download_bps;
        self.max_uploads = max_uploads;
        self
    }

    /// New down-line connections the server may still open, over all its jobs.
    fn upload_budget(&self) -> u32 {
        match self.max_uploads {
            None => u32::MAX,
            Some(max) => max.saturating_sub(self.jobs.iter().map(|j| j.forwarder.outstanding() as u32).sum()),
        }
    }

    /// This server's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The jobs this server holds (in order of arrival).
    pub fn jobs(&self) -> impl Iterator<Item = &NodeJob> {
        self.jobs.iter()
    }

    /// The server's state for `job`, if it has the job object.
    pub fn job(&self, job: JobId) -> Option<&NodeJob> {
        self.jobs.find(job)
    }

    fn job_mut(&mut self, job: JobId) -> Option<&mut NodeJob> {
        self.jobs.find_mut(job)
    }

    /// Asks for the two lines of the first job's record that every item reads (held count,
    /// parent, flags; bytes and rate measure) of the server in `slots[host]`: nothing is read,
    /// not even whether the slot holds a server (or exists), so the call costs no cache miss of
    /// its own.
    pub fn prefetch_first_job(slots: &[Option<NodeServer>], host: usize) {
        let slot = slots.as_ptr().wrapping_add(host);
        crate::kernel::prefetch::prefetch_lines_at(Self::first_job_address(slot), 2);
    }

    /// Where the first job's record is when `slot` holds a server with a job, computed without
    /// reading the slot: an `Option<NodeServer>`'s server starts at the slot's address (its tag
    /// is a niche inside the first job's record, see [`NodeJob`]), and so does the
    /// `Option<NodeJob>`'s record (a test checks both against real servers).
    fn first_job_address(slot: *const Option<NodeServer>) -> *const u8 {
        let offset = std::mem::offset_of!(NodeServer, jobs) + std::mem::offset_of!(JobList, first);
        slot.cast::<u8>().wrapping_add(offset)
    }

    /// Items of `job` this server holds (and can therefore forward).
    pub fn held(&self, job: JobId) -> u32 {
        self.job(job).map_or(0, |j| j.held)
    }

    /// True when the server holds all of `job`'s content.
    pub fn content_complete(&self, job: JobId) -> bool {
        self.job(job).is_some_and(|j| j.received_at.is_some())
    }

    /// True when the server holds `job`'s end-job command.
    pub fn log_complete(&self, job: JobId) -> bool {
        self.job(job).is_some_and(NodeJob::log_complete)
    }

    /// Whether `job`'s content is all here and, if it is, whether its log is complete too:
    /// `None` while content is missing, read from the job record's first line alone (the
    /// command list, further on, only once content is complete).
    pub fn drained_state(&self, job: JobId) -> Option<bool> {
        self.job(job).and_then(|j| j.received_at.is_some().then(|| j.log_complete()))
    }

    /// With a connection limit over all jobs, a connection freed in one job may let another
    /// job open one: every job fills its free slots within what is left.
    fn refill_all(&mut self, out: &mut Outbox) {
        for k in 0..self.jobs.len() {
            let budget = self.upload_budget();
            if budget == 0 {
                return;
            }
            let (upload, offer_timeout) = (self.upload_bps, self.control.offer_timeout());
            let state = self.jobs.get_mut(k);
            let object = state.job.clone();
            state.forwarder.fill(state.source_context(&object, upload, offer_timeout, budget), out);
        }
    }

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        let Some(msg) = self.on_receiver_answer(from, msg, out) else { return };
        match msg {
            offer @ Message::Offer { .. } => self.on_offer(now, from, offer, out),
            Message::StatusQuery { job, origin, .. } => self.answer_status(from, job, origin, 0, out),
            Message::JoinAck => out.push(Output::CancelTimer { timer: Timer::JoinRetry }),
            Message::Serve { job, server } => {
                // The base server asks this server to serve one left without a source by churn,
                // or whose source (fed by this server or one below it) failed: an activation
                // offer, as the base server's own (a server still receiving relays items as they
                // arrive). Without the job the duty's next visit serves it.
                if let Some(state) = self.job(job) {
                    let msg = state.forwarder.activation_offer(&state.job, self.upload_bps, state.held);
                    out.push(Output::Send { to: server, msg });
                }
            }
            other => panic!("node server {} got unexpected {other:?}", self.host),
        }
    }

    /// Answers a status query about `job` from `from`; `partial_bytes` is how much of the next
    /// item is already on disk (the engine knows it from the incoming stream).
    pub fn answer_status(
        &mut self,
        from: HostId,
        job: JobId,
        origin: QueryOrigin,
        partial_bytes: u64,
        out: &mut Outbox,
    ) {
        let status = self.job(job).map_or_else(NodeStatus::without_job, |j| j.status(partial_bytes));
        out.push(Output::Send { to: from, msg: Message::StatusReport { job, server: None, origin, status } });
    }

    /// The transport gave up on `msg` to `to`: an offer counts as declined; an acceptance sent
    /// to the current source means that source is unreachable, so this server looks for
    /// another. Notifications to the base server are left to its status queries, and requests
    /// for a source are asked again on their own timer.
    pub fn on_undeliverable(&mut self, now: SimTime, to: HostId, msg: Message, out: &mut Outbox) {
        match msg {
            Message::Offer { job, .. } => {
                let id = job.id;
                self.run_forwarder(id, out, |f, ctx, out| f.on_declined(to, ctx, out));
            }
            Message::Accept { job, .. } => {
                let current = self.job(job).is_some_and(|s| {
                    s.source.is_some_and(|(h, _)| h == to) || s.switching_to.is_some_and(|(h, _, _)| h == to)
                });
                if current {
                    let state = self.job(job).expect("current source");
                    let at = state.asked_from.unwrap_or(ResumePoint { item: state.held, byte: 0 });
                    self.on_source_lost(now, job, to, at, 0, out);
                }
            }
            _ => {}
        }
    }

    fn on_offer(&mut self, now: SimTime, from: HostId, offer: Message, out: &mut Outbox) {
        let Message::Offer { job, index_list, rate_bps, items_held, activation } = offer else {
            unreachable!("called with an offer")
        };
        let (id, host, upload, offer_timeout) = (job.id, self.host, self.upload_bps, self.control.offer_timeout());
        let (budget, download) = (self.upload_budget(), self.download_bps);
        let Some(state) = self.job_mut(id) else {
            // First contact: accept, take the list, and become a source at once ([0057]): the
            // node approaches its targets before it holds any content and streams items as they
            // arrive. It notifies the base server of the receipt ([0054], FIG. 4). With an
            // automatic fanout it opens as many connections as its upload feeds at the job's
            // stream rate; a server already at its connection limit in other jobs ([0069])
            // takes the job but not the list, which its source hands to another server.
            let s = job.strategy;
            let fanout = if s.auto_fanout { auto_fanout(upload, job.stream_rate_bps).min(s.fanout) } else { s.fanout };
            let slots = if s.adaptive_fanout { 1 } else { fanout };
            let takes_list = budget > 0 || !s.relay;
            let list = if takes_list { index_list } else { IndexList::default() };
            let forwarder = if !s.relay {
                Forwarder::new(IndexList::default(), 1, 1, false)
            } else if s.index_lists {
                Forwarder::new(list, slots, fanout, true).with_move_on(s.move_on).with_help(s.dynamic_switching)
            } else {
                let own = job.servers.iter().position(|&h| h == host).map(|p| p as u32);
                Forwarder::full_list(job.servers.len(), own, slots, fanout)
            };
            out.push(Output::Send {
                to: from,
                msg: Message::Accept { job: id, from_item: 0, from_byte: 0, takes_list },
            });
            out.push(Output::Send { to: job.base_server, msg: Message::JobReceived { job: id, source: from } });
            let mut state = NodeJob {
                id,
                job,
                held: 0,
                early: BTreeMap::new(),
                chunks_held: 0,
                source: Some((from, rate_bps)),
                parent: Some(from),
                switching_to: None,
                orphaned: None,
                asked_from: None,
                asked: false,
                has_early: false,
                children_paused: false,
                sources: vec![from],
                switches: 0,
                faults: 0,
                reactivations: 0,
                reported_decile: 0,
                bytes_received: 0,
                bytes_resent: 0,
                high_water: 0,
                job_object_at: now,
                received_at: None,
                done_at: None,
                commands: Vec::new(),
                chunk_lags_us: Vec::new(),
                source_held: items_held,
                rate_ewma: 0.0,
                last_arrival: None,
                source_since: now,
                last_progress: now,
                forwarder,
            };
            let object = state.job.clone();
            let ctx = state.source_context(&object, upload, offer_timeout, budget);
            state.forwarder.fill(ctx, out);
            self.jobs.push(state);
            return;
        };
        let s = state.job.strategy;
        let needs_log = !state.log_complete();
        if activation && needs_log && state.switching_to.is_none() {
            if let Some((old, _)) = state.source {
                // Reactivation ([0076]) from any source, the current one included: the current
                // stream (if any) is broken and the new source continues from where this server
                // stands.
                state.switching_to = Some((from, rate_bps, true));
                state.source_held = items_held;
                out.push(Output::CloseIncoming { job: id, from: old });
                return;
            }
        }
        // A server without a source takes an offer when it lost its source or crashed, or when
        // the base server reactivates it ([0076]); it resumes from what it holds ([0005]).
        let needs_source = state.source.is_none()
            && state.switching_to.is_none()
            && needs_log
            && (state.orphaned.is_some() || activation || state.received_at.is_none());
        if needs_source {
            let at = state.resume_point();
            state.asked_from = Some(at);
            state.asked = true;
            if activation {
                state.reactivations += 1;
            }
            if state.orphaned.take().is_some() {
                out.push(Output::CancelTimer { timer: Timer::SourceRetry { job: id } });
            }
            state.source = Some((from, rate_bps));
            state.reset_measure(now);
            state.source_held = items_held;
            state.last_progress = now;
            if let Some(old) = state.parent.replace(from).filter(|&p| p != from) {
                // The former source may still hold this server as a paused child.
                out.push(Output::Send { to: old, msg: Message::Release { job: id } });
            }
            if !state.sources.contains(&from) {
                state.sources.push(from);
            }
            out.push(Output::Send {
                to: from,
                msg: Message::Accept { job: id, from_item: at.item, from_byte: at.byte, takes_list: false },
            });
            return;
        }
        // Dynamic switching ([0073]): while still receiving content, take a source that offers
        // more than the rate measured from the current one, by the margin — and only if this
        // server's own download leaves room to go faster. Only a source ahead of this server can
        // take over (so sources never form a cycle), and at most `max_switches` times.
        let measured = state.current_rate(now);
        let offered = rate_bps.min(download);
        // A switch costs a round trip of control messages: it is only worth it with enough
        // content left to move at the better rate (a tenth of it, and at least
        // `items_ahead_to_switch` items the newcomer already holds).
        let missing = state.job.content.chunks - state.chunks_held;
        let receiving = state.received_at.is_none()
            && state.source.is_some_and(|(h, _)| h != from)
            && state.switching_to.is_none()
            && items_held >= state.held + items_ahead_to_switch(state.job.content.chunks)
            && missing * 10 >= state.job.content.chunks;
        if s.dynamic_switching
            && receiving
            && state.switches < s.max_switches
            && offered > measured * (1.0 + s.switch_margin)
            && measured < download * (1.0 - s.switch_margin).max(0.0)
            && s.kind != StrategyKind::Star
        {
            let (old, _) = state.source.expect("receiving");
            state.switching_to = Some((from, rate_bps, false));
            state.source_held = items_held;
            out.push(Output::CloseIncoming { job: id, from: old });
        } else {
            out.push(Output::Send { to: from, msg: Message::Decline { job: id } });
        }
    }

    /// The engine broke the incoming stream of `job` from `old` (after
    /// [`Output::CloseIncoming`]); the new source continues from `at`. `partial_bytes` of that
    /// item arrived from `old`.
    pub fn on_incoming_closed(
        &mut self,
        now: SimTime,
        job: JobId,
        old: HostId,
        at: ResumePoint,
        partial_bytes: u64,
        out: &mut Outbox,
    ) {
        let state = self.job_mut(job).expect("switch of an unknown job");
        // The old source may not have started yet: then resume where it was asked to start,
        // which can be items ahead of what is held (items still on the wire from the source
        // before it, which will arrive).
        let at = match state.asked_from {
            Some(asked) if asked > at => asked,
            _ => at,
        };
        state.asked_from = Some(at);
        state.asked = true;
        let Some((new, rate, activation)) = state.switching_to.take() else {
            // The switch was overtaken (a crash or a lost source): look for a source again.
            state.bytes_received += partial_bytes;
            state.source = None;
            state.orphaned = Some(at);
            let bs = state.job.base_server;
            let control = self.control;
            Self::ask_for_source(bs, job, control, out);
            return;
        };
        state.bytes_received += partial_bytes;
        state.source = Some((new, rate));
        state.reset_measure(now);
        state.parent = Some(new);
        if state.orphaned.take().is_some() {
            out.push(Output::CancelTimer { timer: Timer::SourceRetry { job } });
        }
        if activation {
            state.reactivations += 1;
            state.faults += 1;
        } else {
            state.switches += 1;
        }
        if !state.sources.contains(&new) {
            state.sources.push(new);
        }
        out.push(Output::Send { to: old, msg: Message::Release { job } });
        out.push(Output::Send {
            to: new,
            msg: Message::Accept { job, from_item: at.item, from_byte: at.byte, takes_list: false },
        });
    }

    /// The stream of `job` from `src` is gone (the source crashed or was cut off) after
    /// delivering `partial_bytes` of item `at.item`: ask the base server for a source
    /// (\[0075\]–\[0077\]) and resume from `at` — or from zero without resume (\[0005\]).
    pub fn on_source_lost(
        &mut self,
        now: SimTime,
        job: JobId,
        src: HostId,
        at: ResumePoint,
        partial_bytes: u64,
        out: &mut Outbox,
    ) {
        let resume = self.resume;
        let Some(state) = self.job_mut(job) else {
            return;
        };
        state.bytes_received += partial_bytes;
        let current = state.source.map(|(h, _)| h).or(state.parent);
        if state.done_at.is_some() || state.log_complete() || current.is_some_and(|s| s != src) {
            return; // nothing more to receive, or not our current source
        }
        if state.switching_to.is_some_and(|(h, _, _)| h == src) {
            state.switching_to = None; // the newcomer vanished before the switch: keep the old one
            return;
        }
        state.source = None;
        state.switching_to = None;
        state.faults += 1;
        state.last_progress = now;
        state.orphaned = Some(if resume { at } else { Self::restart(state) });
        let bs = state.job.base_server;
        Self::ask_for_source(bs, job, self.control, out);
    }

    fn ask_for_source(base_server: HostId, job: JobId, control: ControlConfig, out: &mut Outbox) {
        out.push(Output::Send { to: base_server, msg: Message::NeedSource { job } });
        out.push(Output::SetTimer { after: control.retry, timer: Timer::SourceRetry { job } });
    }

    /// The incoming stream of `job` stopped at `at` because this server crashed. The bytes of
    /// the item in progress that arrived stay on disk (`partial_bytes`), but whole items still
    /// on their way are lost with the crash: if any were, the server resumes from the items it
    /// really holds.
    pub fn note_interrupted(&mut self, job: JobId, at: ResumePoint, partial_bytes: u64) {
        if let Some(state) = self.job_mut(job) {
            if at.item == state.held {
                state.bytes_received += partial_bytes;
                state.orphaned = Some(at);
            } else {
                state.orphaned = Some(ResumePoint { item: state.held, byte: 0 });
            }
        }
    }

    /// Without resume, a broken transfer starts over: the content held is discarded.
    fn restart(state: &mut NodeJob) -> ResumePoint {
        state.high_water = state.high_water.max(state.held);
        state.held = 0;
        state.chunks_held = 0;
        state.early.clear();
        state.has_early = false;
        state.received_at = None;
        ResumePoint { item: 0, byte: 0 }
    }

    /// The host crashed: transfers and connections are gone, a running command is lost (it runs
    /// again after recovery); what is on disk stays.
    pub fn on_crash(&mut self) {
        for state in self.jobs.iter_mut() {
            state.source = None;
            state.switching_to = None;
            // No acceptance is pending any more, and items still on the wire are lost: a resume
            // point asked before the crash (which counted on them) must not outlive it.
            state.asked_from = None;
            state.asked = false;
            state.forwarder.drop_connections();
            state.children_paused = false;
            for c in &mut state.commands {
                if c.state == CommandState::InProgress {
                    c.state = CommandState::New;
                }
            }
        }
    }

    /// The host is back (by itself or repaired): every unfinished job asks the base server for a
    /// source and resumes (\[0005\], \[0077\]); pending servers are approached again.
    pub fn on_recover(&mut self, now: SimTime, out: &mut Outbox) {
        let (resume, control) = (self.resume, self.control);
        let ids: Vec<JobId> = self.jobs.iter().map(|j| j.id).collect();
        for job in ids {
            let state = self.job_mut(job).expect("known job");
            if state.done_at.is_none() && !state.log_complete() {
                let at = if resume { state.resume_point() } else { Self::restart(state) };
                state.orphaned = Some(at);
                state.faults += 1;
                state.last_progress = now;
                let bs = state.job.base_server;
                Self::ask_for_source(bs, job, control, out);
            }
            self.run_forwarder(job, out, |f, ctx, out| f.fill(ctx, out));
            self.run_next_command(now, job, out);
        }
    }

    /// An item of a job's log arrived.
    #[inline(always)]
    pub fn on_item(&mut self, now: SimTime, arrival: Arrival, out: &mut Outbox) {
        let Arrival { job, index, item, from, bytes } = arrival;
        let state = self.job_mut(job).expect("an item without a job object");
        debug_assert_eq!(state.asked, state.asked_from.is_some());
        debug_assert_eq!(state.has_early, !state.early.is_empty());
        debug_assert!(state.children_paused || !state.forwarder.has_paused_children());
        debug_assert!(
            state.commands.iter().any(|c| c.state == CommandState::InProgress)
                || state.commands.iter().all(|c| c.state != CommandState::New),
            "a new command waits only behind one in progress"
        );
        state.bytes_received += bytes;
        if index < state.high_water {
            state.bytes_resent += bytes;
        }
        // The usual sender is the parent, always among the sources: skip the list.
        debug_assert!(state.parent.is_none_or(|p| state.sources.contains(&p)));
        if state.parent != Some(from) && !state.sources.contains(&from) {
            state.sources.push(from);
        }
        state.last_progress = now;
        // The resume point asked of a new source holds until an item at or past it arrives:
        // an earlier item still on the wire from the source it replaced must not clear it, or
        // a further switch before the new source's first item would ask again from the start
        // of the item in progress and receive its first bytes twice.
        if state.asked && state.asked_from.is_some_and(|asked| index >= asked.item) {
            state.asked_from = None;
            state.asked = false;
        }
        if state.source.is_some_and(|(h, _)| h == from) {
            state.measure(now, bytes);
        }
        if index < state.held {
            return; // a duplicate: already held
        }
        if index > state.held {
            state.early.insert(index, item);
            state.has_early = true;
            return;
        }
        state.parent = Some(from);
        let mut item = item;
        // Commands start only here, when one arrives, or when one completes (`on_timer`): a new
        // one waits only behind one in progress.
        let mut command_arrived = false;
        loop {
            command_arrived |= matches!(item, Item::Command(_));
            Self::apply(state, now, item, out);
            if !state.has_early {
                break;
            }
            match state.early.remove(&state.held) {
                Some(next) => item = next,
                None => break,
            }
        }
        if state.has_early {
            state.has_early = !state.early.is_empty();
        }
        if state.children_paused {
            let held = state.held;
            state.forwarder.on_new_items(job, held, out);
            state.children_paused = state.forwarder.has_paused_children();
        }
        if command_arrived {
            self.run_next_command(now, job, out);
        }
    }

    #[inline(always)]
    fn apply(state: &mut NodeJob, now: SimTime, item: Item, out: &mut Outbox) {
        state.held += 1;
        match item {
            Item::Chunk(k) => {
                state.chunks_held += 1;
                let content = &state.job.content;
                if content.is_live() && state.held > state.high_water {
                    let produced = content.produced_at(state.job.content_started_at, k);
                    let lag = now.since(produced).as_nanos() / 1000;
                    state.chunk_lags_us.push(lag.min(u32::MAX as u64) as u32);
                }
                if state.chunks_held == content.chunks {
                    state.received_at = Some(now);
                    state.source = None;
                    state.reported_decile = 10;
                    out.push(Output::Send { to: state.job.base_server, msg: Message::Received { job: state.id } });
                } else if state.chunks_held as u64 * 10 >= (state.reported_decile as u64 + 1) * content.chunks as u64 {
                    // A new decile reached (the test is `decile > reported` without dividing).
                    let decile = (state.chunks_held as u64 * 10 / content.chunks as u64) as u32;
                    debug_assert!(decile > state.reported_decile);
                    state.reported_decile = decile;
                    out.push(Output::Send {
                        to: state.job.base_server,
                        msg: Message::Holding { job: state.id, items_held: state.held },
                    });
                }
            }
            // A command held before a restart from zero is not run twice.
            Item::Command(command) if state.commands.iter().any(|c| c.command.id == command.id) => {}
            Item::Command(command) => {
                if state.commands.capacity() == 0 {
                    // Most jobs have one command (end-job): room for one, not the four a first
                    // push reserves.
                    state.commands.reserve_exact(1);
                }
                state.commands.push(CommandRecord {
                    command,
                    state: CommandState::New,
                    received_at: now,
                    started_at: None,
                    completed_at: None,
                });
            }
        }
    }

    /// Starts the next new command if none is executing (commands run one at a time, in order).
    fn run_next_command(&mut self, now: SimTime, job: JobId, out: &mut Outbox) {
        let state = self.job_mut(job).expect("known job");
        if state.commands.iter().any(|c| c.state == CommandState::InProgress) {
            return;
        }
        if let Some(c) = state.commands.iter_mut().find(|c| c.state == CommandState::New) {
            c.state = CommandState::InProgress;
            c.started_at = Some(now);
            out.push(Output::SetTimer {
                after: c.command.exec,
                timer: Timer::CommandDone { job, command: c.command.id },
            });
        }
    }

    /// A timer set by this server fired.
    pub fn on_timer(&mut self, now: SimTime, timer: Timer, out: &mut Outbox) {
        let (job, command) = match timer {
            Timer::CommandDone { job, command } => (job, command),
            Timer::SourceRetry { job } => {
                let control = self.control;
                if let Some(state) = self.job(job) {
                    if state.orphaned.is_some() && state.source.is_none() && state.done_at.is_none() {
                        Self::ask_for_source(state.job.base_server, job, control, out);
                    }
                }
                return;
            }
            Timer::OfferTimeout { job, to } => {
                self.run_forwarder(job, out, |f, ctx, out| f.on_offer_timeout(to, ctx, out));
                return;
            }
            Timer::JoinRetry => {
                if let Some(bs) = self.joined_via {
                    self.on_join(bs, out);
                }
                return;
            }
            other => unreachable!("not a node server timer: {other:?}"),
        };
        let state = self.job_mut(job).expect("known job");
        let c = state.commands.iter_mut().find(|c| c.command.id == command).expect("known command");
        if c.state != CommandState::InProgress {
            return; // a timer from before a crash
        }
        c.state = CommandState::Completed;
        c.completed_at = Some(now);
        let end_job = c.command.end_job;
        if end_job {
            state.done_at = Some(now);
        }
        let bs = state.job.base_server;
        out.push(Output::Send { to: bs, msg: Message::CommandCompleted { job, command, end_job } });
        self.run_next_command(now, job, out);
    }

    /// The stream of `job` to `to` has sent everything this server holds (paused at
    /// `next_item`), or everything there will ever be (`done`).
    pub fn on_stream_drained(&mut self, job: JobId, to: HostId, next_item: u32, done: bool, out: &mut Outbox) {
        self.run_forwarder(job, out, |f, ctx, out| f.on_stream_drained(to, next_item, done, ctx, out));
    }

    /// The stream of `job` to `to` is gone (the receiver crashed or was cut off): move on.
    pub fn on_receiver_lost(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        self.run_forwarder(job, out, |f, ctx, out| f.on_released(to, ctx, out));
    }

    /// True when adaptive fanout could open another connection for `job`.
    pub fn can_grow(&self, job: JobId) -> bool {
        self.job(job).is_some_and(|j| j.job.strategy.adaptive_fanout && j.forwarder.can_grow())
    }

    /// The upload is not saturated: open one more down-line connection for `job`.
    pub fn grow_fanout(&mut self, job: JobId, out: &mut Outbox) {
        self.run_forwarder(job, out, |f, ctx, out| f.grow(ctx, out));
    }

    /// Answers a status query addressed to this server; used by the engine for ground truth in
    /// tests as well.
    pub fn status(&self, job: JobId) -> Option<NodeStatus> {
        self.job(job).map(|j| j.status(0))
    }
}

impl SourceHost for NodeServer {
    fn forwarder_mut(&mut self, job: JobId) -> Option<&mut Forwarder> {
        self.job_mut(job).map(|state| &mut state.forwarder)
    }

    fn run_forwarder(
        &mut self,
        job: JobId,
        out: &mut Outbox,
        f: impl FnOnce(&mut Forwarder, SourceContext, &mut Outbox),
    ) {
        let (upload, offer_timeout, budget) = (self.upload_bps, self.control.offer_timeout(), self.upload_budget());
        if let Some(state) = self.job_mut(job) {
            let object = state.job.clone();
            let ctx = state.source_context(&object, upload, offer_timeout, budget);
            f(&mut state.forwarder, ctx, out);
            state.children_paused = state.forwarder.has_paused_children();
        }
        if self.max_uploads.is_some() {
            self.refill_all(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn a_switch_needs_four_items_ahead_or_a_tenth_of_a_small_content() {
        for (chunks, ahead) in [(1, 1), (2, 1), (10, 1), (11, 2), (25, 3), (31, 4), (39, 4), (40, 4), (256, 4)] {
            assert_eq!(items_ahead_to_switch(chunks), ahead, "{chunks} chunks");
        }
        assert_eq!(items_ahead_to_switch(0), 1, "never zero: the newcomer is ahead");
    }

    /// The address `prefetch_first_job` asks for is the first job's record, for every server
    /// of a cascade that ran.
    #[test]
    fn the_first_job_is_fetched_where_it_is() {
        let scenario = crate::scenario::load(std::path::Path::new("scenarios/quickstart.json")).expect("bundled");
        let run = crate::simulate(&scenario, &crate::RunOptions::default()).expect("runs");
        let mut servers = 0;
        for slot in run.engine.nodes() {
            if let Some(first) = slot.as_ref().and_then(|node| node.jobs.first.as_ref()) {
                assert_eq!(NodeServer::first_job_address(slot), (first as *const NodeJob).cast::<u8>());
                servers += 1;
            }
        }
        assert!(servers > 0, "the scenario has node servers with jobs");
    }

    #[test]
    fn a_job_is_reached_through_the_first_line_of_its_record() {
        // The first job's `Option` tag is a niche of its record (a field of its first line),
        // and what a sending server is asked on every item sits in the record's first line.
        assert_eq!(size_of::<Option<NodeJob>>(), size_of::<NodeJob>());
        for end in [
            offset_of!(NodeJob, job) + 8,
            offset_of!(NodeJob, held) + 4,
            offset_of!(NodeJob, received_at) + 16,
            offset_of!(NodeJob, asked) + 1,
            offset_of!(NodeJob, has_early) + 1,
            offset_of!(NodeJob, children_paused) + 1,
        ] {
            assert!(end <= 64, "field ends at byte {end}");
        }
    }
}
