//! Runtime side of tasknet: what the generated code refers to.
//!
//! The code generated from a `tasks.yaml` (by `task_registry!`, the build.rs `Builder` or the
//! `tasknet generate` CLI) names the items of this crate through the facade path `::tasknet`.
//! This crate never depends on the generator.

mod error;
mod registry;
mod state;
mod task;
mod time;

pub use error::{MissingField, StateError, TaskError, TaskErrorKind};
pub use registry::{AgentSpec, FieldSpec, Registry, SourceLocation, TaskSpec};
pub use state::{FieldInfo, LogEntry, RUN_METADATA_FIELDS, TaskState, field_info};
pub use task::{TaskCall, TaskContext, TaskOutput, TaskSet};
pub use time::{Timestamp, now_rfc3339};

/// Items the generated code needs but users should not name. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;

    use crate::{MissingField, StateError};

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
    ) -> Result<Option<serde_json::Value>, StateError> {
        serde_json::to_value(value)
            .map(|v| Some(v).filter(|v| !v.is_null()))
            .map_err(|source| StateError::Type { field, source })
    }

    /// `TaskState::set_json` for one field.
    pub fn from_json<T: serde::de::DeserializeOwned>(
        value: serde_json::Value,
        field: &'static str,
    ) -> Result<T, StateError> {
        serde_json::from_value(value).map_err(|source| StateError::Type { field, source })
    }
}

/// Includes the code that `tasknet_codegen::Builder` wrote into `OUT_DIR` from build.rs.
///
/// `tasknet::include_generated!("tasks")` includes `$OUT_DIR/tasks.rs`, the file the builder
/// names after the yaml file's stem (see `Builder::module_name` to choose another name).
#[macro_export]
macro_rules! include_generated {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
