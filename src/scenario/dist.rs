//! Numeric fields that may be drawn from a distribution when node groups are generated.

use rand::Rng;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number in a scenario that may vary from host to host: a fixed value,
/// `{"uniform": [lo, hi]}` (drawn from the scenario's seeded topology stream) or
/// `{"list": [a, b, c]}` (assigned in order and cycled: host *i* of a group gets item *i mod n*).
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// The same value for every host.
    Fixed(f64),
    /// Uniform on the closed interval `[lo, hi]`.
    Uniform(f64, f64),
    /// Values assigned round-robin.
    List(Vec<f64>),
}

impl Dist {
    /// The value for the `index`-th host of a group.
    pub fn sample(&self, index: usize, rng: &mut impl Rng) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform(lo, hi) if lo == hi => *lo,
            Dist::Uniform(lo, hi) => rng.gen_range(*lo..=*hi),
            Dist::List(items) => items[index % items.len()],
        }
    }

    /// Every value the distribution can produce lies in `[min, max]`.
    pub fn bounds(&self) -> (f64, f64) {
        match self {
            Dist::Fixed(v) => (*v, *v),
            Dist::Uniform(lo, hi) => (*lo, *hi),
            Dist::List(items) => {
                items.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
            }
        }
    }

    /// Checks the distribution's own shape (non-empty list, ordered interval, finite numbers).
    pub fn check_shape(&self) -> Result<(), String> {
        match self {
            Dist::List(items) if items.is_empty() => Err("list must not be empty".into()),
            Dist::Uniform(lo, hi) if lo > hi => Err(format!("uniform interval is reversed: [{lo}, {hi}]")),
            _ => {
                let (lo, hi) = self.bounds();
                if lo.is_finite() && hi.is_finite() {
                    Ok(())
                } else {
                    Err("values must be finite numbers".into())
                }
            }
        }
    }
}

const EXPECTED: &str = r#"expected a number, {"uniform": [lo, hi]} or {"list": [numbers...]}"#;

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let numbers =
            |v: &serde_json::Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(|x| x.as_f64()).collect() };
        match &value {
            serde_json::Value::Number(n) => Ok(Dist::Fixed(n.as_f64().ok_or_else(|| D::Error::custom(EXPECTED))?)),
            serde_json::Value::Object(map) if map.len() == 1 => {
                let (key, inner) = map.iter().next().expect("one entry");
                let items = numbers(inner).ok_or_else(|| D::Error::custom(EXPECTED))?;
                match key.as_str() {
                    "uniform" if items.len() == 2 => Ok(Dist::Uniform(items[0], items[1])),
                    "uniform" => Err(D::Error::custom("uniform takes exactly two numbers [lo, hi]")),
                    "list" => Ok(Dist::List(items)),
                    other => Err(D::Error::custom(format!("unknown distribution `{other}`; {EXPECTED}"))),
                }
            }
            _ => Err(D::Error::custom(EXPECTED)),
        }
    }
}

impl Serialize for Dist {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Dist::Fixed(v) => serializer.serialize_f64(*v),
            Dist::Uniform(lo, hi) => serde_json::json!({ "uniform": [lo, hi] }).serialize(serializer),
            Dist::List(items) => serde_json::json!({ "list": items }).serialize(serializer),
        }
    }
}

impl schemars::JsonSchema for Dist {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Dist".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number, {\"uniform\": [lo, hi]} drawn per host, or {\"list\": [...]} assigned in turn.",
            "oneOf": [
                { "type": "number" },
                { "type": "object", "additionalProperties": false, "required": ["uniform"],
                  "properties": { "uniform": { "type": "array", "items": { "type": "number" }, "minItems": 2, "maxItems": 2 } } },
                { "type": "object", "additionalProperties": false, "required": ["list"],
                  "properties": { "list": { "type": "array", "items": { "type": "number" }, "minItems": 1 } } }
            ]
        })
    }
}

impl From<f64> for Dist {
    fn from(v: f64) -> Self {
        Dist::Fixed(v)
    }
}
