//! Closed-form lower bounds, and the optimum where it is known, that the simulated completion
//! times are compared against; the math lives in [`crate::net::bounds`] (the base server uses
//! it too, to time its wait periods).

pub use crate::net::bounds::*;
