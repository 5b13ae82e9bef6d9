//! Serde types of the scenario JSON format. Units are in field names (`_mbps` is megabits per
//! second, `_mb` megabytes of 10^6 bytes, `_ms` milliseconds, `_s` seconds). Unknown fields are
//! rejected everywhere.
//!
//! The tagged enums (`strategy`, `content`, fault `events[i]`) hold one struct per kind and are
//! read by [`tagged::deserialize`], so that an error inside one names the field
//! (`...strategy.fanout`), which serde's own internally tagged enums cannot do.

// The doc comments of this module are also the JSON Schema's descriptions, which show them
// as written, so patent paragraphs stay `[0055]` rather than rustdoc's escaped `\[0055\]`;
// rustdoc would take them for links to items named 0055.
#![allow(rustdoc::broken_intra_doc_links)]

use super::count::Count;
use super::dist::Dist;
use super::tagged;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

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
    /// How control messages survive losses (retransmission) and how often roles ask again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ControlPlane>,
    /// Servers that join over time and leave (not faults: see the README's section on churn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<Churn>,
}

/// Churn: node servers that are not there from the start, and servers that leave. A server that
/// has not joined yet (or has left) is not approached: an offer to it is refused at once. A
/// joining server asks the base server for its jobs; a leaving server tells the base server and
/// hands back the servers it had not approached yet. Leaving is not a fault: the base server's
/// verdict for a server that left before completing is `left_unfinished`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Servers (host or group names) that join at a given time; absent before it.
    #[serde(default)]
    pub joins: Vec<ChurnEvent>,
    /// Servers that join one after another at the times of a seeded Poisson process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<Arrivals>,
    /// Servers (host or group names) that leave at a given time, done or not.
    #[serde(default)]
    pub leaves: Vec<ChurnEvent>,
    /// Servers that leave once every job they hold is done, after seeding for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave_when_done: Option<LeaveWhenDone>,
}

/// A server or group joining or leaving at a time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChurnEvent {
    /// A node server, or a group (every member at once).
    pub server: String,
    /// When, seconds.
    pub at_s: f64,
}

/// A seeded arrival process: the listed servers join in list order, the gaps between
/// arrivals exponentially distributed (a Poisson process), drawn from the scenario's seed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// Servers (host or group names) that arrive, in order; absent until they do.
    pub servers: Vec<String>,
    /// When the process starts, seconds (default 0): the first arrival is one gap later.
    #[serde(default)]
    pub start_s: f64,
    /// Mean time between two arrivals, seconds.
    pub mean_interval_s: f64,
}

/// Servers that leave once every job they hold is done.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveWhenDone {
    /// The servers (host or group names); default every node server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// How long a server stays after its last job is done (seeding its content), seconds
    /// (default 0).
    #[serde(default)]
    pub seed_s: f64,
}

/// The control plane: every control message is retransmitted when lost, with exponential
/// back-off, until it is delivered or `give_up_s` has passed (then its sender is told); roles
/// whose requests go unanswered ask again every `retry_s`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    /// First retransmission timeout, seconds (default 0.2).
    #[serde(default = "default_retransmit")]
    pub retransmit_s: f64,
    /// Largest retransmission timeout, seconds (default 5).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_s: f64,
    /// A message undelivered this long after it was first sent is dropped, seconds
    /// (default 30).
    #[serde(default = "default_give_up")]
    pub give_up_s: f64,
    /// How often a client, node server or base server asks again when a request of theirs went
    /// unanswered, seconds (default 5).
    #[serde(default = "default_retry")]
    pub retry_s: f64,
}

impl Default for ControlPlane {
    fn default() -> Self {
        ControlPlane {
            retransmit_s: default_retransmit(),
            max_backoff_s: default_max_backoff(),
            give_up_s: default_give_up(),
            retry_s: default_retry(),
        }
    }
}

fn default_retransmit() -> f64 {
    0.2
}

fn default_max_backoff() -> f64 {
    5.0
}

fn default_give_up() -> f64 {
    30.0
}

