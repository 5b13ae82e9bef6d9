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
    pub base_server: Option<Host>,
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
    },
}

fn default_chunk_s() -> f64 {
    1.0
}

/// The distribution strategy of a job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// The patent's cascade ([0044], [0060], [0066]–[0069]): the base server streams to
    /// `first_nodes` servers; every server that holds the job forwards it to up to `fanout`
    /// servers of its index list at once, splitting the rest of the list among them.
    Cascade {
        /// Concurrent down-line connections per node server (default 4).
        #[serde(default = "default_fanout")]
        fanout: u32,
        /// Number of servers the base server streams to directly.
        #[serde(default = "one")]
        first_nodes: u32,
    },
    /// The prior art: the base server unicasts to every server itself.
    Star {
        /// At most this many concurrent streams from the base server (default: all at once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_concurrent: Option<u32>,
    },
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
