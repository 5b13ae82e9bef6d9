//! Validation and building: the one pass every command goes through (`validate`, `run`,
//! `compare`, `sweep`, `check` and the library's [`crate::simulate`]).
//!
//! [`Scenario::build`] first checks every count and total against [`super::limits`] from the
//! numbers in the file alone (group sizes, links once expanded, jobs, fault events), then
//! builds the world, checking every value's range and every derived quantity (chunks,
//! deliveries, items delivered, expected random crashes, wait periods) before allocating
//! anything in proportion to it, and finally checks that the explicit topology connects every
//! host. A scenario that builds runs with bounded memory and work.

use super::limits::*;
use super::*;
use crate::net::topology::check_connected;

fn check_host(path: &str, up: f64, down: f64, latency: f64) -> Result<(), ScenarioError> {
    check_capacity(&format!("{path}.upload_mbps"), up)?;
    check_capacity(&format!("{path}.download_mbps"), down)?;
    check_latency(&format!("{path}.latency_ms"), latency)
}

/// Checks a host declared by name with its capacities and latency, and adds it.
fn add_host(
    hosts: &mut Vec<HostSpec>,
    names: &mut Names,
    path: &str,
    name: &str,
    up: f64,
    down: f64,
    latency_ms: f64,
) -> Result<HostId, ScenarioError> {
    check_host(path, up, down, latency_ms)?;
    let id = HostId(hosts.len() as u32);
    names.declare(&format!("{path}.name"), name, Named::Host(id))?;
    hosts.push(host_spec(name, up, down, latency_ms));
    Ok(id)
}

