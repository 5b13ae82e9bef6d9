//! Hosts, routers and links, and routes between hosts.
//!
//! Every host has an upload and a download capacity (each a [`ResourceId`] in the flow model)
//! and an access latency. Without explicit links, hosts hang off an uncongested core: a transfer
//! from A to B crosses A's upload and B's download, and a message takes
//! `latency(A) + latency(B)`. With explicit links the topology is a petgraph graph of hosts and
//! routers; routes minimise total latency, ties broken by fewest hops and then by petgraph's
//! deterministic exploration order; links are full duplex (one resource per direction).
//! petgraph indices stay inside this module.

use super::flows::{FlowModel, ResourceId};
use crate::kernel::SimDuration;
use petgraph::graph::{EdgeIndex, NodeIndex, UnGraph};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// A host (base server, client or node server machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub u32);

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host{}", self.0)
    }
}

/// What a host's network interface looks like.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Unique name (used in scenarios and reports).
    pub name: String,
    /// Upload capacity, bytes per second.
    pub upload_bps: f64,
    /// Download capacity, bytes per second.
    pub download_bps: f64,
    /// Access latency added to every message or chunk the host sends or receives.
    pub latency: SimDuration,
}

/// A link between two graph nodes (hosts or routers).
#[derive(Debug, Clone)]
pub struct LinkSpec {
    /// Index of one end in the node table (hosts first, then routers).
    pub a: usize,
    /// Index of the other end.
    pub b: usize,
    /// Capacity in each direction, bytes per second.
    pub capacity_bps: f64,
    /// One-way propagation latency.
    pub latency: SimDuration,
}

struct Host {
    spec: HostSpec,
    upload: ResourceId,
    download: ResourceId,
}

struct Link {
    /// Resource for traffic from `a` to `b`, then from `b` to `a`.
    forward: ResourceId,
    backward: ResourceId,
    a: NodeIndex,
    latency: SimDuration,
}

/// The resources a transfer crosses and the latency a message takes between two hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Sender upload, links in order, receiver download.
    pub resources: Vec<ResourceId>,
    /// One-way latency.
    pub latency: SimDuration,
}

/// Hosts and (optionally) an explicit graph of routers and links.
pub struct Topology {
    hosts: Vec<Host>,
    graph: Option<UnGraph<(), usize>>,
    links: Vec<Link>,
    routes: HashMap<(HostId, HostId), Rc<Route>>,
}

/// Why a topology cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// Two hosts cannot reach each other over the explicit links.
    #[error("no route from host `{from}` to host `{to}` over the given links")]
    Unreachable {
        /// Name of the sending host.
        from: String,
        /// Name of the receiving host.
        to: String,
    },
}

/// Every host must reach every other over `links`: one connected component holding all
/// hosts (graph nodes are the hosts, then `routers` routers). Scenario validation calls it too,
/// so that `validate` rejects what `run` would.
pub fn check_connected(hosts: &[HostSpec], routers: usize, links: &[LinkSpec]) -> Result<(), TopologyError> {
    let mut components = petgraph::unionfind::UnionFind::new(hosts.len() + routers);
    for l in links {
        components.union(l.a, l.b);
    }
    match (1..hosts.len()).find(|&h| !components.equiv(0, h)) {
        Some(h) => Err(TopologyError::Unreachable { from: hosts[0].name.clone(), to: hosts[h].name.clone() }),
        None => Ok(()),
    }
}

impl Topology {
    /// Builds the topology and registers every capacity as a resource in `flows`.
    /// `routers` is the number of router nodes; link ends index hosts first, then routers.
    pub fn new(
        flows: &mut FlowModel,
        hosts: Vec<HostSpec>,
        routers: usize,
        links: &[LinkSpec],
    ) -> Result<Topology, TopologyError> {
        if !links.is_empty() {
            check_connected(&hosts, routers, links)?;
        }
        let hosts: Vec<Host> = hosts
            .into_iter()
            .map(|spec| Host {
                upload: flows.add_resource(spec.upload_bps),
                download: flows.add_resource(spec.download_bps),
                spec,
            })
            .collect();
        let mut topo = Topology { hosts, graph: None, links: Vec::new(), routes: HashMap::new() };
        if !links.is_empty() {
            let mut graph = UnGraph::<(), usize>::with_capacity(topo.hosts.len() + routers, links.len());
            for _ in 0..topo.hosts.len() + routers {
                graph.add_node(());
            }
            for (i, l) in links.iter().enumerate() {
                graph.add_edge(NodeIndex::new(l.a), NodeIndex::new(l.b), i);
                topo.links.push(Link {
                    forward: flows.add_resource(l.capacity_bps),
                    backward: flows.add_resource(l.capacity_bps),
                    a: NodeIndex::new(l.a),
                    latency: l.latency,
                });
            }
            topo.graph = Some(graph);
        }
        Ok(topo)
    }

