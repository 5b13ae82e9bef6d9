//! Hosts, routers and links, and routes between hosts.
//!
//! Every host has an upload and a download capacity (each a [`ResourceId`] in the flow model)
//! and an access latency. Without explicit links, hosts hang off an uncongested core: a transfer
//! from A to B crosses A's upload and B's download, and a message takes
//! `latency(A) + latency(B)`. With explicit links the topology is a petgraph graph of hosts and
//! routers; routes minimise total latency, ties broken by fewest hops and then by the
//! exploration order of petgraph's A* (the route of earlier versions); links are full duplex
//! (one resource per direction). petgraph indices stay inside this module.
//!
//! Routes are computed once per source host: one shortest-path search from the source (the same
//! search A* runs towards a single goal, run to the end) gives the route to every destination.
//! Those trees are cached (up to [`TREE_CACHE_NODES`] nodes in all, then the cache starts over),
//! and so is every route asked for, keyed by (source, destination).

use super::flows::{FlowModel, ResourceId};
use crate::kernel::SimDuration;
use petgraph::graph::{EdgeIndex, NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
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
    /// Each host's access latency, apart from its record: every control message reads two, and
    /// at 8 bytes per host they stay in the caches where the records (name, capacities) do not.
    latencies: Vec<SimDuration>,
    graph: Option<UnGraph<(), usize>>,
    links: Vec<Link>,
    routes: FxHashMap<(HostId, HostId), Rc<Route>>,
    /// Shortest-path tree of each source host searched so far: the predecessor of every node.
    trees: FxHashMap<HostId, Vec<u32>>,
    tree_nodes: usize,
}

/// Nodes held by cached shortest-path trees before the cache is cleared (16M: 64 MB).
pub const TREE_CACHE_NODES: usize = 1 << 24;

/// Predecessor of a node not reached (or of the start).
const NO_NODE: u32 = u32::MAX;

