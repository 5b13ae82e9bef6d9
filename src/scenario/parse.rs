//! Reading scenario files strictly: a bounded read, one JSON document and nothing after it, no
//! positional arrays (checked against the schema by [`shape`](super::shape)), and serde errors
//! that name the JSON path, down into tagged enums (see [`tagged`](super::tagged)).

use super::limits::MAX_FILE_BYTES;
use super::tagged::INNER_PATH;
use super::{Scenario, ScenarioError};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::path::Path;

/// Reads a whole input file of at most [`MAX_FILE_BYTES`] as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let file = path.display().to_string();
    let io = |source| ScenarioError::Io { file: file.clone(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ScenarioError::Parse {
            file,
            path: ".".into(),
            message: format!("the file is larger than the limit of {MAX_FILE_BYTES} bytes"),
        });
    }
    String::from_utf8(bytes).map_err(|e| ScenarioError::Parse {
        file,
        path: "invalid JSON".into(),
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })
}

/// Reads and parses a scenario file (no semantic validation yet: see [`Scenario::build`]).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(&read_text(path)?).map_err(|e| e.in_file(&path.display().to_string()))
}

/// Parses scenario JSON text.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    parse_as(text, SCHEMA.get_or_init(super::json_schema))
}

/// Parses JSON text into `T` whose JSON Schema is `schema`: exactly one document, the shape
/// checked against the schema, then serde with path tracking.
pub fn parse_as<T: DeserializeOwned>(text: &str, schema: &serde_json::Value) -> Result<T, ScenarioError> {
    let parse_error = |path: String, message: String| ScenarioError::Parse { file: "<input>".into(), path, message };
    // One document and nothing after it (serde_json::from_str refuses trailing text).
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| parse_error("invalid JSON".into(), syntax_message(text, &e)))?;
    super::shape::check(&doc, schema).map_err(|(path, message)| parse_error(path, message))?;
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut path = e.path().to_string();
        let mut message = e.inner().to_string();
        // An error inside a tagged enum carries the path within the variant.
        if let Some((inner, rest)) = message.split_once(INNER_PATH) {
            if inner != "." {
                path = if path == "." { inner.to_string() } else { format!("{path}.{inner}") };
            }
            message = rest.to_string();
        }
        parse_error(path, message)
    })
}

/// serde_json's message, with a hint when the error is at a comment.
fn syntax_message(text: &str, e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    let col = e.column().saturating_sub(1);
    let around: String = line.chars().skip(col.saturating_sub(1)).take(3).collect();
    if around.contains("//") || around.contains("/*") {
        message.push_str(" (JSON does not allow comments)");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{ "name": "x", "network": {} }"#;

    fn err(text: &str) -> (String, String) {
        match parse(text).unwrap_err() {
            ScenarioError::Parse { path, message, .. } => (path, message),
            other => panic!("not a parse error: {other}"),
        }
    }

    #[test]
    fn one_document_and_nothing_after_it() {
        assert!(parse(MINIMAL).is_ok());
        assert!(parse(&format!("{MINIMAL}\n  \n")).is_ok());
        let (path, message) = err(&format!("{MINIMAL} trailing"));
        assert_eq!(path, "invalid JSON");
        assert!(message.contains("trailing characters"), "{message}");
        assert!(err(&format!("{MINIMAL}{MINIMAL}")).1.contains("trailing characters"));
    }

    #[test]
    fn comments_are_named() {
        let (_, message) = err("{\n  // a comment\n  \"name\": \"x\", \"network\": {} }");
        assert!(message.ends_with("(JSON does not allow comments)"), "{message}");
        let (_, message) = err("{ \"name\": \"x\", /* no */ \"network\": {} }");
        assert!(message.ends_with("(JSON does not allow comments)"), "{message}");
        let (_, message) = err("{ \"name\": \"x\" \"network\": {} }");
        assert!(!message.contains("comments"), "{message}");
    }

    #[test]
    fn errors_inside_tagged_enums_name_the_field() {
        let job = |strategy: &str, content: &str| {
            format!(
                r#"{{ "name": "x", "network": {{}}, "clients": [ {{ "name": "c", "upload_mbps": 1,
                   "download_mbps": 1, "jobs": [ {{ "name": "j", "content": {content},
                   "strategy": {strategy} }} ] }} ] }}"#
            )
        };
        let file = r#"{ "kind": "file", "size_mb": 1, "chunks": 1 }"#;
        let (path, message) = err(&job(r#"{ "kind": "cascade", "fanout": -1 }"#, file));
        assert_eq!(path, "clients[0].jobs[0].strategy.fanout");
        assert!(message.starts_with("invalid value: -1, expected \"auto\" or a whole number"), "{message}");
        let (path, _) = err(&job(r#"{ "kind": "cascade", "fan_out": 1 }"#, file));
        assert_eq!(path, "clients[0].jobs[0].strategy.fan_out");
        let (path, message) = err(&job(r#"{ "kind": "spiral" }"#, file));
        assert_eq!(path, "clients[0].jobs[0].strategy.kind");
        assert!(message.contains("unknown kind `spiral`: expected one of cascade, star"), "{message}");
        let (path, _) = err(&job(r#"{ "kind": "star" }"#, r#"{ "kind": "file", "size_mb": "big", "chunks": 1 }"#));
        assert_eq!(path, "clients[0].jobs[0].content.size_mb");
        let (path, _) = err(r#"{ "name": "x", "network": {}, "faults": { "events": [
            { "kind": "partition", "at_s": 1, "sides": [["a"], "b"] } ] } }"#);
        assert_eq!(path, "faults.events[0].sides[1]");
    }
}
