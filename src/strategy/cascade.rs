//! The patent's cascade (\[0044\], \[0060\], \[0066\]–\[0073\]): the base server streams to
//! `first_nodes` servers and every server that holds the job forwards it to up to `fanout`
//! others (both `"auto"` by default: the base server's plan, `protocol::plan`), with index
//! lists, adaptive fanout, rate sort, dynamic switching and move-on as switches. The
//! distribution itself is the protocol's (`protocol::source::Forwarder`); this module maps the
//! scenario's parameters.

use super::{at_least_one, StrategyModule};
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::limits::{check_range, MAX_FACTOR};
use crate::scenario::{Count, ScenarioError, Strategy};

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
        let Strategy::Cascade(c) = spec else { unreachable!("dispatched by kind") };
        check_range(&format!("{path}.switch_margin"), c.switch_margin, 0.0, MAX_FACTOR, "")?;
        let count = |field: &str, v: Count, auto: u32| match v {
            Count::Auto => Ok(auto),
            Count::Fixed(v) => at_least_one(path, field, v),
        };
        Ok(StrategyConfig {
            index_lists: c.index_lists,
            adaptive_fanout: c.adaptive_fanout,
            rate_sort: c.rate_sort,
            dynamic_switching: c.dynamic_switching,
            switch_margin: c.switch_margin,
            max_switches: c.max_switches,
            move_on: c.move_on,
            auto_fanout: c.fanout == Count::Auto,
            auto_first_nodes: c.first_nodes == Count::Auto,
            ..StrategyConfig::cascade(
                count("fanout", c.fanout, crate::protocol::plan::MAX_AUTO_FANOUT)?,
                count("first_nodes", c.first_nodes, 1)?,
            )
        })
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        let auto = |is_auto: bool, v: u32| if is_auto { serde_json::json!("auto") } else { serde_json::json!(v) };
        serde_json::json!({
            "fanout": auto(s.auto_fanout, s.fanout),
            "first_nodes": auto(s.auto_first_nodes, s.first_nodes),
            "max_switches": s.max_switches,
            "move_on": s.move_on,
            "index_lists": s.index_lists,
            "adaptive_fanout": s.adaptive_fanout,
            "rate_sort": s.rate_sort,
            "dynamic_switching": s.dynamic_switching,
            "switch_margin": s.switch_margin,
        })
    }
}
