//! The build.rs route, in the style of prost-build's `Config`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::emit::petri::Format;
use crate::emit::petri::json::JsOptions;
use crate::settings::GenerationSettings;
use crate::{LoadError, check_with, generated_file, read_source};

/// Generates the registry from build.rs into `OUT_DIR`, with its Petri net beside it
/// (`<module>.petri.json`, `.pnml`, `.petri.dot`, `.petri.mmd`; see [`Builder::petri_dir`] for a
/// copy inside the crate).
///
/// ```no_run
/// // build.rs, in `fn main()`:
/// if let Err(e) = tasknet_codegen::Builder::new()
///     .tasks("tasks.yaml")
///     .agents("agents.yaml")
///     .compile()
/// {
///     eprintln!("{e}");
///     std::process::exit(1);
/// }
/// // src/main.rs: tasknet::include_generated!("tasks");
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    tasks: Option<PathBuf>,
    agents: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    module_name: Option<String>,
    settings: GenerationSettings,
    cargo_directives: bool,
    petri_dir: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the default [`GenerationSettings`].
    pub fn new() -> Self {
        Builder {
            tasks: None,
            agents: None,
            out_dir: None,
            module_name: None,
            settings: GenerationSettings::default(),
            cargo_directives: true,
            petri_dir: None,
        }
    }

    /// The tasks file, relative to the crate root (`CARGO_MANIFEST_DIR`).
    pub fn tasks(mut self, path: impl Into<PathBuf>) -> Self {
        self.tasks = Some(path.into());
        self
    }

    /// The agents file, relative to the crate root.
    pub fn agents(mut self, path: impl Into<PathBuf>) -> Self {
        self.agents = Some(path.into());
        self
    }

    /// Where to write the code; defaults to `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The generated file's stem (`<name>.rs`); defaults to the tasks file's stem.
    pub fn module_name(mut self, name: impl Into<String>) -> Self {
        self.module_name = Some(name.into());
        self
    }

    /// Every generation setting at once (what the macro and the CLI also take).
    pub fn settings(mut self, settings: GenerationSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Warnings are errors: the build fails on a warning, which is reported as an error.
    pub fn strict(mut self, strict: bool) -> Self {
        self.settings = self.settings.with_strict(strict);
        self
    }

    /// The registry's name in the execution log; defaults to the tasks file's stem.
    pub fn registry_name(mut self, name: impl Into<String>) -> Self {
        self.settings = self.settings.with_registry_name(name);
        self
    }

    /// The path through which generated code names the runtime (default `::tasknet`).
    pub fn crate_path(mut self, path: impl Into<String>) -> Self {
        self.settings = self.settings.with_crate_path(path);
        self
    }

    /// Where the Petri net's `logica` sends tasks and how long it waits (default
    /// `ws://localhost:6308`, 30 s).
    pub fn js_options(mut self, options: JsOptions) -> Self {
        self.settings = self.settings.with_js(options);
        self
    }

    /// Which Petri-net files to write next to the code, as `<module>.<extension>` (default:
    /// all of [`Format::ALL`]; an empty list writes none).
    pub fn petri_formats(mut self, formats: &[Format]) -> Self {
        self.settings = self.settings.with_petri_formats(formats);
        self
    }

    /// Also write the Petri-net files into this directory of the crate (relative to the crate
    /// root), e.g. to commit them or serve them; each only when its content changed.
    pub fn petri_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.petri_dir = Some(dir.into());
        self
    }

    /// Whether to print `cargo::rerun-if-changed` and `cargo::error` lines (default: true).
    pub fn cargo_directives(mut self, yes: bool) -> Self {
        self.cargo_directives = yes;
        self
    }

    /// Checks the yaml and writes `<out_dir>/<module>.rs` if its content changed. Returns the
    /// path written. Errors are also printed as `cargo::error=` lines with their yaml location.
    pub fn compile(self) -> Result<PathBuf, BuildError> {
        let result = self.compile_inner();
        if self.cargo_directives
            && let Err(e) = &result
        {
            for line in e.one_line_errors() {
                println!("cargo::error={line}");
            }
        }
        result
    }

    fn compile_inner(&self) -> Result<PathBuf, BuildError> {
        let tasks = self.tasks.as_ref().ok_or(BuildError::NoTasksFile)?;
        let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let locate = |p: &Path| match &root {
            Some(root) => root.join(p),
            None => p.to_path_buf(),
        };
        if self.cargo_directives {
            for p in std::iter::once(tasks).chain(self.agents.as_ref()) {
                println!("cargo::rerun-if-changed={}", p.display());
            }
        }
        let tasks_source = read_source(&locate(tasks), &tasks.display().to_string())?;
        let agents_source = self
            .agents
            .as_ref()
            .map(|a| read_source(&locate(a), &a.display().to_string()))
            .transpose()?;
        if self.settings.state().is_some() {
            return Err(BuildError::StateNeedsMacro);
        }
        let checked = check_with(&self.settings, tasks_source, agents_source, None)
            .map_err(LoadError::Check)?;
        if self.cargo_directives {
            for warning in &checked.warnings {
                println!("cargo::warning={}", warning.one_line(&checked.sources));
            }
        }
        let code = generated_file(&checked.model, &self.settings);
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        let stem = self
            .module_name
            .clone()
            .unwrap_or_else(|| checked.model.name.clone());
        let path = out_dir.join(format!("{stem}.rs"));
        let write = |path: PathBuf, text: &str| {
            write_if_changed(&path, text.as_bytes())
                .map(|_| ())
                .map_err(|source| BuildError::Write { path, source })
        };
        write(path.clone(), &code)?;
        let formats = self.settings.petri_formats();
        if !formats.is_empty() {
            // The generated code already failed to compile if the net were unsound.
            let net = crate::petri::build(&checked.model);
            let dirs = std::iter::once(out_dir).chain(self.petri_dir.as_deref().map(locate));
            for dir in dirs {
                for format in formats {
                    let file = dir.join(format!("{stem}.{}", format.extension()));
                    write(
                        file,
                        &format.render(&net, &checked.model, self.settings.js()),
                    )?;
                }
            }
        }
        Ok(path)
    }
}

