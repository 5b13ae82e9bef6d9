//! The node server ([0037], [0044]–[0045], [0053]–[0060]): receives a job object and its
//! content from a source, notifies the base server on receipt, and becomes a source itself.
//!
//! Sans-IO: the node owns no clock and does no I/O. The engine calls
//! [`NodeServer::handle_message`] when a message arrives, [`NodeServer::on_chunk`] when a
//! chunk of content arrives and [`NodeServer::on_stream_sent`] when one of its outgoing
//! streams has sent its last byte; after each call it drains the [`Outbox`].

use super::job::{JobId, JobObject, StrategyConfig};
use super::message::{Message, Outbox, Output};
use super::source::Forwarder;
use crate::kernel::SimTime;
use crate::net::HostId;
use std::rc::Rc;

/// A node server's copy of one job and what it has done with it.
#[derive(Debug, Clone)]
pub struct NodeJob {
    /// The job's id (a copy of `job.id`, so lookups need not follow the pointer).
    pub id: JobId,
    /// The job object as received.
    pub job: Rc<JobObject>,
    /// Chunks held, always a prefix of the content (`0..held`).
    pub held: u32,
    /// Every source that streamed content to this server, in order.
    pub sources: Vec<HostId>,
    /// Content bytes received.
    pub bytes_received: u64,
    /// When the job object arrived.
    pub job_object_at: SimTime,
    /// When the last chunk arrived.
    pub received_at: Option<SimTime>,
    forwarder: Forwarder,
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

    /// Chunks of `job` this server holds (and can therefore forward).
    pub fn held(&self, job: JobId) -> u32 {
        self.job(job).map_or(0, |j| j.held)
    }

    /// Reacts to a control message from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: HostId, msg: Message, out: &mut Outbox) {
        match msg {
            Message::Offer {
                job, index_list, ..
            } => {
                if self.job(job.id).is_some() {
                    out.push(Output::Send {
                        to: from,
                        msg: Message::Decline { job: job.id },
                    });
                    return;
                }
                let fanout = match job.strategy {
                    StrategyConfig::Cascade { fanout, .. } => fanout,
                    StrategyConfig::Star { .. } => 1,
                };
                let split = matches!(job.strategy, StrategyConfig::Cascade { .. });
                out.push(Output::Send {
                    to: from,
                    msg: Message::Accept {
                        job: job.id,
                        from_chunk: 0,
                    },
                });
                let mut state = NodeJob {
                    id: job.id,
                    job,
                    held: 0,
                    sources: vec![from],
                    bytes_received: 0,
                    job_object_at: now,
                    received_at: None,
                    forwarder: Forwarder::new(index_list, fanout, split),
                };
                // Holding the job object makes this server a source at once: it approaches its
                // targets before it holds any content, and streams chunks as they arrive.
                state.forwarder.fill(&state.job, self.upload_bps, out);
                self.jobs.push(state);
            }
            Message::Accept { job, from_chunk } => {
                out.push(Output::OpenStream {
                    to: from,
                    job,
                    from_chunk,
                });
            }
            Message::Decline { job } => {
                let rate = self.upload_bps;
                if let Some(state) = self.job_mut(job) {
                    let object = state.job.clone();
                    state.forwarder.on_declined(from, &object, rate, out);
                }
            }
            other => panic!("node server {} got unexpected {other:?}", self.host),
        }
    }

    /// Chunk `index` of `job` arrived from `from`. Chunks of one job arrive in order.
    pub fn on_chunk(
        &mut self,
        now: SimTime,
        job: JobId,
        index: u32,
        from: HostId,
        out: &mut Outbox,
    ) {
        let state = self.job_mut(job).expect("content without a job object");
        assert_eq!(index, state.held, "chunks arrive in order");
        state.held += 1;
        state.bytes_received += state.job.content.chunk_bytes(index);
        if state.sources.last() != Some(&from) {
            state.sources.push(from);
        }
        if state.held == state.job.content.chunks {
            state.received_at = Some(now);
            out.push(Output::Send {
                to: state.job.base_server,
                msg: Message::Received { job },
            });
        }
    }

    /// The stream of `job` to `to` has sent its last byte: approach the next server.
    pub fn on_stream_sent(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        let rate = self.upload_bps;
        let state = self.job_mut(job).expect("stream of an unknown job");
        let object = state.job.clone();
        state.forwarder.on_stream_sent(to, &object, rate, out);
    }
}