fn default_retry() -> f64 {
    5.0
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

/// One scripted fault, `{"kind": ..., fields}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultEvent {
    /// A host crashes: its transfers stop at once. It comes back by itself at `recover_at_s`;
    /// without it, only a successful repair by the base server brings it back, and with
    /// `permanent` nothing does.
    Crash(CrashFault),
    /// A host's upload and download capacities are multiplied by `factor` until `until_s`.
    Slowdown(SlowdownFault),
    /// The link between `a` and `b` carries `factor` of its capacity until `until_s`.
    LinkDegrade(LinkDegradeFault),
    /// The link between `a` and `b` is cut (no data, no messages) until `until_s`.
    LinkCut(LinkCutFault),
    /// The named groups (host or group names) cannot reach each other until `until_s`.
    Partition(PartitionFault),
    /// Control messages are lost with `probability` until `until_s` (only those to or from
    /// `host` when given).
    MessageLoss(MessageLossFault),
}

impl<'de> Deserialize<'de> for FaultEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KINDS: &[&str] = &["crash", "slowdown", "link_degrade", "link_cut", "partition", "message_loss"];
        tagged::deserialize(d, KINDS, |kind, v| {
            Some(match kind {
                "crash" => tagged::payload(v).map(FaultEvent::Crash),
                "slowdown" => tagged::payload(v).map(FaultEvent::Slowdown),
                "link_degrade" => tagged::payload(v).map(FaultEvent::LinkDegrade),
                "link_cut" => tagged::payload(v).map(FaultEvent::LinkCut),
                "partition" => tagged::payload(v).map(FaultEvent::Partition),
                "message_loss" => tagged::payload(v).map(FaultEvent::MessageLoss),
                _ => return None,
            })
        })
    }
}

/// A host crashes (`"kind": "crash"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashFault {
    /// When, seconds.
    pub at_s: f64,
    /// The host.
    pub host: String,
    /// When it comes back by itself, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_at_s: Option<f64>,
    /// The host never comes back, whatever the base server does.
    #[serde(default)]
    pub permanent: bool,
}

/// A host slows down (`"kind": "slowdown"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowdownFault {
    /// When, seconds.
    pub at_s: f64,
    /// The host.
    pub host: String,
    /// Capacity multiplier (0 < factor).
    pub factor: f64,
    /// When the capacities come back, seconds (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
}

/// A link degrades (`"kind": "link_degrade"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkDegradeFault {
    /// When, seconds.
    pub at_s: f64,
    /// One end.
    pub a: String,
    /// Other end.
    pub b: String,
    /// Capacity multiplier (0 < factor).
    pub factor: f64,
    /// When the capacity comes back, seconds (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
}

/// A link is cut (`"kind": "link_cut"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCutFault {
    /// When, seconds.
    pub at_s: f64,
    /// One end.
    pub a: String,
    /// Other end.
    pub b: String,
    /// When it is restored, seconds (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
}

/// A network partition (`"kind": "partition"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionFault {
    /// When, seconds.
    pub at_s: f64,
    /// Two or more sides, none empty, no host on two; hosts not named reach every side.
    pub sides: Vec<Vec<String>>,
    /// When it heals, seconds (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
}

/// Control messages are lost (`"kind": "message_loss"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageLossFault {
    /// When, seconds.
    pub at_s: f64,
    /// Probability that a message is lost.
    pub probability: f64,
    /// When losses stop, seconds (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_s: Option<f64>,
    /// Only messages to or from this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
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
    /// Origin servers: replicas of the base server's content store. They hold every job's
    /// pre-seeded content from the start (`content.at_origins`), receive every other job's log
    /// from the base server, and share out the first nodes with it (see the README's section on
    /// origins). They are neither node servers nor clients, and they do not crash.
    #[serde(default)]
    pub origins: Vec<Origin>,
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
    /// Most down-line connections the server keeps at once over all its jobs ([0069]); no limit
    /// when omitted. A server at its limit takes a new job without its index list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<u32>,
}

/// An origin server.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Unique name.
    pub name: String,
    /// Upload capacity, megabits per second.
    pub upload_mbps: f64,
    /// Download capacity, megabits per second.
    pub download_mbps: f64,
    /// Access latency, milliseconds.
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
    /// False turns the duty off: no queries, repairs or reactivations (for comparisons).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Length of a wait period T0..T1 (and of each extension), seconds. Default: a quarter of
    /// the job's expected completion time (its lower bound), between 1 s and 60 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_period_s: Option<f64>,
    /// A status query not answered within this time counts as no answer, seconds.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_s: f64,
    /// Time one repair attempt takes, seconds.
    #[serde(default = "default_repair")]
    pub repair_s: f64,
    /// Probability that a repair attempt succeeds (on a server that can be repaired at all).
    #[serde(default = "default_success")]
    pub repair_success: f64,
    /// Repair attempts (successful or not) on one server at most; 0 gives up on a server as
    /// soon as it does not answer a query.
    #[serde(default = "default_max_repairs")]
    pub max_repairs: u32,
}

