//! Replay: a stored run re-run from a task (or that task alone) as a new run linked to it.

use std::collections::HashMap;

use serde_json::Value;

use super::{RunError, Runner, new_run_id};
use crate::log::{ReplayMode, RunRecord, TaskRecord, TaskStatus};
use crate::{Run, TaskSet, TaskState};

/// What a replay re-runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The run to replay (it is never modified: the replay is a new run linked to it).
    pub run_id: String,
    /// The task to start from, or the only task to run.
    pub task: String,
    pub mode: ReplayMode,
    /// Replay even if the run came from another version of the yaml.
    pub force: bool,
}

impl Replay {
    /// Re-run `task` and every task after it.
    pub fn from(run_id: impl Into<String>, task: impl Into<String>) -> Self {
        Replay {
            run_id: run_id.into(),
            task: task.into(),
            mode: ReplayMode::From,
            force: false,
        }
    }

    /// Re-run `task` alone, with the inputs rebuilt from the run.
    pub fn only(run_id: impl Into<String>, task: impl Into<String>) -> Self {
        Replay {
            mode: ReplayMode::Only,
            ..Self::from(run_id, task)
        }
    }

    /// Replay even if the stored run came from another version of the yaml.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }
}

impl<T: TaskSet> Runner<T> {
    /// Replays a stored run as a new run linked to it: the state before the task is rebuilt
    /// from the stored outputs, then the task (and, with [`ReplayMode::From`], every task
    /// after it) runs again, marked `was_replayed`. The stored run is never modified.
    pub async fn replay(&self, replay: &Replay) -> Result<Run<T::State>, RunError> {
        let registry = self.registry();
        self.unanswerable_human_input()?;
        let wanted = replay.run_id.clone();
        let parent = self
            .log_call(move |log| log.run(&wanted))
            .await?
            .ok_or_else(|| RunError::UnknownRun {
                run_id: replay.run_id.clone(),
                storage: self.storage.describe(),
            })?;
        if !replay.force
            && (parent.registry != registry.name || parent.source_hash != registry.source_hash)
        {
            return Err(RunError::RegistryMismatch {
                run_id: parent.id,
                stored: format!("{}:{}", parent.registry, parent.source_hash),
                current: format!("{}:{}", registry.name, registry.source_hash),
            });
        }
        let target = registry
            .task_index(&replay.task)
            .ok_or_else(|| RunError::UnknownTask {
                task: replay.task.clone(),
                known: registry.tasks.iter().map(|t| t.name.to_owned()).collect(),
            })?;
        let not_restorable = |reason: String| RunError::NotRestorable {
            run_id: parent.id.clone(),
            reason,
        };
        let mut state = T::State::default();
        if let Value::Object(inputs) = &parent.inputs {
            for (field, value) in inputs {
                state
                    .set_json(field, value.clone())
                    .map_err(|e| not_restorable(format!("kickoff input: {e}")))?;
            }
        }
        let parent_id = parent.id.clone();
        let stored: HashMap<String, TaskRecord> = self
            .log_call(move |log| log.tasks(&parent_id))
            .await?
            .into_iter()
            .map(|t| (t.task_name.to_string(), t))
            .collect();
        let position = registry
            .order
            .iter()
            .position(|&i| i == target)
            .unwrap_or(0);
        let run_id = new_run_id();
        let mut restored = Vec::with_capacity(position);
        for &i in &registry.order[..position] {
            let name = registry.tasks[i].name;
            let record = stored
                .get(name)
                .filter(|r| matches!(r.status, TaskStatus::Succeeded | TaskStatus::Restored))
                .ok_or_else(|| {
                    not_restorable(format!(
                        "task `{name}` (before `{}`) has no stored output; replay from `{name}` instead",
                        replay.task
                    ))
                })?;
            if let Value::Object(fields) = record.output.value() {
                for (field, value) in fields {
                    state
                        .set_json(&field, value)
                        .map_err(|e| not_restorable(format!("output of `{name}`: {e}")))?;
                }
            }
            state.record(name);
            restored.push(TaskRecord {
                run_id: run_id.clone(),
                task_index: i,
                status: TaskStatus::Restored,
                was_replayed: false,
                ..record.clone()
            });
        }
        let mut to_run = vec![false; registry.tasks.len()];
        match replay.mode {
            ReplayMode::From => registry.order[position..]
                .iter()
                .for_each(|&i| to_run[i] = true),
            ReplayMode::Only => to_run[target] = true,
        }
        let record = RunRecord {
            parent_run: Some(parent.id.clone()),
            replay_task: Some(replay.task.clone()),
            replay_mode: Some(replay.mode),
            ..self.run_record(run_id, parent.inputs.clone())
        };
        let record = self
            .log_call(move |log| {
                log.create_run(&record)?;
                log.put_tasks(restored)?;
                Ok(record)
            })
            .await?;
        self.execute(record.id, state, to_run, true).await
    }
}
