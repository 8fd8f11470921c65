//! `tasknet new`: writes a crew project from the cargo-generate template in `cli/template/`,
//! embedded here, so that the two routes share one copy of the template.
//!
//! The files are rendered with Liquid (the engine cargo-generate uses) and the
//! `[conditional]` tables of `cargo-generate.toml` are honoured, with the variables
//! cargo-generate would set: `project-name`, `crate_name` and the template's placeholders.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use heck::{ToKebabCase, ToSnakeCase};

/// The template, as `(path in cli/template/, contents)`; a test checks that this list is
/// exactly the files of `cli/template/`. The manifest is `Cargo.toml.liquid`, which
/// cargo-generate writes as `Cargo.toml` (as `tasknet new` does): a file named `Cargo.toml`
/// would make the template a package of its own, which `cargo package` leaves out of the CLI.
pub const TEMPLATE_FILES: &[(&str, &str)] = &[
    (".gitignore", include_str!("../template/.gitignore")),
    (
        "Cargo.toml.liquid",
        include_str!("../template/Cargo.toml.liquid"),
    ),
    ("README.md", include_str!("../template/README.md")),
    ("agents.yaml", include_str!("../template/agents.yaml")),
    ("build.rs", include_str!("../template/build.rs")),
    (
        "cargo-generate.toml",
        include_str!("../template/cargo-generate.toml"),
    ),
    ("src/main.rs", include_str!("../template/src/main.rs")),
    ("tasks.yaml", include_str!("../template/tasks.yaml")),
];

const CONFIG_FILE: &str = "cargo-generate.toml";

/// The ending cargo-generate strips from a template file's name.
const LIQUID: &str = ".liquid";

/// How the generated project builds its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `tasknet::task_registry!` in `src/main.rs`.
    Macro,
    /// `tasknet_codegen::Builder` in `build.rs`.
    BuildRs,
}

impl Route {
    /// The value of the template's `route` placeholder.
    pub fn placeholder(self) -> &'static str {
        match self {
            Route::Macro => "macro",
            Route::BuildRs => "build-rs",
        }
    }
}

/// What `tasknet new` was asked for.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The project's name, as given (`my-crew`, `MyCrew`, `my_crew`).
    pub name: String,
    /// The directory to create; `./<project-name>` when not given.
    pub dir: Option<PathBuf>,
    pub route: Route,
    /// A local tasknet checkout to depend on; the git repository otherwise.
    pub tasknet_path: Option<PathBuf>,
}

/// The rendered project: relative path -> contents, in path order.
pub type Files = BTreeMap<String, String>;

/// Renders the template for `project` without writing anything.
pub fn render(project: &NewProject) -> Result<Files, String> {
    let project_name = project_name(&project.name)?;
    let tasknet_path = match &project.tasknet_path {
        None => String::new(),
        Some(path) => toml_path(path)?,
    };
    let config = TemplateConfig::parse(file(CONFIG_FILE))?;
    config.check_choice("route", project.route.placeholder())?;
    let globals = liquid::object!({
        "project-name": project_name.clone(),
        "crate_name": project_name.to_snake_case(),
        "route": project.route.placeholder(),
        "tasknet_path": tasknet_path,
    });
    let parser = liquid::ParserBuilder::with_stdlib()
        .build()
        .map_err(|e| format!("error: the template engine failed to start: {e}"))?;
    let render = |name: &str, text: &str| -> Result<String, String> {
        parser
            .parse(text)
            .and_then(|template| template.render(&globals))
            .map_err(|e| format!("error: cli/template/{name} does not render: {e}"))
    };

    let mut ignored = BTreeSet::new();
    for (condition, files) in &config.conditional {
        let holds = render(
            CONFIG_FILE,
            &format!("{{% if {condition} %}}yes{{% endif %}}"),
        )?;
        if holds == "yes" {
            ignored.extend(files.iter().map(String::as_str));
        }
    }
    let mut out = Files::new();
    for &(name, text) in TEMPLATE_FILES {
        if name == CONFIG_FILE || ignored.contains(name) {
            continue;
        }
        let written = name.strip_suffix(LIQUID).unwrap_or(name);
        out.insert(written.to_owned(), render(name, text)?);
    }
    Ok(out)
}

/// Renders the template and writes it into a new directory; returns that directory. An
/// existing directory is never written into.
pub fn create(project: &NewProject) -> Result<PathBuf, String> {
    let files = render(project)?;
    let dir = match &project.dir {
        Some(dir) => dir.clone(),
        None => PathBuf::from(project_name(&project.name)?),
    };
    if dir.exists() {
        return Err(format!(
            "error: `{}` already exists; choose another name or --dir",
            dir.display()
        ));
    }
    // Written into a new directory beside the target and renamed into place: the project is
    // there whole or not at all (a write that fails leaves nothing behind).
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| format!("error: cannot create `{}`: {e}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".tasknet-new-")
        .tempdir_in(&parent)
        .map_err(|e| {
            format!(
                "error: cannot create a directory in `{}`: {e}",
                parent.display()
            )
        })?;
    for (name, text) in &files {
        let path = staging.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("error: cannot write `{}`: {e}", dir.join(name).display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| format!("error: cannot write `{}`: {e}", dir.join(name).display()))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &dir) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(format!("error: cannot create `{}`: {e}", dir.display()));
    }
    Ok(dir)
}

