use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::StateError;

/// The seed's names of the run metadata a state carries besides the task fields (the seed keeps
/// them in its state dict); [`TaskState::RUN_METADATA`] says where a given state keeps them.
pub use tasknet_contract::metadata::{RUN_METADATA_FIELDS, RunMetadataKeys};

/// One line of the state's `execution_log`: which task's output was merged, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The task whose output function ran (borrowed from the registry, no copy per task).
    pub task: Cow<'static, str>,
    /// When it ran (RFC 3339, UTC).
    pub timestamp: String,
}

/// A task field of a state type, as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    /// The field's name in the struct and in the yaml.
    pub name: &'static str,
    /// The Rust type of the value (inside `Option` for an optional field), as written.
    pub ty: &'static str,
    /// Whether the field is an `Option` that starts unset.
    pub optional: bool,
}

/// A state that tasks read from and write to by field name.
///
/// Implemented by the `State` struct generated from a `tasks.yaml`, and by a hand-written struct
/// with `#[derive(TaskState)]`. Either way the struct holds the task fields plus the run metadata
/// fields `execution_log: Vec<LogEntry>`, `current_task: Option<String>` and
/// `timestamp: Option<String>`.
pub trait TaskState: Default + Clone + Send + Sync + 'static {
    /// The task fields, in declaration order (the run metadata is not listed).
    const FIELDS: &'static [FieldInfo];

    /// The keys of the run metadata in this state's JSON: the seed's, unless a task field took
    /// one of them (the generated `State` then moves the metadata's key aside).
    const RUN_METADATA: RunMetadataKeys = RunMetadataKeys::SEED;

    /// The field's value as JSON; `Ok(None)` when an optional field is unset.
    fn get_json(&self, field: &str) -> Result<Option<serde_json::Value>, StateError>;

    /// Sets the field from JSON; `null` unsets an optional field.
    fn set_json(&mut self, field: &str, value: serde_json::Value) -> Result<(), StateError>;

    /// Whether the field holds a value (always true for a field that is not an `Option`).
    fn is_set(&self, field: &str) -> Result<bool, StateError>;

    /// Moves every field that is set in `other` into `self`, keeping the fields `other` leaves
    /// unset, and appends `other`'s execution log to this one.
    fn merge(&mut self, other: Self);

    /// Records that `task`'s output was merged: appends to `execution_log`, sets
    /// `current_task` and `timestamp`. Called by every generated output function.
    fn record(&mut self, task: &'static str);

    /// The execution log accumulated so far.
    fn execution_log(&self) -> &[LogEntry];
}

/// Looks a field up in [`TaskState::FIELDS`].
pub fn field_info<S: TaskState>(name: &str) -> Option<&'static FieldInfo> {
    S::FIELDS.iter().find(|f| f.name == name)
}
