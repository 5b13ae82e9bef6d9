//! Scenario files: the JSON format ([`types`]), its validation, and the step that turns a
//! scenario and a seed into a concrete [`Built`] world (hosts drawn from distributions, names
//! resolved to ids, units converted to bytes and nanoseconds).
//!
//! Every problem with a scenario is reported as one [`ScenarioError`] naming the JSON path of
//! the offending value (e.g. `network.groups[0].upload_mbps`), so a user can fix it without
//! guessing.

pub mod dist;
pub mod types;

pub use dist::Dist;
pub use types::*;

use crate::kernel::{RngStreams, SimDuration, SimTime, StreamId};
use crate::net::{mbps_to_bytes_per_sec, HostId, HostSpec, LinkSpec};
use crate::protocol::job::{Command, CommandId, ContentSpec, Item, JobRequest, StrategyConfig};
use std::collections::BTreeMap;
use std::path::Path;

/// Why a scenario cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is not valid JSON, or a value has the wrong type or an unknown field.
    #[error("{file}: {path}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// JSON path of the offending value (`.` for the document root).
        path: String,
        /// What serde said, with line and column.
        message: String,
    },
    /// The JSON is well formed but a value is not acceptable.
    #[error("{path}: {message}")]
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

    /// Adds the file name to a validation error.
    pub fn in_file(self, file: &str) -> Self {
        match self {
            ScenarioError::Invalid { path, message } => {
                ScenarioError::Invalid { path: format!("{file}: {path}"), message }
            }
            other => other,
        }
    }
}

/// The JSON Schema of the scenario format (what `cascade-sim schema` prints).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("schema serialises")
}

/// Reads and parses a scenario file (no semantic validation yet: see [`Scenario::build`]).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: file.clone(), source })?;
    parse(&text).map_err(|e| match e {
        ScenarioError::Parse { path, message, .. } => ScenarioError::Parse { file, path, message },
        other => other,
    })
}

/// Parses scenario JSON text.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ScenarioError::Parse {
            file: "<input>".into(),
            // serde_path_to_error says `?` when the error is in the JSON syntax itself.
            path: if path == "?" { "invalid JSON".into() } else { path },
            message: e.inner().to_string(),
        }
    })
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

/// A scenario made concrete for one seed: everything the engine needs, nothing to look up.
#[derive(Debug, Clone)]
pub struct Built {
    /// Scenario name.
    pub name: String,
    /// The seed actually used.
    pub seed: u64,
    /// End of the run.
    pub horizon: SimTime,
    /// Every host: base server first (if any), then clients, named hosts, group hosts.
    pub hosts: Vec<HostSpec>,
    /// Number of routers (graph nodes after the hosts).
    pub routers: usize,
    /// Explicit links (empty: uncongested core).
    pub links: Vec<LinkSpec>,
    /// The base server's host.
    pub base_server: Option<HostId>,
    /// Jobs the base server runs at once before it denies requests.
    pub max_open_jobs: Option<u32>,
    /// Hosts that run node-server software.
    pub node_servers: Vec<HostId>,
    /// Clients and their jobs.
    pub clients: Vec<BuiltClient>,
    /// Raw transfers.
    pub transfers: Vec<BuiltTransfer>,
    /// Faults in time order (scripted and drawn from the random process).
    pub faults: Vec<FaultRecord>,
    /// Interrupted transfers resume from the bytes already held.
    pub resume: bool,
    /// The base server's duty after end-job.
    pub duty: crate::protocol::base_server::DutyConfig,
}

fn check_positive(path: &str, v: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ScenarioError::invalid(path, format!("must be a positive number, got {v}")))
    }
}

pub(crate) fn check_non_negative(path: &str, v: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ScenarioError::invalid(path, format!("must be zero or more, got {v}")))
    }
}

fn check_dist(path: &str, d: &Dist, positive: bool) -> Result<(), ScenarioError> {
    d.check_shape().map_err(|m| ScenarioError::invalid(path, m))?;
    let (lo, _) = d.bounds();
    if positive {
        check_positive(path, lo)
    } else {
        check_non_negative(path, lo)
    }
}

fn check_host(path: &str, up: f64, down: f64, latency: f64) -> Result<(), ScenarioError> {
    check_positive(&format!("{path}.upload_mbps"), up)?;
    check_positive(&format!("{path}.download_mbps"), down)?;
    check_non_negative(&format!("{path}.latency_ms"), latency)
}