impl Default for Duty {
    fn default() -> Self {
        Duty {
            enabled: true,
            wait_period_s: None,
            query_timeout_s: default_query_timeout(),
            repair_s: default_repair(),
            repair_success: default_success(),
            max_repairs: default_max_repairs(),
        }
    }
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
    /// Most down-line connections each member keeps at once over all its jobs ([0069]); no
    /// limit when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<u32>,
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

/// The job's content, a sequence of chunks: `{"kind": "file" | "live", fields}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// A file, all available when the job is created.
    File(FileContent),
    /// A live stream produced at a constant rate for a duration; each chunk becomes available
    /// when it has been fully produced.
    Live(LiveContent),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d, &["file", "live"], |kind, v| {
            Some(match kind {
                "file" => tagged::payload(v).map(Content::File),
                "live" => tagged::payload(v).map(Content::Live),
                _ => return None,
            })
        })
    }
}

/// A file (`"kind": "file"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileContent {
    /// Size, megabytes.
    pub size_mb: f64,
    /// Number of equal chunks (the last takes the remainder).
    pub chunks: u32,
    /// The file is already at the base server and every origin when the job is requested (a
    /// registry's image, a CDN's object): the client uploads only its commands (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_origins: bool,
}

/// A live stream (`"kind": "live"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveContent {
    /// Production rate, megabits per second.
    pub rate_mbps: f64,
    /// Duration of the stream, seconds.
    pub duration_s: f64,
    /// Length of one chunk, seconds of stream.
    #[serde(default = "default_chunk_s")]
    pub chunk_s: f64,
    /// A server sustains the stream when no chunk arrives later than the first chunk's
    /// delay plus this buffer, seconds (default: two chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout_buffer_s: Option<f64>,
}

fn default_chunk_s() -> f64 {
    1.0
}

/// The distribution strategy of a job: `{"kind": ..., fields}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// The patent's cascade ([0044], [0060], [0066]–[0073]): the base server streams to
    /// `first_nodes` servers; every server that holds the job forwards it to up to `fanout`
    /// servers at once. Each optimization is a switch.
    Cascade(CascadeStrategy),
    /// The prior art: the base server unicasts to every server itself.
    Star(StarStrategy),
    /// A pipeline: the base server streams to the first server, each server to the next.
    Chain(ChainStrategy),
    /// A random fixed k-ary tree rooted at the base server (list shuffled with the seed).
    Tree(TreeStrategy),
    /// BitTorrent reference at the piece level (see `src/strategy/swarm.rs`): local
    /// rarest-first from neighbours' HAVE state, a bounded neighbour set from a tracker,
    /// tit-for-tat choking every 10 s with an optimistic unchoke every 30 s, pipelined
    /// connections, endgame; the base server and finished peers seed.
    Swarm(SwarmStrategy),
    /// Optimal reference (see `src/strategy/optimal.rs`): the binomial pipeline of
    /// Mundinger, Weber & Weiss for homogeneous peers, a striped multi-tree sized by upload
    /// otherwise.
    Optimal(OptimalStrategy),
}

impl Strategy {
    /// The `kind` name of this strategy, as in the scenario file.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Strategy::Cascade(_) => "cascade",
            Strategy::Star(_) => "star",
            Strategy::Chain(_) => "chain",
            Strategy::Tree(_) => "tree",
            Strategy::Swarm(_) => "swarm",
            Strategy::Optimal(_) => "optimal",
        }
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d, &["cascade", "star", "chain", "tree", "swarm", "optimal"], |kind, v| {
            Some(match kind {
                "cascade" => tagged::payload(v).map(Strategy::Cascade),
                "star" => tagged::payload(v).map(Strategy::Star),
                "chain" => tagged::payload(v).map(Strategy::Chain),
                "tree" => tagged::payload(v).map(Strategy::Tree),
                "swarm" => tagged::payload(v).map(Strategy::Swarm),
                "optimal" => tagged::payload(v).map(Strategy::Optimal),
                _ => return None,
            })
        })
    }
}

