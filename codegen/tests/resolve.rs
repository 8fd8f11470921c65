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
    errors_with(yaml, None)
}

fn errors_with(yaml: &str, agents: Option<&str>) -> Vec<String> {
    let agents = agents.map(|a| SourceFile::new("agents.yaml", a));
    let failed: CheckFailed =
        check(SourceFile::new("tasks.yaml", yaml), agents, None).expect_err("expected errors");
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

/// Any two distinct names get distinct Rust names, deterministically: the first in file order
/// keeps the natural one. Digits either side of a `_` stay apart in CamelCase (`t_1_10` and
/// `t_11_0` used to meet as `T110`).
#[test]
fn distinct_names_get_distinct_rust_names() {
    let m = ok("
t_1_10: {produces: {a: String}}
t_11_0: {produces: {b: String}}
read_email: {produces: {c: String}}
read__email: {produces: {d: String}}
ReadEmail: {produces: {e: String}}
");
    let names: Vec<(&str, &str)> = m
        .tasks
        .iter()
        .map(|t| (t.rust_name.as_str(), t.type_name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("t_1_10", "T1_10"),
            ("t_11_0", "T11_0"),
            ("read_email", "ReadEmail"),
            ("read_email_2", "ReadEmail2"),
            ("read_email_3", "ReadEmail3"),
        ]
    );
    // The yaml's names stay the registry's.
    assert_eq!(m.tasks[3].name, "read__email");
    // A field named like tasknet's own `input_data` keeps its name; Rust calls it otherwise.
    let m = ok("t: {produces: {input_data: String}, input_data: {chave_ç: 2, chave_c: 3}}\n");
    assert_eq!(m.fields[0].name, "input_data");
    assert_eq!(m.fields[0].rust_name, "input_data_2");
    let keys: Vec<(&str, &str)> = m.tasks[0]
        .input_data
        .iter()
        .map(|e| (e.key.as_str(), e.rust_name.as_str()))
        .collect();
    assert_eq!(keys, [("chave_ç", "chave_c"), ("chave_c", "chave_c_2")]);
    let errs = errors("t: {produces: {a: String}, input_data: {Bad-Key: 1}}\n");
    assert!(
        errs[0].contains("input_data key `Bad-Key` is not a valid name"),
        "{errs:?}"
    );
}

/// Task and field names that are Python identifiers are names, as in CrewAI: the Rust names
/// are ASCII snake_case made from them, the yaml names stay the registry's and the state's.
#[test]
fn python_identifiers_are_task_and_field_names() {
    let m = ok("
gerar_relatório:
  description: Escreva o relatório sobre {tópico} e {tema}.
  expected_output: Um relatório.
RevisarTexto:
  description: Revise.
  expected_output: Texto revisado.
");
    let t = &m.tasks[0];
    assert_eq!(
        (t.name.as_str(), t.rust_name.as_str(), t.type_name.as_str()),
        ("gerar_relatório", "gerar_relatorio", "GerarRelatorio")
    );
    assert_eq!(
        (m.tasks[1].rust_name.as_str(), m.tasks[1].type_name.as_str()),
        ("revisar_texto", "RevisarTexto")
    );
    let fields: Vec<(&str, &str)> = m
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.rust_name.as_str()))
        .collect();
    // `{tópico}` is text, as CrewAI's placeholder pattern is ASCII; `{tema}` is an input.
    assert_eq!(
        fields,
        [
            ("tema", "tema"),
            ("gerar_relatório_output", "gerar_relatorio_output"),
            ("RevisarTexto_output", "revisar_texto_output"),
        ]
    );
    let m =
        ok("inputs: {preço: f64}\ncalcular: {requires: [preço], produces: {preço_médio: f64}}\n");
    assert_eq!(m.fields[0].rust_name, "preco");
    assert_eq!(m.fields[1].rust_name, "preco_medio");
    for bad in ["read-email", "2fast", "\"read email\""] {
        let errs = errors(&format!("{bad}: {{description: x, expected_output: y}}\n"));
        assert!(errs[0].contains("is not a valid name"), "{bad}: {errs:?}");
    }
}

/// The run metadata never takes a name from the user: a kickoff input `{timestamp}` is an
/// input, and the generated state keeps the run's timestamp under `run_timestamp`.
#[test]
fn run_metadata_steps_aside_for_a_users_field() {
    let m = ok(
        "report:\n  description: Report as of {timestamp} for {current_task}.\n  expected_output: A report.\n",
    );
    let inputs: Vec<&str> = m.inputs().map(|f| f.name.as_str()).collect();
    assert_eq!(inputs, ["timestamp", "current_task"]);
    assert_eq!(m.metadata.timestamp, "run_timestamp");
    assert_eq!(m.metadata.current_task, "run_current_task");
    assert_eq!(m.metadata.execution_log, "execution_log");
    let m = ok(
        "inputs: {timestamp: String, run_timestamp: String}\nt: {requires: [timestamp], produces: {x: u8}}\n",
    );
    assert_eq!(m.metadata.timestamp, "run_run_timestamp");
    // Without such a field, the seed's names.
    let m = ok("t: {produces: {x: u8}}\n");
    assert!(m.metadata.is_seed());
}

/// An agent that agents.yaml does not define may be the crew code's (CrewAI looks agents up
/// among its `@agent` methods): a warning. A name no code could define, such as one a `>`
/// block ended with a newline, is an error with its "did you mean".
#[test]
fn agents_missing_from_agents_yaml_warn_unless_they_cannot_be_names() {
    let agents = "researcher:\n  role: R\n  goal: G\n  backstory: B\n";
    let yaml = "research:\n  description: Research.\n  expected_output: Notes.\n  agent: editor\n";
    let checked = check(
        SourceFile::new("tasks.yaml", yaml),
        Some(SourceFile::new("agents.yaml", agents)),
        None,
    )
    .unwrap();
    assert_eq!(checked.warnings.len(), 1);
    assert_eq!(
        checked.warnings[0].one_line(&checked.sources),
        "tasks.yaml:4:10: task `research` names agent `editor`, which agents.yaml does not define: the crew's code must supply it"
    );
    assert_eq!(checked.model.tasks[0].agent.as_deref(), Some("editor"));
    let yaml = "research:\n  description: Research.\n  expected_output: Notes.\n  agent: >\n    researcher\n";
    let errs = errors_with(yaml, Some(agents));
    assert_eq!(
        errs,
        [
            "tasks.yaml:5:5: task `research` names agent \"researcher\\n\", which cannot be an agent's name (did you mean `researcher`?)"
        ]
    );
}

/// An empty file is no tasks, as CrewAI loads it: a warning and an empty registry. So is a file
/// whose every entry is not a task. A file that is not a map stays an error.
#[test]
fn an_empty_file_warns_and_gives_an_empty_registry() {
    for yaml in [
        "",
        "# nothing yet\n",
        "{}\n",
        "prompts:\n  system: s\n  user: u\n",
    ] {
        let checked = check(SourceFile::new("tasks.yaml", yaml), None, None)
            .unwrap_or_else(|e| panic!("{yaml:?}: {e}"));
        assert!(checked.model.tasks.is_empty());
        assert_eq!(checked.warnings.len(), 1, "{yaml:?}");
    }
    let checked = check(SourceFile::new("tasks.yaml", ""), None, None).unwrap();
    assert_eq!(
        checked.warnings[0].one_line(&checked.sources),
        "tasks.yaml:1:1: tasks.yaml defines no task: the registry is empty"
    );
    assert_eq!(
        errors("- research: {description: x}\n"),
        ["tasks.yaml:1:1: tasks.yaml must be a map of tasks, found a list"]
    );
}

#[test]
fn structural_errors() {
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
    // "Did you mean" only for a likely slip: not for a file's own key that merely shares a
    // prefix with one (`output_example`, `output_file`).
    assert!(!warnings[2].contains("did you mean"), "{warnings:?}");
    let checked = check(
        SourceFile::new(
            "tasks.yaml",
            "a:\n  description: x\n  retries: 3\n  asyn_execution: true\n",
        ),
        None,
        None,
    )
    .unwrap();
    let warnings: Vec<String> = checked
        .warnings
        .iter()
        .map(|d| d.one_line(&checked.sources))
        .collect();
    assert!(
        warnings[0].ends_with("(did you mean `max_retries`?)"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].ends_with("(did you mean `async_execution`?)"),
        "{warnings:?}"
    );
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
    // Settings that happen to use a task key (`context`) have no description nor expected
    // output either: not a task.
    let yaml =
        "style:\n  tone: formal\n  context: B2B readers\nresearch:\n  description: Research.\n";
    let checked = check(SourceFile::new("tasks.yaml", yaml), None, None).unwrap();
    assert_eq!(checked.model.tasks.len(), 1);
    assert_eq!(
        checked.warnings[0].one_line(&checked.sources),
        "tasks.yaml:1:1: entry `style` is not a task (it has no `description` nor `expected_output`, only `tone`, `context`): ignored"
    );
    // A tasknet task needs neither.
    assert_eq!(ok("a: {produces: {x: u8}}\n").tasks.len(), 1);
    let errors = errors("research:\n  descriptin: Research.\n");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("did you mean `description`")),
        "{errors:?}"
    );
}

