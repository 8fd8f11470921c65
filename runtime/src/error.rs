use std::error::Error as StdError;
use std::fmt;

/// A task's input function found a field it requires unset in the state.
///
/// The compile-time check guarantees that some task (or a kickoff input) produces every
/// required field; this error means it has not run yet or the input was not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    /// The task whose input could not be built.
    pub task: &'static str,
    /// The state field it requires.
    pub field: &'static str,
}

impl fmt::Display for MissingField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task `{}` requires `{}`, which is not set in the state",
            self.task, self.field
        )
    }
}

impl StdError for MissingField {}

/// Reading or writing a state field by name failed.
#[derive(Debug)]
pub enum StateError {
    /// The state has no field with this name.
    UnknownField(String),
    /// The JSON value does not fit the field's type.
    Type {
        /// The field being read or written.
        field: &'static str,
        /// What serde_json reported.
        source: serde_json::Error,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::UnknownField(name) => write!(f, "the state has no field `{name}`"),
            StateError::Type { field, source } => {
                write!(f, "field `{field}` does not accept this value: {source}")
            }
        }
    }
}

impl StdError for StateError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StateError::UnknownField(_) => None,
            StateError::Type { source, .. } => Some(source),
        }
    }
}

/// What kind of failure a [`TaskError`] is; the server reports it as `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskErrorKind {
    /// The task's own code returned an error.
    Failed,
    /// A required state field was unset when the task was due.
    MissingField,
    /// The task ran past its time limit.
    Timeout,
    /// The task panicked.
    Panicked,
    /// The task was not run: its browser run is not one this runner started and that is
    /// still running, or the task already ran in it. Never in the log (nothing ran).
    RunNotOpen,
}

impl TaskErrorKind {
    /// The stable snake_case name used in logs and in the server protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskErrorKind::Failed => "failed",
            TaskErrorKind::MissingField => "missing_field",
            TaskErrorKind::Timeout => "timeout",
            TaskErrorKind::Panicked => "panicked",
            TaskErrorKind::RunNotOpen => "run_not_open",
        }
    }

    /// The kind [`TaskErrorKind::as_str`] names (a stored record's `error_kind`).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            TaskErrorKind::Failed,
            TaskErrorKind::MissingField,
            TaskErrorKind::Timeout,
            TaskErrorKind::Panicked,
            TaskErrorKind::RunNotOpen,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

impl From<TaskErrorKind> for tasknet_contract::protocol::ErrorKind {
    fn from(kind: TaskErrorKind) -> Self {
        use tasknet_contract::protocol::ErrorKind;
        match kind {
            TaskErrorKind::Failed => ErrorKind::Failed,
            TaskErrorKind::MissingField => ErrorKind::MissingField,
            TaskErrorKind::Timeout => ErrorKind::Timeout,
            TaskErrorKind::Panicked => ErrorKind::Panicked,
            TaskErrorKind::RunNotOpen => ErrorKind::RunNotOpen,
        }
    }
}

/// The error a task method returns.
///
/// Like `anyhow::Error`, any `std::error::Error` converts into it with `?`, and
/// [`TaskError::msg`] builds one from text. It deliberately does not implement
/// `std::error::Error` itself, so that the blanket `From` stays possible.
pub struct TaskError {
    kind: TaskErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl TaskError {
    /// A failure described by a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::with_kind(TaskErrorKind::Failed, message)
    }

    /// A failure of the given kind.
    pub fn with_kind(kind: TaskErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A required field was unset: the kind is [`TaskErrorKind::MissingField`].
    pub fn missing(field: MissingField) -> Self {
        Self::with_kind(TaskErrorKind::MissingField, field.to_string())
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TaskErrorKind {
        self.kind
    }

    /// The message, without the chain of causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The underlying error, when the task error was converted from one.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        TaskError {
            kind: TaskErrorKind::Failed,
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        // The message of a converted error is its Display; list the causes below it.
        let mut cause = self.source.as_deref().and_then(|s| s.source());
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_std_errors_and_keeps_causes() {
        fn parse(s: &str) -> Result<i64, TaskError> {
            Ok(s.parse::<i64>()?)
        }
        let err = parse("x").unwrap_err();
        assert_eq!(err.kind(), TaskErrorKind::Failed);
        assert_eq!(err.to_string(), "invalid digit found in string");
        assert!(err.source().is_some());
    }

    #[test]
    fn missing_field_names_task_and_field() {
        let e = MissingField {
            task: "classify",
            field: "emails",
        };
        assert_eq!(
            e.to_string(),
            "task `classify` requires `emails`, which is not set in the state"
        );
    }
}
