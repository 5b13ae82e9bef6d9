//! The network: topology and the flow-level bandwidth model.
//!
//! [`topology`] knows hosts, routers, links and routes; [`flows`] shares capacities among
//! concurrent transfers by max-min fairness, re-solved incrementally. Together they give the
//! simulator the two things the patent's protocol needs from a data packet network ([0002],
//! [0033]): messages that take a route's latency, and streams whose rate depends on everything
//! else crossing the same uploads, downloads and links.

pub mod bounds;
pub mod flows;
pub mod topology;

pub use flows::{reference_max_min, FlowId, FlowModel, ResourceId};
pub use topology::{HostId, HostSpec, LinkSpec, Route, Topology, TopologyError};

/// Megabits per second (the scenario unit) to bytes per second (the model's unit).
pub fn mbps_to_bytes_per_sec(mbps: f64) -> f64 {
    mbps * 1e6 / 8.0
}
