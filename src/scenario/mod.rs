//! Scenario files: the JSON format ([`types`]), its validation, and the step that turns a
//! scenario and a seed into a concrete [`Built`] world (hosts drawn from distributions, names
//! resolved to ids, units converted to bytes and nanoseconds).
//!
//! Every problem with a scenario is reported as one [`ScenarioError`] naming the JSON path of
//! the offending value (e.g. `network.groups[0].upload_mbps`), so a user can fix it without
//! guessing.

mod build;
pub mod count;
pub mod dist;
pub mod limits;
pub mod parse;
pub mod reference;
pub mod shape;
pub mod tagged;
pub mod types;

pub use count::Count;
pub use dist::Dist;
pub use parse::{load, parse};
pub use types::*;

use crate::kernel::{RngStreams, SimDuration, SimTime, StreamId};
use crate::net::{mbps_to_bytes_per_sec, HostId, HostSpec, LinkSpec};
use crate::protocol::job::{Command, CommandId, ContentSpec, Item, JobRequest, StrategyConfig};
use limits::*;
use std::collections::{BTreeMap, BTreeSet};

/// Why a scenario cannot be run. Every variant displays as one line: control characters from
/// the input (in names, keys or file names) are shown escaped.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", one_line(.file))]
    Io {
        /// The file.
        file: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is not valid JSON, or a value has the wrong type or an unknown field.
    #[error("{}: {}: {}", one_line(.file), one_line(.path), one_line(.message))]
    Parse {
        /// The file.
        file: String,
        /// JSON path of the offending value (`.` for the document root).
        path: String,
        /// What serde said, with line and column.
        message: String,
    },
    /// The JSON is well formed but a value is not acceptable.
    #[error("{}: {}", one_line(.path), one_line(.message))]
    Invalid {
        /// JSON path of the offending value.
        path: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl ScenarioError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError::Invalid { path: path.into(), message: message.into() }
    }

    /// Names the file an error is about (parse errors of text that came from no file say
    /// `<input>` until then).
    pub fn in_file(self, file: &str) -> Self {
        match self {
            ScenarioError::Invalid { path, message } => {
                ScenarioError::Invalid { path: format!("{file}: {path}"), message }
            }
            ScenarioError::Parse { file: old, path, message } if old == "<input>" => {
                ScenarioError::Parse { file: file.to_string(), path, message }
            }
            other => other,
        }
    }
}

/// The JSON Schema of the scenario format (what `cascade-sim schema` prints).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("schema serialises")
}

// Built world ------------------------------------------------------------------------------

/// Something a client does at a scripted time.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptAction {
    /// Request the job session.
    Request,
    /// Append an item (a produced chunk, a command, the end-job command) to the job's log.
    Append(Item),
    /// Append every chunk of a file at once.
    AppendAllChunks,
    /// End the client's session.
    EndSession,
    /// Ask for a server's status.
    Query(HostId),
}

/// A job with the client's script for it.
#[derive(Debug, Clone)]
pub struct BuiltJob {
    /// What the client asks for.
    pub request: JobRequest,
    /// Scripted actions in time order (the request first).
    pub script: Vec<(SimTime, ScriptAction)>,
}

/// A client resolved to a host, with its jobs.
#[derive(Debug, Clone)]
pub struct BuiltClient {
    /// Client name.
    pub name: String,
    /// The client's host.
    pub host: HostId,
    /// Jobs in scenario order (index = ticket).
    pub jobs: Vec<BuiltJob>,
}

/// A raw transfer resolved to hosts and bytes.
#[derive(Debug, Clone)]
pub struct BuiltTransfer {
    /// Start time.
    pub at: SimTime,
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// Size in bytes.
    pub bytes: u64,
}

/// A fault, as the engine carries it out.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// The host crashes. `repairable`: a repair by the base server can bring it back.
    Crash {
        /// The host.
        host: HostId,
        /// False for a host that never comes back.
        repairable: bool,
    },
    /// The host comes back by itself.
    Recover {
        /// The host.
        host: HostId,
    },
    /// The host's capacities become `factor` times the declared ones.
    HostCapacity {
        /// The host.
        host: HostId,
        /// Multiplier (1 restores).
        factor: f64,
    },
    /// The links' capacities become `factor` times the declared ones (0 cuts them).
    LinkCapacity {
        /// Indexes into [`Built::links`].
        links: Vec<usize>,
        /// Multiplier.
        factor: f64,
    },
    /// Hosts on different sides (non-zero side numbers) cannot reach each other; all zero
    /// heals the partition.
    Partition {
        /// Side of each host that has one.
        sides: Vec<(HostId, u32)>,
    },
    /// Control messages are lost with this probability (0 stops losses).
    MessageLoss {
        /// Loss probability.
        probability: f64,
        /// Only messages to or from this host.
        host: Option<HostId>,
    },
}

