//! The token's data (the browser's accumulated state, as JSON) to and from the typed state.

use serde_json::{Map, Value};
use tasknet_contract::protocol::ErrorKind;

use crate::{TaskSpec, TaskState};

/// Why a token's data cannot be a task's input: every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// `bad_input` (not an object, unknown fields, wrong types) or `missing_fields`.
    pub kind: ErrorKind,
    pub message: String,
}

/// Decodes `input_data` into the typed state and checks that `task`'s required fields are set.
/// The run metadata (`execution_log`, `current_task`, `timestamp`) is accepted and left to
/// [`encode`], which carries it over.
pub fn decode<S: TaskState>(task: &TaskSpec, input: &Value) -> Result<S, DecodeError> {
    decode_with(task, input, &Map::new())
}

/// [`decode`] on top of the server's own inputs: the state starts from `owned`, and a field
/// of `owned` that `input` sets is refused (`server_owned`), whatever its value.
pub fn decode_with<S: TaskState>(
    task: &TaskSpec,
    input: &Value,
    owned: &Map<String, Value>,
) -> Result<S, DecodeError> {
    let Value::Object(fields) = input else {
        return Err(DecodeError {
            kind: ErrorKind::BadInput,
            message: format!(
                "input_data must be a JSON object (the state), not {}",
                kind_of(input)
            ),
        });
    };
    let taken: Vec<String> = fields
        .keys()
        .filter(|name| owned.contains_key(*name))
        .map(|name| format!("`{name}`"))
        .collect();
    if !taken.is_empty() {
        return Err(DecodeError {
            kind: ErrorKind::ServerOwned,
            message: format!(
                "input_data sets {}, which this server's kickoff inputs own: leave {} out (the server supplies {})",
                taken.join(", "),
                if taken.len() == 1 { "it" } else { "them" },
                if taken.len() == 1 { "it" } else { "them" },
            ),
        });
    }
    let mut state = S::default();
    let mut wrong = Vec::new();
    for (name, value) in owned {
        if let Err(e) = state.set_json(name, value.clone()) {
            wrong.push(format!("the server's input {e}"));
        }
    }
    let mut unknown = Vec::new();
    for (name, value) in fields {
        if S::RUN_METADATA.contains(name) {
            continue;
        }
        if !S::FIELDS.iter().any(|f| f.name == name) {
            unknown.push(format!("`{name}`"));
            continue;
        }
        if let Err(e) = state.set_json(name, value.clone()) {
            wrong.push(e.to_string());
        }
    }
    let mut problems = Vec::new();
    if !unknown.is_empty() {
        let known: Vec<&str> = S::FIELDS.iter().map(|f| f.name).collect();
        problems.push(format!(
            "unknown field{} {} (the state has: {})",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            known.join(", ")
        ));
    }
    problems.extend(wrong);
    if !problems.is_empty() {
        return Err(DecodeError {
            kind: ErrorKind::BadInput,
            message: format!("input_data: {}", problems.join("; ")),
        });
    }
    let missing: Vec<String> = task
        .requires
        .iter()
        .filter(|f| !state.is_set(f).unwrap_or(false))
        .map(|f| format!("`{f}`"))
        .collect();
    if !missing.is_empty() {
        return Err(DecodeError {
            kind: ErrorKind::MissingFields,
            message: format!(
                "task `{}` requires {} but input_data does not set {}",
                task.name,
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            ),
        });
    }
    Ok(state)
}

/// The updated state as the token's new data: the input's fields, overwritten by every field
/// the state holds, the input's `execution_log` followed by the entries this task added, and
/// `current_task` and `timestamp` from the state.
pub fn encode<S: TaskState>(input: &Value, state: &S) -> Value {
    let mut out = match input {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    for field in S::FIELDS {
        if let Ok(Some(value)) = state.get_json(field.name) {
            out.insert(field.name.to_owned(), value);
        }
    }
    let keys = S::RUN_METADATA;
    let mut log = match out.remove(keys.execution_log) {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    for entry in state.execution_log() {
        log.push(serde_json::to_value(entry).unwrap_or(Value::Null));
    }
    if let Some(last) = state.execution_log().last() {
        out.insert(
            keys.current_task.to_owned(),
            Value::from(last.task.as_ref()),
        );
        out.insert(
            keys.timestamp.to_owned(),
            Value::from(last.timestamp.as_str()),
        );
    }
    out.insert(keys.execution_log.to_owned(), Value::Array(log));
    Value::Object(out)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
