//! Records to rows and back. Each column is read on its own, so that a row that cannot be
//! decoded is named (`RowError`) and the others are still read.

use std::borrow::Cow;

use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::log::{ReplayMode, RunRecord, RunStatus, TaskRecord, TaskStatus};

pub(crate) const RUN_COLUMNS: &str = "id, registry, source_hash, started_at, finished_at, status, inputs, parent_run, replay_task, replay_mode, error";

/// The columns `task_from_row` reads (the run id is the query's own parameter).
pub(crate) const TASK_COLUMNS: &str = "task_index, task_name, expected_output, inputs, output, status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, llm";

pub(crate) const INSERT_RUN: &str = "INSERT INTO runs (id, registry, source_hash, started_at, finished_at, status, inputs, parent_run, replay_task, replay_mode, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING";

pub(crate) const UPSERT_TASK: &str = "INSERT INTO task_outputs (run_id, task_index, task_name, expected_output, inputs, output, status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, llm) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (run_id, task_name) DO UPDATE SET task_index = excluded.task_index, expected_output = excluded.expected_output, inputs = excluded.inputs, output = excluded.output, status = excluded.status, error_kind = excluded.error_kind, error = excluded.error, was_replayed = excluded.was_replayed, started_at = excluded.started_at, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, attempts = excluded.attempts, llm = excluded.llm";

pub(crate) fn enum_text<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn enum_from<T: serde::de::DeserializeOwned>(text: String) -> Result<T, String> {
    serde_json::from_value(Value::String(text.clone()))
        .map_err(|_| format!("unknown value `{text}`"))
}

/// A run's values in [`INSERT_RUN`]'s order, as owned text where the record holds another type.
pub(crate) struct RunRow<'a> {
    run: &'a RunRecord,
    status: String,
    inputs: String,
    replay_mode: Option<String>,
}

impl<'a> RunRow<'a> {
    pub(crate) fn new(run: &'a RunRecord) -> Self {
        RunRow {
            run,
            status: enum_text(run.status),
            inputs: run.inputs.to_string(),
            replay_mode: run.replay_mode.map(enum_text),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        let r = self.run;
        [
            &r.id,
            &r.registry,
            &r.source_hash,
            &r.started_at,
            &r.finished_at,
            &self.status,
            &self.inputs,
            &r.parent_run,
            &r.replay_task,
            &self.replay_mode,
            &r.error,
        ]
    }
}

/// A task record's values in [`UPSERT_TASK`]'s order.
pub(crate) struct TaskRow<'a> {
    task: &'a TaskRecord,
    text: [&'a str; 5],
    index: i64,
    attempts: i64,
    llm: Option<String>,
}

impl<'a> TaskRow<'a> {
    pub(crate) fn new(task: &'a TaskRecord) -> Self {
        TaskRow {
            task,
            text: [
                &task.task_name,
                &task.expected_output,
                task.inputs.as_str(),
                task.output.as_str(),
                task.status.as_str(),
            ],
            index: task.task_index as i64,
            attempts: i64::from(task.attempts),
            llm: task
                .llm
                .as_ref()
                .map(|usage| serde_json::to_string(usage).unwrap_or_default()),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 15] {
        let t = self.task;
        [
            &t.run_id,
            &self.index,
            &self.text[0],
            &self.text[1],
            &self.text[2],
            &self.text[3],
            &self.text[4],
            &t.error_kind,
            &t.error,
            &t.was_replayed,
            &t.started_at,
            &t.finished_at,
            &t.duration_ms,
            &self.attempts,
            &self.llm,
        ]
    }
}

fn column<'r, T: tokio_postgres::types::FromSql<'r>>(row: &'r Row, i: usize) -> Result<T, String> {
    row.try_get(i)
        .map_err(|e| format!("column `{}`: {e}", row.columns()[i].name()))
}

pub(crate) fn run_from_row(row: &Row) -> Result<RunRecord, String> {
    let inputs: String = column(row, 6)?;
    Ok(RunRecord {
        id: column(row, 0)?,
        registry: column(row, 1)?,
        source_hash: column(row, 2)?,
        started_at: column(row, 3)?,
        finished_at: column(row, 4)?,
        status: enum_from::<RunStatus>(column(row, 5)?)?,
        inputs: serde_json::from_str(&inputs).map_err(|e| format!("inputs: {e}"))?,
        parent_run: column(row, 7)?,
        replay_task: column(row, 8)?,
        replay_mode: column::<Option<String>>(row, 9)?
            .map(enum_from::<ReplayMode>)
            .transpose()?,
        error: column(row, 10)?,
    })
}

/// The run id of a row `run_from_row` refused, for naming it.
pub(crate) fn run_id_lossy(row: &Row) -> String {
    row.try_get::<_, String>(0)
        .unwrap_or_else(|_| "?".to_owned())
}

/// The task name of a row `task_from_row` refused, for naming it.
pub(crate) fn task_name_lossy(row: &Row) -> String {
    row.try_get::<_, String>(1)
        .unwrap_or_else(|_| "?".to_owned())
}

fn task_status(text: &str) -> Result<TaskStatus, String> {
    Ok(match text {
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "skipped" => TaskStatus::Skipped,
        "restored" => TaskStatus::Restored,
        other => return Err(format!("unknown task status `{other}`")),
    })
}

pub(crate) fn task_from_row(row: &Row, run_id: &str) -> Result<TaskRecord, String> {
    let index: i64 = column(row, 0)?;
    let attempts: i64 = column(row, 12)?;
    Ok(TaskRecord {
        run_id: run_id.to_owned(),
        task_index: usize::try_from(index).map_err(|_| format!("task index {index}"))?,
        task_name: Cow::Owned(column(row, 1)?),
        expected_output: Cow::Owned(column(row, 2)?),
        inputs: crate::JsonText::from_store(column(row, 3)?),
        output: crate::JsonText::from_store(column(row, 4)?),
        status: task_status(column(row, 5)?)?,
        error_kind: column(row, 6)?,
        error: column(row, 7)?,
        was_replayed: column(row, 8)?,
        started_at: column(row, 9)?,
        finished_at: column(row, 10)?,
        duration_ms: column(row, 11)?,
        attempts: u32::try_from(attempts).map_err(|_| format!("attempts {attempts}"))?,
        llm: column::<Option<String>>(row, 13)?
            .map(|text| serde_json::from_str(&text).map_err(|e| format!("llm: {e}")))
            .transpose()?,
    })
}
