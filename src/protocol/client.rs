//! The client, a content provider ([0034]–[0036], [0043], [0050]): requests job sessions of the
//! base server and keeps its own view of every job's progress as the base server reports it.

use super::job::{JobId, JobRequest};
use super::message::{Message, Outbox, Output};
use crate::kernel::SimTime;
use crate::net::HostId;
use std::rc::Rc;

/// The client's view of one job.
#[derive(Debug, Clone)]
pub struct ClientJob {
    /// What was requested.
    pub request: Rc<JobRequest>,
    /// When the request was sent.
    pub requested_at: Option<SimTime>,
    /// The job id and when the acceptance arrived.
    pub accepted: Option<(JobId, SimTime)>,
    /// Progress reports: (time, servers holding the job).
    pub progress: Vec<(SimTime, u32)>,
    /// When the closing notification arrived.
    pub closed_at: Option<SimTime>,
}

/// A content provider.
#[derive(Debug, Clone)]
pub struct Client {
    name: String,
    base_server: HostId,
    jobs: Vec<ClientJob>,
}

impl Client {
    /// A client named `name` that talks to `base_server` and will submit `jobs`.
    pub fn new(name: String, base_server: HostId, jobs: Vec<JobRequest>) -> Self {
        let jobs = jobs
            .into_iter()
            .map(|r| ClientJob {
                request: Rc::new(r),
                requested_at: None,
                accepted: None,
                progress: Vec::new(),
                closed_at: None,
            })
            .collect();
        Client {
            name,
            base_server,
            jobs,
        }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client's jobs, in scenario order.
    pub fn jobs(&self) -> &[ClientJob] {
        &self.jobs
    }

    /// Time to request job number `ticket` ([0043], FIG. 3).
    pub fn request_job(&mut self, now: SimTime, ticket: u32, out: &mut Outbox) {
        let job = &mut self.jobs[ticket as usize];
        job.requested_at = Some(now);
        out.push(Output::Send {
            to: self.base_server,
            msg: Message::RequestJob {
                ticket,
                request: job.request.clone(),
            },
        });
    }

    fn by_id(&mut self, id: JobId) -> &mut ClientJob {
        self.jobs
            .iter_mut()
            .find(|j| j.accepted.map(|a| a.0) == Some(id))
            .expect("message about an unknown job")
    }

    /// Reacts to a message from the base server.
    pub fn handle_message(&mut self, now: SimTime, msg: Message) {
        match msg {
            Message::JobAccepted { ticket, job, .. } => {
                self.jobs[ticket as usize].accepted = Some((job, now))
            }
            Message::Progress { job, holders, .. } => self.by_id(job).progress.push((now, holders)),
            Message::JobClosed { job } => self.by_id(job).closed_at = Some(now),
            other => panic!("client {} got unexpected {other:?}", self.name),
        }
    }
}
