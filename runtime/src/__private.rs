//! What generated code names, through one short alias (`use ::tasknet::__private as
//! __tasknet;`): re-exports that a user's own `Result` or `Option` cannot shadow, and generic
//! helpers that keep the per-task code small. Not part of the public API.

pub use core::marker::PhantomData;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use std::boxed::Box;
pub use std::string::String;
pub use std::sync::LazyLock;
pub use std::vec::Vec;

pub use schemars;
pub use serde;
pub use serde_json;
/// `json` in tasks.yaml.
pub type Json = serde_json::Value;

pub use crate::petri::PetriNet;
pub use crate::{
    AgentSpec, FieldInfo, FieldSpec, JsonText, LogEntry, MissingField, Registry, RetrySpec,
    RunMetadataKeys, SourceLocation, StateError, TaskCall, TaskContext, TaskError, TaskOutput,
    TaskSet, TaskSpec, TaskState, Tool, now_rfc3339,
};

/// `PETRI_NET`'s initializer. The JSON was generated for this very type and checked at build
/// time, so a failure here is a tasknet bug (tests parse every generated net with it).
pub fn petri_net(json: &str) -> PetriNet {
    PetriNet::from_json(json).unwrap_or_else(|e| {
        panic!("tasknet bug: the generated PETRI_NET_JSON does not parse as a PetriNet: {e}")
    })
}

use std::future::Future;

/// An input function's copy of one required field.
#[inline]
pub fn required<T: Clone>(
    value: &Option<T>,
    task: &'static str,
    field: &'static str,
) -> Result<T, MissingField> {
    match value {
        Some(v) => Ok(v.clone()),
        None => Err(MissingField { task, field }),
    }
}

/// `TaskState::get_json` for one field.
pub fn to_json<T: serde::Serialize>(
    value: &T,
    field: &'static str,
) -> Result<Option<Json>, StateError> {
    serde_json::to_value(value)
        .map(|v| Some(v).filter(|v| !v.is_null()))
        .map_err(|source| StateError::Type { field, source })
}

/// `TaskState::set_json` for one field.
pub fn from_json<T: serde::de::DeserializeOwned>(
    value: Json,
    field: &'static str,
) -> Result<T, StateError> {
    serde_json::from_value(value).map_err(|source| StateError::Type { field, source })
}

/// A task's typed output with the output function that merges it.
struct Merge<S, O> {
    output: O,
    merge: fn(&mut S, O),
}

impl<S: 'static, O: serde::Serialize + Send + 'static> TaskOutput<S> for Merge<S, O> {
    fn to_json(&self) -> Result<JsonText, serde_json::Error> {
        JsonText::of(&self.output)
    }

    fn apply(self: Box<Self>, state: &mut S) {
        (self.merge)(state, self.output);
    }
}

/// One arm of a generated `TaskSet::call`: awaits the user's method, then packs the output
/// with its output function.
pub fn call<'a, S, O, F>(method: F, merge: fn(&mut S, O)) -> TaskCall<'a, S>
where
    S: 'static,
    O: serde::Serialize + Send + 'static,
    F: Future<Output = Result<O, TaskError>> + Send + 'a,
{
    Box::pin(async move {
        let output = method.await?;
        Ok(Box::new(Merge { output, merge }) as Box<dyn TaskOutput<S>>)
    })
}

/// One arm of a generated `TaskSet::input_json`.
pub fn input_json<I: serde::Serialize>(
    input: Result<I, MissingField>,
) -> Result<JsonText, TaskError> {
    let input = input.map_err(TaskError::missing)?;
    Ok(JsonText::of(&input)?)
}

/// `TaskState::record` for the run metadata fields: reuses the buffers of `current_task` and
/// `timestamp`, borrows the task name.
#[inline]
pub fn record(
    log: &mut Vec<LogEntry>,
    current_task: &mut Option<String>,
    timestamp: &mut Option<String>,
    task: &'static str,
) {
    let now = now_rfc3339();
    let current = current_task.get_or_insert_with(String::new);
    current.clear();
    current.push_str(task);
    let stamp = timestamp.get_or_insert_with(String::new);
    stamp.clear();
    stamp.push_str(&now);
    log.push(LogEntry {
        task: std::borrow::Cow::Borrowed(task),
        timestamp: now,
    });
}

/// The generated `State`'s `Serialize`: how many of its fields are written (the set ones).
/// serde's derive sums them in one expression nested as deep as the state has fields, which
/// overflows rustc's stack near 20,000 fields; a generated impl counts them with this instead.
#[inline]
pub fn count_set(set: &[bool]) -> usize {
    set.iter().filter(|&&is_set| is_set).count()
}

/// One optional field of the generated `State`'s `Serialize`: written when set, skipped when
/// not (what `#[serde(skip_serializing_if = "Option::is_none")]` does).
#[inline]
pub fn serialize_optional<S: serde::ser::SerializeStruct, T: serde::Serialize>(
    state: &mut S,
    name: &'static str,
    value: &Option<T>,
) -> Result<(), S::Error> {
    match value {
        Some(value) => state.serialize_field(name, value),
        None => state.skip_field(name),
    }
}

/// A field name while the generated `State`'s `Deserialize` reads a map: borrowed from the
/// input when it can be.
pub struct FieldKey<'de>(pub std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for FieldKey<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = FieldKey<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FieldKey(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldKey(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(FieldKey(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The body of a `Tasks` method left to its agent: the task's input as JSON, the agent's
/// answer parsed into the task's output (docs/agents.md).
pub fn agent_task<I, O, G>(
    ctx: &TaskContext,
    input: I,
    tools: Vec<(&'static str, Tool)>,
    guard: G,
) -> impl Future<Output = Result<O, TaskError>> + Send
where
    I: serde::Serialize,
    O: serde::de::DeserializeOwned + schemars::JsonSchema + Send,
    // The guard borrows the crew (`self`), whose lifetime is not the context's: the future
    // captures both as they are (no single-lifetime bound, which would ask for one lifetime outliving both).
    G: Fn(&O) -> Result<(), String> + Send + Sync,
{
    let input = serde_json::to_value(&input);
    async move {
        let input = input.map_err(|e| {
            TaskError::msg(format!("task `{}`: its input is not JSON: {e}", ctx.task))
        })?;
        agent_output(ctx, input, tools, &guard).await
    }
}

#[cfg(feature = "llm")]
async fn agent_output<O: serde::de::DeserializeOwned + schemars::JsonSchema>(
    ctx: &TaskContext,
    input: serde_json::Value,
    tools: Vec<(&'static str, Tool)>,
    guard: &(dyn Fn(&O) -> Result<(), String> + Sync),
) -> Result<O, TaskError> {
    crate::llm::answer_task(ctx, &input, &tools, guard)
        .await
        .map(|(output, _stats)| output)
}

#[cfg(not(feature = "llm"))]
async fn agent_output<O>(
    ctx: &TaskContext,
    _input: serde_json::Value,
    _tools: Vec<(&'static str, Tool)>,
    _guard: &(dyn Fn(&O) -> Result<(), String> + Sync),
) -> Result<O, TaskError> {
    Err(TaskError::msg(format!(
        "task `{}` is left to its agent, but tasknet was built without its `llm` feature: enable it, or implement the task's method",
        ctx.task
    )))
}