/// Both ends of a distribution's values pass `check`.
fn check_dist(
    path: &str,
    d: &Dist,
    check: impl Fn(&str, f64) -> Result<(), ScenarioError>,
) -> Result<(), ScenarioError> {
    d.check_shape().map_err(|m| ScenarioError::invalid(path, m))?;
    let (lo, hi) = d.bounds();
    check(path, lo)?;
    check(path, hi)
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

impl Named {
    /// How many hosts (or graph nodes) the name stands for.
    fn size(&self) -> u64 {
        match self {
            Named::Group(members) => members.len() as u64,
            _ => 1,
        }
    }
}

/// Names declared so far, and the work budget of fault targets.
struct Names {
    map: BTreeMap<String, Named>,
    host_count: usize,
}

impl Names {
    fn declare(&mut self, path: &str, name: &str, what: Named) -> Result<(), ScenarioError> {
        check_name(path, name)?;
        if self.map.insert(name.to_string(), what).is_some() {
            return Err(ScenarioError::invalid(path, format!("name {} is used twice", shown(name))));
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Named> {
        self.map.get(name)
    }

    /// A single host.
    fn host(&self, path: String, name: &str) -> Result<HostId, ScenarioError> {
        match self.get(name) {
            Some(Named::Host(h)) => Ok(*h),
            _ => Err(ScenarioError::invalid(path, format!("no host named {}", shown(name)))),
        }
    }

    /// The hosts a host or group name stands for.
    fn hosts_of(&self, path: String, name: &str) -> Result<&Named, ScenarioError> {
        match self.get(name) {
            Some(n @ (Named::Host(_) | Named::Group(_))) => Ok(n),
            _ => Err(ScenarioError::invalid(path, format!("no host or group named {}", shown(name)))),
        }
    }

    /// Graph nodes (hosts first, then routers) a host, group or router name stands for.
    fn graph_nodes(&self, path: String, name: &str) -> Result<Vec<usize>, ScenarioError> {
        match self.get(name) {
            Some(Named::Host(h)) => Ok(vec![h.0 as usize]),
            Some(Named::Group(m)) => Ok(m.iter().map(|h| h.0 as usize).collect()),
            Some(Named::Router(r)) => Ok(vec![self.host_count + r]),
            None => Err(ScenarioError::invalid(path, format!("no host, group or router named {}", shown(name)))),
        }
    }
}

fn members(named: &Named) -> Vec<HostId> {
    match named {
        Named::Host(h) => vec![*h],
        Named::Group(m) => m.clone(),
        Named::Router(_) => Vec::new(),
    }
}

/// Counts work against a limit as it is found.
struct Budget {
    used: u64,
    max: u64,
    what: &'static str,
}

impl Budget {
    fn spend(&mut self, path: &str, amount: u64) -> Result<(), ScenarioError> {
        self.used = self.used.saturating_add(amount);
        check_total(path, self.used, self.max, self.what)
    }
}

impl Scenario {
    /// Checks every count against the limits from the file's numbers alone, before anything
    /// is allocated in proportion to them.
    fn check_sizes(&self) -> Result<(), ScenarioError> {
        let net = &self.network;
        let mut hosts = net.base_server.is_some() as u64
            + net.origins.len() as u64
            + self.clients.len() as u64
            + net.hosts.len() as u64;
        let mut group_size = BTreeMap::new();
        for (i, g) in net.groups.iter().enumerate() {
            check_count(&format!("network.groups[{i}].count"), g.count as u64, MAX_HOSTS)?;
            hosts += g.count as u64;
            group_size.insert(g.name.as_str(), g.count as u64);
        }
        check_total("network", hosts, MAX_HOSTS, "the number of hosts (base server, clients, hosts, group members)")?;
        check_total("network.routers", net.routers.len() as u64, MAX_ROUTERS, "the number of routers")?;
        let links: u64 = net.links.iter().map(|l| group_size.get(l.a.as_str()).copied().unwrap_or(1)).sum();
        check_total("network.links", links, MAX_LINKS, "the number of links (group ends expanded)")?;
        let jobs: u64 = self.clients.iter().map(|c| c.jobs.len() as u64).sum();
        check_total("clients", jobs, MAX_JOBS, "the number of jobs")?;
        if let Some(f) = &self.faults {
            check_total("faults.events", f.events.len() as u64, MAX_FAULT_EVENTS, "the number of fault events")?;
        }
        if let Some(c) = &self.churn {
            let events = c.joins.len() as u64 + c.leaves.len() as u64;
            check_total("churn", events, MAX_FAULT_EVENTS, "the number of churn events (joins and leaves)")?;
        }
        Ok(())
    }

    /// The connection limits of the node servers that have one: named hosts first, then group
    /// members, in the order `node_servers` lists them.
    fn max_uploads(&self, node_servers: &[HostId]) -> Result<BTreeMap<HostId, u32>, ScenarioError> {
        let mut limits = BTreeMap::new();
        let mut next = node_servers.iter();
        let mut take = |path: String, limit: Option<u32>, count: u32| -> Result<(), ScenarioError> {
            if let Some(l) = limit {
                check_count(&path, l as u64, MAX_HOSTS)?;
            }
            for _ in 0..count {
                let h = *next.next().expect("one node server per host and member");
                if let Some(l) = limit {
                    limits.insert(h, l);
                }
            }
            Ok(())
        };
        for (i, h) in self.network.hosts.iter().enumerate() {
            take(format!("network.hosts[{i}].max_uploads"), h.max_uploads, 1)?;
        }
        for (i, g) in self.network.groups.iter().enumerate() {
            take(format!("network.groups[{i}].max_uploads"), g.max_uploads, g.count)?;
        }
        Ok(limits)
    }

    /// Validates the scenario and makes it concrete for `seed` (the scenario's own seed when
    /// `None`). Host parameters drawn from distributions use the seed's topology stream.
    pub fn build(&self, seed: Option<u64>) -> Result<Built, ScenarioError> {
        let seed = seed.unwrap_or(self.seed);
        check_name("name", &self.name)?;
        check_period("horizon_s", self.horizon_s)?;
        self.check_sizes()?;
        let mut rng = RngStreams::new(seed).stream(StreamId::Topology);

        let mut hosts = Vec::new();
        let mut names = Names { map: BTreeMap::new(), host_count: 0 };

        let base_server = match &self.network.base_server {
            Some(h) => Some(add_host(
                &mut hosts,
                &mut names,
                "network.base_server",
                &h.name,
                h.upload_mbps,
                h.download_mbps,
                h.latency_ms,
            )?),
            None => None,
        };
        if base_server.is_none() && !self.clients.is_empty() {
            return Err(ScenarioError::invalid("network.base_server", "clients need a base server"));
        }
        if base_server.is_none() && !self.network.origins.is_empty() {
            return Err(ScenarioError::invalid("network.origins", "origins need a base server"));
        }
        let mut origins = Vec::new();
        for (i, o) in self.network.origins.iter().enumerate() {
            let path = format!("network.origins[{i}]");
            origins.push(add_host(
                &mut hosts,
                &mut names,
                &path,
                &o.name,
                o.upload_mbps,
                o.download_mbps,
                o.latency_ms,
            )?);
        }
        let mut client_hosts = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            let path = format!("clients[{i}]");
            client_hosts.push(add_host(
                &mut hosts,
                &mut names,
                &path,
                &c.name,
                c.upload_mbps,
                c.download_mbps,
                c.latency_ms,
            )?);
        }
        let mut node_servers = Vec::new();
        for (i, h) in self.network.hosts.iter().enumerate() {
            let path = format!("network.hosts[{i}]");
            node_servers.push(add_host(
                &mut hosts,
                &mut names,
                &path,
                &h.name,
                h.upload_mbps,
                h.download_mbps,
                h.latency_ms,
            )?);
        }
        for (i, g) in self.network.groups.iter().enumerate() {
            let path = format!("network.groups[{i}]");
            check_name(&format!("{path}.name"), &g.name)?;
            check_dist(&format!("{path}.upload_mbps"), &g.upload_mbps, check_capacity)?;
            check_dist(&format!("{path}.download_mbps"), &g.download_mbps, check_capacity)?;
            check_dist(&format!("{path}.latency_ms"), &g.latency_ms, check_latency)?;
            let mut members = Vec::with_capacity(g.count as usize);
            for k in 0..g.count as usize {
                let name = format!("{}-{}", g.name, k + 1);
                let id = HostId(hosts.len() as u32);
                let up = g.upload_mbps.sample(k, &mut rng);
                let down = g.download_mbps.sample(k, &mut rng);
                let lat = g.latency_ms.sample(k, &mut rng);
                names.declare(&format!("{path}.name"), &name, Named::Host(id))?;
                hosts.push(host_spec(&name, up, down, lat));
                members.push(id);
            }
            node_servers.extend_from_slice(&members);
            names.declare(&format!("{path}.name"), &g.name, Named::Group(members))?;
        }
        for (i, r) in self.network.routers.iter().enumerate() {
            names.declare(&format!("network.routers[{i}]"), r, Named::Router(i))?;
        }
        names.host_count = hosts.len();

        let links = self.build_links(&names)?;
        if links.is_empty() && !self.network.routers.is_empty() {
            return Err(ScenarioError::invalid("network.routers", "routers need links"));
        }
        if !links.is_empty() {
            check_connected(&hosts, self.network.routers.len(), &links)
                .map_err(|e| ScenarioError::invalid("network.links", e.to_string()))?;
        }

        let clients = self.build_clients(&names, &node_servers, &client_hosts, base_server)?;
        let transfers = self.build_transfers(&names)?;
        let (faults, random_faults) = self.build_faults(&names, &links, &node_servers)?;
        let duty = match &self.network.base_server {
            Some(b) => build_duty("network.base_server.duty", &b.duty, self.horizon_s)?,
            None => build_duty("network.base_server.duty", &Duty::default(), self.horizon_s)?,
        };
        let control = build_control("control_plane", &self.control_plane.clone().unwrap_or_default())?;
        let churn = match &self.churn {
            Some(c) => build_churn(c, &names, &node_servers, seed)?,
            None => BuiltChurn::default(),
        };
        Ok(Built {
            origins,
            churn,
            control,
            faults,
            random_faults,
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
            max_uploads: self.max_uploads(&node_servers)?,
            node_servers,
            clients,
            transfers,
        })
    }

    fn build_links(&self, names: &Names) -> Result<Vec<LinkSpec>, ScenarioError> {
        let mut links = Vec::new();
        for (i, l) in self.network.links.iter().enumerate() {
            let path = format!("network.links[{i}]");
            let end = |field: &str, name: &str| {
                names.get(name).ok_or_else(|| {
                    ScenarioError::invalid(
                        format!("{path}.{field}"),
                        format!("no host, group or router named {}", shown(name)),
                    )
                })
            };
            end("a", &l.a)?;
            if matches!(end("b", &l.b)?, Named::Group(_)) {
                return Err(ScenarioError::invalid(format!("{path}.b"), "only end `a` may name a group"));
            }
            if l.a == l.b {
                return Err(ScenarioError::invalid(format!("{path}.b"), "a link needs two different ends"));
            }
            check_capacity(&format!("{path}.capacity_mbps"), l.capacity_mbps)?;
            check_latency(&format!("{path}.latency_ms"), l.latency_ms)?;
            let b = names.graph_nodes(format!("{path}.b"), &l.b)?[0];
            for a in names.graph_nodes(format!("{path}.a"), &l.a)? {
                links.push(LinkSpec {
                    a,
                    b,
                    capacity_bps: mbps_to_bytes_per_sec(l.capacity_mbps),
                    latency: SimDuration::from_secs_f64(l.latency_ms / 1e3),
                });
            }
        }
        Ok(links)
    }

    fn build_clients(
        &self,
        names: &Names,
        node_servers: &[HostId],
        client_hosts: &[HostId],
        base_server: Option<HostId>,
    ) -> Result<Vec<BuiltClient>, ScenarioError> {
        let mut clients = Vec::new();
        let mut job_names = BTreeSet::new();
        let mut deliveries = Budget { used: 0, max: MAX_DELIVERIES, what: "the number of (server, job) deliveries" };
        let mut items = Budget { used: 0, max: MAX_ITEM_DELIVERIES, what: "the number of items delivered" };
        let mut chunks = Budget { used: 0, max: MAX_TOTAL_CHUNKS, what: "the number of chunks over all jobs" };
        for (ci, c) in self.clients.iter().enumerate() {
            let mut jobs = Vec::new();
            for (ji, j) in c.jobs.iter().enumerate() {
                let path = format!("clients[{ci}].jobs[{ji}]");
                if base_server.is_none() {
                    return Err(ScenarioError::invalid("network.base_server", "jobs need a base server"));
                }
                check_name(&format!("{path}.name"), &j.name)?;
                if !job_names.insert(j.name.as_str()) {
                    return Err(ScenarioError::invalid(
                        format!("{path}.name"),
                        format!("job name {} is used twice", shown(&j.name)),
                    ));
                }
                check_time(&format!("{path}.at_s"), j.at_s)?;
                let content = build_content(&format!("{path}.content"), &j.content)?;
                chunks.spend(&format!("{path}.content"), content.chunks as u64)?;
                let servers_path = format!("{path}.servers");
                let server_count = count_servers(&servers_path, j.servers.as_deref(), names, node_servers)?;
                deliveries.spend(&servers_path, server_count)?;
                let per_server = content.chunks as u64 + j.commands.len() as u64 + 1;
                items.spend(&path, server_count.saturating_mul(per_server))?;
                let servers = resolve_servers(&servers_path, j.servers.as_deref(), names, node_servers)?;
                let strategy = build_strategy(&format!("{path}.strategy"), &j.strategy, servers.len())?;
                if strategy.packets_per_item > 1 {
                    // Forwarded in packets, every item is that many pieces at every server.
                    let packets = (strategy.packets_per_item - 1) as u64;
                    let extra = server_count.saturating_mul(per_server).saturating_mul(packets);
                    items.spend(&format!("{path}.strategy.packets_per_chunk"), extra)?;
                }
                let playout_buffer = match j.content {
                    Content::Live(LiveContent { playout_buffer_s: Some(b), .. }) => {
                        check_time(&format!("{path}.content.playout_buffer_s"), b)?;
                        Some(SimDuration::from_secs_f64(b))
                    }
                    _ => content.live_chunk_interval.map(|i| SimDuration::from_nanos(2 * i.as_nanos())),
                };
                let preseeded = matches!(j.content, Content::File(FileContent { at_origins: true, .. }));
                let request =
                    JobRequest { name: j.name.clone(), content, servers, strategy, playout_buffer, preseeded };
                let script = build_script(&path, j, &request, names)?;
                jobs.push(BuiltJob { request, script });
            }
            clients.push(BuiltClient { name: c.name.clone(), host: client_hosts[ci], jobs });
        }
        Ok(clients)
    }

    fn build_transfers(&self, names: &Names) -> Result<Vec<BuiltTransfer>, ScenarioError> {
        let mut transfers = Vec::new();
        for (i, t) in self.transfers.iter().enumerate() {
            let path = format!("transfers[{i}]");
            let (from, to) = (names.host(format!("{path}.from"), &t.from)?, names.host(format!("{path}.to"), &t.to)?);
            if from == to {
                return Err(ScenarioError::invalid(format!("{path}.to"), "a transfer needs two different hosts"));
            }
            check_time(&format!("{path}.at_s"), t.at_s)?;
            check_size(&format!("{path}.size_mb"), t.size_mb)?;
            transfers.push(BuiltTransfer {
                at: SimTime::from_secs_f64(t.at_s),
                from,
                to,
                bytes: (t.size_mb * 1e6).round() as u64,
            });
        }
        Ok(transfers)
    }

    fn build_faults(
        &self,
        names: &Names,
        links: &[LinkSpec],
        node_servers: &[HostId],
    ) -> Result<(Vec<FaultRecord>, Option<RandomFaultProcess>), ScenarioError> {
        let Some(faults) = &self.faults else {
            return Ok((Vec::new(), None));
        };
        let mut out = Vec::new();
        let mut budget = Budget { used: 0, max: MAX_FAULT_TARGETS, what: "the number of hosts and links faults touch" };
        let mut push = |at: f64, action: FaultAction, label: String| {
            out.push(FaultRecord { at: SimTime::from_secs_f64(at), action, label })
        };
        let window = |path: &str, at: f64, until: Option<f64>| -> Result<(), ScenarioError> {
            check_time(&format!("{path}.at_s"), at)?;
            if let Some(u) = until {
                check_time(&format!("{path}.until_s"), u)?;
                if u <= at {
                    return Err(ScenarioError::invalid(format!("{path}.until_s"), "must be after at_s"));
                }
            }
            Ok(())
        };
        // Links at each graph node, to find the links between two ends without a scan.
        let mut adjacent: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, l) in links.iter().enumerate() {
            adjacent.entry(l.a).or_default().push(i);
            adjacent.entry(l.b).or_default().push(i);
        }
        let find_links = |path: &str, a: &str, b: &str, budget: &mut Budget| -> Result<Vec<usize>, ScenarioError> {
            let ends_a = names.graph_nodes(format!("{path}.a"), a)?;
            let ends_b: BTreeSet<usize> = names.graph_nodes(format!("{path}.b"), b)?.into_iter().collect();
            let mut ids = Vec::new();
            for x in ends_a {
                let here = adjacent.get(&x).map_or(&[][..], Vec::as_slice);
                budget.spend(path, here.len() as u64 + 1)?;
                ids.extend(here.iter().filter(|&&i| {
                    let other = if links[i].a == x { links[i].b } else { links[i].a };
                    ends_b.contains(&other)
                }));
            }
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(ScenarioError::invalid(format!("{path}.b"), "no link joins these two ends"));
            }
            Ok(ids)
        };
        for (i, e) in faults.events.iter().enumerate() {
            let path = format!("faults.events[{i}]");
            match e {
                FaultEvent::Crash(CrashFault { at_s, host: name, recover_at_s, permanent }) => {
                    window(&path, *at_s, None)?;
                    let h = names.host(format!("{path}.host"), name)?;
                    if node_servers.binary_search(&h).is_err() {
                        return Err(ScenarioError::invalid(
                            format!("{path}.host"),
                            "only node servers crash (the base server, origins and clients are kept up)",
                        ));
                    }
                    push(*at_s, FaultAction::Crash { host: h, repairable: !permanent }, format!("crash {name}"));
                    if let Some(r) = recover_at_s {
                        check_time(&format!("{path}.recover_at_s"), *r)?;
                        if *permanent || *r <= *at_s {
                            return Err(ScenarioError::invalid(
                                format!("{path}.recover_at_s"),
                                "must be after at_s, and a permanent crash never recovers",
                            ));
                        }
                        push(*r, FaultAction::Recover { host: h }, format!("recover {name}"));
                    }
                }
                FaultEvent::Slowdown(SlowdownFault { at_s, host: name, factor, until_s }) => {
                    window(&path, *at_s, *until_s)?;
                    check_factor(&format!("{path}.factor"), *factor)?;
                    let h = names.host(format!("{path}.host"), name)?;
                    push(*at_s, FaultAction::HostCapacity { host: h, factor: *factor }, format!("slowdown {name}"));
                    if let Some(u) = until_s {
                        push(*u, FaultAction::HostCapacity { host: h, factor: 1.0 }, format!("speed back {name}"));
                    }
                }
                FaultEvent::LinkDegrade(LinkDegradeFault { at_s, a, b, factor, until_s }) => {
                    window(&path, *at_s, *until_s)?;
                    check_factor(&format!("{path}.factor"), *factor)?;
                    let ids = find_links(&path, a, b, &mut budget)?;
                    let label = format!("degrade {a}-{b}");
                    push(*at_s, FaultAction::LinkCapacity { links: ids.clone(), factor: *factor }, label);
                    if let Some(u) = until_s {
                        push(*u, FaultAction::LinkCapacity { links: ids, factor: 1.0 }, format!("restore {a}-{b}"));
                    }
                }
                FaultEvent::LinkCut(LinkCutFault { at_s, a, b, until_s }) => {
                    window(&path, *at_s, *until_s)?;
                    let ids = find_links(&path, a, b, &mut budget)?;
                    push(*at_s, FaultAction::LinkCapacity { links: ids.clone(), factor: 0.0 }, format!("cut {a}-{b}"));
                    if let Some(u) = until_s {
                        push(*u, FaultAction::LinkCapacity { links: ids, factor: 1.0 }, format!("restore {a}-{b}"));
                    }
                }
                FaultEvent::Partition(PartitionFault { at_s, sides, until_s }) => {
                    window(&path, *at_s, *until_s)?;
                    let assigned = partition_sides(&format!("{path}.sides"), sides, names, &mut budget)?;
                    let healed = assigned.iter().map(|&(h, _)| (h, 0)).collect();
                    push(*at_s, FaultAction::Partition { sides: assigned }, "partition".into());
                    if let Some(u) = until_s {
                        push(*u, FaultAction::Partition { sides: healed }, "partition heals".into());
                    }
                }
                FaultEvent::MessageLoss(MessageLossFault { at_s, probability, until_s, host: target }) => {
                    window(&path, *at_s, *until_s)?;
                    check_probability(&format!("{path}.probability"), *probability)?;
                    let h = target.as_ref().map(|n| names.host(format!("{path}.host"), n)).transpose()?;
                    push(*at_s, FaultAction::MessageLoss { probability: *probability, host: h }, "message loss".into());
                    if let Some(u) = until_s {
                        push(*u, FaultAction::MessageLoss { probability: 0.0, host: h }, "message loss ends".into());
                    }
                }
            }
        }
        // Stable: faults at the same time keep their scripted order.
        out.sort_by_key(|f| f.at);
        let random = match &faults.random {
            Some(random) => Some(self.random_process(random, names, node_servers, &mut budget)?),
            None => None,
        };
        Ok((out, random))
    }

    fn random_process(
        &self,
        random: &RandomFaults,
        names: &Names,
        node_servers: &[HostId],
        budget: &mut Budget,
    ) -> Result<RandomFaultProcess, ScenarioError> {
        let path = "faults.random";
        check_period(&format!("{path}.mtbf_s"), random.mtbf_s)?;
        check_period(&format!("{path}.mean_down_s"), random.mean_down_s)?;
        let hosts = match &random.servers {
            None => node_servers.to_vec(),
            Some(list) => {
                let mut seen = BTreeSet::new();
                let mut all = Vec::new();
                for (i, n) in list.iter().enumerate() {
                    let p = format!("{path}.servers[{i}]");
                    let named = names.hosts_of(p.clone(), n)?;
                    budget.spend(&p, named.size())?;
                    for h in members(named) {
                        if node_servers.binary_search(&h).is_err() {
                            return Err(ScenarioError::invalid(
                                p,
                                format!("{} is not a node server (the base server and clients are kept up)", shown(n)),
                            ));
                        }
                        if !seen.insert(h) {
                            return Err(ScenarioError::invalid(p, format!("server {} is listed twice", shown(n))));
                        }
                        all.push(h);
                    }
                }
                all
            }
        };
        let expected = hosts.len() as f64 * self.horizon_s / (random.mtbf_s + random.mean_down_s);
        if expected > MAX_RANDOM_CRASHES {
            return Err(ScenarioError::invalid(
                format!("{path}.mtbf_s"),
                format!(
                    "{} servers over {} s would crash about {} times, more than the limit of {}",
                    hosts.len(),
                    num(self.horizon_s),
                    num(expected.round()),
                    num(MAX_RANDOM_CRASHES)
                ),
            ));
        }
        Ok(RandomFaultProcess { mtbf_s: random.mtbf_s, mean_down_s: random.mean_down_s, hosts })
    }
}

