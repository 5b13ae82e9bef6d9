//! Control messages between client, base server and node servers, and the outputs the
//! sans-IO roles hand to the engine.
//!
//! Messages are delivered after the route's latency; they are small and do not consume
//! bandwidth. The job's items (content chunks and commands) never travel in a message: a
//! source asks the engine to open a *stream* ([`Output::OpenStream`]), which the network model
//! carries item by item.

use super::job::{CommandId, IndexList, JobId, JobObject, JobRequest};
use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use std::rc::Rc;

/// The three states of a distributed command at a node server (\[0052\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandState {
    /// Received, pending execution.
    New,
    /// Being executed.
    InProgress,
    /// Finished executing.
    Completed,
}

impl CommandState {
    /// Lower-case name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            CommandState::New => "new",
            CommandState::InProgress => "in_progress",
            CommandState::Completed => "completed",
        }
    }
}

/// A node server's answer to a status query (\[0055\], \[0075\]).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    /// The server has the job object at all (false: not reached yet).
    pub has_job: bool,
    /// Items of the job's log held (a prefix).
    pub items_held: u32,
    /// Bytes of the next item already on disk (an item in progress): with `items_held` this
    /// measures progress in bytes, so a server receiving one large item is seen to progress.
    pub partial_bytes: u64,
    /// All content chunks held.
    pub content_complete: bool,
    /// The source it takes the job from (`None`: it has none, e.g. its source was lost).
    pub source: Option<HostId>,
    /// It lost its source (or crashed) and waits for a new one.
    pub orphaned: bool,
    /// The end-job command has arrived: the whole log is held, only commands may be running.
    pub log_complete: bool,
    /// The end-job command has completed: the server's part is done.
    pub done: bool,
    /// Every command received so far, with its state.
    pub commands: Vec<(CommandId, CommandState)>,
}

impl NodeStatus {
    /// The answer of a server that does not have the job.
    pub fn without_job() -> NodeStatus {
        NodeStatus {
            has_job: false,
            items_held: 0,
            partial_bytes: 0,
            content_complete: false,
            source: None,
            orphaned: false,
            log_complete: false,
            done: false,
            commands: Vec::new(),
        }
    }

    /// Progress as a comparable (items, bytes of the next item) pair.
    pub fn progress(&self) -> (u32, u64) {
        (self.items_held, self.partial_bytes)
    }
}

/// Who asked a status query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryOrigin {
    /// The client (\[0055\]); the base server relays the answer.
    Client,
    /// The base server itself, chasing a server after end-job (\[0075\]).
    BaseServer,
}

