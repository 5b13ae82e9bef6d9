//! Serde types of the scenario JSON format. Units are in field names (`_mbps` is megabits per
//! second, `_mb` megabytes of 10^6 bytes, `_ms` milliseconds, `_s` seconds). Unknown fields are
//! rejected everywhere.

use super::dist::Dist;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A whole scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Path or URL of the JSON Schema, for editors; ignored by the simulator.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Name reported in results.
    pub name: String,
    /// Free text for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seed of every random stream of the run (the CLI's `--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// The run stops at this virtual time, finished or not.
    #[serde(default = "default_horizon_s")]
    pub horizon_s: f64,
    /// Hosts, groups, routers and links.
    pub network: Network,
    /// Content providers and the jobs they submit.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Raw point-to-point transfers with no protocol, to validate the network model.
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    /// Scripted and random faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Faults>,
}

/// Faults: scripted events, a random crash process, and whether interrupted transfers resume.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Scripted fault events.
    #[serde(default)]
    pub events: Vec<FaultEvent>,
    /// Random crashes of node servers drawn from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<RandomFaults>,
    /// Interrupted transfers resume from the bytes already held ([0005]; default true). False
    /// models the prior art: a server that lost its source or crashed starts over from zero.
    #[serde(default = "yes")]
    pub resume: bool,
}

/// A random crash process: every listed server fails after exponentially distributed up-times
/// and comes back after exponentially distributed down-times.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    /// Mean time between failures of one server, seconds.
    pub mtbf_s: f64,
    /// Mean time until a crashed server comes back by itself, seconds.
    pub mean_down_s: f64,
    /// Servers (host or group names) subject to failures; default every node server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
}

/// One scripted fault.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultEvent {
    /// A host crashes: its transfers stop at once. It comes back by itself at `recover_at_s`;
    /// without it, only a successful repair by the base server brings it back, and with
    /// `permanent` nothing does.
    Crash {
        /// When, seconds.
        at_s: f64,
        /// The host.
        host: String,
        /// When it comes back by itself, seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recover_at_s: Option<f64>,
        /// The host never comes back, whatever the base server does.
        #[serde(default)]
        permanent: bool,
    },
    /// A host's upload and download capacities are multiplied by `factor` until `until_s`.
    Slowdown {
        /// When, seconds.
        at_s: f64,
        /// The host.
        host: String,
        /// Capacity multiplier (0 < factor).
        factor: f64,
        /// When the capacities come back, seconds (default: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_s: Option<f64>,
    },
    /// The link between `a` and `b` carries `factor` of its capacity until `until_s`.
    LinkDegrade {
        /// When, seconds.
        at_s: f64,
        /// One end.
        a: String,
        /// Other end.
        b: String,
        /// Capacity multiplier (0 < factor).
        factor: f64,
        /// When the capacity comes back, seconds (default: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_s: Option<f64>,
    },
    /// The link between `a` and `b` is cut (no data, no messages) until `until_s`.
    LinkCut {
        /// When, seconds.
        at_s: f64,
        /// One end.
        a: String,
        /// Other end.
        b: String,
        /// When it is restored, seconds (default: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_s: Option<f64>,
    },
    /// The named groups (host or group names) cannot reach each other until `until_s`.
    Partition {
        /// When, seconds.
        at_s: f64,
        /// Two or more sides; hosts not named stay reachable from every side.
        sides: Vec<Vec<String>>,
        /// When it heals, seconds (default: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_s: Option<f64>,
    },
    /// Control messages are lost with `probability` until `until_s` (only those to or from
    /// `host` when given).
    MessageLoss {
        /// When, seconds.
        at_s: f64,
        /// Probability that a message is lost.
        probability: f64,
        /// When losses stop, seconds (default: never).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_s: Option<f64>,
        /// Only messages to or from this host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
}

fn default_horizon_s() -> f64 {
    86_400.0
}

/// The data packet network.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The base server (required when any client submits a job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_server: Option<BaseServer>,
    /// Explicitly named node servers.
    #[serde(default)]
    pub hosts: Vec<Host>,
    /// Generated node servers, named `<group>-1` .. `<group>-<count>`.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Router names (explicit topology only).
    #[serde(default)]
    pub routers: Vec<String>,
    /// Explicit links. Without links every host hangs off an uncongested core.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// One named host.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Unique name.
    pub name: String,
    /// Upload capacity, megabits per second.
    pub upload_mbps: f64,
    /// Download capacity, megabits per second.
    pub download_mbps: f64,
    /// Access latency added to everything the host sends or receives, milliseconds.
    #[serde(default)]
    pub latency_ms: f64,
}

