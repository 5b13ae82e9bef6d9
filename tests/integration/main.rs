//! Integration tests, gathered in one binary so the build stays fast.

mod analysis;
mod cascade;
mod cli;
mod determinism;
mod faults;
mod network_model;
mod protocol;
mod references;
mod solver_props;
mod util;
