//! The patent's cascade ([0044], [0060], [0066]–[0073]): the base server streams to
//! `first_nodes` servers and every server that holds the job forwards it to up to `fanout`
//! others, with index lists, adaptive fanout, rate sort and dynamic switching as switches. The
//! distribution itself is the protocol's (`protocol::source::Forwarder`); this module maps the
//! scenario's parameters.

use super::{at_least_one, StrategyModule};
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{check_non_negative, ScenarioError, Strategy};

/// The cascade.
pub struct Cascade;

impl StrategyModule for Cascade {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Cascade
    }
    fn name(&self) -> &'static str {
        "cascade"
    }
    fn summary(&self) -> &'static str {
        "the patent's cascade: every server holding the job forwards it to up to `fanout` others"
    }
    fn config(&self, path: &str, spec: &Strategy, _servers: usize) -> Result<StrategyConfig, ScenarioError> {
        let Strategy::Cascade {
            fanout,
            first_nodes,
            index_lists,
            adaptive_fanout,
            rate_sort,
            dynamic_switching,
            switch_margin,
        } = *spec
        else {
            unreachable!("dispatched by kind")
        };
        check_non_negative(&format!("{path}.switch_margin"), switch_margin)?;
        Ok(StrategyConfig {
            index_lists,
            adaptive_fanout,
            rate_sort,
            dynamic_switching,
            switch_margin,
            ..StrategyConfig::cascade(
                at_least_one(path, "fanout", fanout)?,
                at_least_one(path, "first_nodes", first_nodes)?,
            )
        })
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        serde_json::json!({
            "fanout": s.fanout,
            "first_nodes": s.first_nodes,
            "index_lists": s.index_lists,
            "adaptive_fanout": s.adaptive_fanout,
            "rate_sort": s.rate_sort,
            "dynamic_switching": s.dynamic_switching,
            "switch_margin": s.switch_margin,
        })
    }
}
