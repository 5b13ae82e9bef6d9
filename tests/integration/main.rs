//! Integration tests, gathered in one binary so the build stays fast.

mod analysis;
mod behaviours;
mod cascade;
mod chaos;
mod cli;
mod determinism;
mod faults;
mod fuzz;
mod fuzz_gen;
mod hostile;
mod network_model;
mod origins;
mod outputs;
mod patent_cascade;
mod protocol;
mod references;
mod solver_props;
mod util;
