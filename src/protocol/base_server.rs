//! The base server ([0037], [0043], [0050], [0053]–[0055], [0063]–[0077], claims 1–4, 7–12):
//! accepts or denies job requests, creates job objects, receives each job's log (content and
//! commands) from its client and streams it to the first node servers, collects receipt and
//! command-completion notifications, keeps the client informed, relays status queries, serves
//! servers that lost their source, and after end-job chases every server that has not reported:
//! wait periods, status queries, repair and reactivation, notices to the client, and finally the
//! closing notification — sent even if the client's session has ended.
//!
//! Sans-IO like every role: the engine calls [`BaseServer::handle_message`],
//! [`BaseServer::on_item`], [`BaseServer::on_timer`], [`BaseServer::on_repair_result`] and
//! [`BaseServer::on_stream_drained`] and drains the [`Outbox`] after each call.

use super::job::{IndexList, Item, JobId, JobObject, JobRequest};
use super::message::{Message, NodeStatus, Outbox, Output, QueryOrigin, Timer};
use super::source::{Forwarder, SourceContext};
use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The base server's accountability duty after end-job ([0074]–[0077]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DutyConfig {
    /// A wait period T0..T1, and each extension.
    pub wait_period: SimDuration,
    /// A status query unanswered this long counts as no answer.
    pub query_timeout: SimDuration,
    /// One repair attempt takes this long.
    pub repair_time: SimDuration,
    /// Probability that a repair attempt works.
    pub repair_success: f64,
    /// Failed attempts before a server is given up on.
    pub max_repairs: u32,
}

impl Default for DutyConfig {
    fn default() -> Self {
        DutyConfig {
            wait_period: SimDuration::from_secs(10),
            query_timeout: SimDuration::from_secs(2),
            repair_time: SimDuration::from_secs(15),
            repair_success: 1.0,
            max_repairs: 3,
        }
    }
}

/// What the base server knows of one server's part in a job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerReport {
    /// When the server's receipt notification (or a status answer showing it) arrived.
    pub received_at: Option<SimTime>,
    /// Command completions reported.
    pub commands_completed: u32,
    /// When the base server learned that the server completed end-job.
    pub done_at: Option<SimTime>,
    /// Status queries the base server sent it.
    pub queries: u32,
    /// Repair attempts made on it.
    pub repairs: u32,
    /// A repair worked (the server was then reactivated).
    pub repaired: bool,
    /// Why the base server gave up on it.
    pub failed: Option<String>,
    /// The query awaiting an answer, if any.
    awaiting: Option<u32>,
    /// A repair is under way.
    repairing: bool,
}

/// The base server's record of one job.
#[derive(Debug, Clone)]
pub struct BaseJob {
    /// The job object.
    pub object: Rc<JobObject>,
    /// The client that requested it.
    pub client: HostId,
    /// The client's name for the job.
    pub name: String,
    /// When the job object was created.
    pub created_at: SimTime,
    /// When the end-job command arrived from the client (the wait periods start).
    pub end_job_at: Option<SimTime>,
    /// When every listed server had completed the end-job command or was given up on.
    pub closed_at: Option<SimTime>,
    /// When the client ended its session.
    pub session_ended_at: Option<SimTime>,
    /// Per server, what it reported and what was done about it.
    pub reports: BTreeMap<HostId, ServerReport>,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Servers that completed the job.
    pub done: u32,
    /// Servers given up on.
    pub failed: u32,
    /// Command completions over all servers.
    pub commands_completed: u32,
    /// Items of the log received from the client.
    pub held: u32,
    /// Content chunks received from the client.
    pub chunks_held: u32,
    /// The end-job command has arrived from the client.
    pub log_complete: bool,
    /// The last receipt or command completion reported by any server.
    pub last_progress: SimTime,
    next_query: u32,
    forwarder: Forwarder,
}

/// The base server.
#[derive(Debug, Clone)]
pub struct BaseServer {
    host: HostId,
    upload_bps: f64,
    /// Declared upload rate of every host, for the rate sort ([0071]).
    declared_upload: Rc<[f64]>,
    max_open_jobs: Option<u32>,
    duty: DutyConfig,
    rng: ChaCha12Rng,
    repair_rng: ChaCha12Rng,
    jobs: Vec<BaseJob>,
}

