//! Why a task or a run did not succeed.

use std::fmt;

use crate::TaskErrorKind;
use crate::storage::StorageError;

/// A task that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub task: String,
    pub kind: TaskErrorKind,
    pub message: String,
    pub attempts: u32,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task `{}` ", self.task)?;
        match self.kind {
            TaskErrorKind::Timeout => write!(f, "timed out")?,
            TaskErrorKind::Panicked => write!(f, "panicked")?,
            TaskErrorKind::MissingField => write!(f, "could not start")?,
            TaskErrorKind::Failed => write!(f, "failed")?,
            TaskErrorKind::RunNotOpen => write!(f, "was not run")?,
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a run or a replay did not complete.
#[derive(Debug)]
pub enum RunError {
    /// Kickoff inputs the registry declares were not given.
    MissingInputs { inputs: Vec<String> },
    /// Tasks failed; their dependants were skipped, the other branches finished. Everything is
    /// in the log under `run_id`.
    TasksFailed {
        run_id: String,
        failures: Vec<TaskFailure>,
        skipped: Vec<String>,
    },
    /// The log could not be written or read.
    Storage(StorageError),
    /// A replay named a run the log does not have.
    UnknownRun { run_id: String, storage: String },
    /// A replay named a task the registry does not have.
    UnknownTask { task: String, known: Vec<String> },
    /// The run to replay was made by another version of the yaml.
    RegistryMismatch {
        run_id: String,
        stored: String,
        current: String,
    },
    /// The state before the replayed task cannot be rebuilt from the log.
    NotRestorable { run_id: String, reason: String },
    /// Tasks ask for human input (`human_input: true`) and no one can give it.
    NoHumanInput { tasks: Vec<String> },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::MissingInputs { inputs } => write!(
                f,
                "missing kickoff input{}: {} (the registry declares {} under `inputs`)",
                if inputs.len() == 1 { "" } else { "s" },
                inputs
                    .iter()
                    .map(|i| format!("`{i}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if inputs.len() == 1 { "it" } else { "them" }
            ),
            RunError::TasksFailed {
                run_id,
                failures,
                skipped,
            } => {
                write!(f, "run {run_id} failed: ")?;
                let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
                f.write_str(&failures.join("; "))?;
                if !skipped.is_empty() {
                    write!(f, "; not run because of it: {}", skipped.join(", "))?;
                }
                Ok(())
            }
            RunError::Storage(e) => e.fmt(f),
            RunError::UnknownRun { run_id, storage } => {
                write!(f, "there is no run `{run_id}` in {storage}")
            }
            RunError::UnknownTask { task, known } => write!(
                f,
                "there is no task `{task}` in the registry (its tasks: {})",
                known.join(", ")
            ),
            RunError::RegistryMismatch {
                run_id,
                stored,
                current,
            } => write!(
                f,
                "run {run_id} was made from another version of the tasks file (hash {stored}, now {current}); replaying it could mix incompatible outputs; force the replay to do it anyway"
            ),
            RunError::NotRestorable { run_id, reason } => {
                write!(f, "cannot rebuild the state of run {run_id}: {reason}")
            }
            RunError::NoHumanInput { tasks } => write!(
                f,
                "{} `{}` ask{} for human input (`human_input: true`), but no one can give it: run on a terminal, or give the runner a reviewer in code (`Runner::human_input`)",
                if tasks.len() == 1 { "task" } else { "tasks" },
                tasks.join("`, `"),
                if tasks.len() == 1 { "s" } else { "" },
            ),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StorageError> for RunError {
    fn from(e: StorageError) -> Self {
        RunError::Storage(e)
    }
}
