//! A structural check of a JSON document against the JSON Schema schemars generates for our
//! types (`results.json` against [`results_schema`](super::results::results_schema)), and the
//! lookup of a field path in such a schema (what `sweep` metrics name).
//!
//! It understands exactly the subset schemars emits for these types: `$ref` into `$defs`,
//! `type` (a name or a list, `integer` being a whole `number`), `properties` with `required`
//! and `additionalProperties: false`, `items`, `enum`/`const`, `oneOf`/`anyOf`/`allOf`, and the
//! `minimum` of unsigned integers. It is not a general validator (no formats, patterns or
//! conditionals); a schema keyword it does not know is ignored. (The `jsonschema` crate would
//! be the general tool; it is not a dependency of this crate.)

use serde_json::{Map, Value};

struct Schema<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl<'a> Schema<'a> {
    fn resolve(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..64 {
            match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                Some(name) => match self.defs.and_then(|d| d.get(name)) {
                    Some(t) => s = t,
                    None => break,
                },
                None => break,
            }
        }
        s
    }

    fn check(&self, v: &Value, s: &'a Value, path: &str, errors: &mut Vec<String>) {
        let s = self.resolve(s);
        if s == &Value::Bool(true) {
            return;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = s.get(key).and_then(Value::as_array) {
                let passing = options
                    .iter()
                    .filter(|o| {
                        let mut e = Vec::new();
                        self.check(v, o, path, &mut e);
                        e.is_empty()
                    })
                    .count();
                let ok = if key == "oneOf" { passing == 1 } else { passing >= 1 };
                if !ok {
                    errors.push(format!("{path}: matches {passing} of the {} alternatives of {key}", options.len()));
                }
            }
        }
        for member in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check(v, member, path, errors);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| type_matches(v, t)) {
                errors.push(format!("{path}: expected {}, found {}", types.join(" or "), type_name(v)));
                return;
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                errors.push(format!("{path}: expected {c}, found {v}"));
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.contains(v) {
                errors.push(format!("{path}: {v} is not one of {}", Value::Array(options.clone())));
            }
        }
        if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if x < min {
                errors.push(format!("{path}: {x} is below the minimum {min}"));
            }
        }
        match v {
            Value::Object(fields) => {
                let props = s.get("properties").and_then(Value::as_object);
                for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    if !fields.contains_key(name) {
                        errors.push(format!("{}: required field missing", join(path, name)));
                    }
                }
                for (name, field) in fields {
                    match props.and_then(|p| p.get(name)) {
                        Some(fs) => self.check(field, fs, &join(path, name), errors),
                        None => match s.get("additionalProperties") {
                            Some(Value::Bool(false)) => {
                                errors.push(format!("{}: field not in the schema", join(path, name)))
                            }
                            Some(extra @ Value::Object(_)) => self.check(field, extra, &join(path, name), errors),
                            _ => {}
                        },
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = s.get("items") {
                    for (i, x) in items.iter().enumerate() {
                        self.check(x, item, &format!("{path}[{i}]"), errors);
                    }
                }
            }
            _ => {}
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn type_matches(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|x| x.fract() == 0.0),
        _ => true,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every way `document` departs from `schema`, one line each naming the JSON path; empty when
/// it conforms.
pub fn validate(document: &Value, schema: &Value) -> Vec<String> {
    let s = Schema { defs: schema.get("$defs").and_then(Value::as_object) };
    let mut errors = Vec::new();
    s.check(document, schema, "", &mut errors);
    errors
}

/// The JSON types a field path may hold according to `schema` (e.g. `["number", "null"]` for
/// `jobs[0].closed_s` in the results schema); an error naming the first step the schema does
/// not have. Paths use the syntax of error messages: `a.b[3].c`.
pub fn types_at(schema: &Value, path: &str) -> Result<Vec<String>, String> {
    let s = Schema { defs: schema.get("$defs").and_then(Value::as_object) };
    let mut here = vec![s.resolve(schema)];
    let mut walked = String::new();
    for step in steps(path)? {
        let mut next = Vec::new();
        for node in expand(&s, &here) {
            let found = match &step {
                Step::Field(name) => node.get("properties").and_then(|p| p.get(name.as_str())),
                Step::Index(_) => node.get("items"),
            };
            next.extend(found.map(|f| s.resolve(f)));
        }
        match &step {
            Step::Field(name) => walked = join(&walked, name),
            Step::Index(i) => walked = format!("{walked}[{i}]"),
        }
        if next.is_empty() {
            return Err(format!("`{path}`: results have no `{walked}`"));
        }
        here = next;
    }
    let mut types = Vec::new();
    for node in expand(&s, &here) {
        match node.get("type") {
            Some(Value::String(t)) => types.push(t.clone()),
            Some(Value::Array(ts)) => types.extend(ts.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    types.sort();
    types.dedup();
    Ok(types)
}

/// The schemas `nodes` stand for: themselves and their `anyOf`/`oneOf`/`allOf` members.
fn expand<'a>(s: &Schema<'a>, nodes: &[&'a Value]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = nodes.to_vec();
    while let Some(n) = todo.pop() {
        let n = s.resolve(n);
        out.push(n);
        for key in ["anyOf", "oneOf", "allOf"] {
            todo.extend(n.get(key).and_then(Value::as_array).into_iter().flatten());
        }
    }
    out
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A named field.
    Field(String),
    /// An array index.
    Index(usize),
}

/// The steps of a path such as `jobs[0].duty.repairs`.
pub fn steps(path: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    if path.is_empty() {
        return Err("empty path".into());
    }
    for part in path.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if name.is_empty() && (out.is_empty() || rest.is_empty()) {
            return Err(format!("`{path}`: empty field name"));
        }
        if !name.is_empty() {
            out.push(Step::Field(name.to_string()));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
            let index = inner[..close].parse().map_err(|_| format!("bad index `{}` in `{path}`", &inner[..close]))?;
            out.push(Step::Index(index));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected `{rest}` in `{path}`"));
        }
    }
    Ok(out)
}

/// The value at `path` in `document`, if there is one.
pub fn value_at<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    let mut here = document;
    for step in steps(path).ok()? {
        here = match step {
            Step::Field(name) => here.get(name)?,
            Step::Index(i) => here.get(i)?,
        };
    }
    Some(here)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn departures_from_the_schema_are_named_by_path() {
        let schema = crate::report::results::results_schema();
        let errors = validate(&json!({ "schema_version": "two", "extra": 1 }), &schema);
        assert!(errors.iter().any(|e| e == "schema_version: expected integer, found a string"), "{errors:?}");
        assert!(errors.iter().any(|e| e == "extra: field not in the schema"), "{errors:?}");
        assert!(errors.iter().any(|e| e == "jobs: required field missing"), "{errors:?}");
    }

    #[test]
    fn paths_resolve_through_arrays_and_optional_objects() {
        let schema = crate::report::results::results_schema();
        assert_eq!(types_at(&schema, "jobs[0].closed_s").unwrap(), ["null", "number"]);
        assert_eq!(types_at(&schema, "jobs[2].duty.repairs").unwrap(), ["integer"]);
        assert_eq!(types_at(&schema, "completion_s.p99").unwrap(), ["null", "number"]);
        assert!(types_at(&schema, "jobs[0].nope").unwrap_err().contains("no `jobs[0].nope`"));
        assert!(steps("a..b").is_err() && steps("a[x]").is_err() && steps("").is_err());
        let doc = json!({ "jobs": [ { "duty": { "repairs": 3 } } ] });
        assert_eq!(value_at(&doc, "jobs[0].duty.repairs"), Some(&json!(3)));
        assert_eq!(value_at(&doc, "jobs[1].duty"), None);
    }
}