fn host_spec(name: &str, up: f64, down: f64, latency_ms: f64) -> HostSpec {
    HostSpec {
        name: name.to_string(),
        upload_bps: mbps_to_bytes_per_sec(up),
        download_bps: mbps_to_bytes_per_sec(down),
        latency: SimDuration::from_secs_f64(latency_ms / 1e3),
    }
}

/// What a name in the scenario refers to.
#[derive(Debug, Clone)]
enum Named {
    Host(HostId),
    Group(Vec<HostId>),
    Router(usize),
}

impl Scenario {
    /// Validates the scenario and makes it concrete for `seed` (the scenario's own seed when
    /// `None`). Host parameters drawn from distributions use the seed's topology stream.
    pub fn build(&self, seed: Option<u64>) -> Result<Built, ScenarioError> {
        let seed = seed.unwrap_or(self.seed);
        let mut rng = RngStreams::new(seed).stream(StreamId::Topology);
        if self.name.trim().is_empty() {
            return Err(ScenarioError::invalid("name", "must not be empty"));
        }
        check_positive("horizon_s", self.horizon_s)?;

        let mut hosts = Vec::new();
        let mut names: BTreeMap<String, Named> = BTreeMap::new();
        let declare = |names: &mut BTreeMap<String, Named>, path: &str, name: &str, what: Named| {
            if name.is_empty() {
                return Err(ScenarioError::invalid(path, "name must not be empty"));
            }
            if names.insert(name.to_string(), what).is_some() {
                return Err(ScenarioError::invalid(path, format!("name `{name}` is used twice")));
            }
            Ok(())
        };

        let base_server = match &self.network.base_server {
            Some(h) => {
                let path = "network.base_server";
                check_host(path, h.upload_mbps, h.download_mbps, h.latency_ms)?;
                declare(&mut names, &format!("{path}.name"), &h.name, Named::Host(HostId(0)))?;
                hosts.push(host_spec(&h.name, h.upload_mbps, h.download_mbps, h.latency_ms));
                Some(HostId(0))
            }
            None => None,
        };
        let mut client_hosts = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            let path = format!("clients[{i}]");
            check_host(&path, c.upload_mbps, c.download_mbps, c.latency_ms)?;
            let id = HostId(hosts.len() as u32);
            declare(&mut names, &format!("{path}.name"), &c.name, Named::Host(id))?;
            hosts.push(host_spec(&c.name, c.upload_mbps, c.download_mbps, c.latency_ms));
            client_hosts.push(id);
        }
        let mut node_servers = Vec::new();
        for (i, h) in self.network.hosts.iter().enumerate() {
            let path = format!("network.hosts[{i}]");
            check_host(&path, h.upload_mbps, h.download_mbps, h.latency_ms)?;
            let id = HostId(hosts.len() as u32);
            declare(&mut names, &format!("{path}.name"), &h.name, Named::Host(id))?;
            hosts.push(host_spec(&h.name, h.upload_mbps, h.download_mbps, h.latency_ms));
            node_servers.push(id);
        }
        for (i, g) in self.network.groups.iter().enumerate() {
            let path = format!("network.groups[{i}]");
            if g.count == 0 {
                return Err(ScenarioError::invalid(format!("{path}.count"), "must be at least 1"));
            }
            check_dist(&format!("{path}.upload_mbps"), &g.upload_mbps, true)?;
            check_dist(&format!("{path}.download_mbps"), &g.download_mbps, true)?;
            check_dist(&format!("{path}.latency_ms"), &g.latency_ms, false)?;
            let mut members = Vec::with_capacity(g.count as usize);
            for k in 0..g.count as usize {
                let name = format!("{}-{}", g.name, k + 1);
                let id = HostId(hosts.len() as u32);
                let up = g.upload_mbps.sample(k, &mut rng);
                let down = g.download_mbps.sample(k, &mut rng);
                let lat = g.latency_ms.sample(k, &mut rng);
                declare(&mut names, &format!("{path}.name"), &name, Named::Host(id))?;
                hosts.push(host_spec(&name, up, down, lat));
                members.push(id);
            }
            node_servers.extend_from_slice(&members);
            declare(&mut names, &format!("{path}.name"), &g.name, Named::Group(members))?;
        }
        for (i, r) in self.network.routers.iter().enumerate() {
            declare(&mut names, &format!("network.routers[{i}]"), r, Named::Router(i))?;
        }

