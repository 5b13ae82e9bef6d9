//! The client, a content provider ([0034]–[0036], [0043], [0048], [0050]–[0055], [0065]):
//! requests job sessions of the base server, produces each job's log (content chunks, then or
//! meanwhile commands, finally the end-job command) and streams it to the base server at its
//! own upload rate, may query a server's status and end its session, and keeps its own view of
//! each job's progress as the base server reports it.
//!
//! Sans-IO: the engine calls the scripted actions ([`Client::request_job`],
//! [`Client::append`], [`Client::end_session`], [`Client::query`]) at their times, and
//! [`Client::handle_message`] / [`Client::on_stream_drained`] as things happen.

use super::job::{Item, JobId, JobRequest};
use super::message::{Message, NodeStatus, Outbox, Output, QueryOrigin};
use crate::kernel::SimTime;
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One progress report as the client received it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressPoint {
    /// When it arrived.
    pub at: SimTime,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Command completions over all servers.
    pub commands_completed: u32,
}

/// A status query and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRecord {
    /// When the client asked.
    pub asked_at: SimTime,
    /// The server asked about.
    pub server: HostId,
    /// When the answer arrived, and what it said.
    pub answer: Option<(SimTime, NodeStatus)>,
}

/// A notice from the base server about the end of a job ([0077]).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientNotice {
    /// A server is being repaired; expect this much longer.
    Delay {
        /// The server.
        server: HostId,
        /// Expected extra wait.
        expected_wait: crate::kernel::SimDuration,
    },
    /// A server was given up on.
    Failed {
        /// The server.
        server: HostId,
        /// Why.
        reason: String,
    },
    /// The job is closed.
    Closed {
        /// Servers given up on.
        failed: u32,
    },
}

/// The client's stream of a job's log to the base server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upload {
    NotOpen,
    Open,
    Paused(u32),
    Done,
}

/// The client's view of one job.
#[derive(Debug, Clone)]
pub struct ClientJob {
    /// What was requested.
    pub request: Rc<JobRequest>,
    /// The job's log as produced so far.
    pub log: Vec<Item>,
    /// Content chunks produced.
    pub chunks: u32,
    /// When each command was added: (item index, time).
    pub commands_added: Vec<(u32, SimTime)>,
    /// When the request was sent.
    pub requested_at: Option<SimTime>,
    /// The job id and when the acceptance arrived.
    pub accepted: Option<(JobId, SimTime)>,
    /// When and why the request was denied.
    pub denied: Option<(SimTime, String)>,
    /// Progress reports.
    pub progress: Vec<ProgressPoint>,
    /// When the closing notification arrived.
    pub closed_at: Option<SimTime>,
    /// When the client ended its session.
    pub session_ended_at: Option<SimTime>,
    /// Status queries and answers.
    pub queries: Vec<QueryRecord>,
    /// What the base server told the client about the job's end: delays, given-up servers,
    /// the closing ([0077]), in arrival order.
    pub notices: Vec<(SimTime, ClientNotice)>,
    upload: Upload,
}

impl ClientJob {
    /// True once the end-job command is in the log.
    pub fn log_complete(&self) -> bool {
        matches!(self.log.last(), Some(Item::Command(c)) if c.end_job)
    }
}

/// A content provider.
#[derive(Debug, Clone)]
pub struct Client {
    name: String,
    base_server: HostId,
    jobs: Vec<ClientJob>,
    by_id: BTreeMap<JobId, u32>,
}

