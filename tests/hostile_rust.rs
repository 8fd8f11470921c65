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
/// task's description and input_data against what tasknet-codegen read from the same yaml.
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
    source.push_str("    );\n}\n\nfn main() {\n    let registry = &net::TASK_REGISTRY;\n");
    let _ = writeln!(
        source,
        "    assert_eq!(registry.tasks.len(), {});",
        checked.model.tasks.len()
    );
    for task in &checked.model.tasks {
        // `{:?}` of a str is a Rust string literal with the same value.
        let _ = writeln!(
            source,
            "    let task = &registry.tasks[registry.task_index({:?}).unwrap()];",
            task.name
        );
        let _ = writeln!(
            source,
            "    assert!(task.description == {:?}, \"description of {}\");",
            task.description, task.name
        );
        let data = serde_json::Value::Object(tasknet_codegen::petri::json::input_data(task));
        let _ = writeln!(
            source,
            "    assert_eq!(serde_json::from_str::<serde_json::Value>(task.input_data).unwrap(), serde_json::from_str::<serde_json::Value>({:?}).unwrap());",
            data.to_string()
        );
    }
    // The net the page and the server use parses, with a place per task.
    source.push_str("    let net = &*net::PETRI_NET;\n");
    let _ = writeln!(
        source,
        "    assert!(net.places.len() > {});\n}}",
        checked.model.tasks.len()
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

/// 10,000 tasks (20,000 state fields): rustc needs minutes and gigabytes for this one (see the
/// README), too much for every `cargo test`; run it with
/// `cargo test --test hostile_rust -- --ignored`.
#[test]
#[ignore]
fn a_10000_task_file_compiles() {
    let dir = cases_dir("hostile_rust_10000");
    let big = dir.join("tasks_10000.yaml");
    std::fs::write(&big, tasknet_codegen::synthetic::tasks_yaml(10_000)).unwrap();
    let t = trybuild::TestCases::new();
    t.pass(case(&dir, "tasks_10000", &big, None));
}
