use std::io::Write;

use serde_json::json;

use super::{Storage, StorageError};
use crate::log::TaskRecord;

fn io_error(target: &str) -> impl Fn(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::new("write the export", target, e)
}

/// Every run with its task records as JSON Lines: one line per run, then one per task.
pub fn export_jsonl(storage: &dyn Storage, out: &mut dyn Write) -> Result<usize, StorageError> {
    let target = storage.describe();
    let mut lines = 0;
    for run in storage.runs()? {
        let line = json!({"type": "run", "run": run});
        writeln!(out, "{line}").map_err(io_error(&target))?;
        lines += 1;
        for task in storage.tasks(&run.id)? {
            let line = json!({"type": "task", "task": task});
            writeln!(out, "{line}").map_err(io_error(&target))?;
            lines += 1;
        }
    }
    Ok(lines)
}

const CSV_HEADER: &str = "run_id,registry,run_status,task_index,task_name,status,was_replayed,attempts,started_at,finished_at,duration_ms,error_kind,error,inputs,output";

/// One CSV row per task record (RFC 4180 quoting), with its run's registry and status.
pub fn export_csv(storage: &dyn Storage, out: &mut dyn Write) -> Result<usize, StorageError> {
    let target = storage.describe();
    writeln!(out, "{CSV_HEADER}").map_err(io_error(&target))?;
    let mut rows = 0;
    for run in storage.runs()? {
        let status = serde_json::to_value(run.status).unwrap_or_default();
        for task in storage.tasks(&run.id)? {
            let row = csv_row(&run.registry, status.as_str().unwrap_or(""), &task);
            writeln!(out, "{row}").map_err(io_error(&target))?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn csv_row(registry: &str, run_status: &str, t: &TaskRecord) -> String {
    let status = serde_json::to_value(t.status).unwrap_or_default();
    [
        t.run_id.clone(),
        registry.to_owned(),
        run_status.to_owned(),
        t.task_index.to_string(),
        t.task_name.to_string(),
        status.as_str().unwrap_or("").to_owned(),
        t.was_replayed.to_string(),
        t.attempts.to_string(),
        t.started_at.clone(),
        t.finished_at.clone(),
        format!("{:.3}", t.duration_ms),
        t.error_kind.clone().unwrap_or_default(),
        t.error.clone().unwrap_or_default(),
        t.inputs.as_str().to_owned(),
        t.output.as_str().to_owned(),
    ]
    .iter()
    .map(|field| csv_field(field))
    .collect::<Vec<_>>()
    .join(",")
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
