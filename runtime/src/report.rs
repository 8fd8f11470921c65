//! The execution log as text: what `<your binary> log` and `tasknet log` print.

use std::io::{self, Write};

use crate::log::{RunRecord, TaskRecord};
use crate::storage::{Storage, StorageError};

fn status_text<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn io(storage: &dyn Storage) -> impl Fn(io::Error) -> StorageError + '_ {
    move |e| StorageError::new("print the log", storage.describe(), e)
}

/// One line per run, oldest first.
pub fn print_runs(storage: &dyn Storage, out: &mut dyn Write) -> Result<usize, StorageError> {
    let runs = storage.runs()?;
    let e = io(storage);
    writeln!(
        out,
        "{:<20} {:<14} {:<24} {:<10} {:>5}  REPLAY OF",
        "RUN", "REGISTRY", "STARTED", "STATUS", "TASKS"
    )
    .map_err(&e)?;
    for run in &runs {
        let tasks = storage.tasks(&run.id)?;
        let ok = tasks
            .iter()
            .filter(|t| matches!(t.status, crate::TaskStatus::Succeeded))
            .count();
        let replay = match (&run.parent_run, &run.replay_task, run.replay_mode) {
            (Some(parent), Some(task), Some(mode)) => {
                format!("{parent} ({} {task})", status_text(mode))
            }
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<20} {:<14} {:<24} {:<10} {:>5}  {replay}",
            run.id,
            shorten(&run.registry, 14),
            run.started_at,
            status_text(run.status),
            format!("{ok}/{}", tasks.len()),
        )
        .map_err(&e)?;
    }
    Ok(runs.len())
}

/// A run and its task records.
pub fn print_run(
    storage: &dyn Storage,
    run: &RunRecord,
    out: &mut dyn Write,
) -> Result<(), StorageError> {
    let e = io(storage);
    writeln!(
        out,
        "run {}  registry {} ({})  {}  started {}  finished {}",
        run.id,
        run.registry,
        run.source_hash,
        status_text(run.status),
        run.started_at,
        run.finished_at.as_deref().unwrap_or("-")
    )
    .map_err(&e)?;
    if let (Some(parent), Some(task)) = (&run.parent_run, &run.replay_task) {
        let mode = run.replay_mode.map(status_text).unwrap_or_default();
        writeln!(out, "replay of {parent}, {mode} `{task}`").map_err(&e)?;
    }
    writeln!(out, "inputs {}", shorten(&run.inputs.to_string(), 100)).map_err(&e)?;
    if let Some(error) = &run.error {
        writeln!(out, "error  {error}").map_err(&e)?;
    }
    writeln!(
        out,
        "{:>3} {:<28} {:<10} {:>8} {:>3} {:<8} OUTPUT / ERROR",
        "#", "TASK", "STATUS", "MS", "TRY", "REPLAYED"
    )
    .map_err(&e)?;
    for t in storage.tasks(&run.id)? {
        writeln!(out, "{}", task_line(&t)).map_err(&e)?;
    }
    Ok(())
}

fn task_line(t: &TaskRecord) -> String {
    let detail = match &t.error {
        Some(error) => format!("{}: {error}", t.error_kind.as_deref().unwrap_or("error")),
        None => t.output.to_string(),
    };
    format!(
        "{:>3} {:<28} {:<10} {:>8.1} {:>3} {:<8} {}",
        t.task_index,
        shorten(&t.task_name, 28),
        status_text(t.status),
        t.duration_ms,
        t.attempts,
        if t.was_replayed { "yes" } else { "" },
        shorten(&detail, 80)
    )
}