impl FaultAction {
    /// True for the end of a fault (a recovery, a heal, a capacity restored, losses stopping),
    /// which reports count apart from the faults themselves.
    pub fn ends_a_fault(&self) -> bool {
        match self {
            FaultAction::Crash { .. } => false,
            FaultAction::Recover { .. } => true,
            FaultAction::HostCapacity { factor, .. } | FaultAction::LinkCapacity { factor, .. } => *factor == 1.0,
            FaultAction::Partition { sides } => sides.iter().all(|&(_, side)| side == 0),
            FaultAction::MessageLoss { probability, .. } => *probability == 0.0,
        }
    }
}

/// What a fault is, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRecord {
    /// When it happens.
    pub at: SimTime,
    /// What to do.
    pub action: FaultAction,
    /// A short description for charts and results, e.g. `crash edge-3`.
    pub label: String,
}

/// The random crash process of `faults.random`, resolved to hosts. The engine draws each
/// host's up- and down-times from its own random stream as the run goes (never a list up
/// front, so its cost is bounded by what happens before the horizon).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFaultProcess {
    /// Mean up-time of one server, seconds.
    pub mtbf_s: f64,
    /// Mean down-time, seconds.
    pub mean_down_s: f64,
    /// The node servers subject to it, each once.
    pub hosts: Vec<HostId>,
}

/// Random stream of the churn's arrival process (`StreamId::Entity(CHURN_STREAM, 0)`).
pub const CHURN_STREAM: u32 = 5;

/// Churn resolved to hosts and times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuiltChurn {
    /// Servers that join, in time order: absent before.
    pub joins: Vec<(SimTime, HostId)>,
    /// Servers that leave at a time, in time order.
    pub leaves: Vec<(SimTime, HostId)>,
    /// Servers that leave once every job they hold is done, after seeding this long.
    pub leave_when_done: BTreeMap<HostId, SimDuration>,
    /// The same joins and leaves by host, for lookups.
    pub join_at: BTreeMap<HostId, SimTime>,
    /// Leave times by host.
    pub leave_at: BTreeMap<HostId, SimTime>,
}

/// A scenario made concrete for one seed: everything the engine needs, nothing to look up.
#[derive(Debug, Clone)]
pub struct Built {
    /// Scenario name.
    pub name: String,
    /// The seed actually used.
    pub seed: u64,
    /// End of the run.
    pub horizon: SimTime,
    /// Every host: base server first (if any), then origins, clients, named hosts, group hosts.
    pub hosts: Vec<HostSpec>,
    /// Origin servers besides the base server, in scenario order.
    pub origins: Vec<HostId>,
    /// Servers joining and leaving.
    pub churn: BuiltChurn,
    /// Number of routers (graph nodes after the hosts).
    pub routers: usize,
    /// Explicit links (empty: uncongested core).
    pub links: Vec<LinkSpec>,
    /// The base server's host.
    pub base_server: Option<HostId>,
    /// Jobs the base server runs at once before it denies requests.
    pub max_open_jobs: Option<u32>,
    /// Node servers with a limit on down-line connections over all their jobs (\[0069\]).
    pub max_uploads: BTreeMap<HostId, u32>,
    /// Hosts that run node-server software.
    pub node_servers: Vec<HostId>,
    /// Clients and their jobs.
    pub clients: Vec<BuiltClient>,
    /// Raw transfers.
    pub transfers: Vec<BuiltTransfer>,
    /// Scripted faults in time order.
    pub faults: Vec<FaultRecord>,
    /// The random crash process, drawn lazily by the engine while it runs.
    pub random_faults: Option<RandomFaultProcess>,
    /// Interrupted transfers resume from the bytes already held.
    pub resume: bool,
    /// The base server's duty after end-job.
    pub duty: crate::protocol::base_server::DutyConfig,
    /// Retransmission and retry settings of the control plane.
    pub control: crate::protocol::message::ControlConfig,
}
