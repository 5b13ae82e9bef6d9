//! The node server ([0037], [0044]–[0045], [0053]–[0063], [0072]–[0073]): receives a job
//! object and the job's log (content chunks and commands) from a source, executes commands,
//! notifies the base server of receipt and of each command's completion, switches to a faster
//! source when one offers, and becomes a source itself.
//!
//! Sans-IO: the node owns no clock and does no I/O. The engine calls
//! [`NodeServer::handle_message`] when a message arrives, [`NodeServer::on_item`] when an item
//! of a job's log arrives, [`NodeServer::on_timer`] when a timer it set fires,
//! [`NodeServer::on_stream_drained`] when one of its outgoing streams has sent everything, and
//! [`NodeServer::on_incoming_closed`] after it asked to break an incoming stream; after each
//! call it drains the [`Outbox`].

use super::job::{CommandId, Item, JobId, JobObject, StrategyKind};
use super::message::{CommandState, Message, NodeStatus, Outbox, Output, Timer};
use super::source::{Forwarder, SourceContext};
use crate::kernel::SimTime;
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A command's life at one node server.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRecord {
    /// The command.
    pub command: Rc<super::job::Command>,
    /// Its state ([0052]).
    pub state: CommandState,
    /// When it arrived.
    pub received_at: SimTime,
    /// When execution started.
    pub started_at: Option<SimTime>,
    /// When execution finished.
    pub completed_at: Option<SimTime>,
}

/// A node server's copy of one job and what it has done with it.
#[derive(Debug, Clone)]
pub struct NodeJob {
    /// The job's id (a copy of `job.id`, so lookups need not follow the pointer).
    pub id: JobId,
    /// The job object as received.
    pub job: Rc<JobObject>,
    /// Items of the log held: always the prefix `0..held`.
    pub held: u32,
    /// Items that arrived ahead of a gap (possible right after a switch), by index.
    early: BTreeMap<u32, Item>,
    /// Content chunks held.
    pub chunks_held: u32,
    /// The current source and the rate it declared.
    pub source: Option<(HostId, f64)>,
    /// A faster source waiting for the current stream to be broken.
    switching_to: Option<(HostId, f64)>,
    /// Every source that streamed to this server, in order.
    pub sources: Vec<HostId>,
    /// Dynamic switches made.
    pub switches: u32,
    /// Content and command bytes received.
    pub bytes_received: u64,
    /// When the job object arrived.
    pub job_object_at: SimTime,
    /// When the last content chunk arrived.
    pub received_at: Option<SimTime>,
    /// When the end-job command completed: the server's part of the job is done.
    pub done_at: Option<SimTime>,
    /// Commands received, in order.
    pub commands: Vec<CommandRecord>,
    /// Live jobs: delivery lag of each chunk (receipt minus production), microseconds.
    pub chunk_lags_us: Vec<u32>,
    forwarder: Forwarder,
}

impl NodeJob {
    /// True once the end-job command has arrived (nothing more will come).
    pub fn log_complete(&self) -> bool {
        self.commands.last().is_some_and(|c| c.command.end_job)
    }

    fn status(&self) -> NodeStatus {
        NodeStatus {
            items_held: self.held,
            content_complete: self.received_at.is_some(),
            commands: self
                .commands
                .iter()
                .map(|c| (c.command.id, c.state))
                .collect(),
        }
    }
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

/// One node server host.
#[derive(Debug, Clone)]
pub struct NodeServer {
    host: HostId,
    upload_bps: f64,
    jobs: Vec<NodeJob>,
}

impl NodeServer {
    /// A node server on `host` whose declared upload rate is `upload_bps`.
    pub fn new(host: HostId, upload_bps: f64) -> Self {
        NodeServer {
            host,
            upload_bps,
            jobs: Vec::new(),
        }
    }

    /// This server's host.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The jobs this server holds (in order of arrival).
    pub fn jobs(&self) -> &[NodeJob] {
        &self.jobs
    }

    /// The server's state for `job`, if it has the job object.
    pub fn job(&self, job: JobId) -> Option<&NodeJob> {
        self.jobs.iter().find(|j| j.id == job)
    }