        let host_count = hosts.len();
        let graph_index = |named: &Named| match named {
            Named::Host(h) => vec![h.0 as usize],
            Named::Group(members) => members.iter().map(|h| h.0 as usize).collect(),
            Named::Router(r) => vec![host_count + r],
        };
        let mut links = Vec::new();
        for (i, l) in self.network.links.iter().enumerate() {
            let path = format!("network.links[{i}]");
            let end = |field: &str, name: &str| {
                names.get(name).ok_or_else(|| {
                    ScenarioError::invalid(
                        format!("{path}.{field}"),
                        format!("no host, group or router named `{name}`"),
                    )
                })
            };
            let (a, b) = (end("a", &l.a)?, end("b", &l.b)?);
            if matches!(b, Named::Group(_)) {
                return Err(ScenarioError::invalid(format!("{path}.b"), "only end `a` may name a group"));
            }
            if l.a == l.b {
                return Err(ScenarioError::invalid(format!("{path}.b"), "a link needs two different ends"));
            }
            check_positive(&format!("{path}.capacity_mbps"), l.capacity_mbps)?;
            check_non_negative(&format!("{path}.latency_ms"), l.latency_ms)?;
            let b = graph_index(b)[0];
            for a in graph_index(a) {
                links.push(LinkSpec {
                    a,
                    b,
                    capacity_bps: mbps_to_bytes_per_sec(l.capacity_mbps),
                    latency: SimDuration::from_secs_f64(l.latency_ms / 1e3),
                });
            }
        }
        if links.is_empty() && !self.network.routers.is_empty() {
            return Err(ScenarioError::invalid("network.routers", "routers need links"));
        }

        let mut clients = Vec::new();
        let mut job_names = BTreeMap::new();
        for (ci, c) in self.clients.iter().enumerate() {
            let mut jobs = Vec::new();
            for (ji, j) in c.jobs.iter().enumerate() {
                let path = format!("clients[{ci}].jobs[{ji}]");
                if base_server.is_none() {
                    return Err(ScenarioError::invalid("network.base_server", "jobs need a base server"));
                }
                if job_names.insert(j.name.clone(), ()).is_some() {
                    return Err(ScenarioError::invalid(
                        format!("{path}.name"),
                        format!("job name `{}` is used twice", j.name),
                    ));
                }
                check_non_negative(&format!("{path}.at_s"), j.at_s)?;
                let content = build_content(&format!("{path}.content"), &j.content)?;
                let servers =
                    self.resolve_servers(&format!("{path}.servers"), j.servers.as_deref(), &names, &node_servers)?;
                let strategy = build_strategy(&format!("{path}.strategy"), &j.strategy, servers.len())?;
                let playout_buffer = match j.content {
                    Content::Live { playout_buffer_s: Some(b), .. } => {
                        check_non_negative(&format!("{path}.content.playout_buffer_s"), b)?;
                        Some(SimDuration::from_secs_f64(b))
                    }
                    _ => content.live_chunk_interval.map(|i| SimDuration::from_nanos(2 * i.as_nanos())),
                };
                let request = JobRequest { name: j.name.clone(), content, servers, strategy, playout_buffer };
                let script = build_script(&path, j, &request, &names)?;
                jobs.push(BuiltJob { request, script });
            }
            clients.push(BuiltClient { name: c.name.clone(), host: client_hosts[ci], jobs });
        }

        let mut transfers = Vec::new();
        for (i, t) in self.transfers.iter().enumerate() {
            let path = format!("transfers[{i}]");
            let host = |field: &str, name: &str| match names.get(name) {
                Some(Named::Host(h)) => Ok(*h),
                _ => Err(ScenarioError::invalid(format!("{path}.{field}"), format!("no host named `{name}`"))),
            };
            let (from, to) = (host("from", &t.from)?, host("to", &t.to)?);
            if from == to {
                return Err(ScenarioError::invalid(format!("{path}.to"), "a transfer needs two different hosts"));
            }
            check_non_negative(&format!("{path}.at_s"), t.at_s)?;
            check_positive(&format!("{path}.size_mb"), t.size_mb)?;
            transfers.push(BuiltTransfer {
                at: SimTime::from_secs_f64(t.at_s),
                from,
                to,
                bytes: (t.size_mb * 1e6).round() as u64,
            });
        }