/// Writes `contents` unless the file already holds exactly that, so that an unchanged yaml
/// does not touch the file's mtime (and does not trigger rebuilds). Only a regular file of the
/// same length is read to compare (never more than `contents`' length): a device or a FIFO
/// is written to, not read.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.is_file()
        && meta.len() == contents.len() as u64
        && same_contents(path, contents).unwrap_or(false)
    {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)?;
    Ok(true)
}

fn same_contents(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    use std::io::Read as _;
    let mut old = Vec::with_capacity(contents.len());
    std::fs::File::open(path)?
        .take(contents.len() as u64 + 1)
        .read_to_end(&mut old)?;
    Ok(old == contents)
}

/// Why [`Builder::compile`] failed.
#[derive(Debug)]
pub enum BuildError {
    /// No `.tasks(..)` was given.
    NoTasksFile,
    /// Neither `OUT_DIR` nor `.out_dir(..)`.
    NoOutDir,
    /// A hand-written state needs the `task_registry!` macro: its fields come from its derive.
    StateNeedsMacro,
    /// A file could not be read, or did not check.
    Load(LoadError),
    /// An output file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl BuildError {
    /// One line per error, located: what `cargo::error=` prints.
    pub fn one_line_errors(&self) -> Vec<String> {
        match self {
            BuildError::Load(LoadError::Check(failed)) => failed
                .diagnostics
                .iter()
                .map(|d| d.one_line(&failed.sources))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

impl From<LoadError> for BuildError {
    fn from(e: LoadError) -> Self {
        BuildError::Load(e)
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoTasksFile => {
                f.write_str("tasknet Builder: no tasks file given (call `.tasks(\"tasks.yaml\")`)")
            }
            BuildError::NoOutDir => f.write_str(
                "tasknet Builder: OUT_DIR is not set (run from build.rs, or call `.out_dir(..)`)",
            ),
            BuildError::StateNeedsMacro => f.write_str(
                "tasknet Builder: a hand-written `#[derive(TaskState)]` state needs the `task_registry!(state = ..)` route (the derive tells the macro its fields)",
            ),
            BuildError::Load(e) => e.fmt(f),
            BuildError::Write { path, source } => {
                write!(
                    f,
                    "tasknet Builder: cannot write `{}`: {source}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for BuildError {}
