//! The resolution rules of docs/yaml.md, one test per rule, through `check`.

use tasknet_codegen::model::{Model, Producer};
use tasknet_codegen::{CheckFailed, SourceFile, check};

fn ok(yaml: &str) -> Model {
    check(SourceFile::new("tasks.yaml", yaml), None, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .model
}

fn ok_with_agents(yaml: &str, agents: &str) -> Model {
    check(
        SourceFile::new("tasks.yaml", yaml),
        Some(SourceFile::new("agents.yaml", agents)),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .model
}

fn errors(yaml: &str) -> Vec<String> {
    let failed: CheckFailed =
        check(SourceFile::new("tasks.yaml", yaml), None, None).expect_err("expected errors");
    failed
        .diagnostics
        .iter()
        .map(|d| d.one_line(&failed.sources))
        .collect()
}

fn reads(m: &Model, task: &str) -> Vec<String> {
    let t = m.tasks.iter().find(|t| t.name == task).unwrap();
    t.requires
        .iter()
        .map(|&f| m.fields[f].name.clone())
        .collect()
}

fn order(m: &Model) -> Vec<&str> {
    m.order.iter().map(|&i| m.tasks[i].name.as_str()).collect()
}

#[test]
fn explicit_requires_and_produces_are_used_exactly() {
    let m = ok("
inputs: {url: String}
fetch: {requires: [url], produces: {page: String, status: u64}}
parse: {requires: [page], produces: {title: String}}
");
    assert_eq!(reads(&m, "fetch"), ["url"]);
    assert_eq!(reads(&m, "parse"), ["page"], "status is not read");
    let fields: Vec<&str> = m.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fields, ["url", "page", "status", "title"]);
    assert_eq!(m.fields[0].producer, Producer::Input);
    assert_eq!(m.fields[1].producer, Producer::Task(0));
}

#[test]
fn crewai_task_without_context_reads_every_earlier_output() {
    let m = ok("
a: {description: first}
b: {description: second}
c: {description: third}
");
    assert_eq!(reads(&m, "a"), Vec::<String>::new());
    assert_eq!(reads(&m, "c"), ["a_output", "b_output"]);
    assert_eq!(m.tasks[2].depends_on, [0, 1]);
}

#[test]
fn crewai_context_narrows_the_reads() {
    let m = ok("
a: {description: first}
b: {description: second}
c: {description: third, context: [a]}
");
    assert_eq!(reads(&m, "c"), ["a_output"]);
    assert_eq!(m.tasks[2].depends_on, [0]);
    assert_eq!(order(&m), ["a", "b", "c"]);
}

#[test]
fn crewai_context_may_name_a_dataflow_task() {
    let m = ok("
fetch: {produces: {page: String, links: json}}
report: {description: Report., context: [fetch]}
");
    assert_eq!(reads(&m, "report"), ["page", "links"]);
}

#[test]
fn context_on_a_dataflow_task_only_orders() {
    let m = ok("
setup: {produces: {ready: bool}}
work: {requires: [], context: [setup], produces: {done: bool}}
");
    assert_eq!(reads(&m, "work"), Vec::<String>::new());
    assert_eq!(m.tasks[1].depends_on, [0]);
}

#[test]
fn placeholders_are_string_inputs_in_a_plain_crewai_file() {
    let m = ok("
research: {description: 'About {topic} in {year}. Literal {{braces}} and {\"json\": 1}.'}
report: {description: 'Report on {topic}.'}
");
    let inputs: Vec<&str> = m.inputs().map(|f| f.name.as_str()).collect();
    assert_eq!(inputs, ["topic", "year"]);
    assert_eq!(reads(&m, "research"), ["topic", "year"]);
    assert_eq!(reads(&m, "report"), ["research_output", "topic"]);
}

#[test]
fn placeholders_must_resolve_in_a_file_with_extensions() {
    let errs = errors(
        "
inputs: {topic: String}
research: {description: 'About {topic} and {year}', produces: {notes: String}}
",
    );
    assert_eq!(
        errs,
        ["tasks.yaml:3:44: unresolved placeholder `{year}` in task `research`"]
    );
}

#[test]
fn declared_inputs_and_input_data_resolve_placeholders() {
    let m = ok("
inputs: {topic: String}
research:
  description: 'About {topic}, at most {limit} items'
  produces: {notes: String}
  input_data: {limit: 5}
");
    assert_eq!(
        reads(&m, "research"),
        ["topic"],
        "an input placeholder is read implicitly"
    );
}

#[test]
fn a_placeholder_must_be_required_when_a_task_produces_it() {
    let errs = errors(
        "
a: {produces: {notes: String}}
b: {description: 'Use {notes}', produces: {out: String}}
",
    );
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains(
            "placeholder `{notes}` in task `b` reads `notes`, which the task does not require"
        ),
        "{errs:?}"
    );
}

#[test]
fn agent_placeholders_count_for_the_task() {
    let m = ok_with_agents(
        "research: {description: Research., agent: analyst}\n",
        "analyst: {role: '{topic} analyst', goal: Know, backstory: Long}\n",
    );
    assert_eq!(reads(&m, "research"), ["topic"]);
    assert_eq!(m.agents[0].role, "{topic} analyst");
}

#[test]
fn order_is_topological_with_file_order_ties() {
    let m = ok("
report: {requires: [a, b], produces: {r: String}}
make_b: {produces: {b: String}}
make_a: {produces: {a: String}}
");
    assert_eq!(order(&m), ["make_b", "make_a", "report"]);
}

#[test]
fn self_dependency_is_a_cycle() {
    let errs = errors("spin: {requires: [x], produces: {x: String}}\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("tasks.yaml:1:19: task `spin` depends on itself"),
        "{errs:?}"
    );
}

#[test]
fn every_cycle_is_reported() {
    let errs = errors(
        "
a: {requires: [b1], produces: {a1: String}}
b: {requires: [a1], produces: {b1: String}}
c: {requires: [d1], produces: {c1: String}}
d: {requires: [c1], produces: {d1: String}}
",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("dependency cycle: a -> b -> a"))
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("dependency cycle: c -> d -> c"))
    );
}

#[test]
fn input_and_task_cannot_share_a_field() {
    let errs = errors(
        "
inputs: {page: String}
fetch: {produces: {page: String}}
",
    );
    assert_eq!(
        errs,
        ["tasks.yaml:3:20: field `page` is declared as an input and also by task `fetch`"]
    );
}

#[test]
fn names_that_collide_in_rust_are_refused() {
    let errs = errors(
        "
read_email: {produces: {a: String}}
read__email: {produces: {b: String}}
",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("both become `ReadEmailInput`")),
        "{errs:?}"
    );
    let errs = errors("t: {produces: {a: String}, input_data: {Bad-Key: 1}}\n");
    assert!(errs[0].contains("input_data key `Bad-Key` is not a snake_case Rust identifier"));
    let errs = errors("t: {produces: {input_data: String}}\n");
    assert!(errs[0].contains("a name tasknet reserves"));
}

#[test]
fn structural_errors() {
    assert_eq!(errors(""), ["tasks.yaml:1:1: tasks.yaml defines no task"]);
    assert_eq!(
        errors("inputs: {a: String}\n"),
        ["tasks.yaml:1:1: tasks.yaml declares inputs but no task"]
    );
    let errs = errors("a: just a string\n");
    assert_eq!(
        errs,
        ["tasks.yaml:1:4: task `a` must be a map of keys, found a string"]
    );
    let errs = errors("a: {requires: x, produces: [y]}\n");
    assert!(
        errs[0].contains("`requires` of task `a` must be a list, found a string"),
        "{errs:?}"
    );
    assert!(errs[1].contains("field `y` has no type"), "{errs:?}");
}

#[test]
fn duplicate_yaml_keys_are_refused_with_a_location() {
    let errs = errors("a: {description: x}\na: {description: y}\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("tasks.yaml:2:1: invalid YAML:"),
        "{errs:?}"
    );
}

#[test]
fn all_errors_of_a_file_are_collected() {
    let errs = errors(
        "
a: {requires: [nope], produces: {x: strin}, colour: red}
b: {context: [zz], description: '{q}'}
",
    );
    assert_eq!(errs.len(), 5, "{errs:?}");
}

#[test]
fn timeout_and_retry() {
    let m = ok("
a: {produces: {x: String}, timeout: 1.5, retry: 3}
b: {produces: {y: String}, timeout: 2m, retry: {attempts: 5, backoff: 1s}}
c: {produces: {z: String}, timeout: '250ms'}
");
    assert_eq!(m.tasks[0].timeout_ms, Some(1500));
    assert_eq!(
        m.tasks[0].retry.map(|r| (r.attempts, r.backoff_ms)),
        Some((3, 200))
    );
    assert_eq!(m.tasks[1].timeout_ms, Some(120_000));
    assert_eq!(
        m.tasks[1].retry.map(|r| (r.attempts, r.backoff_ms)),
        Some((5, 1000))
    );
    assert_eq!(m.tasks[2].timeout_ms, Some(250));
    let errs =
        errors("a: {produces: {x: String}, timeout: soon, retry: {attempts: 0, backof: 1s}}\n");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(errs[0].contains("`timeout` of task `a` must be a positive duration"));
    assert!(errs[1].contains("attempts must be an integer from 1 to 1000"));
    assert!(
        errs[2].contains("unknown key `backof` in `retry` of task `a` (did you mean `backoff`?)")
    );
}

/// Keys CrewAI ignores (`process_config` skips what its Task lacks) are warnings, the task
/// still built; a misspelling of a key tasknet uses stays an error, since it would change the
/// dataflow silently. With `strict`, the warning is an error.
#[test]
fn unknown_keys_warn_unless_they_misspell_a_key_tasknet_uses() {
    let yaml = "research:\n  description: Find facts.\n  expected_output: Facts.\n  produces: {facts: String}\n  input_variables: [topic]\n  depends_on: []\n  output_example: x\n";
    let checked = check(SourceFile::new("tasks.yaml", yaml), None, None).unwrap();
    let warnings: Vec<String> = checked
        .warnings
        .iter()
        .map(|d| d.one_line(&checked.sources))
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "tasks.yaml:5:3: unknown key `input_variables` in task `research` is ignored"
        ),
        "{warnings:?}"
    );
    assert_eq!(checked.model.tasks.len(), 1);
    for typo in [
        "contxt: []",
        "requries: []",
        "prodcues: {x: u32}",
        "input_dat: {a: 1}",
    ] {
        let yaml =
            format!("research:\n  description: Find facts.\n  expected_output: Facts.\n  {typo}\n");
        let errors = errors(&yaml);
        assert!(
            errors.iter().any(|e| e.contains("(did you mean")),
            "{typo}: {errors:?}"
        );
    }
    let strict = tasknet_codegen::GenerationSettings::default().with_strict(true);
    let failed =
        tasknet_codegen::check_with(&strict, SourceFile::new("tasks.yaml", yaml), None, None)
            .map(|_| ())
            .expect_err("strict");
    assert_eq!(failed.diagnostics.len(), 3);
    assert!(failed.diagnostics.iter().all(|d| d.is_error()));
}

/// An entry none of whose keys is a task key (prompt snippets, as real CrewAI files keep) is
/// not a task: a warning, and it stays out of the registry; an entry whose only key misspells
/// one tasknet uses is still a task, with its error.
#[test]
fn entries_that_are_not_tasks_warn_and_stay_out() {
    let yaml = "prompts:\n  system: You are careful.\n  user: Research.\nresearch:\n  description: Research.\n  expected_output: Notes.\n";
    let checked = check(SourceFile::new("tasks.yaml", yaml), None, None).unwrap();
    let names: Vec<&str> = checked
        .model
        .tasks
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["research"]);
    assert_eq!(checked.warnings.len(), 1);
    let warning = checked.warnings[0].one_line(&checked.sources);
    assert!(
        warning.starts_with("tasks.yaml:1:1: entry `prompts` is not a task"),
        "{warning}"
    );
    let errors = errors("research:\n  descriptin: Research.\n");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("did you mean `description`")),
        "{errors:?}"
    );
}
