//! Snapshot tests of the generated code (expectorate, typify's model). The same `.rs` files are
//! compiled by the facade's `tests/goldens.rs`, so a golden that does not build fails there.
//! Regenerate with `EXPECTORATE=overwrite cargo test -p tasknet-codegen --test goldens`.

use std::path::{Path, PathBuf};

use tasknet_codegen::{GenerationSettings, check, generated_file, read_source};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Generates from paths relative to the workspace root, shown as written (as the macro,
/// called from the facade crate, shows them).
fn generate(tasks: &str, agents: Option<&str>) -> String {
    let root = workspace();
    let tasks = read_source(&root.join(tasks), tasks).unwrap();
    let agents = agents.map(|a| read_source(&root.join(a), a).unwrap());
    let checked = check(tasks, agents, None).unwrap_or_else(|e| panic!("{e}"));
    generated_file(&checked.model, &GenerationSettings::default())
}

fn golden(name: &str, code: &str) {
    expectorate::assert_contents(workspace().join("tests/goldens").join(name), code);
}

#[test]
fn seed_pipeline() {
    golden(
        "tropical_sales.rs",
        &generate(
            "examples/tropical_sales/tasks.yaml",
            Some("examples/tropical_sales/agents.yaml"),
        ),
    );
}

#[test]
fn fork_join() {
    golden(
        "fork_join.rs",
        &generate("tests/fixtures/fork_join.yaml", None),
    );
}

#[test]
fn crewai_crew_template() {
    golden(
        "crewai_crew.rs",
        &generate(
            "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__tasks.yaml",
            Some(
                "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__agents.yaml",
            ),
        ),
    );
}

#[test]
fn output_is_deterministic() {
    let a = generate("tests/fixtures/fork_join.yaml", None);
    let b = generate("tests/fixtures/fork_join.yaml", None);
    assert_eq!(a, b);
}
