//! Reading a model's answer: the JSON in it (the whole text, a Markdown fence, or the first `{`
//! to the last `}`) and whether it holds the task's fields with their types.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The answer holds every field the task produces, of its type as far as the schema tells.
pub(super) fn check_fields(value: &Value, fields: &[crate::FieldSpec]) -> Result<(), String> {
    let Value::Object(object) = value else {
        return Err("the answer must be a JSON object".to_owned());
    };
    let mut problems = Vec::new();
    for field in fields {
        match object.get(field.name) {
            None => problems.push(format!("missing field `{}`", field.name)),
            Some(found) => {
                if let Some(why) = type_mismatch(found, &super::schema::type_schema(field.ty)) {
                    problems.push(format!("field `{}` {why}", field.name));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Why `value` does not have the JSON type `schema` names (only `type`, `items` and `anyOf`
/// are read: what `type_schema` writes).
fn type_mismatch(value: &Value, schema: &Value) -> Option<String> {
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        return options
            .iter()
            .all(|o| type_mismatch(value, o).is_some())
            .then(|| format!("is {value}, which matches none of its types"));
    }
    let expected = schema.get("type")?.as_str()?;
    let ok = match expected {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => {
            let Some(items) = value.as_array() else {
                return Some(format!("must be an array, not {value}"));
            };
            let item_schema = schema.get("items")?;
            return items
                .iter()
                .find_map(|item| type_mismatch(item, item_schema))
                .map(|why| format!("has an item that {why}"));
        }
        _ => true,
    };
    (!ok).then(|| format!("must be of type {expected}, not {value}"))
}

/// The JSON in a reply: the whole text, or inside a Markdown fence, or from its first `{` to
/// its last `}` (small models wrap their JSON in prose).
pub(super) fn parse_json<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    let text = raw.trim();
    let direct = serde_json::from_str::<T>(text);
    let Err(first) = direct else {
        return direct.map_err(|e| e.to_string());
    };
    let fenced = text
        .split("```")
        .nth(1)
        .map(|inside| inside.trim_start_matches("json").trim());
    let braces = match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => Some(&text[start..=end]),
        _ => None,
    };
    for candidate in [fenced, braces].into_iter().flatten() {
        if let Ok(value) = serde_json::from_str::<T>(candidate) {
            return Ok(value);
        }
    }
    // The error of the most JSON-looking candidate names the field at fault.
    let best = braces.or(fenced).unwrap_or(text);
    Err(serde_json::from_str::<T>(best)
        .err()
        .map_or_else(|| first.to_string(), |e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Out {
        category: String,
    }

    #[test]
    fn json_is_found_in_fences_and_prose() {
        let want = Out {
            category: "order".into(),
        };
        assert_eq!(parse_json::<Out>(r#"{"category":"order"}"#).unwrap(), want);
        assert_eq!(
            parse_json::<Out>("```json\n{\"category\": \"order\"}\n```").unwrap(),
            want
        );
        assert_eq!(
            parse_json::<Out>("Sure! {\"category\": \"order\"} Hope it helps.").unwrap(),
            want
        );
        let e = parse_json::<Out>(r#"{"kind": "order"}"#).unwrap_err();
        assert!(e.contains("unknown field `kind`"), "{e}");
        let e = parse_json::<Out>("{}").unwrap_err();
        assert!(e.contains("missing field `category`"), "{e}");
    }
}