impl BaseServer {
    /// A base server on `host`. `declared_upload[h]` is host `h`'s declared upload rate;
    /// `max_open_jobs` limits jobs open at once (requests beyond it are denied); `duty` sets the
    /// wait periods and repairs; `rng` and `repair_rng` are the seeded streams for random trees
    /// and for repair outcomes.
    pub fn new(
        host: HostId,
        declared_upload: Rc<[f64]>,
        max_open_jobs: Option<u32>,
        duty: DutyConfig,
        rng: ChaCha12Rng,
        repair_rng: ChaCha12Rng,
    ) -> Self {
        BaseServer {
            host,
            upload_bps: declared_upload[host.0 as usize],
            declared_upload,
            max_open_jobs,
            duty,
            rng,
            repair_rng,
            jobs: Vec::new(),
        }
    }

    /// The base server's host.
    pub fn host(&self) -> HostId {
        self.host
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

    /// True when all content of `job` is here.
    pub fn content_complete(&self, job: JobId) -> bool {
        let j = &self.jobs[job.0 as usize];
        j.chunks_held == j.object.content.chunks
    }

    /// True when the end-job command of `job` is here.
    pub fn log_complete(&self, job: JobId) -> bool {
        self.jobs[job.0 as usize].log_complete
    }

    fn ctx(object: &Rc<JobObject>, upload_bps: f64, held: u32) -> SourceContext<'_> {
        SourceContext { job: object, upload_bps, held }
    }

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        let upload = self.upload_bps;
        match msg {
            Message::RequestJob { ticket, request, content_started_at } => {
                self.on_request(now, from, ticket, &request, content_started_at, out)
            }
            Message::Accept { job, from_item, from_byte, takes_list } => {
                self.jobs[job.0 as usize].forwarder.on_accepted(from, takes_list);
                out.push(Output::OpenStream { to: from, job, from_item, from_byte });
            }
            Message::Decline { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let object = state.object.clone();
                state.forwarder.on_declined(from, Self::ctx(&object, upload, state.held), out);
            }
            Message::Release { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let object = state.object.clone();
                state.forwarder.on_released(from, Self::ctx(&object, upload, state.held), out);
            }
            Message::Received { job } => self.on_received(now, job, from, out),
            Message::CommandCompleted { job, end_job, .. } => {
                let state = &mut self.jobs[job.0 as usize];
                let report = state.reports.entry(from).or_default();
                report.commands_completed += 1;
                state.commands_completed += 1;
                state.last_progress = now;
                Self::progress(state, job, from, out);
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
            Message::NeedSource { job } => self.serve(job, from, out),
            other => panic!("base server got unexpected {other:?}"),
        }
    }

    fn progress(state: &BaseJob, job: JobId, server: HostId, out: &mut Outbox) {
        out.push(Output::Send {
            to: state.client,
            msg: Message::Progress {
                job,
                server,
                holders: state.holders,
                commands_completed: state.commands_completed,
            },
        });
    }

    fn on_received(&mut self, now: SimTime, job: JobId, from: HostId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let report = state.reports.entry(from).or_default();
        if report.received_at.is_none() {
            state.last_progress = now;
            report.received_at = Some(now);
            state.holders += 1;
            Self::progress(state, job, from, out);
        }
    }

    /// `server` completed the job (a notification, or a status answer showing it).
    fn on_done(&mut self, now: SimTime, job: JobId, server: HostId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        let report = state.reports.entry(server).or_default();
        if report.done_at.is_some() || report.failed.is_some() {
            return;
        }
        report.done_at = Some(now);
        state.done += 1;
        self.maybe_close(now, job, out);
    }

    fn maybe_close(&mut self, now: SimTime, job: JobId, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        if state.closed_at.is_none() && (state.done + state.failed) as usize == state.object.servers.len() {
            // Closing: the client is called back even after it left ([0074]).
            state.closed_at = Some(now);
            out.push(Output::Send { to: state.client, msg: Message::JobClosed { job, failed: state.failed } });
        }
    }

    /// Offers `server` the job from here, so it resumes from what it holds: a server that lost
    /// its source, or one just repaired ([0076]: "activate").
    fn serve(&mut self, job: JobId, server: HostId, out: &mut Outbox) {
        let state = &self.jobs[job.0 as usize];
        if state.closed_at.is_some() {
            return;
        }
        let rate_bps = state.forwarder.offer_rate(self.upload_bps);
        out.push(Output::Send {
            to: server,
            msg: Message::Offer {
                job: state.object.clone(),
                index_list: IndexList::default(),
                rate_bps,
                items_held: state.held,
                activation: true,
            },
        });
    }