        let faults = self.build_faults(&names, &links, &node_servers, host_count, seed)?;
        let duty = match &self.network.base_server {
            Some(b) => build_duty("network.base_server.duty", &b.duty)?,
            None => build_duty("network.base_server.duty", &Duty::default())?,
        };
        Ok(Built {
            faults,
            resume: self.faults.as_ref().is_none_or(|f| f.resume),
            duty,
            name: self.name.clone(),
            seed,
            horizon: SimTime::from_secs_f64(self.horizon_s),
            hosts,
            routers: self.network.routers.len(),
            links,
            base_server,
            max_open_jobs: self.network.base_server.as_ref().and_then(|b| b.max_open_jobs),
            node_servers,
            clients,
            transfers,
        })
    }

    fn build_faults(
        &self,
        names: &BTreeMap<String, Named>,
        links: &[LinkSpec],
        node_servers: &[HostId],
        host_count: usize,
        seed: u64,
    ) -> Result<Vec<FaultRecord>, ScenarioError> {
        let Some(faults) = &self.faults else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let host = |path: String, name: &str| match names.get(name) {
            Some(Named::Host(h)) => Ok(*h),
            _ => Err(ScenarioError::invalid(path, format!("no host named `{name}`"))),
        };
        let hosts_of = |path: String, name: &str| match names.get(name) {
            Some(Named::Host(h)) => Ok(vec![*h]),
            Some(Named::Group(members)) => Ok(members.clone()),
            _ => Err(ScenarioError::invalid(path, format!("no host or group named `{name}`"))),
        };
        let graph_nodes = |path: String, name: &str| -> Result<Vec<usize>, ScenarioError> {
            match names.get(name) {
                Some(Named::Host(h)) => Ok(vec![h.0 as usize]),
                Some(Named::Group(m)) => Ok(m.iter().map(|h| h.0 as usize).collect()),
                Some(Named::Router(r)) => Ok(vec![host_count + r]),
                None => Err(ScenarioError::invalid(path, format!("no host, group or router named `{name}`"))),
            }
        };
        let name_of = |h: HostId| -> String {
            names
                .iter()
                .find(|(_, n)| matches!(n, Named::Host(x) if *x == h))
                .map(|(k, _)| k.clone())
                .unwrap_or_default()
        };
        let mut push = |at: f64, action: FaultAction, label: String| {
            out.push(FaultRecord { at: SimTime::from_secs_f64(at), action, label })
        };
        let window = |path: &str, at: f64, until: Option<f64>| -> Result<(), ScenarioError> {
            check_non_negative(&format!("{path}.at_s"), at)?;
            match until {
                Some(u) if !(u.is_finite() && u > at) => {
                    Err(ScenarioError::invalid(format!("{path}.until_s"), "must be after at_s"))
                }
                _ => Ok(()),
            }
        };
        for (i, e) in faults.events.iter().enumerate() {
            let path = format!("faults.events[{i}]");
            match e {
                FaultEvent::Crash { at_s, host: name, recover_at_s, permanent } => {
                    window(&path, *at_s, None)?;
                    let h = host(format!("{path}.host"), name)?;
                    if names.get(name).is_some() && !node_servers.contains(&h) {
                        return Err(ScenarioError::invalid(
                            format!("{path}.host"),
                            "only node servers crash (the base server and clients are kept up)",
                        ));
                    }
                    push(*at_s, FaultAction::Crash { host: h, repairable: !permanent }, format!("crash {name}"));
                    if let Some(r) = recover_at_s {
                        if *permanent || !(r.is_finite() && r > at_s) {
                            return Err(ScenarioError::invalid(
                                format!("{path}.recover_at_s"),
                                "must be after at_s, and a permanent crash never recovers",
                            ));
                        }
                        push(*r, FaultAction::Recover { host: h }, format!("recover {name}"));
                    }
                }
                FaultEvent::Slowdown { at_s, host: name, factor, until_s } => {
                    window(&path, *at_s, *until_s)?;
                    check_positive(&format!("{path}.factor"), *factor)?;
                    let h = host(format!("{path}.host"), name)?;
                    push(*at_s, FaultAction::HostCapacity { host: h, factor: *factor }, format!("slowdown {name}"));
                    if let Some(u) = until_s {
                        push(*u, FaultAction::HostCapacity { host: h, factor: 1.0 }, format!("speed back {name}"));
                    }
                }
                FaultEvent::LinkDegrade { at_s, a, b, factor, until_s } => {
                    window(&path, *at_s, *until_s)?;
                    check_positive(&format!("{path}.factor"), *factor)?;
                    let ids = find_links(
                        &path,
                        links,
                        &graph_nodes(format!("{path}.a"), a)?,
                        &graph_nodes(format!("{path}.b"), b)?,
                    )?;
                    push(
                        *at_s,
                        FaultAction::LinkCapacity { links: ids.clone(), factor: *factor },
                        format!("degrade {a}-{b}"),
                    );
                    if let Some(u) = until_s {
                        push(*u, FaultAction::LinkCapacity { links: ids, factor: 1.0 }, format!("restore {a}-{b}"));
                    }
                }
                FaultEvent::LinkCut { at_s, a, b, until_s } => {
                    window(&path, *at_s, *until_s)?;
                    let ids = find_links(
                        &path,
                        links,
                        &graph_nodes(format!("{path}.a"), a)?,
                        &graph_nodes(format!("{path}.b"), b)?,
                    )?;
                    push(*at_s, FaultAction::LinkCapacity { links: ids.clone(), factor: 0.0 }, format!("cut {a}-{b}"));
                    if let Some(u) = until_s {
                        push(*u, FaultAction::LinkCapacity { links: ids, factor: 1.0 }, format!("restore {a}-{b}"));
                    }
                }
                FaultEvent::Partition { at_s, sides, until_s } => {
                    window(&path, *at_s, *until_s)?;
                    if sides.len() < 2 {
                        return Err(ScenarioError::invalid(
                            format!("{path}.sides"),
                            "a partition needs at least two sides",
                        ));
                    }
                    let mut assigned = Vec::new();
                    for (k, side) in sides.iter().enumerate() {
                        for (j, name) in side.iter().enumerate() {
                            for h in hosts_of(format!("{path}.sides[{k}][{j}]"), name)? {
                                assigned.push((h, k as u32 + 1));
                            }
                        }
                    }
                    let healed = assigned.iter().map(|&(h, _)| (h, 0)).collect();
                    push(*at_s, FaultAction::Partition { sides: assigned }, "partition".into());
                    if let Some(u) = until_s {
                        push(*u, FaultAction::Partition { sides: healed }, "partition heals".into());
                    }
                }
                FaultEvent::MessageLoss { at_s, probability, until_s, host: target } => {
                    window(&path, *at_s, *until_s)?;
                    if !(0.0..=1.0).contains(probability) {
                        return Err(ScenarioError::invalid(format!("{path}.probability"), "must be between 0 and 1"));
                    }
                    let h = target.as_ref().map(|n| host(format!("{path}.host"), n)).transpose()?;
                    push(*at_s, FaultAction::MessageLoss { probability: *probability, host: h }, "message loss".into());
                    if let Some(u) = until_s {
                        push(*u, FaultAction::MessageLoss { probability: 0.0, host: h }, "message loss ends".into());
                    }
                }
            }
        }
        if let Some(random) = &faults.random {
            let path = "faults.random";
            check_positive(&format!("{path}.mtbf_s"), random.mtbf_s)?;
            check_positive(&format!("{path}.mean_down_s"), random.mean_down_s)?;
            let subjects = match &random.servers {
                None => node_servers.to_vec(),
                Some(list) => {
                    let mut all = Vec::new();
                    for (i, n) in list.iter().enumerate() {
                        all.extend(hosts_of(format!("{path}.servers[{i}]"), n)?);
                    }
                    all
                }
            };
            let mut rng = RngStreams::new(seed).stream(StreamId::Faults);
            let exp = |rng: &mut rand_chacha::ChaCha12Rng, mean: f64| -> f64 {
                let u: f64 = rand::Rng::gen_range(rng, f64::EPSILON..1.0);
                -mean * u.ln()
            };
            for h in subjects {
                let mut t = 0.0;
                loop {
                    t += exp(&mut rng, random.mtbf_s);
                    if t >= self.horizon_s {
                        break;
                    }
                    let name = name_of(h);
                    push(t, FaultAction::Crash { host: h, repairable: true }, format!("crash {name}"));
                    t += exp(&mut rng, random.mean_down_s);
                    if t >= self.horizon_s {
                        break;
                    }
                    push(t, FaultAction::Recover { host: h }, format!("recover {name}"));
                }
            }
        }
        // Stable: faults at the same time keep their scripted order.
        out.sort_by_key(|f| f.at);
        Ok(out)
    }

    fn resolve_servers(
        &self,
        path: &str,
        wanted: Option<&[String]>,
        names: &BTreeMap<String, Named>,
        node_servers: &[HostId],
    ) -> Result<Vec<HostId>, ScenarioError> {
        let Some(wanted) = wanted else {
            if node_servers.is_empty() {
                return Err(ScenarioError::invalid("network", "a job needs node servers: add hosts or groups"));
            }
            return Ok(node_servers.to_vec());
        };
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, name) in wanted.iter().enumerate() {
            let ids = match names.get(name) {
                Some(Named::Group(members)) => members.clone(),
                Some(Named::Host(h)) if node_servers.binary_search(h).is_ok() => vec![*h],
                Some(_) => {
                    return Err(ScenarioError::invalid(
                        format!("{path}[{i}]"),
                        format!("`{name}` is not a node server"),
                    ))
                }
                None => {
                    return Err(ScenarioError::invalid(
                        format!("{path}[{i}]"),
                        format!("no host or group named `{name}`"),
                    ))
                }
            };
            for h in ids {
                if !seen.insert(h) {
                    return Err(ScenarioError::invalid(
                        format!("{path}[{i}]"),
                        format!("server `{name}` is listed twice"),
                    ));
                }
                out.push(h);
            }
        }
        if out.is_empty() {
            return Err(ScenarioError::invalid(path, "must list at least one server"));
        }
        Ok(out)
    }
}

