use std::io::Write;

use serde_json::json;

use super::{ReadSummary, Storage, StorageError};
use crate::log::{RunRecord, TaskRecord};

fn io_error(target: String) -> impl Fn(std::io::Error) -> StorageError {
    move |e| StorageError::new("write the export", &target, e)
}

/// What an export writes, one at a time.
enum Record<'a> {
    Run(&'a RunRecord),
    Task(&'a RunRecord, &'a TaskRecord),
}

/// Walks every readable run and its readable task records, oldest first, counting the records
/// `write` says it wrote; rows that cannot be read go to the summary.
fn each_record(
    storage: &dyn Storage,
    mut write: impl FnMut(Record<'_>) -> std::io::Result<usize>,
) -> Result<ReadSummary, StorageError> {
    let io = io_error(storage.describe());
    let mut summary = ReadSummary::default();
    for run in storage.runs_each()? {
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                summary.unreadable.push(e);
                continue;
            }
        };
        summary.records += write(Record::Run(&run)).map_err(&io)?;
        for task in storage.tasks_each(&run.id)? {
            match task {
                Ok(task) => summary.records += write(Record::Task(&run, &task)).map_err(&io)?,
                Err(e) => summary.unreadable.push(e),
            }
        }
    }
    Ok(summary)
}

/// Every run with its task records as JSON Lines: one line per run, then one per task. A row
/// that cannot be read is left out and named in the summary; the others are all written.
pub fn export_jsonl(
    storage: &dyn Storage,
    out: &mut dyn Write,
) -> Result<ReadSummary, StorageError> {
    each_record(storage, |record| {
        let line = match record {
            Record::Run(run) => json!({"type": "run", "run": run}),
            Record::Task(_, task) => json!({"type": "task", "task": task}),
        };
        writeln!(out, "{line}").map(|()| 1)
    })
}

const CSV_HEADER: &str = "run_id,registry,run_status,task_index,task_name,status,was_replayed,attempts,started_at,finished_at,duration_ms,error_kind,error,inputs,output";

/// One CSV row per task record (RFC 4180 quoting), with its run's registry and status. A cell
/// a spreadsheet would run as a formula is neutralised ([`csv_cell`]); a row that cannot be
/// read is left out and named in the summary.
pub fn export_csv(storage: &dyn Storage, out: &mut dyn Write) -> Result<ReadSummary, StorageError> {
    writeln!(out, "{CSV_HEADER}").map_err(io_error(storage.describe()))?;
    each_record(storage, |record| match record {
        Record::Run(_) => Ok(0),
        Record::Task(run, task) => {
            let status = serde_json::to_value(run.status).unwrap_or_default();
            let row = csv_row(&run.registry, status.as_str().unwrap_or(""), task);
            writeln!(out, "{row}").map(|()| 1)
        }
    })
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
    .map(|field| csv_cell(field))
    .collect::<Vec<_>>()
    .join(",")
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break (RFC 4180), and, when it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return, prefixed with `'` so that a
/// spreadsheet shows it instead of running it as a formula (OWASP's rule for CSV injection).
pub fn csv_cell(field: &str) -> String {
    let neutral = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}