/// A control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Client → base server: request a job session (\[0043\], \[0050\], FIG. 3).
    RequestJob {
        /// The client's index of the job, echoed in the answer.
        ticket: u32,
        /// The job's dimensions.
        request: Rc<JobRequest>,
        /// When the client started producing the job's content.
        content_started_at: SimTime,
    },
    /// Base server → client: the job object exists; its id and server list (\[0050\]).
    JobAccepted {
        /// The ticket of the request.
        ticket: u32,
        /// The new job's id.
        job: JobId,
        /// The server address list.
        servers: Rc<[HostId]>,
    },
    /// Base server → client: the request is denied (\[0050\]).
    JobDenied {
        /// The ticket of the request.
        ticket: u32,
        /// Why.
        reason: String,
    },
    /// Client → base server: the client ends its session; the job goes on (\[0065\], \[0074\]).
    EndSession {
        /// The job.
        job: JobId,
    },
    /// Base server → client: progress of the job (\[0054\], \[0057\], claim 9).
    Progress {
        /// The job.
        job: JobId,
        /// The server that reported.
        server: HostId,
        /// Servers known to hold the job object.
        reached: u32,
        /// Servers holding the whole content so far.
        holders: u32,
        /// Content held over all servers, percent (from tenths reported by each server).
        content_percent: u32,
        /// Command completions reported so far, over all servers.
        commands_completed: u32,
    },
    /// Base server → client: every server completed every command, or was given up on; the
    /// job object is closed (\[0015\], \[0074\], claims 10 and 22). Sent even after the client ended
    /// its session.
    JobClosed {
        /// The job.
        job: JobId,
        /// Servers given up on (failed for good).
        failed: u32,
    },
    /// Base server → client: a server is being repaired; the job will take about this much
    /// longer (\[0077\]).
    DelayNotice {
        /// The job.
        job: JobId,
        /// The server.
        server: HostId,
        /// Expected extra wait.
        expected_wait: SimDuration,
    },
    /// Base server → client: a server could not be repaired and is given up on (\[0077\]).
    ServerFailed {
        /// The job.
        job: JobId,
        /// The server.
        server: HostId,
        /// Why.
        reason: String,
    },
    /// Client → base server (with `server`), and base server → that server (without): what is
    /// the server's state for the job? (\[0055\], \[0075\])
    StatusQuery {
        /// The job.
        job: JobId,
        /// The server asked about (client's question only).
        server: Option<HostId>,
        /// Who asked.
        origin: QueryOrigin,
    },
    /// Server → base server, and base server → client (with `server`): the answer.
    StatusReport {
        /// The job.
        job: JobId,
        /// The server the report is about (relayed report only).
        server: Option<HostId>,
        /// Who asked.
        origin: QueryOrigin,
        /// The state.
        status: NodeStatus,
    },
    /// Server → base server: its source is gone (crash, partition) or it came back from a
    /// crash; it needs a source to resume from what it holds (\[0005\], \[0077\]).
    NeedSource {
        /// The job.
        job: JobId,
    },
    /// Source → server: the job object with the index list of servers not yet approached
    /// (\[0053\], \[0067\]), and the rate the source can support for this transfer (\[0073\]).
    Offer {
        /// The job object.
        job: Rc<JobObject>,
        /// Servers the receiver should distribute to in turn.
        index_list: IndexList,
        /// Rate the source declares, bytes per second.
        rate_bps: f64,
        /// Items of the job's log the source holds: a receiver only switches to a source that
        /// is ahead of it, so sources never form a cycle.
        items_held: u32,
        /// The base server reactivates the receiver (\[0076\]): it takes this source whatever it
        /// believes about its current one.
        activation: bool,
    },
    /// Server → source: stream the job's log from item `from_item`, byte `from_byte` on.
    Accept {
        /// The job.
        job: JobId,
        /// First item the receiver still needs.
        from_item: u32,
        /// Bytes of that item it already has (a resumed transfer, \[0005\], \[0061\]).
        from_byte: u64,
        /// False when the receiver already has an index list (it switched to this source):
        /// the source keeps the share it offered.
        takes_list: bool,
    },
    /// Server → source: no thanks (it holds the job, or stays with its current source).
    Decline {
        /// The job.
        job: JobId,
    },
    /// Server → its former source after a dynamic switch: the connection is broken, move on
    /// to the next server (\[0061\]).
    Release {
        /// The job.
        job: JobId,
    },
    /// Server → base server: the job object arrived from `source` (\[0054\], \[0057\]–\[0059\]: a
    /// server notifies on receipt of the job information).
    JobReceived {
        /// The job.
        job: JobId,
        /// Where it came from.
        source: HostId,
    },
    /// Server → base server: progress while receiving — the server now holds `items_held` items
    /// (sent at every tenth of the content, so the base server and the client see a job advance
    /// while it streams).
    Holding {
        /// The job.
        job: JobId,
        /// Items of the log held.
        items_held: u32,
    },
    /// Base server → client: the upload of the job's log to the base server broke; stream it
    /// again from this item and byte (\[0005\]: resume, not restart).
    ResumeUpload {
        /// The job.
        job: JobId,
        /// First item the base server lacks.
        from_item: u32,
        /// Bytes of it the base server already has.
        from_byte: u64,
    },
    /// Base server → origin: the job object; the origin takes its part of the first nodes
    /// (`job.origins`) and asks for the job's log with [`Message::Mirror`].
    Assign {
        /// The job object.
        job: Rc<JobObject>,
    },
    /// Origin → base server: stream the job's log to me from this item and byte (what a
    /// pre-seeded origin lacks is the commands; for an uploaded job, everything).
    Mirror {
        /// The job.
        job: JobId,
        /// First item the origin lacks.
        from_item: u32,
        /// Bytes of it the origin already has.
        from_byte: u64,
    },
    /// Base server → origin or node server: offer `server` the job as a reactivation
    /// (\[0076\]): the base server hands the servers it reactivates, and late joiners, to the
    /// origins that hold the content, and a server that lost its source to the server above
    /// that source (or a holder, after churn), rather than serving them all itself.
    Serve {
        /// The job.
        job: JobId,
        /// The server to serve.
        server: HostId,
    },
    /// Base server → origin: approach these servers (a leaving server's unapproached shares:
    /// each a server index and the index list it takes on).
    Adopt {
        /// The job.
        job: JobId,
        /// Server index and index list of each share.
        shares: Rc<[(u32, IndexList)]>,
    },
    /// Node server → base server: it has joined the network (churn) and asks for its jobs.
    Joined,
    /// Base server → node server: its jobs are being served.
    JoinAck,
    /// Node server → base server: it leaves the network (churn, not a fault) and hands back the
    /// servers of its list it has not approached yet.
    Leaving {
        /// The job.
        job: JobId,
        /// It completed the job (its own notice may still be on its way, or lost).
        done: bool,
        /// Server index and index list of each unapproached share.
        shares: Rc<[(u32, IndexList)]>,
    },
    /// Server → base server: the whole content has been received (\[0045\], \[0054\]).
    Received {
        /// The job.
        job: JobId,
    },
    /// Server → base server: a command finished executing (\[0055\], \[0063\]).
    CommandCompleted {
        /// The job.
        job: JobId,
        /// The command.
        command: CommandId,
        /// True for the end-job command: the server has completed the job.
        end_job: bool,
    },
}

