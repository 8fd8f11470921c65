//! The tasknet generator: `tasks.yaml` (+ `agents.yaml`) -> checked model -> Rust code.
//!
//! Data flows one way: yaml -> [`spec`] (the file as written, with spans) -> [`resolve`] (every
//! error collected, each pointing at the yaml) -> [`model`] -> [`emit`]. The `task_registry!`
//! macro, the build.rs [`Builder`] and the `tasknet` CLI all call [`check`] and [`emit::rust`],
//! so the three routes produce the same code.
//!
//! ```no_run
//! // build.rs, in `fn main()`:
//! if let Err(e) = tasknet_codegen::Builder::new().tasks("tasks.yaml").compile() {
//!     eprintln!("{e}");
//!     std::process::exit(1);
//! }
//! ```

#![deny(missing_docs, unreachable_pub)]

pub mod builder;
pub mod diagnostic;
pub mod emit;
pub use emit::graph;
#[doc(hidden)]
pub mod macro_support;
pub mod model;
pub mod petri;
mod placeholder;
mod resolve;
pub mod settings;
mod source;
mod spec;
mod suggest;
#[doc(hidden)]
pub mod synthetic;
mod types;
mod yaml;

/// The generator's inner stages, for the profiling example (`examples/phases.rs`). Not part
/// of the public API.
#[doc(hidden)]
pub mod __stages {
    use std::time::{Duration, Instant};

    /// How long the yaml parse and the spec pass take on `text`, apart from the rest.
    pub fn parse_and_spec(text: &str) -> (Duration, Duration) {
        let mut sources = crate::Sources::default();
        let id = sources.add(crate::SourceFile::new("tasks.yaml", text));
        let started = Instant::now();
        let root = crate::yaml::parse(id, sources.get(id));
        let parsed = started.elapsed();
        if let Ok(root) = root {
            let mut diags = crate::Diagnostics::default();
            let _ = crate::spec::tasks_file(&root, &mut diags);
        }
        (parsed, started.elapsed() - parsed)
    }
}

use std::fmt;
use std::path::Path;

pub use builder::Builder;
pub use diagnostic::{Diagnostic, Diagnostics, Style};
pub use model::{CustomField, CustomState, Model};
pub use settings::{GenerationSettings, InvalidSetting};
pub use source::{FileId, SourceFile, Sources, Span};

/// A successful check: the model, the files it came from, and the warnings found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The files checked, for rendering the warnings.
    pub sources: Sources,
    /// The checked model: what the emitters read.
    pub model: Model,
    /// What the file does that is likely a mistake but does not stop generation.
    pub warnings: Vec<Diagnostic>,
}

impl Checked {
    /// The warnings rendered rustc-style (empty when there are none).
    pub fn render_warnings(&self, style: diagnostic::Style) -> String {
        diagnostic::render_all(&self.warnings, &self.sources, style)
    }
}

/// A failed check: every error found, and the files they point into.
#[derive(Debug, Clone)]
pub struct CheckFailed {
    /// The files checked, which the diagnostics point into.
    pub sources: Sources,
    /// Every diagnostic found, errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckFailed {
    /// All errors rendered rustc-style.
    pub fn render(&self, style: diagnostic::Style) -> String {
        diagnostic::render_all(&self.diagnostics, &self.sources, style)
    }
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(diagnostic::Style::Plain))
    }
}

impl std::error::Error for CheckFailed {}

/// Parses and checks a tasks file (and an agents file) with the default settings, collecting
/// every error. See [`check_with`].
pub fn check(
    tasks: SourceFile,
    agents: Option<SourceFile>,
    custom_state: Option<&CustomState>,
) -> Result<Checked, CheckFailed> {
    check_with(&GenerationSettings::default(), tasks, agents, custom_state)
}