/// The node servers a churn entry's `server` (a host or group name) stands for.
fn churn_servers(
    path: &str,
    name: &str,
    names: &Names,
    node_servers: &[HostId],
    budget: &mut Budget,
) -> Result<Vec<HostId>, ScenarioError> {
    let named = names.hosts_of(path.to_string(), name)?;
    budget.spend(path, named.size())?;
    let hosts = members(named);
    if hosts.iter().any(|h| node_servers.binary_search(h).is_err()) {
        return Err(ScenarioError::invalid(
            path,
            format!("{} is not a node server (the base server, origins and clients stay)", shown(name)),
        ));
    }
    Ok(hosts)
}

/// Joins and leaves of `churn`, resolved to hosts and times; the arrival process is drawn from
/// the seed's churn stream. A server joins at most once and is listed in `leaves` at most once;
/// a listed leave must come after the server's listed join, and a server of the arrival process
/// may not have a listed leave time (its arrival is random).
fn build_churn(churn: &Churn, names: &Names, node_servers: &[HostId], seed: u64) -> Result<BuiltChurn, ScenarioError> {
    let mut budget = Budget { used: 0, max: MAX_HOSTS, what: "the number of servers churn names (groups expanded)" };
    let mut joined: BTreeMap<HostId, f64> = BTreeMap::new();
    let mut out = BuiltChurn::default();
    let mut join = |path: &str, h: HostId, at: f64, out: &mut BuiltChurn| {
        if joined.insert(h, at).is_some() {
            return Err(ScenarioError::invalid(path, "this server already joins at another time"));
        }
        out.joins.push((SimTime::from_secs_f64(at), h));
        Ok(())
    };
    for (i, e) in churn.joins.iter().enumerate() {
        let path = format!("churn.joins[{i}]");
        check_time(&format!("{path}.at_s"), e.at_s)?;
        for h in churn_servers(&format!("{path}.server"), &e.server, names, node_servers, &mut budget)? {
            join(&path, h, e.at_s, &mut out)?;
        }
    }
    let mut arriving = BTreeSet::new();
    if let Some(a) = &churn.arrivals {
        let path = "churn.arrivals";
        check_time(&format!("{path}.start_s"), a.start_s)?;
        check_period(&format!("{path}.mean_interval_s"), a.mean_interval_s)?;
        let mut rng = RngStreams::new(seed).stream(StreamId::Entity(CHURN_STREAM, 0));
        let mut t = a.start_s;
        for (i, name) in a.servers.iter().enumerate() {
            let p = format!("{path}.servers[{i}]");
            for h in churn_servers(&p, name, names, node_servers, &mut budget)? {
                // Exponential gap by inversion; 1 - u is in (0, 1], so the logarithm is finite.
                let u: f64 = rand::Rng::gen(&mut rng);
                t = (t - a.mean_interval_s * (1.0 - u).ln()).min(MAX_TIME_S);
                join(&p, h, t, &mut out)?;
                arriving.insert(h);
            }
        }
    }
    let mut leaving = BTreeSet::new();
    for (i, e) in churn.leaves.iter().enumerate() {
        let path = format!("churn.leaves[{i}]");
        check_time(&format!("{path}.at_s"), e.at_s)?;
        for h in churn_servers(&format!("{path}.server"), &e.server, names, node_servers, &mut budget)? {
            if !leaving.insert(h) {
                return Err(ScenarioError::invalid(
                    format!("{path}.server"),
                    "this server already leaves at another time",
                ));
            }
            if arriving.contains(&h) {
                return Err(ScenarioError::invalid(
                    format!("{path}.server"),
                    "a server of the arrival process joins at a random time: it cannot also leave at a set time",
                ));
            }
            if joined.get(&h).is_some_and(|&j| e.at_s <= j) {
                return Err(ScenarioError::invalid(format!("{path}.at_s"), "must be after the server joins"));
            }
            out.leaves.push((SimTime::from_secs_f64(e.at_s), h));
        }
    }
    if let Some(w) = &churn.leave_when_done {
        let path = "churn.leave_when_done";
        check_time(&format!("{path}.seed_s"), w.seed_s)?;
        let seed_time = SimDuration::from_secs_f64(w.seed_s);
        match &w.servers {
            None => out.leave_when_done.extend(node_servers.iter().map(|&h| (h, seed_time))),
            Some(list) => {
                for (i, name) in list.iter().enumerate() {
                    let p = format!("{path}.servers[{i}]");
                    for h in churn_servers(&p, name, names, node_servers, &mut budget)? {
                        if out.leave_when_done.insert(h, seed_time).is_some() {
                            return Err(ScenarioError::invalid(p, format!("server {} is listed twice", shown(name))));
                        }
                    }
                }
            }
        }
    }
    // Stable: joins (and leaves) at the same time keep their listed order.
    out.joins.sort_by_key(|&(t, _)| t);
    out.leaves.sort_by_key(|&(t, _)| t);
    out.join_at = out.joins.iter().map(|&(t, h)| (h, t)).collect();
    out.leave_at = out.leaves.iter().map(|&(t, h)| (h, t)).collect();
    Ok(out)
}