impl Message {
    /// The job of a node's notice or answer that updates its report at the base server
    /// (receipt, holdings, completion, a status answer), for fetching that report early.
    pub fn reported_job(&self) -> Option<JobId> {
        match self {
            Message::JobReceived { job, .. }
            | Message::Holding { job, .. }
            | Message::Received { job }
            | Message::CommandCompleted { job, .. }
            | Message::StatusReport { job, .. } => Some(*job),
            _ => None,
        }
    }

    /// The variant's name, for logs and traces.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Message::RequestJob { .. } => "RequestJob",
            Message::JobAccepted { .. } => "JobAccepted",
            Message::JobDenied { .. } => "JobDenied",
            Message::EndSession { .. } => "EndSession",
            Message::Progress { .. } => "Progress",
            Message::JobClosed { .. } => "JobClosed",
            Message::DelayNotice { .. } => "DelayNotice",
            Message::ServerFailed { .. } => "ServerFailed",
            Message::NeedSource { .. } => "NeedSource",
            Message::StatusQuery { .. } => "StatusQuery",
            Message::StatusReport { .. } => "StatusReport",
            Message::Offer { .. } => "Offer",
            Message::Accept { .. } => "Accept",
            Message::Decline { .. } => "Decline",
            Message::Release { .. } => "Release",
            Message::Received { .. } => "Received",
            Message::CommandCompleted { .. } => "CommandCompleted",
            Message::JobReceived { .. } => "JobReceived",
            Message::Holding { .. } => "Holding",
            Message::ResumeUpload { .. } => "ResumeUpload",
            Message::Assign { .. } => "Assign",
            Message::Mirror { .. } => "Mirror",
            Message::Serve { .. } => "Serve",
            Message::Adopt { .. } => "Adopt",
            Message::Joined => "Joined",
            Message::JoinAck => "JoinAck",
            Message::Leaving { .. } => "Leaving",
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
            Message::JobDenied { .. } => 9,
            Message::EndSession { .. } => 10,
            Message::StatusQuery { .. } => 11,
            Message::StatusReport { .. } => 12,
            Message::Release { .. } => 13,
            Message::CommandCompleted { .. } => 14,
            Message::DelayNotice { .. } => 15,
            Message::ServerFailed { .. } => 16,
            Message::NeedSource { .. } => 17,
            Message::JobReceived { .. } => 18,
            Message::Holding { .. } => 19,
            Message::ResumeUpload { .. } => 20,
            Message::Assign { .. } => 21,
            Message::Mirror { .. } => 22,
            Message::Serve { .. } => 23,
            Message::Adopt { .. } => 24,
            Message::Joined => 25,
            Message::JoinAck => 26,
            Message::Leaving { .. } => 27,
        }
    }
}

