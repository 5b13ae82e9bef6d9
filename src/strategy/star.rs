//! The prior art: the base server unicasts the job to every server itself, at most
//! `max_concurrent` streams at once. Distributed by the protocol's base server.

use super::{at_least_one, StrategyModule};
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{ScenarioError, Strategy};

/// The star.
pub struct Star;

impl StrategyModule for Star {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Star
    }
    fn name(&self) -> &'static str {
        "star"
    }
    fn summary(&self) -> &'static str {
        "prior art: the base server unicasts to every server"
    }
    fn config(&self, path: &str, spec: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError> {
        let Strategy::Star(crate::scenario::StarStrategy { max_concurrent }) = *spec else {
            unreachable!("dispatched by kind")
        };
        Ok(StrategyConfig::star(at_least_one(path, "max_concurrent", max_concurrent.unwrap_or(servers as u32))?))
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        serde_json::json!({ "max_concurrent": s.first_nodes })
    }
}