/// The base server's host and policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseServer {
    /// Unique name.
    pub name: String,
    /// Upload capacity, megabits per second.
    pub upload_mbps: f64,
    /// Download capacity, megabits per second.
    pub download_mbps: f64,
    /// Access latency, milliseconds.
    #[serde(default)]
    pub latency_ms: f64,
    /// Deny job requests while this many jobs are open ([0050]); no limit when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_jobs: Option<u32>,
    /// How the base server chases servers after end-job ([0074]–[0077]).
    #[serde(default)]
    pub duty: Duty,
}

/// The base server's accountability duty after end-job ([0074]–[0077]).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Duty {
    /// Length of a wait period T0..T1 (and of each extension), seconds.
    #[serde(default = "default_wait")]
    pub wait_period_s: f64,
    /// A status query not answered within this time counts as no answer, seconds.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_s: f64,
    /// Time one repair attempt takes, seconds.
    #[serde(default = "default_repair")]
    pub repair_s: f64,
    /// Probability that a repair attempt succeeds (on a server that can be repaired at all).
    #[serde(default = "default_success")]
    pub repair_success: f64,
    /// Repair attempts before the server is declared failed.
    #[serde(default = "default_max_repairs")]
    pub max_repairs: u32,
}

impl Default for Duty {
    fn default() -> Self {
        Duty {
            wait_period_s: default_wait(),
            query_timeout_s: default_query_timeout(),
            repair_s: default_repair(),
            repair_success: default_success(),
            max_repairs: default_max_repairs(),
        }
    }
}

fn default_wait() -> f64 {
    10.0
}

fn default_query_timeout() -> f64 {
    2.0
}

fn default_repair() -> f64 {
    15.0
}

fn default_success() -> f64 {
    1.0
}

fn default_max_repairs() -> u32 {
    3
}

/// A group of generated node servers.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group name; hosts are named `<name>-<i>`, i from 1.
    pub name: String,
    /// Number of hosts.
    pub count: u32,
    /// Upload capacity per host, megabits per second.
    pub upload_mbps: Dist,
    /// Download capacity per host, megabits per second.
    pub download_mbps: Dist,
    /// Access latency per host, milliseconds.
    #[serde(default = "zero_dist")]
    pub latency_ms: Dist,
}

fn zero_dist() -> Dist {
    Dist::Fixed(0.0)
}

/// A full-duplex link. An end naming a group stands for one link per host of the group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// One end: a host, router or group name.
    pub a: String,
    /// The other end: a host or router name.
    pub b: String,
    /// Capacity in each direction, megabits per second.
    pub capacity_mbps: f64,
    /// One-way latency, milliseconds.
    #[serde(default)]
    pub latency_ms: f64,
}

/// A content provider ([0034]–[0036]): a host of its own that submits jobs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Unique name (also its host name).
    pub name: String,
    /// Upload capacity, megabits per second.
    pub upload_mbps: f64,
    /// Download capacity, megabits per second.
    pub download_mbps: f64,
    /// Access latency, milliseconds.
    #[serde(default)]
    pub latency_ms: f64,
    /// Jobs the client requests, each at its own time.
    pub jobs: Vec<Job>,
}

/// One distribution job ([0041]–[0050]).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Name reported in results (unique per scenario).
    pub name: String,
    /// When the client asks the base server for the job session, seconds.
    #[serde(default)]
    pub at_s: f64,
    /// What is distributed.
    pub content: Content,
    /// Destination servers: host or group names. Omitted means every node server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// How the job is distributed.
    pub strategy: Strategy,
    /// Commands the client adds to the job's command queue, at their times ([0048]).
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    /// When the client sends the end-job command ([0064]); default: as soon as the content is
    /// produced and every command added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_job_at_s: Option<f64>,
    /// When the client ends its session ([0065]); the job goes on and the base server calls
    /// the client back when it closes. Default: the client stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave_at_s: Option<f64>,
    /// Status queries about one server ([0055]).
    #[serde(default)]
    pub queries: Vec<QuerySpec>,
}

/// A command added to a job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Name reported in results.
    pub name: String,
    /// When the client adds it, seconds.
    pub at_s: f64,
    /// Data travelling with the command, megabytes (default none).
    #[serde(default)]
    pub data_mb: f64,
    /// Execution time at each node server, seconds.
    #[serde(default)]
    pub exec_s: f64,
}

/// A scripted status query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// When the client asks, seconds.
    pub at_s: f64,
    /// The server asked about.
    pub server: String,
}