    /// Number of hosts.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// The host's declared interface.
    pub fn host(&self, host: HostId) -> &HostSpec {
        &self.hosts[host.0 as usize].spec
    }

    /// The resource of the host's upload capacity.
    pub fn upload(&self, host: HostId) -> ResourceId {
        self.hosts[host.0 as usize].upload
    }

    /// The resource of the host's download capacity.
    pub fn download(&self, host: HostId) -> ResourceId {
        self.hosts[host.0 as usize].download
    }

    /// The two resources (one per direction) of link number `link` (in the order given at
    /// construction).
    pub fn link_resources(&self, link: usize) -> [ResourceId; 2] {
        let l = &self.links[link];
        [l.forward, l.backward]
    }

    /// The route from `from` to `to` (cached when it goes through explicit links).
    pub fn route(&mut self, from: HostId, to: HostId) -> Rc<Route> {
        let (src, dst) = (&self.hosts[from.0 as usize], &self.hosts[to.0 as usize]);
        let access = src.spec.latency + dst.spec.latency;
        let Some(graph) = &self.graph else {
            return Rc::new(Route { resources: vec![src.upload, dst.download], latency: access });
        };
        if let Some(route) = self.routes.get(&(from, to)) {
            return route.clone();
        }
        let (start, goal) = (NodeIndex::new(from.0 as usize), NodeIndex::new(to.0 as usize));
        let links = &self.links;
        // Cost: latency in nanoseconds in the high bits, one per hop in the low bits, so the
        // shortest-latency route wins and ties go to the route with fewer hops.
        let (_, path) = petgraph::algo::astar(
            graph,
            start,
            |n| n == goal,
            |e| ((links[*e.weight()].latency.as_nanos() as u128) << 32) | 1,
            |_| 0u128,
        )
        .expect("connectivity checked at construction");
        let mut resources = vec![src.upload];
        let mut latency = access;
        for pair in path.windows(2) {
            let edge: EdgeIndex = graph.find_edge(pair[0], pair[1]).expect("path edge");
            let link = &links[graph[edge]];
            resources.push(if link.a == pair[0] { link.forward } else { link.backward });
            latency = latency + link.latency;
        }
        resources.push(dst.download);
        let route = Rc::new(Route { resources, latency });
        self.routes.insert((from, to), route.clone());
        route
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, up: f64, down: f64, ms: u64) -> HostSpec {
        HostSpec { name: name.into(), upload_bps: up, download_bps: down, latency: SimDuration::from_millis(ms) }
    }

    #[test]
    fn core_route_crosses_upload_and_download() {
        let mut flows = FlowModel::new();
        let mut t = Topology::new(&mut flows, vec![host("a", 1.0, 2.0, 3), host("b", 4.0, 5.0, 7)], 0, &[]).unwrap();
        let r = t.route(HostId(0), HostId(1));
        assert_eq!(r.resources, vec![t.upload(HostId(0)), t.download(HostId(1))]);
        assert_eq!(r.latency, SimDuration::from_millis(10));
    }

    #[test]
    fn explicit_route_takes_lowest_latency_path() {
        // a - r0 - b (1 ms + 1 ms) versus a - r1 - r2 - b (0.5 ms each = 1.5 ms): the latter wins.
        let mut flows = FlowModel::new();
        let hosts = vec![host("a", 100.0, 100.0, 0), host("b", 100.0, 100.0, 0)];
        let ms = SimDuration::from_millis;
        let us = |n: u64| SimDuration::from_nanos(n * 1000);
        let links = [
            LinkSpec { a: 0, b: 2, capacity_bps: 10.0, latency: ms(1) },
            LinkSpec { a: 2, b: 1, capacity_bps: 10.0, latency: ms(1) },
            LinkSpec { a: 0, b: 3, capacity_bps: 10.0, latency: us(500) },
            LinkSpec { a: 3, b: 4, capacity_bps: 10.0, latency: us(500) },
            LinkSpec { a: 4, b: 1, capacity_bps: 10.0, latency: us(500) },
        ];
        let mut t = Topology::new(&mut flows, hosts, 3, &links).unwrap();
        let r = t.route(HostId(0), HostId(1));
        assert_eq!(r.latency, us(1500));
        assert_eq!(r.resources.len(), 5, "upload, three links, download");
        let back = t.route(HostId(1), HostId(0));
        assert_ne!(back.resources[1], r.resources[3], "directions are separate resources");
    }

    #[test]
    fn disconnected_hosts_are_an_error() {
        let mut flows = FlowModel::new();
        let hosts = vec![host("a", 1.0, 1.0, 0), host("b", 1.0, 1.0, 0), host("c", 1.0, 1.0, 0)];
        let links = [LinkSpec { a: 0, b: 1, capacity_bps: 1.0, latency: SimDuration::ZERO }];
        let err = Topology::new(&mut flows, hosts, 0, &links).err().unwrap();
        assert_eq!(err, TopologyError::Unreachable { from: "a".into(), to: "c".into() });
    }
}