/// CrewAI's `guardrail_max_retries` (and its older `max_retries`) set how often an agent's
/// rejected answer goes back to it; a bad value or a misspelling is an error.
#[test]
fn guardrail_max_retries_is_read() {
    let m = ok(
        "a: {description: x, guardrail_max_retries: 1}\nb: {description: y, max_retries: 2}\nc: {description: z, max_retries: 2, guardrail_max_retries: 0}\nd: {description: w}\n",
    );
    let retries: Vec<Option<u32>> = m.tasks.iter().map(|t| t.output_retries).collect();
    assert_eq!(retries, [Some(1), Some(2), Some(0), None]);
    let errs = errors("a: {description: x, guardrail_max_retries: many}\n");
    assert_eq!(
        errs,
        ["tasks.yaml:1:44: `guardrail_max_retries` of task `a` must be an integer from 0 to 100"]
    );
    let errs = errors("a: {description: x, guardrail_max_retires: 1}\n");
    assert!(
        errs[0].contains("did you mean `guardrail_max_retries`"),
        "{errs:?}"
    );
}

#[test]
fn tools_are_named_once_each_where_first_named() {
    let m = ok_with_agents(
        "a: {description: x, agent: clerk, tools: [price_of, check_stock]}\nb: {description: y, tools: [price_of]}\n",
        "clerk:\n  role: r\n  goal: g\n  backstory: b\n  tools: [check_stock, Büro]\n  max_iter: 3\nother: {role: r, goal: g, backstory: b, llm: ollama/llama3.2}\n",
    );
    let tools: Vec<(&str, &str, &str, &str)> = m
        .tools
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.rust_name.as_str(),
                t.api_name.as_str(),
                t.location.as_str(),
            )
        })
        .collect();
    assert_eq!(
        tools,
        [
            (
                "check_stock",
                "check_stock",
                "check_stock",
                "agents.yaml:5:11"
            ),
            ("Büro", "buro", "buro", "agents.yaml:5:24"),
            ("price_of", "price_of", "price_of", "tasks.yaml:1:43"),
        ]
    );
    let max_iter: Vec<Option<u32>> = m.agents.iter().map(|a| a.max_iter).collect();
    assert_eq!(max_iter, [Some(3), None]);
    let llm: Vec<Option<&str>> = m.agents.iter().map(|a| a.llm.as_deref()).collect();
    assert_eq!(llm, [None, Some("ollama/llama3.2")]);
}