/// Parses and checks a tasks file (and an agents file) under `settings`, collecting every
/// error, the settings' own included. The model is final: emitters read it as it is.
///
/// `custom_state` describes a hand-written `#[derive(TaskState)]` struct to check the
/// fields against; without it a `State` struct is generated.
pub fn check_with(
    settings: &GenerationSettings,
    tasks: SourceFile,
    agents: Option<SourceFile>,
    custom_state: Option<&CustomState>,
) -> Result<Checked, CheckFailed> {
    let name = settings
        .registry_name()
        .map_or_else(|| registry_name(&tasks.name), str::to_owned);
    let source_hash = source_hash(&tasks, agents.as_ref());
    let tasks_file = tasks.name.clone();
    let mut sources = Sources::default();
    let tasks_id = sources.add(tasks);
    let agents_id = agents.map(|a| sources.add(a));
    let mut diags = Diagnostics::default();
    if let Err(problems) = settings.validate() {
        for problem in problems {
            diags.push(Diagnostic::error(problem.to_string()));
        }
    }

    let tasks_root = yaml::parse(tasks_id, sources.get(tasks_id));
    let agents_root = agents_id.map(|id| yaml::parse(id, sources.get(id)));
    let mut syntax_failed = false;
    for result in std::iter::once(&tasks_root).chain(agents_root.iter()) {
        if let Err(e) = result {
            syntax_failed = true;
            diags.push(
                Diagnostic::error(format!("invalid YAML: {}", e.message))
                    .at(e.span, "the YAML parser stopped here"),
            );
        }
    }
    if syntax_failed {
        return Err(CheckFailed {
            sources,
            diagnostics: diags.into_vec(),
        });
    }
    let tasks_root = tasks_root.expect("syntax errors returned above");
    let file = spec::tasks_file(&tasks_root, &mut diags);
    let agents_file = agents_root
        .map(|root| spec::agents_file(&root.expect("syntax errors returned above"), &mut diags));
    let cx = resolve::Context {
        sources: &sources,
        agents: agents_file.as_ref(),
        custom_state,
        name,
        tasks_file,
        source_hash,
    };
    let model = resolve::resolve(&file, &cx, &mut diags);
    match (model, diags.check()) {
        (Some(_), Ok(warnings)) if settings.is_strict() && !warnings.is_empty() => {
            Err(CheckFailed {
                sources,
                diagnostics: warnings
                    .into_iter()
                    .map(Diagnostic::into_strict_error)
                    .collect(),
            })
        }
        (Some(model), Ok(warnings)) => Ok(Checked {
            sources,
            model,
            warnings,
        }),
        (_, Err(diagnostics)) => Err(CheckFailed {
            sources,
            diagnostics,
        }),
        (None, Ok(_)) => Err(CheckFailed {
            sources,
            diagnostics: vec![Diagnostic::error(
                "internal error: the model was not built, yet no error was reported",
            )],
        }),
    }
}

/// Reads the files from disk and checks them under `settings`; paths are shown as given.
pub fn check_files(
    settings: &GenerationSettings,
    tasks: &Path,
    agents: Option<&Path>,
    custom_state: Option<&CustomState>,
) -> Result<Checked, LoadError> {
    let tasks = read_source(tasks, &tasks.display().to_string())?;
    let agents = agents
        .map(|a| read_source(a, &a.display().to_string()))
        .transpose()?;
    check_with(settings, tasks, agents, custom_state).map_err(LoadError::Check)
}

/// The largest yaml file read (64 MiB; a 100,000-task file is ~4 MiB): reading stops there,
/// so that `/dev/zero` or a runaway generator is refused, not read until memory runs out.
pub const MAX_SOURCE_BYTES: u64 = 64 << 20;

/// Reads a file as a [`SourceFile`] shown as `display`: at most [`MAX_SOURCE_BYTES`], UTF-8
/// (a byte that is not is reported at its line and column).
pub fn read_source(path: &Path, display: &str) -> Result<SourceFile, LoadError> {
    use std::io::Read as _;
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(LoadError::Invalid {
            path: display.to_owned(),
            reason: format!(
                "the file is over {} MiB: refused (tasknet reads yaml files of up to that size)",
                MAX_SOURCE_BYTES >> 20
            ),
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(display, text)),
        Err(e) => {
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let before = &bytes[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Err(LoadError::Invalid {
                path: format!("{display}:{line}:{column}"),
                reason: format!(
                    "byte 0x{:02x} is not UTF-8 (yaml files are UTF-8 text)",
                    bytes[at]
                ),
            })
        }
    }
}

/// A file could not be read, or its content did not check.
#[derive(Debug)]
pub enum LoadError {
    /// A file could not be read.
    Io {
        /// The file, as given.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A file was read and is not a yaml file tasknet takes (too large, not UTF-8).
    Invalid {
        /// The file, as given (with `:line:column` when the problem has a place).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The files were read and did not check.
    Check(CheckFailed),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "cannot read `{path}`: {source}"),
            LoadError::Invalid { path, reason } => write!(f, "{path}: {reason}"),
            LoadError::Check(failed) => failed.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// The pretty-printed items for a checked model, without header.
pub fn generate_rust(model: &Model, settings: &GenerationSettings) -> String {
    emit::rust::pretty(model, settings)
}

/// A whole generated file: the `@generated` header, then the items. This is what the build.rs
/// builder writes and what `tasknet generate` prints.
pub fn generated_file(model: &Model, settings: &GenerationSettings) -> String {
    format!(
        "{}{}",
        generated_header(&model.tasks_file),
        generate_rust(model, settings)
    )
}

/// Plain `//` comments only: the file is `include!`d, where inner attributes are not allowed.
pub fn generated_header(tasks_file: &str) -> String {
    format!(
        "// @generated by tasknet-codegen {} from `{tasks_file}`. Do not edit: edit the yaml.\n\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The registry's name: the tasks file's stem (`config/tasks.yaml` -> `tasks`).
fn registry_name(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tasks".to_owned())
}

/// FNV-1a (64-bit) of the yaml texts: stable across Rust versions, unlike `DefaultHasher`.
fn source_hash(tasks: &SourceFile, agents: Option<&SourceFile>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(tasks.text.as_bytes());
    if let Some(agents) = agents {
        feed(&[0]);
        feed(agents.text.as_bytes());
    }
    format!("{hash:016x}")
}
