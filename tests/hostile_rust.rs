//! rustc compiles the generated Rust of hostile files, warning-free, and the strings come out
//! of the compiled registry as they went into the yaml: `tests/fixtures/hostile.yaml` (quotes,
//! backticks, `${}`, `</script>`, `]]>`, U+2028, NUL, non-characters), a 1 MB line, and
//! `input_data` nested 24 deep. codegen's `tests/robustness.rs` runs the same files (and a
//! 10,000-task one) through every emitter; the 10,000-task file through rustc is
//! `a_10000_task_file_compiles`, ignored by default (see the README's reliability section).
//!
//! Each case is a `task_registry!` of a yaml file written at test time, compiled and run by
//! trybuild.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tasknet_codegen::{SourceFile, check};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// Writes `<name>.rs`: the registry of `tasks` (and `agents`), and a `main` that checks each
/// task's description and input_data against what tasknet-codegen read from the same yaml
/// (from a table and a loop: a statement per task would nest a scope per task in the debug
/// info).
fn case(dir: &Path, name: &str, tasks: &Path, agents: Option<&Path>) -> PathBuf {
    let read =
        |p: &Path| SourceFile::new(p.display().to_string(), std::fs::read_to_string(p).unwrap());
    let checked = check(read(tasks), agents.map(read), None)
        .unwrap_or_else(|e| panic!("{}: {e}", tasks.display()));
    let mut source =
        String::from("#![deny(warnings)]\n\nmod net {\n    tasknet::task_registry!(\n");
    let _ = writeln!(source, "        file = {:?},", tasks.display().to_string());
    if let Some(agents) = agents {
        let _ = writeln!(
            source,
            "        agents = {:?},",
            agents.display().to_string()
        );
    }
    source.push_str("    );\n}\n\n/// Name, description, input_data (JSON) of every task.\n");
    source.push_str("const EXPECTED: &[(&str, &str, &str)] = &[\n");
    for task in &checked.model.tasks {
        // `{:?}` of a str is a Rust string literal with the same value.
        let data = serde_json::Value::Object(tasknet_codegen::emit::petri::json::input_data(task));
        let _ = writeln!(
            source,
            "    ({:?}, {:?}, {:?}),",
            task.name,
            task.description,
            data.to_string()
        );
    }
    source.push_str(
        r#"];

fn main() {
    let registry = &net::TASK_REGISTRY;
    assert_eq!(registry.tasks.len(), EXPECTED.len());
    for &(name, description, input_data) in EXPECTED {
        let task = &registry.tasks[registry.task_index(name).unwrap()];
        assert!(task.description == description, "description of {name}");
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(json(task.input_data), json(input_data), "input_data of {name}");
    }
    // The net the page and the server use parses, with a place per task.
    assert!(net::PETRI_NET.places.len() > EXPECTED.len());
}
"#,
    );
    let path = dir.join(format!("{name}.rs"));
    std::fs::write(&path, source).unwrap();
    path
}

fn cases_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hostile_strings_a_1_mb_line_and_deep_nesting_compile() {
    let dir = cases_dir("hostile_rust");
    let long = dir.join("long_line.yaml");
    let mango = "mango ".repeat(170_000);
    std::fs::write(
        &long,
        format!(
            "t:\n  description: \"{mango}\"\n  expected_output: \"{mango}\"\n  produces: {{out: String}}\n  input_data: {{note: \"{mango}\"}}\n"
        ),
    )
    .unwrap();
    let nested = dir.join("nested_24.yaml");
    std::fs::write(
        &nested,
        format!(
            "t:\n  produces: {{out: String}}\n  input_data: {{deep: {}1{}}}\n",
            "{a: ".repeat(24),
            "}".repeat(24)
        ),
    )
    .unwrap();
    let t = trybuild::TestCases::new();
    t.pass(case(
        &dir,
        "hostile",
        &root().join("tests/fixtures/hostile.yaml"),
        Some(&root().join("tests/fixtures/hostile_agents.yaml")),
    ));
    t.pass(case(&dir, "long_line", &long, None));
    t.pass(case(&dir, "nested_24", &nested, None));
}

/// 10,000 tasks (20,000 state fields): far too slow for every `cargo test` (its last run
/// passed in 46 minutes, rustc's memory up to 16.3 GB: the README's reliability section); run
/// it with `cargo test --test hostile_rust -- --ignored`.
#[test]
#[ignore]
fn a_10000_task_file_compiles() {
    let dir = cases_dir("hostile_rust_10000");
    let big = dir.join("tasks_10000.yaml");
    std::fs::write(&big, tasknet_codegen::synthetic::tasks_yaml(10_000)).unwrap();
    let t = trybuild::TestCases::new();
    t.pass(case(&dir, "tasks_10000", &big, None));
}
