//! The shape of a JSON document checked against a JSON Schema: arrays only where the schema
//! admits an array.
//!
//! serde's derived `Deserialize` accepts a JSON array in place of a struct, reading the fields
//! by position (`"hosts": [["a", 100, 100, 0]]`, `"network": []`). The scenario format names
//! every field, so before serde reads a document this walk rejects an array wherever the
//! schema (generated from the same types with schemars) expects something else, and says
//! where. Everything else (types, ranges, unknown fields) is left to serde and validation.

use serde_json::{Map, Value};

/// The first array found where `schema` does not admit one: (JSON path, message).
pub fn check(value: &Value, schema: &Value) -> Result<(), (String, String)> {
    let walker = Walker { defs: schema.get("$defs").and_then(Value::as_object) };
    walker.walk(value, schema, &mut String::new())
}

struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl<'a> Walker<'a> {
    /// Follows `$ref`s into `$defs`.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..64 {
            let target = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| self.defs?.get(name));
            match target {
                Some(t) => schema = t,
                None => break,
            }
        }
        schema
    }

    /// The schemas a value may match: `schema` itself and, recursively, its `oneOf`, `anyOf`
    /// and `allOf` members, references resolved.
    fn leaves(&self, schema: &'a Value, out: &mut Vec<&'a Value>, depth: u32) {
        let schema = self.resolve(schema);
        out.push(schema);
        if depth > 16 {
            return;
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for member in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.leaves(member, out, depth + 1);
            }
        }
    }

    /// JSON types the schema's leaves name; `None` when no leaf names one (anything goes).
    fn types(&self, schema: &'a Value) -> Option<Vec<&'a str>> {
        let mut leaves = Vec::new();
        self.leaves(schema, &mut leaves, 0);
        let mut types = Vec::new();
        for leaf in leaves {
            match leaf.get("type") {
                Some(Value::String(t)) => types.push(t.as_str()),
                Some(Value::Array(ts)) => types.extend(ts.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        (!types.is_empty()).then_some(types)
    }

    fn walk(&self, value: &Value, schema: &'a Value, path: &mut String) -> Result<(), (String, String)> {
        match value {
            Value::Array(items) => {
                let types = self.types(schema);
                if types.as_ref().is_some_and(|t| !t.contains(&"array")) {
                    let mut expected = types.unwrap_or_default();
                    expected.dedup();
                    let expected: Vec<String> = expected.iter().map(|t| article(t)).collect();
                    let where_ = if path.is_empty() { ".".to_string() } else { path.clone() };
                    return Err((
                        where_,
                        format!(
                            "expected {}, found an array (fields are named, never positional)",
                            expected.join(" or ")
                        ),
                    ));
                }
                let mut leaves = Vec::new();
                self.leaves(schema, &mut leaves, 0);
                let Some(item_schema) = leaves.iter().find_map(|l| l.get("items")) else { return Ok(()) };
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    self.walk(item, item_schema, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(fields) => {
                let mut leaves = Vec::new();
                self.leaves(schema, &mut leaves, 0);
                // For a tagged enum, the leaves of the other kinds do not apply.
                let kind = fields.get("kind").and_then(Value::as_str);
                let applies = |leaf: &&Value| match (kind, leaf.pointer("/properties/kind")) {
                    (Some(k), Some(tag)) => {
                        let tag = self.resolve(tag);
                        tag.get("const").is_none_or(|c| c == k)
                            && tag.get("enum").and_then(Value::as_array).is_none_or(|e| e.iter().any(|x| x == k))
                    }
                    _ => true,
                };
                let leaves: Vec<&Value> = leaves.into_iter().filter(applies).collect();
                for (key, field) in fields {
                    let Some(field_schema) = leaves.iter().find_map(|l| l.get("properties")?.get(key)) else {
                        continue;
                    };
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    self.walk(field, field_schema, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn article(json_type: &str) -> String {
    match json_type {
        "object" | "array" | "integer" => format!("an {json_type}"),
        "null" => "null".into(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        crate::scenario::json_schema()
    }

    #[test]
    fn positional_arrays_are_found_with_their_path() {
        let doc = json!({ "name": "x", "network": { "hosts": [["a", 100, 100, 0]] } });
        let (path, message) = check(&doc, &schema()).unwrap_err();
        assert_eq!(path, "network.hosts[0]");
        assert!(message.starts_with("expected an object, found an array"), "{message}");
        let (path, _) = check(&json!({ "name": "x", "network": [] }), &schema()).unwrap_err();
        assert_eq!(path, "network");
        let (path, _) = check(&json!({ "name": "x", "network": {}, "faults": [] }), &schema()).unwrap_err();
        assert_eq!(path, "faults");
        assert_eq!(check(&json!([1]), &schema()).unwrap_err().0, ".");
    }

    #[test]
    fn arrays_inside_tagged_variants_and_distributions_are_found() {
        let doc = json!({ "name": "x", "network": {}, "clients": [ { "name": "c", "jobs": [
            { "name": "j", "content": ["file", 1, 2], "strategy": { "kind": "cascade" } } ] } ] });
        assert_eq!(check(&doc, &schema()).unwrap_err().0, "clients[0].jobs[0].content");
        let doc = json!({ "name": "x", "network": { "groups": [ { "name": "g", "count": 1,
            "upload_mbps": [1, 2], "download_mbps": { "uniform": [1, 2] } } ] } });
        assert_eq!(check(&doc, &schema()).unwrap_err().0, "network.groups[0].upload_mbps");
    }

    #[test]
    fn every_bundled_scenario_has_the_right_shape() {
        for path in crate::analysis::check::scenario_files(std::path::Path::new("scenarios")).unwrap() {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(check(&doc, &schema()), Ok(()), "{}", path.display());
        }
    }
}
