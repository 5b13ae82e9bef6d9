//! The base server ([0037], [0043], [0050], [0053]–[0055], [0063]–[0065], claims 1–4, 7–10):
//! accepts or denies job requests, creates job objects, receives each job's log (content and
//! commands) from its client and streams it to the first node servers, collects receipt and
//! command-completion notifications, keeps the client informed, relays status queries, and
//! closes the job when every listed server has completed every command — telling the client
//! even if its session has ended.
//!
//! Sans-IO like every role: the engine calls [`BaseServer::handle_message`],
//! [`BaseServer::on_item`] and [`BaseServer::on_stream_drained`] and drains the [`Outbox`]
//! after each call.

use super::job::{IndexList, Item, JobId, JobObject, JobRequest};
use super::message::{Message, Outbox, Output};
use super::source::{Forwarder, SourceContext};
use crate::kernel::SimTime;
use crate::net::HostId;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha12Rng;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What the base server knows of one server's progress on a job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerReport {
    /// When the server's receipt notification arrived.
    pub received_at: Option<SimTime>,
    /// Command completions reported.
    pub commands_completed: u32,
    /// When the end-job completion arrived.
    pub done_at: Option<SimTime>,
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
    /// When every listed server had completed the end-job command.
    pub closed_at: Option<SimTime>,
    /// When the client ended its session.
    pub session_ended_at: Option<SimTime>,
    /// Per server, what it reported.
    pub reports: BTreeMap<HostId, ServerReport>,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Servers that completed the job.
    pub done: u32,
    /// Command completions over all servers.
    pub commands_completed: u32,
    /// Items of the log received from the client.
    pub held: u32,
    /// Content chunks received from the client.
    pub chunks_held: u32,
    /// The end-job command has arrived from the client.
    pub log_complete: bool,
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
    rng: ChaCha12Rng,
    jobs: Vec<BaseJob>,
}

impl BaseServer {
    /// A base server on `host`. `declared_upload[h]` is host `h`'s declared upload rate;
    /// `max_open_jobs` limits jobs open at once (requests beyond it are denied); `rng` is the
    /// seeded stream for random trees.
    pub fn new(
        host: HostId,
        declared_upload: Rc<[f64]>,
        max_open_jobs: Option<u32>,
        rng: ChaCha12Rng,
    ) -> Self {
        BaseServer {
            host,
            upload_bps: declared_upload[host.0 as usize],
            declared_upload,
            max_open_jobs,
            rng,
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

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        let upload = self.upload_bps;
        match msg {
            Message::RequestJob {
                ticket,
                request,
                content_started_at,
            } => self.on_request(now, from, ticket, &request, content_started_at, out),
            Message::Accept {
                job,
                from_item,
                from_byte,
                takes_list,
            } => {
                self.jobs[job.0 as usize]
                    .forwarder
                    .on_accepted(from, takes_list);
                out.push(Output::OpenStream {
                    to: from,
                    job,
                    from_item,
                    from_byte,
                });
            }
            Message::Decline { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let object = state.object.clone();
                state.forwarder.on_declined(
                    from,
                    SourceContext {
                        job: &object,
                        upload_bps: upload,
                        held: state.held,
                    },
                    out,
                );
            }
            Message::Release { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let object = state.object.clone();
                state.forwarder.on_released(
                    from,
                    SourceContext {
                        job: &object,
                        upload_bps: upload,
                        held: state.held,
                    },
                    out,
                );
            }
            Message::Received { job } => {
                let state = &mut self.jobs[job.0 as usize];
                let report = state.reports.entry(from).or_default();
                if report.received_at.is_none() {
                    report.received_at = Some(now);
                    state.holders += 1;
                    Self::progress(state, job, from, out);
                }
            }
            Message::CommandCompleted { job, end_job, .. } => {
                let state = &mut self.jobs[job.0 as usize];
                let report = state.reports.entry(from).or_default();
                report.commands_completed += 1;
                state.commands_completed += 1;
                if end_job && report.done_at.is_none() {
                    report.done_at = Some(now);
                    state.done += 1;
                }
                Self::progress(state, job, from, out);
                if state.done as usize == state.object.servers.len() && state.closed_at.is_none() {
                    // Closing: the client is called back even after it left ([0074]).
                    state.closed_at = Some(now);
                    out.push(Output::Send {
                        to: state.client,
                        msg: Message::JobClosed { job },
                    });
                }
            }
            Message::EndSession { job } => self.jobs[job.0 as usize].session_ended_at = Some(now),
            Message::StatusQuery {
                job,
                server: Some(server),
            } => {
                out.push(Output::Send {
                    to: server,
                    msg: Message::StatusQuery { job, server: None },
                });
            }
            Message::StatusReport {
                job,
                server: None,
                status,
            } => {
                let client = self.jobs[job.0 as usize].client;
                out.push(Output::Send {
                    to: client,
                    msg: Message::StatusReport {
                        job,
                        server: Some(from),
                        status,
                    },
                });
            }
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
            out.push(Output::Send {
                to: client,
                msg: Message::JobDenied { ticket, reason },
            });
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
        out.push(Output::Send {
            to: client,
            msg: Message::JobAccepted {
                ticket,
                job: id,
                servers,
            },
        });
        let mut forwarder = if s.index_lists || !s.relay {
            Forwarder::new(
                IndexList::all(object.servers.len()),
                s.first_nodes,
                s.first_nodes,
                s.relay,
            )
        } else {
            Forwarder::full_list(object.servers.len(), None, s.first_nodes, s.first_nodes)
        };
        forwarder.fill(
            SourceContext {
                job: &object,
                upload_bps: self.upload_bps,
                held: 0,
            },
            out,
        );
        self.jobs.push(BaseJob {
            object,
            client,
            name: request.name.clone(),
            created_at: now,
            closed_at: None,
            session_ended_at: None,
            reports: BTreeMap::new(),
            holders: 0,
            done: 0,
            commands_completed: 0,
            held: 0,
            chunks_held: 0,
            log_complete: false,
            forwarder,
        });
    }

    /// Item `index` of `job`'s log arrived from the client ([0048], claim 13(c)).
    pub fn on_item(&mut self, job: JobId, index: u32, item: &Item, out: &mut Outbox) {
        let state = &mut self.jobs[job.0 as usize];
        assert_eq!(index, state.held, "the client streams its log in order");
        state.held += 1;
        match item {
            Item::Chunk(_) => state.chunks_held += 1,
            Item::Command(c) => state.log_complete |= c.end_job,
        }
        let held = state.held;
        state.forwarder.on_new_items(job, held, out);
    }

    /// The stream of `job` to `to` has sent everything held here (paused at `next_item`), or
    /// everything there will ever be (`done`).
    pub fn on_stream_drained(
        &mut self,
        job: JobId,
        to: HostId,
        next_item: u32,
        done: bool,
        out: &mut Outbox,
    ) {
        let upload = self.upload_bps;
        let state = &mut self.jobs[job.0 as usize];
        let object = state.object.clone();
        let ctx = SourceContext {
            job: &object,
            upload_bps: upload,
            held: state.held,
        };
        state
            .forwarder
            .on_stream_drained(to, next_item, done, ctx, out);
    }
}
