//! Reading internally tagged enums (`{"kind": "cascade", "fanout": 2}`) so that an error
//! inside the variant keeps its path.
//!
//! serde's own `#[serde(tag = "kind")]` buffers the object and deserializes the variant from
//! the buffer, out of reach of `serde_path_to_error`: an error in `fanout` was reported at
//! `...strategy`. Here the object is read as a JSON value, `kind` is taken out, and the rest is
//! read into the variant's struct with its own path tracking. The inner path travels to
//! [`super::parse()`] inside the error message, before [`INNER_PATH`]; `parse` joins it to the
//! outer path.

use super::limits::shown;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;

/// Separates an inner path from the message in errors raised here (ASCII unit separator,
/// which serde never writes).
pub const INNER_PATH: char = '\u{1f}';

/// A variant's error: the path inside the variant and serde's message.
pub type VariantError = serde_path_to_error::Error<serde_json::Error>;

/// Reads a variant's struct from the object without its `kind`.
pub fn payload<T: DeserializeOwned>(value: Value) -> Result<T, VariantError> {
    serde_path_to_error::deserialize(value)
}

/// Reads `{"kind": K, ...}`: `variant(K, rest)` reads the rest as the struct of kind `K`, or
/// returns `None` when `K` is not one of `kinds`.
pub fn deserialize<'de, D, T>(
    deserializer: D,
    kinds: &[&str],
    variant: impl FnOnce(&str, Value) -> Option<Result<T, VariantError>>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let expected = || format!("expected one of {}", kinds.join(", "));
    let value = Value::deserialize(deserializer)?;
    let Value::Object(mut map) = value else {
        let found = match value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(D::Error::custom(format!("expected an object with a `kind` field, found {found}")));
    };
    let kind = match map.remove("kind") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(D::Error::custom(format!("kind{INNER_PATH}must be a string: {}", expected()))),
        None => return Err(D::Error::custom(format!("missing field `kind`: {}", expected()))),
    };
    match variant(&kind, Value::Object(map)) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(D::Error::custom(format!("{}{INNER_PATH}{}", e.path(), e.inner()))),
        None => Err(D::Error::custom(format!("kind{INNER_PATH}unknown kind {}: {}", shown(&kind), expected()))),
    }
}