/// The sides of a partition: each host with its side number (from 1). Sides must be two or
/// more, none empty, and no host may be on two sides.
fn partition_sides(
    path: &str,
    sides: &[Vec<String>],
    names: &Names,
    budget: &mut Budget,
) -> Result<Vec<(HostId, u32)>, ScenarioError> {
    if sides.len() < 2 {
        return Err(ScenarioError::invalid(path, "a partition needs at least two sides"));
    }
    let mut side_of: BTreeMap<HostId, usize> = BTreeMap::new();
    let mut assigned = Vec::new();
    for (k, side) in sides.iter().enumerate() {
        if side.is_empty() {
            return Err(ScenarioError::invalid(format!("{path}[{k}]"), "a side must name at least one host or group"));
        }
        for (j, name) in side.iter().enumerate() {
            let p = format!("{path}[{k}][{j}]");
            let named = names.hosts_of(p.clone(), name)?;
            budget.spend(&p, named.size())?;
            for h in members(named) {
                if let Some(other) = side_of.insert(h, k) {
                    let message = if other == k {
                        format!("{} is already on this side", shown(name))
                    } else {
                        format!("{} is already in {path}[{other}]: sides must not overlap", shown(name))
                    };
                    return Err(ScenarioError::invalid(p, message));
                }
                assigned.push((h, k as u32 + 1));
            }
        }
    }
    Ok(assigned)
}

