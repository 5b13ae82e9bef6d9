//! A count the simulator may choose: `"auto"` or a positive integer.
//!
//! The cascade's `fanout` and `first_nodes` default to `"auto"`: the base server then sizes
//! them from the declared capacities (see [`crate::protocol::plan`]).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `"auto"` or a fixed count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Count {
    /// Chosen by the simulator.
    #[default]
    Auto,
    /// This many.
    Fixed(u32),
}

const EXPECTED: &str = r#"expected "auto" or a whole number"#;

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) if s == "auto" => Ok(Count::Auto),
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(v) if v <= u32::MAX as u64 => Ok(Count::Fixed(v as u32)),
                _ => Err(D::Error::custom(format!("invalid value: {n}, {EXPECTED}"))),
            },
            _ => Err(D::Error::custom(EXPECTED)),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Auto => serializer.serialize_str("auto"),
            Count::Fixed(v) => serializer.serialize_u32(*v),
        }
    }
}

impl schemars::JsonSchema for Count {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Count".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "\"auto\" (chosen from the declared capacities) or a whole number.",
            "oneOf": [ { "const": "auto" }, { "type": "integer", "minimum": 0 } ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auto_or_a_whole_number() {
        assert_eq!(serde_json::from_str::<Count>(r#""auto""#).unwrap(), Count::Auto);
        assert_eq!(serde_json::from_str::<Count>("3").unwrap(), Count::Fixed(3));
        for bad in [r#""many""#, "-1", "2.5", "[]"] {
            assert!(serde_json::from_str::<Count>(bad).is_err(), "{bad}");
        }
    }
}
