pub mod kernel;
pub mod net;
