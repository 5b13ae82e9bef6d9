//! The client, a content provider (\[0034\]–\[0036\], \[0043\], \[0048\], \[0050\]–\[0055\], \[0065\]):
//! requests job sessions of the base server, produces each job's log (content chunks, then or
//! meanwhile commands, finally the end-job command) and streams it to the base server at its
//! own upload rate, may query a server's status and end its session, and keeps its own view of
//! each job's progress as the base server reports it.
//!
//! Sans-IO: the engine calls the scripted actions ([`Client::request_job`],
//! [`Client::append`], [`Client::end_session`], [`Client::query`]) at their times, and
//! [`Client::handle_message`], [`Client::on_stream_drained`], [`Client::on_upload_cut`] and
//! [`Client::on_timer`] as things happen.
//!
//! Robustness: a job request is asked again every `retry` period until the base server answers
//! (the base server answers a repeated request with the same job, so asking twice is harmless);
//! when the upload of a job's log to the base server breaks (a partition), the client streams it
//! again from the item and byte the base server names in [`Message::ResumeUpload`]. Commands are
//! added "by virtue of an open and active session" (\[0048\]): once the client ended its session it
//! adds no more commands and asks no more status queries (they are recorded as refused); the
//! end-job command, which completes the log it already promised, is still sent.

use super::job::{Item, JobId, JobRequest};
use super::message::{ControlConfig, Message, NodeStatus, Outbox, Output, QueryOrigin, Timer};
use crate::kernel::SimTime;
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One progress report as the client received it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressPoint {
    /// When it arrived.
    pub at: SimTime,
    /// Servers known to hold the job object.
    pub reached: u32,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Content held over all servers, percent.
    pub content_percent: u32,
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

/// A notice from the base server about the end of a job (\[0077\]).
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
    /// The stream broke; the base server will say where to resume.
    Cut,
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
    /// the closing (\[0077\]), in arrival order.
    pub notices: Vec<(SimTime, ClientNotice)>,
    /// Actions the client did not take because its session had ended: (time, what).
    pub refused: Vec<(SimTime, String)>,
    /// Job requests sent (more than one when an answer was slow to come).
    pub requests_sent: u32,
    /// Times the upload to the base server broke and was resumed.
    pub upload_resumes: u32,
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
    control: ControlConfig,
    jobs: Vec<ClientJob>,
    by_id: BTreeMap<JobId, u32>,
}