fn build_duty(path: &str, d: &Duty) -> Result<crate::protocol::base_server::DutyConfig, ScenarioError> {
    check_positive(&format!("{path}.wait_period_s"), d.wait_period_s)?;
    check_positive(&format!("{path}.query_timeout_s"), d.query_timeout_s)?;
    check_non_negative(&format!("{path}.repair_s"), d.repair_s)?;
    if !(0.0..=1.0).contains(&d.repair_success) {
        return Err(ScenarioError::invalid(format!("{path}.repair_success"), "must be a probability between 0 and 1"));
    }
    Ok(crate::protocol::base_server::DutyConfig {
        wait_period: SimDuration::from_secs_f64(d.wait_period_s),
        query_timeout: SimDuration::from_secs_f64(d.query_timeout_s),
        repair_time: SimDuration::from_secs_f64(d.repair_s),
        repair_success: d.repair_success,
        max_repairs: d.max_repairs,
    })
}

fn build_script(
    path: &str,
    j: &Job,
    request: &JobRequest,
    names: &BTreeMap<String, Named>,
) -> Result<Vec<(SimTime, ScriptAction)>, ScenarioError> {
    let start = SimTime::from_secs_f64(j.at_s);
    let content = &request.content;
    let mut script = vec![(start, ScriptAction::Request)];
    if content.is_live() {
        script
            .extend((0..content.chunks).map(|k| (content.produced_at(start, k), ScriptAction::Append(Item::Chunk(k)))));
    } else {
        script.push((start, ScriptAction::AppendAllChunks));
    }
    let mut commands: Vec<(usize, &CommandSpec)> = j.commands.iter().enumerate().collect();
    commands.sort_by(|a, b| a.1.at_s.total_cmp(&b.1.at_s));
    let mut last_command = start;
    for (id, (i, c)) in commands.iter().enumerate() {
        let cpath = format!("{path}.commands[{i}]");
        check_non_negative(&format!("{cpath}.at_s"), c.at_s)?;
        if c.at_s < j.at_s {
            return Err(ScenarioError::invalid(
                format!("{cpath}.at_s"),
                "a command cannot be added before the job is requested",
            ));
        }
        check_non_negative(&format!("{cpath}.data_mb"), c.data_mb)?;
        check_non_negative(&format!("{cpath}.exec_s"), c.exec_s)?;
        let at = SimTime::from_secs_f64(c.at_s);
        last_command = last_command.max(at);
        let command = Command {
            id: CommandId(id as u32),
            name: c.name.clone(),
            data_bytes: (c.data_mb * 1e6).round() as u64,
            exec: SimDuration::from_secs_f64(c.exec_s),
            end_job: false,
        };
        script.push((at, ScriptAction::Append(Item::Command(std::rc::Rc::new(command)))));
    }
    let earliest_end = content.complete_at(start).max(last_command);
    let end_at = match j.end_job_at_s {
        Some(t) => {
            let at = SimTime::from_secs_f64(t);
            if !(t.is_finite() && at >= earliest_end) {
                return Err(ScenarioError::invalid(
                    format!("{path}.end_job_at_s"),
                    format!(
                        "must be at least {:.3} s: after the content is produced and every command added",
                        earliest_end.as_secs_f64()
                    ),
                ));
            }
            at
        }
        None => earliest_end,
    };
    let end_job = Command {
        id: CommandId(commands.len() as u32),
        name: "end-job".into(),
        data_bytes: 0,
        exec: SimDuration::ZERO,
        end_job: true,
    };
    script.push((end_at, ScriptAction::Append(Item::Command(std::rc::Rc::new(end_job)))));
    if let Some(t) = j.leave_at_s {
        if !(t.is_finite() && t >= j.at_s) {
            return Err(ScenarioError::invalid(format!("{path}.leave_at_s"), "must be at or after the job's at_s"));
        }
        script.push((SimTime::from_secs_f64(t), ScriptAction::EndSession));
    }
    for (i, q) in j.queries.iter().enumerate() {
        let qpath = format!("{path}.queries[{i}]");
        if !(q.at_s.is_finite() && q.at_s >= j.at_s) {
            return Err(ScenarioError::invalid(format!("{qpath}.at_s"), "must be at or after the job's at_s"));
        }
        let server = match names.get(&q.server) {
            Some(Named::Host(h)) if request.servers.contains(h) => *h,
            _ => {
                return Err(ScenarioError::invalid(
                    format!("{qpath}.server"),
                    format!("`{}` is not a server of this job", q.server),
                ))
            }
        };
        script.push((SimTime::from_secs_f64(q.at_s), ScriptAction::Query(server)));
    }
    // Stable: at equal times the request comes first, then content, commands, end-job.
    script.sort_by_key(|(t, _)| *t);
    Ok(script)
}

