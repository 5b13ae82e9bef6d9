//! A random fixed k-ary tree rooted at the base server (the server list shuffled with the
//! seeded strategy stream). Distributed by the protocol's sources, `arity` connections each.

use super::{at_least_one, StrategyModule};
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{ScenarioError, Strategy};

/// The tree.
pub struct Tree;

impl StrategyModule for Tree {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Tree
    }
    fn name(&self) -> &'static str {
        "tree"
    }
    fn summary(&self) -> &'static str {
        "a random fixed k-ary tree rooted at the base server"
    }
    fn config(&self, path: &str, spec: &Strategy, _servers: usize) -> Result<StrategyConfig, ScenarioError> {
        let Strategy::Tree(crate::scenario::TreeStrategy { arity }) = *spec else { unreachable!("dispatched by kind") };
        Ok(StrategyConfig::tree(at_least_one(path, "arity", arity)?))
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        serde_json::json!({ "arity": s.fanout })
    }
}