impl Client {
    /// A client named `name` that talks to `base_server` and will submit `jobs`; `control` sets
    /// how often it asks again when the base server does not answer.
    pub fn new(name: String, base_server: HostId, jobs: Vec<JobRequest>, control: ControlConfig) -> Self {
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
                refused: Vec::new(),
                requests_sent: 0,
                upload_resumes: 0,
                upload: Upload::NotOpen,
            })
            .collect();
        Client { name, base_server, control, jobs, by_id: BTreeMap::new() }
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

    /// Requests job number `ticket` (\[0043\], FIG. 3); its content starts being produced now.
    pub fn request_job(&mut self, now: SimTime, ticket: u32, out: &mut Outbox) {
        self.jobs[ticket as usize].requested_at = Some(now);
        self.send_request(ticket, out);
    }

    fn send_request(&mut self, ticket: u32, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        let content_started_at = job.requested_at.expect("requested");
        job.requests_sent += 1;
        out.push(Output::Send {
            to: self.base_server,
            msg: Message::RequestJob { ticket, request: job.request.clone(), content_started_at },
        });
        out.push(Output::SetTimer { after: self.control.retry, timer: Timer::RequestRetry { ticket } });
    }

    /// A timer set by the client fired: ask for a job again if no answer came.
    pub fn on_timer(&mut self, timer: Timer, out: &mut Outbox) {
        if let Timer::RequestRetry { ticket } = timer {
            let job = &self.jobs[ticket as usize];
            if job.accepted.is_none() && job.denied.is_none() {
                self.send_request(ticket, out);
            }
        }
    }

    /// A message could not be delivered (the transport gave up). Every request the client makes
    /// is asked again on its own timer, so nothing more is needed here.
    pub fn on_undeliverable(&mut self, _msg: &Message) {}

    /// Appends `item` to job `ticket`'s log (a produced chunk, a command, end-job); if the
    /// upload to the base server is paused, it resumes. A command other than end-job is refused
    /// once the client ended its session (\[0048\]).
    pub fn append(&mut self, now: SimTime, ticket: u32, item: Item, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        if job.denied.is_some() {
            return;
        }
        if let (Item::Command(c), Some(_)) = (&item, job.session_ended_at) {
            if !c.end_job {
                job.refused.push((now, format!("command `{}`: the session had ended", c.name)));
                return;
            }
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

    /// Ends the client's session for job `ticket` (\[0065\]); the job goes on without it.
    pub fn end_session(&mut self, now: SimTime, ticket: u32, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        job.session_ended_at = Some(now);
        if let Some((id, _)) = job.accepted {
            out.push(Output::Send { to: self.base_server, msg: Message::EndSession { job: id } });
        }
    }

    /// Asks the base server for `server`'s status on job `ticket` (\[0055\]); refused once the
    /// session has ended.
    pub fn query(&mut self, now: SimTime, ticket: u32, server: HostId, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        if job.session_ended_at.is_some() {
            job.refused.push((now, "status query: the session had ended".to_string()));
            return;
        }
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
        let Some(&ticket) = self.by_id.get(&job) else { return };
        let ticket = ticket as usize;
        self.jobs[ticket].upload = if done { Upload::Done } else { Upload::Paused(next_item) };
    }

    /// The upload of `job` to the base server broke (a partition): wait for the base server to
    /// say where to resume.
    pub fn on_upload_cut(&mut self, job: JobId) {
        if let Some(&ticket) = self.by_id.get(&job) {
            self.jobs[ticket as usize].upload = Upload::Cut;
        }
    }

    /// Reacts to a message from the base server. Messages about a job arrive even after the
    /// client ended its session (the base server calls back, \[0074\]).
    pub fn handle_message(&mut self, now: SimTime, msg: Message, out: &mut Outbox) {
        match msg {
            Message::JobAccepted { ticket, job, .. } => {
                let j = &mut self.jobs[ticket as usize];
                if j.accepted.is_some() || j.denied.is_some() {
                    return; // the answer to a repeated request
                }
                j.accepted = Some((job, now));
                j.upload = Upload::Open;
                out.push(Output::CancelTimer { timer: Timer::RequestRetry { ticket } });
                self.by_id.insert(job, ticket);
                if j.session_ended_at.is_some() {
                    out.push(Output::Send { to: self.base_server, msg: Message::EndSession { job } });
                }
                // A pre-seeded file is at the base server already: only the commands go up.
                let from_item = if j.request.preseeded { j.request.content.chunks } else { 0 };
                out.push(Output::OpenStream { to: self.base_server, job, from_item, from_byte: 0 });
            }
            Message::JobDenied { ticket, reason } => {
                let j = &mut self.jobs[ticket as usize];
                if j.accepted.is_none() && j.denied.is_none() {
                    j.denied = Some((now, reason));
                    out.push(Output::CancelTimer { timer: Timer::RequestRetry { ticket } });
                }
            }
            Message::ResumeUpload { job, from_item, from_byte } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                let j = &mut self.jobs[ticket];
                if j.upload == Upload::Cut {
                    j.upload = Upload::Open;
                    j.upload_resumes += 1;
                    out.push(Output::OpenStream { to: self.base_server, job, from_item, from_byte });
                }
            }
            Message::Progress { job, reached, holders, content_percent, commands_completed, .. } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                let point = ProgressPoint { at: now, reached, holders, content_percent, commands_completed };
                self.jobs[ticket].progress.push(point);
            }
            Message::JobClosed { job, failed } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                if self.jobs[ticket].closed_at.is_some() {
                    return; // a repeated closing notification
                }
                self.jobs[ticket].closed_at = Some(now);
                self.jobs[ticket].notices.push((now, ClientNotice::Closed { failed }));
            }
            Message::DelayNotice { job, server, expected_wait } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                let notice = ClientNotice::Delay { server, expected_wait };
                self.jobs[ticket].notices.push((now, notice));
            }
            Message::ServerFailed { job, server, reason } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                self.jobs[ticket].notices.push((now, ClientNotice::Failed { server, reason }));
            }
            Message::StatusReport { job, server: Some(server), status, .. } => {
                let Some(&ticket) = self.by_id.get(&job) else { return };
                let ticket = ticket as usize;
                if let Some(q) = self.jobs[ticket].queries.iter_mut().find(|q| q.server == server && q.answer.is_none())
                {
                    q.answer = Some((now, status));
                }
            }
            other => panic!("client {} got unexpected {other:?}", self.name),
        }
    }
}
