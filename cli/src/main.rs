//! `tasknet`: check a tasks.yaml and generate its Rust code, the same code the
//! `task_registry!` macro and the build.rs `Builder` produce.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quote::ToTokens;
use tasknet_codegen::{Checked, LoadError, RustOptions, Style, check_files, generated_file};

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
        /// The path through which the generated code names the runtime.
        #[arg(long, default_value = "::tasknet")]
        crate_path: String,
    },
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

fn load(tasks: &Path, agents: Option<&PathBuf>) -> Result<Checked, String> {
    let style = if std::io::stderr().is_terminal() {
        Style::Color
    } else {
        Style::Plain
    };
    check_files(tasks, agents.map(PathBuf::as_path), None).map_err(|e| match e {
        LoadError::Check(failed) => failed.render(style),
        io => format!("error: {io}"),
    })
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Check { tasks, agents } => {
            let checked = load(&tasks, agents.as_ref())?;
            println!("{}", summary(&checked));
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate {
            tasks,
            agents,
            output,
            crate_path,
        } => {
            let checked = load(&tasks, agents.as_ref())?;
            let crate_path = syn::parse_str::<syn::Path>(&crate_path)
                .map_err(|_| format!("error: `{crate_path}` is not a Rust path"))?
                .to_token_stream();
            let code = generated_file(&checked.model, &RustOptions { crate_path });
            match output {
                Some(path) => {
                    tasknet_codegen::builder::write_if_changed(&path, code.as_bytes())
                        .map_err(|e| format!("error: cannot write `{}`: {e}", path.display()))?;
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    // A closed pipe (`| head`) is not an error worth a message.
                    let _ = stdout.write_all(code.as_bytes());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
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
    } else {
        names.join(" -> ")
    };
    format!(
        "{}: ok: {} task{}, {} field{} ({} input{}), order: {}",
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