/// Heap entry ordered by score only, smallest first, exactly like petgraph's `MinScored`: entries
/// of equal score compare equal, so the heap's internal order breaks ties as it does in A*.
struct MinScored(u128, NodeIndex);
impl PartialEq for MinScored {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for MinScored {}
impl PartialOrd for MinScored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MinScored {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

/// Cost of crossing `link`: latency in nanoseconds in the high bits, one per hop in the low bits,
/// so the shortest-latency route wins and ties go to the route with fewer hops.
fn link_cost(link: &Link) -> u128 {
    ((link.latency.as_nanos() as u128) << 32) | 1
}

/// Predecessors of the shortest paths from `start` to every node: petgraph's A* with a zero
/// estimate (same heap, same pushes and pops, same relaxations), without stopping at a goal.
/// Until A* pops its goal both searches take identical steps, and a popped node's predecessor
/// never changes, so the path read from this tree is the path A* returns.
fn shortest_path_tree(graph: &UnGraph<(), usize>, links: &[Link], start: NodeIndex) -> Vec<u32> {
    const UNSEEN: u128 = u128::MAX;
    let n = graph.node_count();
    let mut predecessor = vec![NO_NODE; n];
    // Best score found so far, and score with which each node was expanded (A*'s g-values and
    // its closed set).
    let mut scores = vec![UNSEEN; n];
    let mut expanded = vec![UNSEEN; n];
    let mut heap = BinaryHeap::with_capacity(n);
    scores[start.index()] = 0;
    heap.push(MinScored(0, start));
    while let Some(MinScored(score, node)) = heap.pop() {
        let node_score = scores[node.index()];
        if expanded[node.index()] <= score {
            continue;
        }
        expanded[node.index()] = score;
        for edge in graph.edges(node) {
            let next = edge.target();
            let next_score = node_score + link_cost(&links[*edge.weight()]);
            if scores[next.index()] <= next_score {
                continue;
            }
            scores[next.index()] = next_score;
            predecessor[next.index()] = node.index() as u32;
            heap.push(MinScored(next_score, next));
        }
    }
    predecessor
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
        flows.reserve_resources(2 * hosts.len() + 2 * links.len());
        let hosts: Vec<Host> = hosts
            .into_iter()
            .map(|spec| Host {
                upload: flows.add_resource(spec.upload_bps),
                download: flows.add_resource(spec.download_bps),
                spec,
            })
            .collect();
        let latencies = hosts.iter().map(|h| h.spec.latency).collect();
        let mut topo = Topology {
            hosts,
            latencies,
            graph: None,
            links: Vec::new(),
            routes: FxHashMap::default(),
            trees: FxHashMap::default(),
            tree_nodes: 0,
        };
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

    /// The one-way latency from `from` to `to`: [`Self::route`]'s, without building the route
    /// when there are no explicit links (every control message asks).
    pub fn latency(&mut self, from: HostId, to: HostId) -> SimDuration {
        if self.graph.is_none() {
            return self.access_latency(from, to);
        }
        self.route(from, to).latency
    }

    /// The two hosts' access latencies together (a route's latency without its links).
    fn access_latency(&self, from: HostId, to: HostId) -> SimDuration {
        self.latencies[from.0 as usize] + self.latencies[to.0 as usize]
    }

    /// The route from `from` to `to` (cached when it goes through explicit links).
    pub fn route(&mut self, from: HostId, to: HostId) -> Rc<Route> {
        let (src, dst) = (&self.hosts[from.0 as usize], &self.hosts[to.0 as usize]);
        let (upload, download) = (src.upload, dst.download);
        let mut latency = self.access_latency(from, to);
        let Some(graph) = &self.graph else {
            return Rc::new(Route { resources: vec![upload, download], latency });
        };
        if let Some(route) = self.routes.get(&(from, to)) {
            return route.clone();
        }
        if !self.trees.contains_key(&from) {
            if self.tree_nodes + graph.node_count() > TREE_CACHE_NODES {
                self.trees.clear();
                self.tree_nodes = 0;
            }
            let tree = shortest_path_tree(graph, &self.links, NodeIndex::new(from.0 as usize));
            self.tree_nodes += tree.len();
            self.trees.insert(from, tree);
        }
        let tree = &self.trees[&from];
        let mut path = vec![NodeIndex::new(to.0 as usize)];
        while let Some(&p) = tree.get(path[path.len() - 1].index()).filter(|&&p| p != NO_NODE) {
            path.push(NodeIndex::new(p as usize));
        }
        path.reverse();
        assert_eq!(path[0].index(), from.0 as usize, "connectivity checked at construction");
        let mut resources = vec![upload];
        for pair in path.windows(2) {
            let edge: EdgeIndex = graph.find_edge(pair[0], pair[1]).expect("path edge");
            let link = &self.links[graph[edge]];
            resources.push(if link.a == pair[0] { link.forward } else { link.backward });
            latency = latency + link.latency;
        }
        resources.push(download);
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
        assert_eq!(t.latency(HostId(0), HostId(1)), r.latency, "without building the route");
        assert_eq!(t.latency(HostId(1), HostId(0)), r.latency);
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
        assert_eq!(t.latency(HostId(0), HostId(1)), us(1500), "the links' latency too");
        assert_eq!(r.resources.len(), 5, "upload, three links, download");
        let back = t.route(HostId(1), HostId(0));
        assert_ne!(back.resources[1], r.resources[3], "directions are separate resources");
    }

    /// The route petgraph's A* finds (what `route` returned before trees were cached).
    fn astar_route(t: &Topology, from: HostId, to: HostId) -> Vec<ResourceId> {
        let graph = t.graph.as_ref().unwrap();
        let (start, goal) = (NodeIndex::new(from.0 as usize), NodeIndex::new(to.0 as usize));
        let (_, path) =
            petgraph::algo::astar(graph, start, |n| n == goal, |e| link_cost(&t.links[*e.weight()]), |_| 0u128)
                .unwrap();
        let mut resources = vec![t.upload(from)];
        for pair in path.windows(2) {
            let link = &t.links[graph[graph.find_edge(pair[0], pair[1]).unwrap()]];
            resources.push(if link.a == pair[0] { link.forward } else { link.backward });
        }
        resources.push(t.download(to));
        resources
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(7),
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]
        /// On random connected graphs full of equal-latency ties, every cached route is the
        /// route A* finds.
        #[test]
        fn cached_trees_give_the_routes_astar_gives(
            hosts in 2usize..7,
            routers in 0usize..6,
            extra in proptest::collection::vec((0usize..100, 0usize..100, 0u64..3), 0..20),
        ) {
            let nodes = hosts + routers;
            // A chain through every node keeps the graph connected; extra links add cycles.
            let mut links: Vec<LinkSpec> = (1..nodes)
                .map(|i| LinkSpec { a: i - 1, b: i, capacity_bps: 1.0, latency: SimDuration::from_millis(1) })
                .collect();
            for (a, b, ms) in extra {
                let (a, b) = (a % nodes, b % nodes);
                if a != b {
                    links.push(LinkSpec { a, b, capacity_bps: 1.0, latency: SimDuration::from_millis(ms) });
                }
            }
            let specs = (0..hosts).map(|i| host(&format!("h{i}"), 1.0, 1.0, 0)).collect();
            let mut t = Topology::new(&mut FlowModel::new(), specs, routers, &links).unwrap();
            for a in 0..hosts as u32 {
                for b in 0..hosts as u32 {
                    let expected = astar_route(&t, HostId(a), HostId(b));
                    proptest::prop_assert_eq!(&t.route(HostId(a), HostId(b)).resources, &expected);
                }
            }
        }
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