/// Names cargo refuses for a package: Rust keywords, and names that clash with the standard
/// library's crates or with cargo's own targets.
const RESERVED_NAMES: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "build",
    "deps",
    "examples",
    "incremental",
    "auxiliary",
    "con",
    "nul",
    "prn",
    "aux",
];

/// The template's file `name` (it is always embedded).
fn file(name: &str) -> &'static str {
    TEMPLATE_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .unwrap_or_default()
}

/// The package name cargo-generate would use: the name in kebab-case. Only names made of
/// ASCII letters, digits, `-` and `_`, starting with a letter, are taken.
fn project_name(name: &str) -> Result<String, String> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "error: `{name}` cannot name a crate: use letters, digits, `-` or `_`, starting with a letter"
        ));
    }
    let kebab = name.to_kebab_case();
    let snake = kebab.to_snake_case();
    if RESERVED_NAMES.contains(&snake.as_str()) {
        return Err(format!(
            "error: `{name}` cannot name a crate: `{snake}` is a Rust keyword or a name cargo reserves; choose another"
        ));
    }
    Ok(kebab)
}

/// A path for a TOML string in the generated Cargo.toml: absolute, `/`-separated.
fn toml_path(path: &Path) -> Result<String, String> {
    let absolute = std::path::absolute(path)
        .map_err(|e| format!("error: cannot resolve `{}`: {e}", path.display()))?;
    if !absolute.join("Cargo.toml").is_file() || !absolute.join("codegen").is_dir() {
        return Err(format!(
            "error: `{}` is not a tasknet checkout (no Cargo.toml and codegen/ in it)",
            path.display()
        ));
    }
    let text = absolute.to_string_lossy().replace('\\', "/");
    if text.contains('"') {
        return Err(format!(
            "error: `{}` cannot go into Cargo.toml (it contains `\"`)",
            path.display()
        ));
    }
    Ok(text)
}

/// The parts of `cargo-generate.toml` that `tasknet new` acts on.
#[derive(Debug, Default)]
struct TemplateConfig {
    /// Placeholder name -> its allowed values, when it lists `choices`.
    choices: BTreeMap<String, Vec<String>>,
    /// Liquid condition -> the files it leaves out.
    conditional: Vec<(String, Vec<String>)>,
}

impl TemplateConfig {
    fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("error: cli/template/{CONFIG_FILE}: {e}"))?;
        let strings = |value: Option<&toml::Value>| -> Vec<String> {
            value
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let mut config = TemplateConfig::default();
        if let Some(placeholders) = table.get("placeholders").and_then(toml::Value::as_table) {
            for (name, spec) in placeholders {
                let choices = strings(spec.get("choices"));
                if !choices.is_empty() {
                    config.choices.insert(name.clone(), choices);
                }
            }
        }
        if let Some(conditional) = table.get("conditional").and_then(toml::Value::as_table) {
            for (condition, spec) in conditional {
                config
                    .conditional
                    .push((condition.clone(), strings(spec.get("ignore"))));
            }
        }
        Ok(config)
    }

    /// A value `tasknet new` gives a placeholder must be one the template offers.
    fn check_choice(&self, placeholder: &str, value: &str) -> Result<(), String> {
        match self.choices.get(placeholder) {
            Some(choices) if choices.iter().any(|c| c == value) => Ok(()),
            Some(choices) => Err(format!(
                "error: the template's `{placeholder}` takes {choices:?}, not `{value}`"
            )),
            None => Err(format!(
                "error: the template has no `{placeholder}` placeholder with choices"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to template/ and not to `TEMPLATE_FILES` would be missing from `tasknet
    /// new`'s projects only.
    #[test]
    fn every_template_file_is_embedded() {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                    out.push(rel.replace('\\', "/"));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("template");
        let mut on_disk = Vec::new();
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let embedded: Vec<&str> = TEMPLATE_FILES.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, embedded);
        for (name, text) in TEMPLATE_FILES {
            assert_eq!(
                std::fs::read_to_string(root.join(name)).unwrap(),
                *text,
                "{name}"
            );
        }
    }

    #[test]
    fn names_become_kebab_case_crate_names() {
        assert_eq!(project_name("my_crew").unwrap(), "my-crew");
        assert_eq!(project_name("MyCrew").unwrap(), "my-crew");
        assert!(project_name("9lives").is_err());
        assert!(project_name("crew!").is_err());
    }

    #[test]
    fn a_route_the_template_does_not_offer_is_refused() {
        let config = TemplateConfig::parse(file(CONFIG_FILE)).unwrap();
        assert!(config.check_choice("route", "macro").is_ok());
        assert!(config.check_choice("route", "build-rs").is_ok());
        let err = config.check_choice("route", "cmake").unwrap_err();
        assert!(err.contains("takes [\"macro\", \"build-rs\"]"), "{err}");
    }
}
