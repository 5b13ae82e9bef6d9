//! The network: topology and the flow-level bandwidth model.
//!
//! [`topology`] knows hosts, routers, links and routes; [`flows`] shares capacities among
//! concurrent transfers by max-min fairness, re-solved once per instant over classes of flows
//! that share a bottleneck ([`classes`] keeps their books, [`filling`] re-solves them,
//! [`clocks`] runs their virtual clocks and hands out completions);
//! [`reference`](mod@reference) is the naive oracle it is tested against. Together they give the
//! simulator the two things the patent's protocol needs from a data packet network (\[0002\],
//! \[0033\]): messages that take a route's latency, and streams whose rate depends on everything
//! else crossing the same uploads, downloads and links.

pub mod bounds;
pub mod classes;
pub mod clocks;
pub mod filling;
pub mod flows;
mod heap;
pub mod reference;
pub mod topology;

pub use clocks::Upcoming;
pub use flows::{FlowId, FlowModel, ResourceId};
pub use reference::{reference_max_min, ReferenceModel};
pub use topology::{HostId, HostSpec, LinkSpec, Route, Topology, TopologyError};

/// Megabits per second (the scenario unit) to bytes per second (the model's unit).
pub fn mbps_to_bytes_per_sec(mbps: f64) -> f64 {
    mbps * 1e6 / 8.0
}