#[test]
fn a_tool_name_must_be_a_name_and_max_iter_a_count() {
    let errs = errors_with(
        "a: {description: x, tools: [\"web search\"]}\n",
        Some(
            "clerk: {role: r, goal: g, backstory: b, max_iter: 0}\nother: {role: r, goal: g, backstory: b, llm: [gpt]}\nthird: {role: r, goal: g, backstory: b, output_mode: json_shema}\n",
        ),
    );
    assert_eq!(
        errs,
        [
            "agents.yaml:1:51: `max_iter` of agent `clerk` must be an integer from 1 to 1000",
            "agents.yaml:2:46: `llm` of agent `other` must be a string, found a list",
            "agents.yaml:3:54: `output_mode` of agent `third` is `json_shema`, not one of auto, json_schema, json_object, tool, prompted (did you mean `json_schema`?)",
            "tasks.yaml:1:29: tool name `web search` is not a valid name",
        ]
    );
}

#[test]
fn human_input_is_read_as_a_boolean() {
    let m = ok(
        "a: {description: x, human_input: True}\nb: {description: y}\nc: {description: z, human_input: yes}\nd: {description: w, human_input: Off}\n",
    );
    let flags: Vec<bool> = m.tasks.iter().map(|t| t.human_input).collect();
    assert_eq!(flags, [true, false, true, false]);
    let errs = errors("a: {description: x, human_input: maybe}\n");
    assert_eq!(
        errs,
        ["tasks.yaml:1:34: `human_input` of task `a` must be `true` or `false`"]
    );
}

#[test]
fn a_guardrail_method_never_takes_a_task_methods_name() {
    let m = ok("a: {description: x}\na_guardrail: {description: y}\n");
    let names: Vec<(&str, &str)> = m
        .tasks
        .iter()
        .map(|t| (t.rust_name.as_str(), t.guardrail_method.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("a", "a_guardrail_2"),
            ("a_guardrail", "a_guardrail_guardrail")
        ]
    );
}