/// How many servers a job's `servers` list stands for, without building the list.
fn count_servers(
    path: &str,
    wanted: Option<&[String]>,
    names: &Names,
    node_servers: &[HostId],
) -> Result<u64, ScenarioError> {
    let Some(wanted) = wanted else { return Ok(node_servers.len() as u64) };
    let mut total = 0u64;
    for (i, name) in wanted.iter().enumerate() {
        total += match names.get(name) {
            Some(n @ (Named::Host(_) | Named::Group(_))) => n.size(),
            _ => {
                return Err(ScenarioError::invalid(
                    format!("{path}[{i}]"),
                    format!("no host or group named {}", shown(name)),
                ))
            }
        };
    }
    Ok(total)
}

fn resolve_servers(
    path: &str,
    wanted: Option<&[String]>,
    names: &Names,
    node_servers: &[HostId],
) -> Result<Vec<HostId>, ScenarioError> {
    let Some(wanted) = wanted else {
        if node_servers.is_empty() {
            return Err(ScenarioError::invalid("network", "a job needs node servers: add hosts or groups"));
        }
        return Ok(node_servers.to_vec());
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, name) in wanted.iter().enumerate() {
        let ids = match names.get(name) {
            Some(Named::Group(members)) => members.clone(),
            Some(Named::Host(h)) if node_servers.binary_search(h).is_ok() => vec![*h],
            Some(_) => {
                return Err(ScenarioError::invalid(
                    format!("{path}[{i}]"),
                    format!("{} is not a node server", shown(name)),
                ))
            }
            None => {
                return Err(ScenarioError::invalid(
                    format!("{path}[{i}]"),
                    format!("no host or group named {}", shown(name)),
                ))
            }
        };
        for h in ids {
            if !seen.insert(h) {
                return Err(ScenarioError::invalid(
                    format!("{path}[{i}]"),
                    format!("server {} is listed twice", shown(name)),
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

fn build_duty(path: &str, d: &Duty, horizon_s: f64) -> Result<crate::protocol::base_server::DutyConfig, ScenarioError> {
    // The duty's wait periods are bounded in number over the horizon: an explicit period must
    // fit, and the automatic one never gets shorter than the horizon allows.
    let fewest_s = horizon_s / MAX_WAIT_PERIODS;
    let wait_period = match d.wait_period_s {
        Some(w) => {
            check_period(&format!("{path}.wait_period_s"), w)?;
            if w < fewest_s {
                return Err(ScenarioError::invalid(
                    format!("{path}.wait_period_s"),
                    format!(
                        "the horizon ({} s) would hold {} wait periods, more than the limit of {}",
                        num(horizon_s),
                        num((horizon_s / w).round()),
                        num(MAX_WAIT_PERIODS)
                    ),
                ));
            }
            Some(SimDuration::from_secs_f64(w))
        }
        None => None,
    };
    check_period(&format!("{path}.query_timeout_s"), d.query_timeout_s)?;
    check_time(&format!("{path}.repair_s"), d.repair_s)?;
    check_probability(&format!("{path}.repair_success"), d.repair_success)?;
    if d.max_repairs > MAX_REPAIRS {
        return Err(ScenarioError::invalid(
            format!("{path}.max_repairs"),
            format!("must be at most {MAX_REPAIRS}, got {}", d.max_repairs),
        ));
    }
    Ok(crate::protocol::base_server::DutyConfig {
        enabled: d.enabled,
        wait_period,
        min_auto_wait: SimDuration::from_secs_f64(fewest_s.max(1.0)),
        query_timeout: SimDuration::from_secs_f64(d.query_timeout_s),
        repair_time: SimDuration::from_secs_f64(d.repair_s),
        repair_success: d.repair_success,
        max_repairs: d.max_repairs,
    })
}

fn build_control(path: &str, c: &ControlPlane) -> Result<crate::protocol::message::ControlConfig, ScenarioError> {
    let secs = |field: &str, v: f64| -> Result<SimDuration, ScenarioError> {
        check_period(&format!("{path}.{field}"), v)?;
        Ok(SimDuration::from_secs_f64(v))
    };
    let config = crate::protocol::message::ControlConfig {
        retransmit: secs("retransmit_s", c.retransmit_s)?,
        max_backoff: secs("max_backoff_s", c.max_backoff_s)?,
        give_up: secs("give_up_s", c.give_up_s)?,
        retry: secs("retry_s", c.retry_s)?,
    };
    if config.max_backoff < config.retransmit {
        return Err(ScenarioError::invalid(format!("{path}.max_backoff_s"), "must be at least retransmit_s"));
    }
    Ok(config)
}

fn build_script(
    path: &str,
    j: &Job,
    request: &JobRequest,
    names: &Names,
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
        check_name(&format!("{cpath}.name"), &c.name)?;
        check_time(&format!("{cpath}.at_s"), c.at_s)?;
        if c.at_s < j.at_s {
            return Err(ScenarioError::invalid(
                format!("{cpath}.at_s"),
                "a command cannot be added before the job is requested",
            ));
        }
        check_optional_size(&format!("{cpath}.data_mb"), c.data_mb)?;
        check_time(&format!("{cpath}.exec_s"), c.exec_s)?;
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
            check_time(&format!("{path}.end_job_at_s"), t)?;
            let at = SimTime::from_secs_f64(t);
            if at < earliest_end {
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
        check_time(&format!("{path}.leave_at_s"), t)?;
        if t < j.at_s {
            return Err(ScenarioError::invalid(format!("{path}.leave_at_s"), "must be at or after the job's at_s"));
        }
        script.push((SimTime::from_secs_f64(t), ScriptAction::EndSession));
    }
    let job_servers: BTreeSet<HostId> =
        if j.queries.is_empty() { BTreeSet::new() } else { request.servers.iter().copied().collect() };
    for (i, q) in j.queries.iter().enumerate() {
        let qpath = format!("{path}.queries[{i}]");
        check_time(&format!("{qpath}.at_s"), q.at_s)?;
        if q.at_s < j.at_s {
            return Err(ScenarioError::invalid(format!("{qpath}.at_s"), "must be at or after the job's at_s"));
        }
        let server = match names.get(&q.server) {
            Some(Named::Host(h)) if job_servers.contains(h) => *h,
            _ => {
                return Err(ScenarioError::invalid(
                    format!("{qpath}.server"),
                    format!("{} is not a server of this job", shown(&q.server)),
                ))
            }
        };
        script.push((SimTime::from_secs_f64(q.at_s), ScriptAction::Query(server)));
    }
    // Stable: at equal times the request comes first, then content, commands, end-job.
    script.sort_by_key(|(t, _)| *t);
    Ok(script)
}

fn build_content(path: &str, c: &Content) -> Result<ContentSpec, ScenarioError> {
    match c {
        Content::File(FileContent { size_mb, chunks, .. }) => {
            check_size(&format!("{path}.size_mb"), *size_mb)?;
            let total_bytes = (size_mb * 1e6).round() as u64;
            let most = total_bytes.min(MAX_CHUNKS);
            if *chunks == 0 || *chunks as u64 > most {
                return Err(ScenarioError::invalid(
                    format!("{path}.chunks"),
                    format!("must be between 1 and {most} (the size in bytes, and at most {MAX_CHUNKS})"),
                ));
            }
            Ok(ContentSpec { total_bytes, chunks: *chunks, live_chunk_interval: None })
        }
        Content::Live(LiveContent { rate_mbps, duration_s, chunk_s, .. }) => {
            check_capacity(&format!("{path}.rate_mbps"), *rate_mbps)?;
            check_period(&format!("{path}.duration_s"), *duration_s)?;
            check_period(&format!("{path}.chunk_s"), *chunk_s)?;
            let chunks = (duration_s / chunk_s).round().max(1.0);
            if chunks > MAX_CHUNKS as f64 {
                return Err(ScenarioError::invalid(
                    format!("{path}.chunk_s"),
                    format!("duration_s / chunk_s gives {} chunks, more than the limit of {MAX_CHUNKS}", num(chunks)),
                ));
            }
            let chunks = chunks as u32;
            let total = mbps_to_bytes_per_sec(*rate_mbps) * duration_s;
            if total > MAX_SIZE_MB * 1e6 {
                return Err(ScenarioError::invalid(
                    format!("{path}.duration_s"),
                    format!(
                        "rate_mbps × duration_s is {} MB, more than the limit of {} MB",
                        num(total / 1e6),
                        num(MAX_SIZE_MB)
                    ),
                ));
            }
            let total_bytes = total.round() as u64;
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
