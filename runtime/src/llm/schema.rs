//! The JSON Schema of a task's output, from the types its `produces` names: an object with
//! exactly those fields, all required, nothing else (what OpenAI's strict mode asks for).

use serde_json::{Map, Value, json};

use crate::{FieldSpec, TaskSpec};

use super::client::OutputSchema;

/// The schema a typed answer of `task` must match, or `None` for a task whose output is one
/// text (a CrewAI task's `<task>_output: String`), which is asked for as plain text.
pub fn output_schema(task: &TaskSpec) -> Option<OutputSchema> {
    if text_output(task.name, task.produces).is_some() || task.produces.is_empty() {
        return None;
    }
    Some(OutputSchema {
        name: schema_name(task.name),
        schema: object_schema(task.produces),
    })
}

/// The one field of a task answered as plain text: a CrewAI task's `<task>_output: String`.
pub fn text_output(task: &str, produces: &'static [FieldSpec]) -> Option<&'static str> {
    match produces {
        [only] if only.ty == "String" && only.name.strip_suffix("_output") == Some(task) => {
            Some(only.name)
        }
        _ => None,
    }
}

/// `{"type": "object", "properties": ..., "required": [every field], "additionalProperties":
/// false}`.
pub fn object_schema(fields: &[FieldSpec]) -> Value {
    let mut properties = Map::new();
    for field in fields {
        properties.insert(field.name.to_owned(), type_schema(field.ty));
    }
    let required: Vec<&str> = fields.iter().map(|f| f.name).collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// [`object_schema`], with the fields whose type the registry's text cannot describe in full
/// (`json`, a user's type, a `Vec` or map of one) described by the Output type's own
/// `JsonSchema` (its `$defs` carried along, made strict).
pub fn output_type_schema<O: schemars::JsonSchema>(fields: &[FieldSpec]) -> Value {
    let mut schema = object_schema(fields);
    let open: Vec<&str> = fields
        .iter()
        .filter(|f| is_open(&type_schema(f.ty)))
        .map(|f| f.name)
        .collect();
    if open.is_empty() {
        return schema;
    }
    let derived = whole_type_schema::<O>();
    for name in open {
        if let Some(property) = derived.get("properties").and_then(|p| p.get(name)) {
            schema["properties"][name] = property.clone();
        }
    }
    if let Some(defs) = derived.get("$defs") {
        schema["$defs"] = defs.clone();
    }
    schema
}

/// The schema of `T` as schemars derives it, made strict as OpenAI's structured outputs ask
/// (every object closed, every property required: an `Option` field is answered `null`),
/// without the `$schema` and `title` keys, which servers have no use for.
pub fn whole_type_schema<T: schemars::JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    make_strict(&mut schema);
    schema
}

fn make_strict(schema: &mut Value) {
    let Value::Object(object) = schema else {
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        let required: Vec<Value> = properties.keys().cloned().map(Value::from).collect();
        properties.values_mut().for_each(make_strict);
        object.insert("required".to_owned(), Value::Array(required));
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (key, sub) in object.iter_mut() {
        match (key.as_str(), sub) {
            ("$defs" | "definitions", Value::Object(defs)) => {
                defs.values_mut().for_each(make_strict)
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(schemas)) => {
                schemas.iter_mut().for_each(make_strict)
            }
            ("items" | "additionalProperties", sub) => make_strict(sub),
            _ => {}
        }
    }
}

/// Whether a schema written by [`type_schema`] leaves some part open (`{}`: any value).
fn is_open(schema: &Value) -> bool {
    match schema {
        Value::Object(object) if object.is_empty() => true,
        Value::Object(object) => object.values().any(is_open),
        Value::Array(items) => items.iter().any(is_open),
        _ => false,
    }
}

/// The schema of a Rust type as the registry writes it: scalars, `Vec`, `Option`, maps with
/// string keys; any other type (`json`, a user's type) is any JSON value, which the parse into
/// the Output type then checks.
pub fn type_schema(ty: &str) -> Value {
    let ty = ty.trim();
    let ty = ty.strip_prefix("::").unwrap_or(ty);
    if let Some(inner) = generic(
        ty,
        &["Vec", "std::vec::Vec", "VecDeque", "BTreeSet", "HashSet"],
    ) {
        return json!({"type": "array", "items": type_schema(inner)});
    }
    if let Some(inner) = generic(ty, &["Option", "std::option::Option"]) {
        return json!({"anyOf": [type_schema(inner), {"type": "null"}]});
    }
    if let Some(args) = generic(
        ty,
        &[
            "HashMap",
            "BTreeMap",
            "std::collections::HashMap",
            "std::collections::BTreeMap",
        ],
    ) && let Some((key, value)) = args.split_once(',')
        && key.trim() == "String"
    {
        return json!({"type": "object", "additionalProperties": type_schema(value)});
    }
    match ty {
        "String" | "str" | "&str" | "&'static str" | "std::string::String" => {
            json!({"type": "string"})
        }
        "bool" => json!({"type": "boolean"}),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => json!({"type": "integer", "minimum": 0}),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => json!({"type": "integer"}),
        "f32" | "f64" => json!({"type": "number"}),
        _ => json!({}),
    }
}

/// `Name<inner>` -> `inner`, for one of `names`.
fn generic<'a>(ty: &'a str, names: &[&str]) -> Option<&'a str> {
    let open = ty.find('<')?;
    let (name, rest) = ty.split_at(open);
    if !names.contains(&name.trim()) || !rest.ends_with('>') {
        return None;
    }
    Some(rest[1..rest.len() - 1].trim())
}

/// The name of `task`'s output schema, as the APIs accept names (`^[a-zA-Z0-9_-]{1,64}$`).
pub fn schema_name(task: &str) -> String {
    let mut name: String = task
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(57)
        .collect();
    name.push_str("_output");
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_to_json_schema() {
        assert_eq!(
            type_schema("Vec<String>"),
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(type_schema("u64"), json!({"type": "integer", "minimum": 0}));
        assert_eq!(
            type_schema("Option<f64>"),
            json!({"anyOf": [{"type": "number"}, {"type": "null"}]})
        );
        assert_eq!(
            type_schema("HashMap<String, bool>"),
            json!({"type": "object", "additionalProperties": {"type": "boolean"}})
        );
        assert_eq!(type_schema("crate::Email"), json!({}));
        let fields = [
            FieldSpec {
                name: "category",
                ty: "String",
            },
            FieldSpec {
                name: "products",
                ty: "Vec<String>",
            },
        ];
        let schema = object_schema(&fields);
        assert_eq!(schema["required"], json!(["category", "products"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema_name("gerar_relatório"), "gerar_relat_rio_output");
    }
}