    fn job_mut(&mut self, job: JobId) -> Option<&mut NodeJob> {
        self.jobs.iter_mut().find(|j| j.id == job)
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

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        let upload = self.upload_bps;
        match msg {
            offer @ Message::Offer { .. } => self.on_offer(now, from, offer, out),
            Message::Accept {
                job,
                from_item,
                from_byte,
                takes_list,
            } => {
                if let Some(state) = self.job_mut(job) {
                    state.forwarder.on_accepted(from, takes_list);
                }
                out.push(Output::OpenStream {
                    to: from,
                    job,
                    from_item,
                    from_byte,
                });
            }
            Message::Decline { job } => {
                if let Some(state) = self.job_mut(job) {
                    let object = state.job.clone();
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
            }
            Message::Release { job } => {
                if let Some(state) = self.job_mut(job) {
                    let object = state.job.clone();
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
            }
            Message::StatusQuery { job, .. } => {
                let status = self.job(job).map_or(
                    NodeStatus {
                        items_held: 0,
                        content_complete: false,
                        commands: Vec::new(),
                    },
                    NodeJob::status,
                );
                out.push(Output::Send {
                    to: from,
                    msg: Message::StatusReport {
                        job,
                        server: None,
                        status,
                    },
                });
            }
            other => panic!("node server {} got unexpected {other:?}", self.host),
        }
    }

    fn on_offer(&mut self, now: SimTime, from: HostId, offer: Message, out: &mut Outbox) {
        let Message::Offer {
            job,
            index_list,
            rate_bps,
            items_held,
        } = offer
        else {
            unreachable!("called with an offer")
        };
        let id = job.id;
        let host = self.host;
        let upload = self.upload_bps;
        let Some(state) = self.job_mut(id) else {
            // First contact: accept, take the list, and become a source at once ([0057]): the
            // node approaches its targets before it holds any content and streams items as they
            // arrive.
            let s = job.strategy;
            let slots = if s.adaptive_fanout { 1 } else { s.fanout };
            let forwarder = if !s.relay {
                super::source::Forwarder::new(super::job::IndexList::default(), 1, 1, false)
            } else if s.index_lists {
                Forwarder::new(index_list, slots, s.fanout, true)
            } else {
                let own = job
                    .servers
                    .iter()
                    .position(|&h| h == host)
                    .map(|p| p as u32);
                Forwarder::full_list(job.servers.len(), own, slots, s.fanout)
            };
            out.push(Output::Send {
                to: from,
                msg: Message::Accept {
                    job: id,
                    from_item: 0,
                    from_byte: 0,
                    takes_list: true,
                },
            });
            let mut state = NodeJob {
                id,
                job,
                held: 0,
                early: BTreeMap::new(),
                chunks_held: 0,
                source: Some((from, rate_bps)),
                switching_to: None,
                sources: vec![from],
                switches: 0,
                bytes_received: 0,
                job_object_at: now,
                received_at: None,
                done_at: None,
                commands: Vec::new(),
                chunk_lags_us: Vec::new(),
                forwarder,
            };
            let object = state.job.clone();
            state.forwarder.fill(
                SourceContext {
                    job: &object,
                    upload_bps: upload,
                    held: 0,
                },
                out,
            );
            self.jobs.push(state);
            return;
        };
        // Already known. Dynamic switching ([0073]): while still receiving content, take a
        // source whose declared rate beats the current one's by the margin.
        let s = state.job.strategy;
        let current = state.source.map_or(0.0, |(_, r)| r);
        // Only a source ahead of this server can take over (so sources never form a cycle).
        let receiving = state.received_at.is_none()
            && state.source.is_some()
            && state.switching_to.is_none()
            && items_held > state.held;
        if s.dynamic_switching
            && receiving
            && rate_bps > current * (1.0 + s.switch_margin)
            && s.kind != StrategyKind::Star
        {
            let (old, _) = state.source.expect("receiving");
            state.switching_to = Some((from, rate_bps));
            out.push(Output::CloseIncoming { job: id, from: old });
        } else {
            out.push(Output::Send {
                to: from,
                msg: Message::Decline { job: id },
            });
        }
    }

    /// The engine broke the incoming stream of `job` from `old` (after
    /// [`Output::CloseIncoming`]); the new source continues from item `resume_item`, byte
    /// `resume_byte`. `partial_bytes` of that item arrived from `old`.
    pub fn on_incoming_closed(
        &mut self,
        job: JobId,
        old: HostId,
        resume_item: u32,
        resume_byte: u64,
        partial_bytes: u64,
        out: &mut Outbox,
    ) {
        let state = self.job_mut(job).expect("switch of an unknown job");
        let (new, rate) = state.switching_to.take().expect("a switch was asked for");
        state.bytes_received += partial_bytes;
        state.source = Some((new, rate));
        state.switches += 1;
        out.push(Output::Send {
            to: old,
            msg: Message::Release { job },
        });
        out.push(Output::Send {
            to: new,
            msg: Message::Accept {
                job,
                from_item: resume_item,
                from_byte: resume_byte,
                takes_list: false,
            },
        });
    }

    /// An item of a job's log arrived (see [`Arrival`]).
    pub fn on_item(&mut self, now: SimTime, arrival: Arrival, out: &mut Outbox) {
        let Arrival {
            job,
            index,
            item,
            from,
            bytes,
        } = arrival;
        let state = self.job_mut(job).expect("an item without a job object");
        state.bytes_received += bytes;
        if !state.sources.contains(&from) {
            state.sources.push(from);
        }
        if index < state.held {
            return; // a duplicate: already held
        }
        if index > state.held {
            state.early.insert(index, item);
            return;
        }
        let mut item = item;
        loop {
            Self::apply(state, now, item, out);
            match state.early.remove(&state.held) {
                Some(next) => item = next,
                None => break,
            }
        }
        let held = state.held;
        state.forwarder.on_new_items(job, held, out);
        self.run_next_command(now, job, out);
    }

    fn apply(state: &mut NodeJob, now: SimTime, item: Item, out: &mut Outbox) {
        state.held += 1;
        match item {
            Item::Chunk(k) => {
                state.chunks_held += 1;
                let content = &state.job.content;
                if content.is_live() {
                    let produced = content.produced_at(state.job.content_started_at, k);
                    let lag = now.since(produced).as_nanos() / 1000;
                    state.chunk_lags_us.push(lag.min(u32::MAX as u64) as u32);
                }
                if state.chunks_held == content.chunks {
                    state.received_at = Some(now);
                    state.source = None;
                    out.push(Output::Send {
                        to: state.job.base_server,
                        msg: Message::Received { job: state.id },
                    });
                }
            }
            Item::Command(command) => state.commands.push(CommandRecord {
                command,
                state: CommandState::New,
                received_at: now,
                started_at: None,
                completed_at: None,
            }),
        }
    }

    /// Starts the next new command if none is executing (commands run one at a time, in order).
    fn run_next_command(&mut self, now: SimTime, job: JobId, out: &mut Outbox) {
        let state = self.job_mut(job).expect("known job");
        if state
            .commands
            .iter()
            .any(|c| c.state == CommandState::InProgress)
        {
            return;
        }
        if let Some(c) = state
            .commands
            .iter_mut()
            .find(|c| c.state == CommandState::New)
        {
            c.state = CommandState::InProgress;
            c.started_at = Some(now);
            out.push(Output::SetTimer {
                after: c.command.exec,
                timer: Timer::CommandDone {
                    job,
                    command: c.command.id,
                },
            });
        }
    }

    /// A timer set by this server fired.
    pub fn on_timer(&mut self, now: SimTime, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::CommandDone { job, command } => {
                let state = self.job_mut(job).expect("known job");
                let c = state
                    .commands
                    .iter_mut()
                    .find(|c| c.command.id == command)
                    .expect("known command");
                c.state = CommandState::Completed;
                c.completed_at = Some(now);
                let end_job = c.command.end_job;
                if end_job {
                    state.done_at = Some(now);
                }
                let bs = state.job.base_server;
                out.push(Output::Send {
                    to: bs,
                    msg: Message::CommandCompleted {
                        job,
                        command,
                        end_job,
                    },
                });
                self.run_next_command(now, job, out);
            }
        }
    }

    /// The stream of `job` to `to` has sent everything this server holds (paused at
    /// `next_item`), or everything there will ever be (`done`).
    pub fn on_stream_drained(
        &mut self,
        job: JobId,
        to: HostId,
        next_item: u32,
        done: bool,
        out: &mut Outbox,
    ) {
        let upload = self.upload_bps;
        let state = self.job_mut(job).expect("stream of an unknown job");
        let object = state.job.clone();
        let ctx = SourceContext {
            job: &object,
            upload_bps: upload,
            held: state.held,
        };
        state
            .forwarder
            .on_stream_drained(to, next_item, done, ctx, out);
    }

    /// True when adaptive fanout could open another connection for `job`.
    pub fn can_grow(&self, job: JobId) -> bool {
        self.job(job)
            .is_some_and(|j| j.job.strategy.adaptive_fanout && j.forwarder.can_grow())
    }

    /// The upload is not saturated: open one more down-line connection for `job`.
    pub fn grow_fanout(&mut self, job: JobId, out: &mut Outbox) {
        let upload = self.upload_bps;
        if let Some(state) = self.job_mut(job) {
            let object = state.job.clone();
            state.forwarder.grow(
                SourceContext {
                    job: &object,
                    upload_bps: upload,
                    held: state.held,
                },
                out,
            );
        }
    }

    /// The commands of `job` and their ids, for reports.
    pub fn command_state(&self, job: JobId, command: CommandId) -> Option<CommandState> {
        self.job(job)?
            .commands
            .iter()
            .find(|c| c.command.id == command)
            .map(|c| c.state)
    }
}