/// A role's timer. A role has at most one pending timer of each value: setting it again
/// replaces the pending one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A command finished executing at a node server.
    CommandDone {
        /// The job.
        job: JobId,
        /// The command.
        command: CommandId,
    },
    /// A base server's wait period for a job ended (\[0074\]).
    WaitPeriod {
        /// The job.
        job: JobId,
    },
    /// A base server's status query got no answer in time (\[0075\]).
    QueryTimeout {
        /// The job.
        job: JobId,
        /// The server queried.
        server: HostId,
        /// Which query (a later one supersedes it).
        query: u32,
    },
    /// A base server's repair attempt on a server is over (\[0076\]).
    RepairDone {
        /// The job.
        job: JobId,
        /// The server.
        server: HostId,
    },
    /// A client asked for a job session and may not have been heard: ask again unless the
    /// base server answered meanwhile.
    RequestRetry {
        /// The client's index of the job.
        ticket: u32,
    },
    /// The base server checks that the client's upload of a job's log is flowing again after it
    /// broke, and asks again if not.
    UploadCheck {
        /// The job.
        job: JobId,
    },
    /// The base server sends the closing notification again (the client was unreachable).
    ResendClosed {
        /// The job.
        job: JobId,
    },
    /// A node server without a source asks the base server again.
    SourceRetry {
        /// The job.
        job: JobId,
    },
    /// A source's offer to `to` got no answer in time: it moves on.
    OfferTimeout {
        /// The job.
        job: JobId,
        /// The server offered to.
        to: HostId,
    },
    /// A node server that joined asks the base server for its jobs again, unless it answered.
    JoinRetry,
    /// An origin whose copy of the job's log stopped (a partition, an undeliverable request)
    /// asks the base server for it again.
    MirrorRetry {
        /// The job.
        job: JobId,
    },
    /// The base server sends an origin the job object again (the last one was undeliverable).
    AssignRetry {
        /// The job.
        job: JobId,
        /// The origin.
        origin: HostId,
    },
}

