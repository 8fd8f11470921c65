//! What the execution log holds: runs and task records, and the seed's `ExecutionLog` view.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JsonText;

/// The seed's (and CrewAI's) log entry for one task execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionLog {
    /// The task's stable name (CrewAI uses a fresh uuid per process, which breaks replay).
    pub task_id: String,
    pub expected_output: String,
    /// The task's output: the fields it produced, as a JSON object.
    pub output: Value,
    /// When the task finished (RFC 3339, UTC).
    pub timestamp: String,
    /// The task's index in the registry (file order).
    pub task_index: usize,
    /// The input the task got: its required fields and its input_data, as JSON.
    pub inputs: Value,
    pub was_replayed: bool,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
}

/// How a task of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Succeeded,
    Failed,
    /// Not run: a task it depends on failed.
    Skipped,
    /// Not run: copied from the parent run by a replay, to rebuild the state.
    Restored,
}

impl TaskStatus {
    /// The name stored in the log (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
            TaskStatus::Restored => "restored",
        }
    }
}

/// Which tasks a replay re-runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayMode {
    /// The task and every task after it.
    From,
    /// The task alone.
    Only,
}

/// One run of a registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// The registry's name (the tasks file's stem).
    pub registry: String,
    /// The hash of the yaml the registry was generated from.
    pub source_hash: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
    /// The kickoff inputs, as a JSON object.
    pub inputs: Value,
    /// For a replay: the run it replays.
    pub parent_run: Option<String>,
    /// For a replay: the task it starts from, or the only task it runs.
    pub replay_task: Option<String>,
    pub replay_mode: Option<ReplayMode>,
    /// Why the run failed.
    pub error: Option<String>,
}

/// One task of one run: the seed's `ExecutionLog` and what tasknet adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub run_id: String,
    pub task_index: usize,
    /// The task's stable name: how a replay finds it, even in a reordered file.
    /// Borrowed from the registry when the runner makes the record (no copy per task).
    pub task_name: Cow<'static, str>,
    pub expected_output: Cow<'static, str>,
    /// The task's input: its required fields and its input_data.
    pub inputs: JsonText,
    /// The produced fields, as a JSON object (`null` when the task did not succeed).
    pub output: JsonText,
    pub status: TaskStatus,
    /// `failed`, `timeout`, `panicked`, `missing_field` or `skipped`.
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub was_replayed: bool,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: f64,
    pub attempts: u32,
    /// What the task's agent spent on its LLM, when it used one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmUsage>,
}

/// A task's LLM use: the model, the calls, the server's token counts and the time waited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmUsage {
    /// The model, as the task asked for it.
    pub model: String,
    /// LLM requests made (retries included).
    pub calls: u32,
    /// Prompt tokens, as the server counted them.
    pub prompt_tokens: u64,
    /// Completion tokens, as the server counted them.
    pub completion_tokens: u64,
    /// Time spent waiting for the model, in milliseconds.
    pub llm_ms: f64,
}

impl LlmUsage {
    /// Adds `other`'s calls, tokens and time (the model stays this one's unless unset).
    pub fn add(&mut self, other: &LlmUsage) {
        if self.model.is_empty() {
            self.model.clone_from(&other.model);
        }
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.llm_ms += other.llm_ms;
    }
}

impl TaskRecord {
    /// The names of the fields the task produced (the keys of `output`).
    pub fn produced(&self) -> Vec<String> {
        match self.output.value() {
            Value::Object(fields) => fields.into_iter().map(|(k, _)| k).collect(),
            _ => Vec::new(),
        }
    }

    /// The seed's view of this record.
    pub fn execution_log(&self) -> ExecutionLog {
        ExecutionLog {
            task_id: self.task_name.clone().into_owned(),
            expected_output: self.expected_output.clone().into_owned(),
            output: self.output.value(),
            timestamp: self.finished_at.clone(),
            task_index: self.task_index,
            inputs: self.inputs.value(),
            was_replayed: self.was_replayed,
        }
    }

    /// A record from the seed's view, for the seed's storage handler.
    pub fn from_execution_log(run_id: &str, log: &ExecutionLog) -> Self {
        TaskRecord {
            run_id: run_id.to_owned(),
            task_index: log.task_index,
            task_name: Cow::Owned(log.task_id.clone()),
            expected_output: Cow::Owned(log.expected_output.clone()),
            inputs: JsonText::from(log.inputs.clone()),
            output: JsonText::from(log.output.clone()),
            status: TaskStatus::Succeeded,
            error_kind: None,
            error: None,
            was_replayed: log.was_replayed,
            started_at: log.timestamp.clone(),
            finished_at: log.timestamp.clone(),
            duration_ms: 0.0,
            attempts: 1,
            llm: None,
        }
    }
}