    /// Accepts or denies a request; on acceptance creates the job object ([0050]), answers the
    /// client with its id and server list, and approaches the first node servers ([0053],
    /// claims 3–4).
    fn on_request(
        &mut self,
        now: SimTime,
        client: HostId,
        ticket: u32,
        request: &JobRequest,
        content_started_at: SimTime,
        out: &mut Outbox,
    ) {
        let open = self.jobs.iter().filter(|j| j.closed_at.is_none()).count() as u32;
        if let Some(limit) = self.max_open_jobs.filter(|&limit| open >= limit) {
            let reason = format!("the base server already runs {open} open job(s) (limit {limit})");
            out.push(Output::Send { to: client, msg: Message::JobDenied { ticket, reason } });
            return;
        }
        let id = JobId(self.jobs.len() as u32);
        let s = request.strategy;
        let mut servers = request.servers.clone();
        if s.shuffle {
            servers.shuffle(&mut self.rng);
        }
        if s.rate_sort {
            // Descending declared upload; the sort is stable, so ties keep list order.
            let rate = |h: &HostId| self.declared_upload[h.0 as usize];
            servers.sort_by(|a, b| rate(b).total_cmp(&rate(a)));
        }
        let servers: Rc<[HostId]> = servers.into();
        let object = Rc::new(JobObject {
            id,
            servers: servers.clone(),
            base_server: self.host,
            content: request.content.clone(),
            strategy: s,
            content_started_at,
        });
        out.push(Output::Send { to: client, msg: Message::JobAccepted { ticket, job: id, servers } });
        let mut forwarder = if s.index_lists || !s.relay {
            Forwarder::new(IndexList::all(object.servers.len()), s.first_nodes, s.first_nodes, s.relay)
        } else {
            Forwarder::full_list(object.servers.len(), None, s.first_nodes, s.first_nodes)
        };
        forwarder.fill(Self::ctx(&object, self.upload_bps, 0), out);
        let reports = object.servers.iter().map(|&h| (h, ServerReport::default())).collect();
        self.jobs.push(BaseJob {
            object,
            client,
            name: request.name.clone(),
            created_at: now,
            end_job_at: None,
            closed_at: None,
            session_ended_at: None,
            reports,
            holders: 0,
            done: 0,
            failed: 0,
            commands_completed: 0,
            held: 0,
            chunks_held: 0,
            log_complete: false,
            last_progress: now,
            next_query: 0,
            forwarder,
        });
    }

    /// Item `index` of `job`'s log arrived from the client ([0048], claim 13(c)). When it is
    /// the end-job command, the first wait period starts ([0074]).
    pub fn on_item(&mut self, now: SimTime, job: JobId, index: u32, item: &Item, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        assert_eq!(index, state.held, "the client streams its log in order");
        state.held += 1;
        match item {
            Item::Chunk(_) => state.chunks_held += 1,
            Item::Command(c) if c.end_job => {
                state.log_complete = true;
                state.end_job_at = Some(now);
                out.push(Output::SetTimer { after: self.duty.wait_period, timer: Timer::WaitPeriod { job } });
            }
            Item::Command(_) => {}
        }
        let held = state.held;
        state.forwarder.on_new_items(job, held, out);
    }

