//! The base server ([0037], [0043], [0050], [0053]–[0054], [0063], claims 1–4, 9–10): creates
//! job objects on request, streams each job to its first node servers, collects receipt
//! notifications, keeps the client informed and closes the job when every listed server has it.
//!
//! Sans-IO like every role: the engine calls [`BaseServer::handle_message`],
//! [`BaseServer::on_chunk_produced`] and [`BaseServer::on_stream_sent`] and drains the
//! [`Outbox`] after each call.

use super::job::{ContentSpec, IndexList, JobId, JobObject, JobRequest, StrategyConfig};
use super::message::{Message, Outbox, Output};
use super::source::Forwarder;
use crate::kernel::SimTime;
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

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
    /// When every listed server had reported receipt.
    pub closed_at: Option<SimTime>,
    /// Receipt notifications: server → time the base server learned of it.
    pub reported: BTreeMap<HostId, SimTime>,
    /// Chunks of content available at the base server.
    pub produced: u32,
    forwarder: Forwarder,
}

/// The base server.
#[derive(Debug, Clone)]
pub struct BaseServer {
    host: HostId,
    upload_bps: f64,
    jobs: Vec<BaseJob>,
}

impl BaseServer {
    /// A base server on `host` with declared upload rate `upload_bps`.
    pub fn new(host: HostId, upload_bps: f64) -> Self {
        BaseServer {
            host,
            upload_bps,
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

    /// Chunks of `job` available here.
    pub fn held(&self, job: JobId) -> u32 {
        self.jobs[job.0 as usize].produced
    }

    /// Reacts to a control message from `from`. Returns the id of a job it created, so the
    /// engine can start feeding its content.
    pub fn handle_message(
        &mut self,
        now: SimTime,
        from: HostId,
        msg: Message,
        out: &mut Outbox,
    ) -> Option<JobId> {
        match msg {
            Message::RequestJob { ticket, request } => {
                Some(self.create_job(now, from, ticket, &request, out))
            }
            Message::Accept { job, from_chunk } => {
                out.push(Output::OpenStream {
                    to: from,
                    job,
                    from_chunk,
                });
                None
            }
            Message::Decline { job } => {
                let rate = self.upload_bps;
                let state = &mut self.jobs[job.0 as usize];
                let object = state.object.clone();
                state.forwarder.on_declined(from, &object, rate, out);
                None
            }
            Message::Received { job } => {
                let state = &mut self.jobs[job.0 as usize];
                if state.closed_at.is_some() || state.reported.contains_key(&from) {
                    return None;
                }
                state.reported.insert(from, now);
                let holders = state.reported.len() as u32;
                out.push(Output::Send {
                    to: state.client,
                    msg: Message::Progress {
                        job,
                        server: from,
                        holders,
                    },
                });
                if holders as usize == state.object.servers.len() {
                    state.closed_at = Some(now);
                    out.push(Output::Send {
                        to: state.client,
                        msg: Message::JobClosed { job },
                    });
                }
                None
            }
            other => panic!("base server got unexpected {other:?}"),
        }
    }

    /// Creates the job object ([0050]), answers the client with its id and server list, and
    /// starts streaming to the first node servers ([0053], claims 3–4).
    fn create_job(
        &mut self,
        now: SimTime,
        client: HostId,
        ticket: u32,
        request: &JobRequest,
        out: &mut Outbox,
    ) -> JobId {
        let id = JobId(self.jobs.len() as u32);
        let servers: Rc<[HostId]> = request.servers.iter().copied().collect();
        let object = Rc::new(JobObject {
            id,
            servers: servers.clone(),
            base_server: self.host,
            content: request.content.clone(),
            strategy: request.strategy,
        });
        out.push(Output::Send {
            to: client,
            msg: Message::JobAccepted {
                ticket,
                job: id,
                servers,
            },
        });
        let (streams, split) = match request.strategy {
            StrategyConfig::Cascade { first_nodes, .. } => (first_nodes, true),
            StrategyConfig::Star { max_concurrent } => (max_concurrent, false),
        };
        let mut forwarder = Forwarder::new(IndexList::all(object.servers.len()), streams, split);
        forwarder.fill(&object, self.upload_bps, out);
        let produced = if request.content.is_live() {
            0
        } else {
            request.content.chunks
        };
        self.jobs.push(BaseJob {
            object,
            client,
            name: request.name.clone(),
            created_at: now,
            closed_at: None,
            reported: BTreeMap::new(),
            produced,
            forwarder,
        });
        id
    }

    /// The next chunk of a live job's content has been produced.
    pub fn on_chunk_produced(&mut self, job: JobId) {
        let state = &mut self.jobs[job.0 as usize];
        assert!(
            state.produced < state.object.content.chunks,
            "produced past the end"
        );
        state.produced += 1;
    }

    /// The content of `job` (for the engine's production schedule).
    pub fn content(&self, job: JobId) -> &ContentSpec {
        &self.jobs[job.0 as usize].object.content
    }

    /// The stream of `job` to `to` has sent its last byte.
    pub fn on_stream_sent(&mut self, job: JobId, to: HostId, out: &mut Outbox) {
        let rate = self.upload_bps;
        let state = &mut self.jobs[job.0 as usize];
        let object = state.object.clone();
        state.forwarder.on_stream_sent(to, &object, rate, out);
    }
}