impl Client {
    /// A client named `name` that talks to `base_server` and will submit `jobs`.
    pub fn new(name: String, base_server: HostId, jobs: Vec<JobRequest>) -> Self {
        let jobs = jobs
            .into_iter()
            .map(|r| ClientJob {
                request: Rc::new(r),
                log: Vec::new(),
                chunks: 0,
                commands_added: Vec::new(),
                requested_at: None,
                accepted: None,
                denied: None,
                progress: Vec::new(),
                closed_at: None,
                session_ended_at: None,
                queries: Vec::new(),
                notices: Vec::new(),
                upload: Upload::NotOpen,
            })
            .collect();
        Client { name, base_server, jobs, by_id: BTreeMap::new() }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client's jobs, in scenario order (index = ticket).
    pub fn jobs(&self) -> &[ClientJob] {
        &self.jobs
    }

    /// The ticket of job `id`.
    pub fn ticket(&self, id: JobId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// The job's view by id.
    pub fn job(&self, id: JobId) -> &ClientJob {
        &self.jobs[self.by_id[&id] as usize]
    }

    /// Items of `job` produced so far.
    pub fn held(&self, job: JobId) -> u32 {
        self.job(job).log.len() as u32
    }

    /// True when all of `job`'s content is produced.
    pub fn content_complete(&self, job: JobId) -> bool {
        let j = self.job(job);
        j.chunks == j.request.content.chunks
    }

    /// True when `job`'s end-job command is produced.
    pub fn log_complete(&self, job: JobId) -> bool {
        self.job(job).log_complete()
    }

    /// Item `index` of `job`'s log.
    pub fn item(&self, job: JobId, index: u32) -> &Item {
        &self.job(job).log[index as usize]
    }

    /// Requests job number `ticket` ([0043], FIG. 3); its content starts being produced now.
    pub fn request_job(&mut self, now: SimTime, ticket: u32, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        job.requested_at = Some(now);
        out.push(Output::Send {
            to: self.base_server,
            msg: Message::RequestJob { ticket, request: job.request.clone(), content_started_at: now },
        });
    }

    /// Appends `item` to job `ticket`'s log (a produced chunk, a command, end-job); if the
    /// upload to the base server is paused, it resumes.
    pub fn append(&mut self, now: SimTime, ticket: u32, item: Item, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        if job.denied.is_some() {
            return;
        }
        match &item {
            Item::Chunk(_) => job.chunks += 1,
            Item::Command(_) => job.commands_added.push((job.log.len() as u32, now)),
        }
        job.log.push(item);
        if let (Upload::Paused(next), Some((id, _))) = (job.upload, job.accepted) {
            job.upload = Upload::Open;
            out.push(Output::OpenStream { to: self.base_server, job: id, from_item: next, from_byte: 0 });
        }
    }

    /// Ends the client's session for job `ticket` ([0065]); the job goes on without it.
    pub fn end_session(&mut self, now: SimTime, ticket: u32, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        if let Some((id, _)) = job.accepted {
            job.session_ended_at = Some(now);
            out.push(Output::Send { to: self.base_server, msg: Message::EndSession { job: id } });
        }
    }

    /// Asks the base server for `server`'s status on job `ticket` ([0055]).
    pub fn query(&mut self, now: SimTime, ticket: u32, server: HostId, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        if let Some((id, _)) = job.accepted {
            job.queries.push(QueryRecord { asked_at: now, server, answer: None });
            out.push(Output::Send {
                to: self.base_server,
                msg: Message::StatusQuery { job: id, server: Some(server), origin: QueryOrigin::Client },
            });
        }
    }

    /// The upload of `job` has sent everything produced so far (paused at `next_item`) or
    /// everything (`done`).
    pub fn on_stream_drained(&mut self, job: JobId, next_item: u32, done: bool) {
        let ticket = self.by_id[&job] as usize;
        self.jobs[ticket].upload = if done { Upload::Done } else { Upload::Paused(next_item) };
    }

    /// Reacts to a message from the base server. Messages about a job arrive even after the
    /// client ended its session (the base server calls back, [0074]).
    pub fn handle_message(&mut self, now: SimTime, msg: Message, out: &mut Outbox) {
        match msg {
            Message::JobAccepted { ticket, job, .. } => {
                let j = &mut self.jobs[ticket as usize];
                j.accepted = Some((job, now));
                j.upload = Upload::Open;
                self.by_id.insert(job, ticket);
                out.push(Output::OpenStream { to: self.base_server, job, from_item: 0, from_byte: 0 });
            }
            Message::JobDenied { ticket, reason } => self.jobs[ticket as usize].denied = Some((now, reason)),
            Message::Progress { job, holders, commands_completed, .. } => {
                let ticket = self.by_id[&job] as usize;
                self.jobs[ticket].progress.push(ProgressPoint { at: now, holders, commands_completed });
            }
            Message::JobClosed { job, failed } => {
                let ticket = self.by_id[&job] as usize;
                self.jobs[ticket].closed_at = Some(now);
                self.jobs[ticket].notices.push((now, ClientNotice::Closed { failed }));
            }
            Message::DelayNotice { job, server, expected_wait } => {
                let ticket = self.by_id[&job] as usize;
                let notice = ClientNotice::Delay { server, expected_wait };
                self.jobs[ticket].notices.push((now, notice));
            }
            Message::ServerFailed { job, server, reason } => {
                let ticket = self.by_id[&job] as usize;
                self.jobs[ticket].notices.push((now, ClientNotice::Failed { server, reason }));
            }
            Message::StatusReport { job, server: Some(server), status, .. } => {
                let ticket = self.by_id[&job] as usize;
                if let Some(q) = self.jobs[ticket].queries.iter_mut().find(|q| q.server == server && q.answer.is_none())
                {
                    q.answer = Some((now, status));
                }
            }
            other => panic!("client {} got unexpected {other:?}", self.name),
        }
    }
}
