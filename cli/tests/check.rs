//! `tasknet check`: rustc-style diagnostics, every error at once, exit codes, summary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tasknet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tasknet"))
        .current_dir(workspace())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn clean_file_exits_zero_with_a_summary() {
    let out = tasknet(&[
        "check",
        "examples/tropical_sales/tasks.yaml",
        "--agents",
        "examples/tropical_sales/agents.yaml",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "examples/tropical_sales/tasks.yaml: ok: 4 tasks, 7 fields (3 inputs), order: read_email -> classify_message -> check_stock_availability -> generate_response\n"
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let out = tasknet(&["check", "tests/ui/all_errors_at_once.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for expected in [
        // A key CrewAI ignores: a warning, reported with the errors.
        "warning: unknown key `retries` in task `fetch` is ignored (did you mean `max_retries`?)\n --> tests/ui/all_errors_at_once.yaml:8:3",
        "error: invalid type for field `summary`: unknown type `strin`\n  --> tests/ui/all_errors_at_once.yaml:14:14",
        "error: field name `Bad-Name` is not a valid name\n  --> tests/ui/all_errors_at_once.yaml:19:5",
        "error: task `summarise` requires `page_htm`, which no task produces (did you mean `page_html`?)\n  --> tests/ui/all_errors_at_once.yaml:12:14",
        "12 |   requires: [page_htm]\n   |              ^^^^^^^^ no task or input produces this field",
        "= help: add `page_htm` to the `produces` of the task that makes it, or declare it under `inputs:`",
        "error: unresolved placeholder `{audience}` in task `summarise`",
        "error: task `publish` has `sumarise` in its context, but there is no such task (did you mean `summarise`?)",
        "error: could not generate tasks: 6 errors found (and 1 warning)",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

/// An agent agents.yaml does not define may be the crew code's, as in CrewAI: a warning (exit
/// 0) with its "did you mean"; `--strict` makes it an error. A name no code could have (a `>`
/// block's trailing newline) is an error.
#[test]
fn unknown_agent_is_checked_against_agents_yaml() {
    let args = [
        "check",
        "tests/ui/unknown_agent.yaml",
        "--agents",
        "tests/ui/unknown_agent.agents.yaml",
    ];
    let out = tasknet(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "warning: task `research_task` names agent `reseacher`, which agents.yaml does not define: the crew's code must supply it (did you mean `researcher`?)\n --> tests/ui/unknown_agent.yaml:4:10"
        ),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains(": ok, 1 warning: 1 task"));
    let out = tasknet(&[&args[..], &["--strict"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let out = tasknet(&[
        "check",
        "tests/ui/agent_not_a_name.yaml",
        "--agents",
        "tests/ui/unknown_agent.agents.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(
        "error: task `research_task` names agent \"researcher\\n\", which cannot be an agent's name (did you mean `researcher`?)\n --> tests/ui/agent_not_a_name.yaml:5:5"
    ), "{}", text(&out.stderr));
    // Without agents.yaml, agent names are not checked.
    let out = tasknet(&["check", "tests/ui/unknown_agent.yaml"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
}

/// An empty tasks.yaml is no tasks, as CrewAI loads it: a warning, exit 0, and every emitter
/// writes the empty registry. A list of tasks is a mistake worth stopping for.
#[test]
fn an_empty_file_warns_and_generates_an_empty_registry() {
    let out = tasknet(&["check", "tests/ui/empty_tasks.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("warning: tasks.yaml defines no task: the registry is empty\n --> tests/ui/empty_tasks.yaml:1:1"));
    assert_eq!(
        text(&out.stdout),
        "tests/ui/empty_tasks.yaml: ok, 1 warning: 0 tasks, 0 fields (0 inputs), order: (no task)\n"
    );
    for command in ["generate", "petri", "graph"] {
        let out = tasknet(&[command, "tests/ui/empty_tasks.yaml"]);
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{command}");
    }
    let out = tasknet(&["check", "tests/ui/not_a_map.yaml"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = tasknet(&["check", "nope/tasks.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: cannot read `nope/tasks.yaml`: "));
}

#[test]
fn crewai_corpus_passes_unchanged() {
    let dir = workspace().join("tests/fixtures/crewai");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(prefix) = name.strip_suffix("tasks.yaml") else {
            continue;
        };
        let tasks = format!("tests/fixtures/crewai/{name}");
        let agents = format!("tests/fixtures/crewai/{prefix}agents.yaml");
        let out = tasknet(&["check", &tasks, "--agents", &agents]);
        assert!(out.status.success(), "{tasks}: {}", text(&out.stderr));
        checked += 1;
    }
    assert_eq!(checked, 3);
}

/// The real-world shapes of tests/fixtures/real_world pass `tasknet check` (tests/real_world.rs
/// compiles them): no errors, and warnings only where the fixture is about what CrewAI ignores.
#[test]
fn real_world_shapes_pass_check() {
    let dir = workspace().join("tests/fixtures/real_world");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".tasks.yaml") else {
            continue;
        };
        let tasks = format!("tests/fixtures/real_world/{name}");
        let agents = format!("tests/fixtures/real_world/{stem}.agents.yaml");
        let mut args = vec!["check", tasks.as_str()];
        if workspace().join(&agents).exists() {
            args.extend(["--agents", agents.as_str()]);
        }
        let out = tasknet(&args);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{tasks}: {stderr}");
        let warnings =
            stderr.matches("\nwarning: ").count() + usize::from(stderr.starts_with("warning: "));
        let expected = if stem == "crewai_extras" { 7 } else { 0 };
        assert_eq!(warnings, expected, "{tasks}: {stderr}");
        assert!(!stderr.contains("error"), "{tasks}: {stderr}");
        checked.push(stem.to_owned());
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "crewai_extras",
            "crlf_no_final_newline",
            "jinja_and_json",
            "large_40_tasks",
            "non_ascii",
            "scalars_and_indentation"
        ]
    );
}

/// A key CrewAI ignores (real files carry their own, e.g. `output_example`) is a warning: shown
/// rustc-style with its place, counted in the summary, exit 0; `--strict` makes it an error.
/// A misspelling of a key tasknet uses (`requries`) stays an error.
#[test]
fn keys_crewai_ignores_warn_and_strict_makes_them_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tasks.yaml");
    std::fs::write(
        &file,
        "research:\n  description: Find facts.\n  expected_output: Facts.\n  produces: {facts: String}\n  output_example: \"- a fact\"\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let out = tasknet(&["check", &path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: unknown key `output_example` in task `research` is ignored"),
        "{stderr}"
    );
    assert!(stderr.contains("tasks.yaml:5:3"), "{stderr}");
    assert!(
        text(&out.stdout).contains(": ok, 1 warning: 1 task"),
        "{}",
        text(&out.stdout)
    );

    let out = tasknet(&["check", "--strict", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: unknown key `output_example`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("because of the `strict` setting"),
        "{stderr}"
    );
    let out = tasknet(&["generate", "--strict", &path]);
    assert_eq!(out.status.code(), Some(1));

    let out = tasknet(&["check", "tests/ui/unknown_key.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a misspelt `requires` is an error"
    );
}