/// The patent's cascade (`"kind": "cascade"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CascadeStrategy {
    /// Concurrent down-line connections per node server ([0069]): a number, or `"auto"`
    /// (default): each server opens as many as its declared upload can feed at the job's
    /// stream rate, which the base server chooses from the declared capacities.
    #[serde(default)]
    pub fanout: Count,
    /// Number of servers the base server streams to directly: a number, or `"auto"` (default):
    /// as many as its upload can feed at the job's stream rate.
    #[serde(default)]
    pub first_nodes: Count,
    /// Forward index lists of servers not yet approached ([0067], default on); off: every
    /// source tries every server of the full list.
    #[serde(default = "cascade_defaults::index_lists")]
    pub index_lists: bool,
    /// Open another down-line connection only while the upload is not saturated, up to
    /// `fanout` (default off: always `fanout`).
    #[serde(default = "cascade_defaults::adaptive_fanout")]
    pub adaptive_fanout: bool,
    /// Approach servers in descending order of declared upload ([0071], default on).
    #[serde(default = "cascade_defaults::rate_sort")]
    pub rate_sort: bool,
    /// Receivers switch to a faster offering source ([0073], default on); sources with nothing
    /// left to do offer themselves to the servers of their list still receiving.
    #[serde(default = "cascade_defaults::dynamic_switching")]
    pub dynamic_switching: bool,
    /// A newcomer must offer this much more than the receiver's measured rate (fraction) to win
    /// a switch (default 0.2).
    #[serde(default = "cascade_defaults::switch_margin")]
    pub switch_margin: f64,
    /// Dynamic switches one server makes at most (default 3), so switching cannot thrash.
    #[serde(default = "cascade_defaults::max_switches")]
    pub max_switches: u32,
    /// Sources move on as in FIGs. 5–7 (default off): a source keeps half of its index list at
    /// every hand-off and, once a server it serves holds the whole content, approaches the next
    /// one of its own list.
    #[serde(default = "cascade_defaults::move_on")]
    pub move_on: bool,
}

/// The cascade's defaults for serde, from [`crate::protocol::job::cascade_defaults`].
mod cascade_defaults {
    use crate::protocol::job::cascade_defaults as d;
    pub fn index_lists() -> bool {
        d::INDEX_LISTS
    }
    pub fn adaptive_fanout() -> bool {
        d::ADAPTIVE_FANOUT
    }
    pub fn rate_sort() -> bool {
        d::RATE_SORT
    }
    pub fn dynamic_switching() -> bool {
        d::DYNAMIC_SWITCHING
    }
    pub fn switch_margin() -> f64 {
        d::SWITCH_MARGIN
    }
    pub fn max_switches() -> u32 {
        d::MAX_SWITCHES
    }
    pub fn move_on() -> bool {
        d::MOVE_ON
    }
}

/// The prior art (`"kind": "star"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StarStrategy {
    /// At most this many concurrent streams from the base server (default: all at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
}

/// A pipeline (`"kind": "chain"`, no fields).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainStrategy {}

/// A random fixed k-ary tree (`"kind": "tree"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TreeStrategy {
    /// Children per node (default 2).
    #[serde(default = "two")]
    pub arity: u32,
}

/// BitTorrent at the piece level (`"kind": "swarm"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwarmStrategy {
    /// Neighbours a peer asks the tracker for (default 40; it accepts up to twice as many).
    #[serde(default = "forty")]
    pub peers: u32,
    /// Upload slots (unchoked connections) per peer; default enough to fill the peer's upload
    /// at the rate a typical receiver gives one uploader (one when upload = download), capped
    /// at `max_upload_slots`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_slots: Option<u32>,
    /// Cap on the derived number of upload slots (default 4).
    #[serde(default = "default_fanout")]
    pub max_upload_slots: u32,
}

/// The optimal reference schedule (`"kind": "optimal"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimalStrategy {
    /// Stripes of the multi-tree (heterogeneous uploads); default chosen from the sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripes: Option<u32>,
    /// Packets each chunk (and command) is forwarded in, 1 to 64, or `"auto"` (default): whole
    /// chunks in the homogeneous binomial pipeline (the optimum it reaches is stated for whole
    /// pieces); in the multi-tree, enough packets for the file to have at least 1,024 (a
    /// tree forwards a packet as soon as it holds it, as SplitStream does, so each tree level
    /// delays a stripe by one packet's time instead of one chunk's).
    #[serde(default)]
    pub packets_per_chunk: Count,
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