fn find_links(path: &str, links: &[LinkSpec], a: &[usize], b: &[usize]) -> Result<Vec<usize>, ScenarioError> {
    let ids: Vec<usize> = links
        .iter()
        .enumerate()
        .filter(|(_, l)| (a.contains(&l.a) && b.contains(&l.b)) || (a.contains(&l.b) && b.contains(&l.a)))
        .map(|(i, _)| i)
        .collect();
    if ids.is_empty() {
        return Err(ScenarioError::invalid(format!("{path}.b"), "no link joins these two ends"));
    }
    Ok(ids)
}

fn build_content(path: &str, c: &Content) -> Result<ContentSpec, ScenarioError> {
    match *c {
        Content::File { size_mb, chunks } => {
            check_positive(&format!("{path}.size_mb"), size_mb)?;
            let total_bytes = (size_mb * 1e6).round() as u64;
            if chunks == 0 || chunks as u64 > total_bytes {
                return Err(ScenarioError::invalid(
                    format!("{path}.chunks"),
                    "must be between 1 and the size in bytes",
                ));
            }
            Ok(ContentSpec { total_bytes, chunks, live_chunk_interval: None })
        }
        Content::Live { rate_mbps, duration_s, chunk_s, .. } => {
            check_positive(&format!("{path}.rate_mbps"), rate_mbps)?;
            check_positive(&format!("{path}.duration_s"), duration_s)?;
            check_positive(&format!("{path}.chunk_s"), chunk_s)?;
            let chunks = (duration_s / chunk_s).round().max(1.0);
            if chunks > u32::MAX as f64 {
                return Err(ScenarioError::invalid(format!("{path}.chunk_s"), "too many chunks"));
            }
            let chunks = chunks as u32;
            let total_bytes = (mbps_to_bytes_per_sec(rate_mbps) * duration_s).round() as u64;
            Ok(ContentSpec {
                total_bytes: total_bytes.max(chunks as u64),
                chunks,
                live_chunk_interval: Some(SimDuration::from_secs_f64(duration_s / chunks as f64)),
            })
        }
    }
}

fn build_strategy(path: &str, s: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError> {
    crate::strategy::config(path, s, servers)
}