/// The job's content, a sequence of chunks.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// A file, all available when the job is created.
    File {
        /// Size, megabytes.
        size_mb: f64,
        /// Number of equal chunks (the last takes the remainder).
        chunks: u32,
    },
    /// A live stream produced at a constant rate for a duration; each chunk becomes available
    /// when it has been fully produced.
    Live {
        /// Production rate, megabits per second.
        rate_mbps: f64,
        /// Duration of the stream, seconds.
        duration_s: f64,
        /// Length of one chunk, seconds of stream.
        #[serde(default = "default_chunk_s")]
        chunk_s: f64,
        /// A server sustains the stream when no chunk arrives later than the first chunk's
        /// delay plus this buffer, seconds (default: two chunks).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        playout_buffer_s: Option<f64>,
    },
}

fn default_chunk_s() -> f64 {
    1.0
}

/// The distribution strategy of a job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// The patent's cascade ([0044], [0060], [0066]–[0073]): the base server streams to
    /// `first_nodes` servers; every server that holds the job forwards it to up to `fanout`
    /// servers at once. Each optimization is a switch.
    Cascade {
        /// Concurrent down-line connections per node server (default 4).
        #[serde(default = "default_fanout")]
        fanout: u32,
        /// Number of servers the base server streams to directly (default 1).
        #[serde(default = "one")]
        first_nodes: u32,
        /// Forward index lists of servers not yet approached ([0067], default on); off: every
        /// source tries every server of the full list.
        #[serde(default = "yes")]
        index_lists: bool,
        /// Open another down-line connection only while the upload is not saturated, up to
        /// `fanout` (default off: always `fanout`).
        #[serde(default)]
        adaptive_fanout: bool,
        /// Approach servers in descending order of declared upload ([0071], default on).
        #[serde(default = "yes")]
        rate_sort: bool,
        /// Receivers switch to a faster offering source ([0073], default on).
        #[serde(default = "yes")]
        dynamic_switching: bool,
        /// A newcomer must declare this much more rate (fraction) to win a switch
        /// (default 0.2).
        #[serde(default = "default_margin")]
        switch_margin: f64,
    },
    /// The prior art: the base server unicasts to every server itself.
    Star {
        /// At most this many concurrent streams from the base server (default: all at once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_concurrent: Option<u32>,
    },
    /// A pipeline: the base server streams to the first server, each server to the next.
    Chain {},
    /// A random fixed k-ary tree rooted at the base server (list shuffled with the seed).
    Tree {
        /// Children per node (default 2).
        #[serde(default = "two")]
        arity: u32,
    },
    /// BitTorrent reference at the piece level (see `src/strategy/swarm.rs`): local
    /// rarest-first from neighbours' HAVE state, a bounded neighbour set from a tracker,
    /// tit-for-tat choking every 10 s with an optimistic unchoke every 30 s, pipelined
    /// connections, endgame; the base server and finished peers seed.
    Swarm {
        /// Neighbours a peer asks the tracker for (default 40; it accepts up to twice as many).
        #[serde(default = "forty")]
        peers: u32,
        /// Upload slots (unchoked connections) per peer; default derived from the peer's upload
        /// as the mainline client does, capped at `max_upload_slots`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upload_slots: Option<u32>,
        /// Cap on the derived number of upload slots (default 4).
        #[serde(default = "default_fanout")]
        max_upload_slots: u32,
    },
    /// Optimal reference (see `src/strategy/optimal.rs`): the binomial pipeline of
    /// Mundinger, Weber & Weiss for homogeneous peers, a striped multi-tree sized by upload
    /// otherwise.
    Optimal {
        /// Stripes of the multi-tree (heterogeneous uploads); default chosen from the sizes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stripes: Option<u32>,
    },
}

impl Strategy {
    /// The `kind` name of this strategy, as in the scenario file.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Strategy::Cascade { .. } => "cascade",
            Strategy::Star { .. } => "star",
            Strategy::Chain {} => "chain",
            Strategy::Tree { .. } => "tree",
            Strategy::Swarm { .. } => "swarm",
            Strategy::Optimal { .. } => "optimal",
        }
    }
}

fn forty() -> u32 {
    40
}

fn yes() -> bool {
    true
}

fn two() -> u32 {
    2
}

fn default_margin() -> f64 {
    0.2
}

fn one() -> u32 {
    1
}

fn default_fanout() -> u32 {
    4
}

/// A raw transfer, no protocol: `size_mb` from one host to another starting at `at_s`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Start time, seconds.
    pub at_s: f64,
    /// Sending host name.
    pub from: String,
    /// Receiving host name.
    pub to: String,
    /// Size, megabytes.
    pub size_mb: f64,
}