impl Timer {
    /// A stable code per variant, for the trace hash.
    pub fn code(&self) -> [u64; 3] {
        match *self {
            Timer::CommandDone { job, command } => [1, job.0 as u64, command.0 as u64],
            Timer::WaitPeriod { job } => [2, job.0 as u64, 0],
            Timer::QueryTimeout { job, server, query } => [3 | (query as u64) << 8, job.0 as u64, server.0 as u64],
            Timer::RepairDone { job, server } => [4, job.0 as u64, server.0 as u64],
            Timer::RequestRetry { ticket } => [5, ticket as u64, 0],
            Timer::UploadCheck { job } => [6, job.0 as u64, 0],
            Timer::ResendClosed { job } => [7, job.0 as u64, 0],
            Timer::SourceRetry { job } => [8, job.0 as u64, 0],
            Timer::OfferTimeout { job, to } => [9, job.0 as u64, to.0 as u64],
            Timer::JoinRetry => [10, 0, 0],
            Timer::MirrorRetry { job } => [11, job.0 as u64, 0],
            Timer::AssignRetry { job, origin } => [12, job.0 as u64, origin.0 as u64],
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
    /// Stream the job's log to `to` from item `from_item`, byte `from_byte`, as fast as the
    /// network allows and no faster than this host holds it (pipelining). The stream pauses when
    /// it has sent everything while the content is complete, and ends after the end-job item.
    OpenStream {
        /// Receiving host.
        to: HostId,
        /// The job.
        job: JobId,
        /// First item to send.
        from_item: u32,
        /// Bytes of the first item to skip.
        from_byte: u64,
    },
    /// Stop the stream of `job` to `to` (its receiver released this source); items already on
    /// the wire still arrive.
    CloseOutgoing {
        /// The receiver.
        to: HostId,
        /// The job.
        job: JobId,
    },
    /// Break the incoming stream of `job` from `from` now (a dynamic switch); the engine
    /// answers with the role's `on_incoming_closed`, giving the offset to resume from.
    CloseIncoming {
        /// The job.
        job: JobId,
        /// The current source.
        from: HostId,
    },
    /// A repair attempt on `host` is over (\[0076\]); `worked` says whether the technician's
    /// attempt succeeded (drawn with the configured probability). The engine carries it out —
    /// it brings a crashed host back if the host can be repaired and reached — and answers with
    /// the base server's `on_repair_result` and a [`RepairOutcome`].
    Repair {
        /// The job the repair is for.
        job: JobId,
        /// The host.
        host: HostId,
        /// The attempt itself succeeded (drawn with the configured probability).
        worked: bool,
    },
    /// Call the role's `on_timer` after `after` (replacing a pending timer of the same value).
    SetTimer {
        /// Delay.
        after: SimDuration,
        /// Which timer.
        timer: Timer,
    },
    /// Forget a pending timer: it will not fire.
    CancelTimer {
        /// Which timer.
        timer: Timer,
    },
}

/// How the control plane copes with lost messages: settings shared by the engine's transport
/// (retransmission with exponential back-off, as TCP does) and by the roles (how often they ask
/// again when a request of theirs went unanswered).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlConfig {
    /// First retransmission timeout of a lost control message.
    pub retransmit: SimDuration,
    /// Largest retransmission timeout (the timeout doubles after each loss up to this).
    pub max_backoff: SimDuration,
    /// A message not delivered this long after it was first sent is dropped and its sender
    /// told (the connection failed).
    pub give_up: SimDuration,
    /// How often a role asks again when a request went unanswered: a client's job request, a
    /// node server's request for a source, the base server's request that the client resume
    /// its upload or its closing notification to an unreachable client.
    pub retry: SimDuration,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            retransmit: SimDuration::from_millis(200),
            max_backoff: SimDuration::from_secs(5),
            give_up: SimDuration::from_secs(30),
            retry: SimDuration::from_secs(5),
        }
    }
}

impl ControlConfig {
    /// How long a source waits for the answer to an offer before it moves on (the answer may be
    /// lost with a crash of the server it approached).
    pub fn offer_timeout(&self) -> SimDuration {
        self.give_up + self.give_up
    }
}

/// What a repair attempt found and did (\[0076\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairOutcome {
    /// The host was down and is running again: the repair fixed it.
    Fixed,
    /// The host was running when the technician got to it (it came back by itself, or only its
    /// answer was lost): nothing to repair, it can be reactivated.
    NotNeeded,
    /// The host could not be brought back (still down, or unreachable from the base server).
    Failed,
    /// The host has left the network (churn): there is nothing to repair, and it will not come
    /// back.
    Departed,
    /// The host has not joined the network yet (churn): it will ask for its jobs when it does.
    Absent,
}

/// Collects a role's outputs; the engine drains it after each call.
pub type Outbox = Vec<Output>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's notices to the base server name the job whose report they update; the
    /// client's messages about a job do not (the base server keeps no server report for them).
    #[test]
    fn notices_name_the_reported_job() {
        assert_eq!(Message::Holding { job: JobId(3), items_held: 7 }.reported_job(), Some(JobId(3)));
        assert_eq!(Message::Received { job: JobId(4) }.reported_job(), Some(JobId(4)));
        assert_eq!(Message::EndSession { job: JobId(5) }.reported_job(), None);
    }
}
