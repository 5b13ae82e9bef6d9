//! The patent's roles as sans-IO state machines: [`client::Client`], [`base_server::BaseServer`]
//! and [`node_server::NodeServer`], plus the [`job::JobObject`] they exchange and the
//! [`source::Forwarder`] every server holding a job uses to pass it on, and the origins
//! ([`origin::OriginServer`]) that share the base server's part as first source.
//!
//! The roles own no clock and do no I/O: they react to messages and data events passed in with
//! the current time, and push [`message::Output`]s that the engine carries out (deliver a
//! message after the route's latency, open a stream through the bandwidth model). This keeps
//! each role readable against the patent (paragraph numbers are in the doc comments) and
//! testable alone.

pub mod base_server;
pub mod client;
pub mod job;
pub mod message;
pub mod node_server;
pub mod origin;
pub mod plan;
pub mod source;
