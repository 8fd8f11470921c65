//! `tasknet`: check a tasks.yaml and generate its Rust code (the same code the
//! `task_registry!` macro and the build.rs `Builder` produce) and its Petri net or task graph;
//! read and export execution logs; scaffold a crew project (`tasknet new`).

mod scaffold;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tasknet_codegen::emit::petri::Format;
use tasknet_codegen::petri;
use tasknet_codegen::{
    Checked, GenerationSettings, LoadError, Style, check_files, generated_file, graph,
};
use tasknet_runtime::StorageError;
use tasknet_runtime::storage::{LogLocation, ReadSummary, export_csv, export_jsonl};
use tasknet_runtime::{Storage, report};

#[derive(Parser)]
#[command(
    name = "tasknet",
    version,
    about = "CrewAI-style tasks.yaml -> typed Rust, checked"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a tasks.yaml: every error at once, rustc-style; exit 1 when there is one.
    Check {
        /// The tasks file.
        tasks: PathBuf,
        /// The agents file, to check each task's `agent`.
        #[arg(long)]
        agents: Option<PathBuf>,
        /// Warnings are errors.
        #[arg(long)]
        strict: bool,
    },
    /// Print the generated Rust code (what `task_registry!` expands to), pretty-printed.
    Generate {
        /// The tasks file.
        tasks: PathBuf,
        /// The agents file.
        #[arg(long)]
        agents: Option<PathBuf>,
        /// Write to this file (only when the content changed) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Print the Petri net of a tasks.yaml (checked for soundness first).
    Petri {
        /// The tasks file.
        tasks: PathBuf,
        /// The agents file (its agents go into the net's `agentes`).
        #[arg(long)]
        agents: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "json")]
        format: NetFormat,
        /// Write to this file (only when the content changed) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Print the task dependency graph alone, edges labelled with the fields that flow.
    Graph {
        /// The tasks file.
        tasks: PathBuf,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
        /// Write to this file (only when the content changed) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Print the runs of an execution log, or one run's task outputs.
    Log {
        /// The log: an SQLite file written by a tasknet runner (a path or `sqlite:PATH`), or a
        /// PostgreSQL database (`postgres://user@host/db`).
        #[arg(env = "TASKNET_LOG", hide_env_values = true)]
        db: String,
        /// The run to show.
        #[arg(long)]
        run: Option<String>,
    },
    /// Create a crew project (tasks.yaml, agents.yaml, src/main.rs, a test, a README) from
    /// the same template as `cargo generate --path <tasknet>/template`.
    New {
        /// The project's name (a crate name: `my-crew`).
        name: String,
        /// Generate the registry in build.rs (tasknet_codegen::Builder) instead of with the
        /// task_registry! macro.
        #[arg(long)]
        build_rs: bool,
        /// Depend on this local tasknet checkout (by path) instead of the git repository.
        #[arg(long, value_name = "DIR")]
        tasknet_path: Option<PathBuf>,
        /// The directory to create (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Export an execution log: every run and task record.
    Export {
        /// The log: an SQLite file (a path or `sqlite:PATH`), or a PostgreSQL database
        /// (`postgres://user@host/db`).
        #[arg(env = "TASKNET_LOG", hide_env_values = true)]
        db: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// The generation settings, as flags: the same options as the macro's arguments and the
/// builder's methods (`tasknet_codegen::GenerationSettings`).
#[derive(Args)]
struct SettingsArgs {
    /// The registry's name (the log's `registry`, the net's `nome`); defaults to the tasks
    /// file's stem.
    #[arg(long)]
    name: Option<String>,
    /// The path through which the generated code names the runtime.
    #[arg(long, default_value = "::tasknet")]
    crate_path: String,
    /// Where each place's `logica` sends its task.
    #[arg(long, default_value = "ws://localhost:6308")]
    ws_url: String,
    /// How long each place's `logica` waits for its task, in milliseconds.
    #[arg(long, alias = "timeout-ms", default_value_t = 30_000)]
    ws_timeout_ms: u64,
    /// Warnings are errors.
    #[arg(long)]
    strict: bool,
}

impl SettingsArgs {
    fn settings(&self) -> GenerationSettings {
        let settings = GenerationSettings::new()
            .with_strict(self.strict)
            .with_crate_path(&self.crate_path)
            .with_ws_url(&self.ws_url)
            .with_ws_timeout_ms(self.ws_timeout_ms);
        match &self.name {
            Some(name) => settings.with_registry_name(name),
            None => settings,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NetFormat {
    Json,
    Pnml,
    Dot,
    Mermaid,
}

impl From<NetFormat> for Format {
    fn from(f: NetFormat) -> Self {
        match f {
            NetFormat::Json => Format::Json,
            NetFormat::Pnml => Format::Pnml,
            NetFormat::Dot => Format::Dot,
            NetFormat::Mermaid => Format::Mermaid,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

/// A reader that closed the pipe (`| head`) is not an error worth a message.
fn quiet_on_broken_pipe(e: tasknet_runtime::StorageError) -> Result<(), String> {
    let broken = e
        .source
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    if broken {
        Ok(())
    } else {
        Err(format!("error: {e}"))
    }
}

/// Opens an existing log to read it (a path, `sqlite:PATH`, `postgres://`; see
/// `storage::LogLocation`):
/// never writes to it; a missing, empty or foreign file is an error, not a new empty log.
fn open_log(db: &str) -> Result<Arc<dyn Storage>, String> {
    let location = LogLocation::parse(db).map_err(|e| format!("error: {e}"))?;
    location.open_read_only().map_err(|e| format!("error: {e}"))
}

/// Names every row a listing or export could not read, on stderr; the exit code says so.
fn report_unreadable(summary: &ReadSummary) -> ExitCode {
    if summary.unreadable.is_empty() {
        return ExitCode::SUCCESS;
    }
    for row in &summary.unreadable {
        eprintln!("error: {row}");
    }
    eprintln!(
        "error: {} stored row{} could not be read; everything else was",
        summary.unreadable.len(),
        plural(summary.unreadable.len())
    );
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn load(
    settings: &GenerationSettings,
    tasks: &Path,
    agents: Option<&PathBuf>,
) -> Result<Checked, String> {
    let style = if std::io::stderr().is_terminal() {
        Style::Color
    } else {
        Style::Plain
    };
    let checked =
        check_files(settings, tasks, agents.map(PathBuf::as_path), None).map_err(|e| match e {
            LoadError::Check(failed) => failed.render(style),
            io => format!("error: {io}"),
        })?;
    if !checked.warnings.is_empty() {
        eprintln!("{}", checked.render_warnings(style));
    }
    Ok(checked)
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::New {
            name,
            build_rs,
            tasknet_path,
            dir,
        } => {
            let project = scaffold::NewProject {
                name,
                dir,
                route: if build_rs {
                    scaffold::Route::BuildRs
                } else {
                    scaffold::Route::Macro
                },
                tasknet_path,
            };
            let dir = scaffold::create(&project)?;
            to_stdout(&format!(
                "created {}: edit tasks.yaml, agents.yaml and src/main.rs, then `cargo run`\n",
                dir.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            tasks,
            agents,
            strict,
        } => {
            let settings = GenerationSettings::default().with_strict(strict);
            let checked = load(&settings, &tasks, agents.as_ref())?;
            to_stdout(&format!("{}\n", summary(&checked)))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            tasks,
            agents,
            output,
            settings,
        } => {
            let settings = settings.settings();
            let checked = load(&settings, &tasks, agents.as_ref())?;
            let code = generated_file(&checked.model, &settings);
            write_output(output.as_deref(), &code)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Petri {
            tasks,
            agents,
            format,
            output,
            settings,
        } => {
            let settings = settings.settings();
            let checked = load(&settings, &tasks, agents.as_ref())?;
            let net = petri::build(&checked.model);
            petri::check(&net).map_err(|e| {
                format!("error: internal error: the Petri net of this file is not sound ({e}); please report it")
            })?;
            let text = Format::from(format).render(&net, &checked.model, settings.js());
            write_output(output.as_deref(), &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph {
            tasks,
            format,
            output,
        } => {
            let checked = load(&GenerationSettings::default(), &tasks, None)?;
            let text = match format {
                GraphFormat::Mermaid => graph::to_mermaid(&checked.model),
                GraphFormat::Dot => graph::to_dot(&checked.model),
            };
            write_output(output.as_deref(), &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Log { db, run } => {
            let storage = open_log(&db)?;
            let mut out = std::io::stdout().lock();
            let printed = match run {
                None => report::print_runs(storage.as_ref(), &mut out),
                Some(id) => {
                    let record = storage
                        .run(&id)
                        .map_err(|e| format!("error: {e}"))?
                        .ok_or_else(|| {
                            format!(
                                "error: there is no run `{}` in {db}",
                                report::printable(&id)
                            )
                        })?;
                    report::print_run(storage.as_ref(), &record, &mut out)
                }
            };
            match printed.and_then(|summary| {
                out.flush()
                    .map_err(|e| StorageError::new("print the log", storage.describe(), e))?;
                Ok(summary)
            }) {
                Ok(summary) => Ok(report_unreadable(&summary)),
                Err(e) => quiet_on_broken_pipe(e).map(|()| ExitCode::SUCCESS),
            }
        }
        Command::Export { db, format, output } => {
            let storage = open_log(&db)?;
            let export = |out: &mut dyn Write| match format {
                ExportFormat::Jsonl => export_jsonl(storage.as_ref(), out),
                ExportFormat::Csv => export_csv(storage.as_ref(), out),
            };
            let Some(path) = output else {
                let mut out = std::io::stdout().lock();
                let exported = export(&mut out).and_then(|summary| {
                    out.flush()
                        .map_err(|e| StorageError::new("write the export", "stdout", e))?;
                    Ok(summary)
                });
                return match exported {
                    Ok(summary) => Ok(report_unreadable(&summary)),
                    Err(e) => quiet_on_broken_pipe(e).map(|()| ExitCode::SUCCESS),
                };
            };
            // Written next to the target and renamed into place: FILE is the old export or
            // the whole new one, never a part.
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let mut temp = tempfile::Builder::new()
                .prefix(".tasknet-export-")
                .tempfile_in(&dir)
                .map_err(|e| format!("error: cannot create a file in `{}`: {e}", dir.display()))?;
            let summary = {
                let mut out = std::io::BufWriter::new(temp.as_file_mut());
                let summary = export(&mut out).map_err(|e| format!("error: {e}"))?;
                out.flush()
                    .map_err(|e| format!("error: cannot write the export: {e}"))?;
                summary
            };
            temp.as_file()
                .sync_all()
                .map_err(|e| format!("error: cannot write the export: {e}"))?;
            temp.persist(&path)
                .map_err(|e| format!("error: cannot write `{}`: {}", path.display(), e.error))?;
            eprintln!("exported {} records", summary.records);
            Ok(report_unreadable(&summary))
        }
    }
}

/// Writes to `path` when the content changed, or to stdout.
fn write_output(path: Option<&Path>, text: &str) -> Result<(), String> {
    match path {
        Some(path) => {
            tasknet_codegen::builder::write_if_changed(path, text.as_bytes())
                .map_err(|e| format!("error: cannot write `{}`: {e}", path.display()))?;
        }
        None => to_stdout(text)?,
    }
    Ok(())
}

/// Writes to stdout: a closed pipe (`| head`) ends quietly, any other failure (a full disk,
/// `> /dev/full`) is an error, never a success with nothing written.
fn to_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("error: cannot write to stdout: {e}")),
    }
}

/// `tasks.yaml: ok: 4 tasks, 7 fields (2 inputs), order: a -> b -> c`.
fn summary(checked: &Checked) -> String {
    let m = &checked.model;
    let inputs = m.inputs().count();
    let names: Vec<&str> = m.order.iter().map(|&i| m.tasks[i].name.as_str()).collect();
    // A long order is shown by its ends: the line stays one line.
    let order = if names.len() > 12 {
        format!(
            "{} -> ... ({} more) -> {}",
            names[..5].join(" -> "),
            names.len() - 10,
            names[names.len() - 5..].join(" -> ")
        )
    } else if names.is_empty() {
        "(no task)".to_owned()
    } else {
        names.join(" -> ")
    };
    let warnings = match checked.warnings.len() {
        0 => String::new(),
        n => format!(", {n} warning{}", plural(n)),
    };
    format!(
        "{}: ok{warnings}: {} task{}, {} field{} ({} input{}), order: {}",
        m.tasks_file,
        m.tasks.len(),
        plural(m.tasks.len()),
        m.fields.len(),
        plural(m.fields.len()),
        inputs,
        plural(inputs),
        order
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
