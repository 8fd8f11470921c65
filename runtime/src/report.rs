//! The execution log as text: what `<your binary> log` and `tasknet log` print.

use std::io::{self, Write};

use std::borrow::Cow;

use crate::log::{RunRecord, TaskRecord};
use crate::storage::{ReadSummary, Storage, StorageError};

/// Text as it may go to a terminal: control characters (escape sequences, line breaks that
/// would forge table lines, bidirectional overrides) shown escaped, e.g. `\u{1b}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn status_text<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn shorten(text: &str, max: usize) -> String {
    let one_line = printable(text);
    if one_line.chars().count() <= max {
        one_line.into_owned()
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn io(storage: &dyn Storage) -> impl Fn(io::Error) -> StorageError + '_ {
    move |e| StorageError::new("print the log", storage.describe(), e)
}

/// One line per run, oldest first; a row that cannot be read is named in the summary, and
/// the others are still printed.
pub fn print_runs(storage: &dyn Storage, out: &mut dyn Write) -> Result<ReadSummary, StorageError> {
    let e = io(storage);
    let mut summary = ReadSummary::default();
    writeln!(
        out,
        "{:<20} {:<14} {:<24} {:<10} {:>5}  REPLAY OF",
        "RUN", "REGISTRY", "STARTED", "STATUS", "TASKS"
    )
    .map_err(&e)?;
    for run in storage.runs_each()? {
        let run = match run {
            Ok(run) => run,
            Err(problem) => {
                summary.unreadable.push(problem);
                continue;
            }
        };
        let tasks = storage.tasks_each(&run.id)?;
        let ok = tasks
            .iter()
            .filter(|t| matches!(t, Ok(t) if matches!(t.status, crate::TaskStatus::Succeeded)))
            .count();
        let replay = match (&run.parent_run, &run.replay_task, run.replay_mode) {
            (Some(parent), Some(task), Some(mode)) => {
                format!(
                    "{} ({} {})",
                    printable(parent),
                    status_text(mode),
                    printable(task)
                )
            }
            _ => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<20} {:<14} {:<24} {:<10} {:>5}  {replay}",
            printable(&run.id),
            shorten(&run.registry, 14),
            printable(&run.started_at),
            status_text(run.status),
            format!("{ok}/{}", tasks.len()),
        )
        .map_err(&e)?;
        summary.records += 1;
        summary
            .unreadable
            .extend(tasks.into_iter().filter_map(Result::err));
    }
    Ok(summary)
}

/// A run and its task records.
pub fn print_run(
    storage: &dyn Storage,
    run: &RunRecord,
    out: &mut dyn Write,
) -> Result<ReadSummary, StorageError> {
    let e = io(storage);
    let mut summary = ReadSummary::default();
    writeln!(
        out,
        "run {}  registry {} ({})  {}  started {}  finished {}",
        printable(&run.id),
        printable(&run.registry),
        printable(&run.source_hash),
        status_text(run.status),
        printable(&run.started_at),
        printable(run.finished_at.as_deref().unwrap_or("-"))
    )
    .map_err(&e)?;
    if let (Some(parent), Some(task)) = (&run.parent_run, &run.replay_task) {
        let mode = run.replay_mode.map(status_text).unwrap_or_default();
        writeln!(
            out,
            "replay of {}, {mode} `{}`",
            printable(parent),
            printable(task)
        )
        .map_err(&e)?;
    }
    writeln!(out, "inputs {}", shorten(&run.inputs.to_string(), 100)).map_err(&e)?;
    if let Some(error) = &run.error {
        writeln!(out, "error  {}", printable(error)).map_err(&e)?;
    }
    writeln!(
        out,
        "{:>3} {:<28} {:<10} {:>8} {:>3} {:<8} {:>13} OUTPUT / ERROR",
        "#", "TASK", "STATUS", "MS", "TRY", "REPLAYED", "TOKENS IN/OUT"
    )
    .map_err(&e)?;
    let mut llm_total: Option<crate::LlmUsage> = None;
    for t in storage.tasks_each(&run.id)? {
        match t {
            Ok(t) => {
                writeln!(out, "{}", task_line(&t)).map_err(&e)?;
                if let Some(usage) = &t.llm {
                    llm_total.get_or_insert_with(Default::default).add(usage);
                }
                summary.records += 1;
            }
            Err(problem) => summary.unreadable.push(problem),
        }
    }
    if let Some(total) = llm_total {
        writeln!(
            out,
            "llm    {} call{}, {} prompt + {} completion tokens, {:.1} s waiting ({})",
            total.calls,
            if total.calls == 1 { "" } else { "s" },
            total.prompt_tokens,
            total.completion_tokens,
            total.llm_ms / 1000.0,
            printable(&total.model)
        )
        .map_err(&e)?;
    }
    Ok(summary)
}

fn task_line(t: &TaskRecord) -> String {
    let detail = match &t.error {
        Some(error) => format!("{}: {error}", t.error_kind.as_deref().unwrap_or("error")),
        None => t.output.to_string(),
    };
    let tokens = match &t.llm {
        Some(usage) => format!("{}/{}", usage.prompt_tokens, usage.completion_tokens),
        None => "-".to_owned(),
    };
    format!(
        "{:>3} {:<28} {:<10} {:>8.1} {:>3} {:<8} {:>13} {}",
        t.task_index,
        shorten(&t.task_name, 28),
        status_text(t.status),
        t.duration_ms,
        t.attempts,
        if t.was_replayed { "yes" } else { "" },
        tokens,
        shorten(&detail, 80)
    )
}