    /// A timer set by the base server fired.
    pub fn on_timer(&mut self, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::WaitPeriod { job } => self.on_wait_period(job, out),
            Timer::QueryTimeout { job, server, query } => {
                let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed server");
                if report.awaiting == Some(query) {
                    // No answer: the server may be down; try to repair it ([0075]).
                    report.awaiting = None;
                    self.start_repair(job, server, out);
                }
            }
            Timer::RepairDone { job, server } => {
                let worked = self.repair_rng.gen_bool(self.duty.repair_success);
                out.push(Output::Repair { job, host: server, worked });
            }
            Timer::CommandDone { .. } => unreachable!("node server timer"),
        }
    }

    /// End of a wait period: query every server that has not reported completion and is not
    /// being repaired, and wait another period ([0074]–[0075]).
    fn on_wait_period(&mut self, job: JobId, out: &mut Outbox) {
        let duty = self.duty;
        let state = &mut self.jobs[job.0 as usize];
        if state.closed_at.is_some() {
            return;
        }
        for (&server, report) in state.reports.iter_mut() {
            if report.done_at.is_some() || report.failed.is_some() || report.repairing || report.awaiting.is_some() {
                continue;
            }
            let query = state.next_query;
            state.next_query += 1;
            report.queries += 1;
            report.awaiting = Some(query);
            out.push(Output::Send {
                to: server,
                msg: Message::StatusQuery { job, server: None, origin: QueryOrigin::BaseServer },
            });
            out.push(Output::SetTimer { after: duty.query_timeout, timer: Timer::QueryTimeout { job, server, query } });
        }
        out.push(Output::SetTimer { after: duty.wait_period, timer: Timer::WaitPeriod { job } });
    }

    /// A server answered the base server's query: done, still in progress (wait on), or
    /// stalled (an error: repair, then activate, [0076]).
    fn on_status(&mut self, now: SimTime, job: JobId, server: HostId, status: &NodeStatus, out: &mut Outbox) {
        let held = self.jobs[job.0 as usize].held;
        let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed server");
        report.awaiting = None;
        if status.content_complete {
            self.on_received(now, job, server, out);
        }
        // Not reached yet, behind and not receiving, or waiting a whole wait period for a
        // source that declared it had more: the server may be stalled. It may as well be
        // waiting for its turn further down the cascade, so the base server only treats this as
        // an error status (repair, then activate) once the whole job made no progress for a
        // wait period; until then it extends the wait ([0075]).
        let behind = status.items_held < held;
        let stuck = status.source_ahead && now.since(status.idle_since.min(now)) >= self.duty.wait_period;
        let quiet = now.since(self.jobs[job.0 as usize].last_progress) >= self.duty.wait_period;
        if status.done {
            self.on_done(now, job, server, out);
        } else if quiet && (!status.has_job || (behind && (!status.receiving || stuck))) {
            self.start_repair(job, server, out);
        }
    }

    fn start_repair(&mut self, job: JobId, server: HostId, out: &mut Outbox) {
        let report = self.jobs[job.0 as usize].reports.get_mut(&server).expect("listed server");
        if report.repairing || report.failed.is_some() || report.done_at.is_some() {
            return;
        }
        report.repairing = true;
        out.push(Output::SetTimer { after: self.duty.repair_time, timer: Timer::RepairDone { job, server } });
    }

    /// The outcome of a repair attempt on `server` (after [`Output::Repair`]): reactivate it, try
    /// again while attempts are left (telling the client the expected wait), or give up on it.
    pub fn on_repair_result(&mut self, now: SimTime, job: JobId, server: HostId, ok: bool, out: &mut Outbox) {
        let duty = self.duty;
        let state = &mut self.jobs[job.0 as usize];
        let client = state.client;
        let report = state.reports.get_mut(&server).expect("listed server");
        report.repairs += 1;
        report.repairing = false;
        if ok {
            report.repaired = true;
            self.serve(job, server, out);
        } else if report.repairs < duty.max_repairs {
            report.repairing = true;
            out.push(Output::Send {
                to: client,
                msg: Message::DelayNotice { job, server, expected_wait: duty.repair_time },
            });
            out.push(Output::SetTimer { after: duty.repair_time, timer: Timer::RepairDone { job, server } });
        } else {
            let reason = format!("not repaired after {} attempts", report.repairs);
            report.failed = Some(reason.clone());
            state.failed += 1;
            out.push(Output::Send { to: client, msg: Message::ServerFailed { job, server, reason } });
            self.maybe_close(now, job, out);
        }
    }

    /// The stream of `job` to `to` is gone (the receiver crashed or was cut off): move on.
    pub fn on_receiver_lost(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        let upload = self.upload_bps;
        let state = &mut self.jobs[job.0 as usize];
        let object = state.object.clone();
        state.forwarder.on_released(to, Self::ctx(&object, upload, state.held), out);
    }

    /// The stream of `job` to `to` has sent everything held here (paused at `next_item`), or
    /// everything there will ever be (`done`).
    pub fn on_stream_drained(&mut self, job: JobId, to: HostId, next_item: u32, done: bool, out: &mut Outbox) {
        let upload = self.upload_bps;
        let state = &mut self.jobs[job.0 as usize];
        let object = state.object.clone();
        state.forwarder.on_stream_drained(to, next_item, done, Self::ctx(&object, upload, state.held), out);
    }
}
