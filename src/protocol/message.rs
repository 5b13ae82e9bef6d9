//! Control messages between client, base server and node servers, and the outputs the
//! sans-IO roles hand to the engine.
//!
//! Messages are delivered after the route's latency; they are small and do not consume
//! bandwidth. Content itself never travels in a message: a source asks the engine to open a
//! *stream* ([`Output::OpenStream`]), which the network model carries chunk by chunk.

use super::job::{IndexList, JobId, JobObject, JobRequest};
use crate::net::HostId;
use std::rc::Rc;

/// A control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Client → base server: request a job session ([0043], [0050], FIG. 3).
    RequestJob {
        /// The client's index of the job, echoed in the answer.
        ticket: u32,
        /// The job's dimensions.
        request: Rc<JobRequest>,
    },
    /// Base server → client: the job object exists; its id and server list ([0050]).
    JobAccepted {
        /// The ticket of the request.
        ticket: u32,
        /// The new job's id.
        job: JobId,
        /// The server address list.
        servers: Rc<[HostId]>,
    },
    /// Base server → client: a server reported receipt of the job ([0054], [0057]).
    Progress {
        /// The job.
        job: JobId,
        /// The server that reported.
        server: HostId,
        /// How many servers hold the whole job so far.
        holders: u32,
    },
    /// Base server → client: every server holds the job; the job object is closed ([0015]).
    JobClosed {
        /// The job.
        job: JobId,
    },
    /// Source → server: the job object with the index list of servers not yet approached
    /// ([0053], [0067]), and the rate the source can offer ([0073]).
    Offer {
        /// The job object.
        job: Rc<JobObject>,
        /// Servers the receiver should distribute to in turn.
        index_list: IndexList,
        /// Upload rate the source declares, bytes per second.
        rate_bps: f64,
    },
    /// Server → source: send the content from chunk `from_chunk` on.
    Accept {
        /// The job.
        job: JobId,
        /// First chunk the receiver does not hold yet.
        from_chunk: u32,
    },
    /// Server → source: no thanks (the server already holds or receives the job).
    Decline {
        /// The job.
        job: JobId,
    },
    /// Server → base server: the whole job has been received ([0045], [0054]).
    Received {
        /// The job.
        job: JobId,
    },
}

impl Message {
    /// The variant's name, for logs and traces.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Message::RequestJob { .. } => "RequestJob",
            Message::JobAccepted { .. } => "JobAccepted",
            Message::Progress { .. } => "Progress",
            Message::JobClosed { .. } => "JobClosed",
            Message::Offer { .. } => "Offer",
            Message::Accept { .. } => "Accept",
            Message::Decline { .. } => "Decline",
            Message::Received { .. } => "Received",
        }
    }

    /// A small stable number per variant, for the trace hash.
    pub fn kind_code(&self) -> u64 {
        match self {
            Message::RequestJob { .. } => 1,
            Message::JobAccepted { .. } => 2,
            Message::Progress { .. } => 3,
            Message::JobClosed { .. } => 4,
            Message::Offer { .. } => 5,
            Message::Accept { .. } => 6,
            Message::Decline { .. } => 7,
            Message::Received { .. } => 8,
        }
    }
}

/// What a role asks the engine to do; drained after every input.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Deliver `msg` to `to` after the route's latency.
    Send {
        /// Destination host.
        to: HostId,
        /// The message.
        msg: Message,
    },
    /// Stream the job's content to `to`, from chunk `from_chunk` on, as fast as the network
    /// allows and no faster than the source holds it (pipelining).
    OpenStream {
        /// Receiving host.
        to: HostId,
        /// The job.
        job: JobId,
        /// First chunk to send.
        from_chunk: u32,
    },
}

/// Collects a role's outputs; the engine drains it after each call.
pub type Outbox = Vec<Output>;
