//! A pipeline: the base server streams to the first server of the list, each server to the
//! next. Distributed by the protocol's sources with one connection each.

use super::StrategyModule;
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{ScenarioError, Strategy};

/// The chain.
pub struct Chain;

impl StrategyModule for Chain {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Chain
    }
    fn name(&self) -> &'static str {
        "chain"
    }
    fn summary(&self) -> &'static str {
        "a pipeline through every server in list order"
    }
    fn config(&self, _path: &str, _spec: &Strategy, _servers: usize) -> Result<StrategyConfig, ScenarioError> {
        Ok(StrategyConfig::chain())
    }
    fn params(&self, _s: &StrategyConfig) -> serde_json::Value {
        serde_json::json!({})
    }
}
