//! Real-world shapes of CrewAI files (tests/fixtures/real_world, written for the compatibility
//! rules of docs/yaml.md): each compiles through `task_registry!` in this one crate, warning-free
//! under `#![deny(warnings)]` (the yaml's own warnings, shown by `cargo build`, are allowed
//! where a fixture is about them), and keeps its names and dataflow. `tasknet check` runs on the
//! same files in cli/tests/check.rs.
#![deny(warnings)]

mod non_ascii {
    tasknet::task_registry!(
        file = "tests/fixtures/real_world/non_ascii.tasks.yaml",
        agents = "tests/fixtures/real_world/non_ascii.agents.yaml"
    );
}

mod jinja_and_json {
    tasknet::task_registry!(
        file = "tests/fixtures/real_world/jinja_and_json.tasks.yaml",
        agents = "tests/fixtures/real_world/jinja_and_json.agents.yaml"
    );
}

mod crlf_no_final_newline {
    tasknet::task_registry!(
        file = "tests/fixtures/real_world/crlf_no_final_newline.tasks.yaml",
        agents = "tests/fixtures/real_world/crlf_no_final_newline.agents.yaml"
    );
}

mod scalars_and_indentation {
    tasknet::task_registry!(file = "tests/fixtures/real_world/scalars_and_indentation.tasks.yaml");
}

// Its warnings (keys CrewAI ignores, an entry that is not a task, an agent from code) are the
// point of the fixture.
#[allow(deprecated)]
mod crewai_extras {
    tasknet::task_registry!(
        file = "tests/fixtures/real_world/crewai_extras.tasks.yaml",
        agents = "tests/fixtures/real_world/crewai_extras.agents.yaml"
    );
}

mod large_40_tasks {
    tasknet::task_registry!(
        file = "tests/fixtures/real_world/large_40_tasks.tasks.yaml",
        agents = "tests/fixtures/real_world/large_40_tasks.agents.yaml"
    );
}

fn names<S: 'static>(registry: &tasknet::Registry<S>) -> Vec<&'static str> {
    registry.tasks.iter().map(|t| t.name).collect()
}

fn inputs<S: 'static>(registry: &tasknet::Registry<S>) -> Vec<&'static str> {
    registry.inputs.iter().map(|f| f.name).collect()
}

#[test]
fn non_ascii_names_keep_their_yaml_spelling() {
    use non_ascii::*;
    assert_eq!(
        names(&TASK_REGISTRY),
        ["pesquisar_mercado", "gerar_relatório", "要約"]
    );
    assert_eq!(inputs(&TASK_REGISTRY), ["tema"]);
    let summary = TASK_REGISTRY.task("要約").unwrap();
    assert_eq!(summary.requires, ["gerar_relatório_output"]);
    assert_eq!(TASK_REGISTRY.agents[0].name, "analista_sênior");
    assert!(
        TASK_REGISTRY.tasks[0]
            .description
            .contains("👩‍💻 Equipe: análise de dados 🧑🏽‍🔬.")
    );
    // The Rust names: ASCII, made from the yaml's.
    let _: fn(&State) -> Result<YaoYueInput, tasknet::MissingField> = yao_yue_input;
    let state = State {
        tema: Some("café".into()),
        gerar_relatorio_output: Some("relatório".into()),
        ..State::default()
    };
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["gerar_relatório_output"], "relatório");
    assert_eq!(
        TASK_REGISTRY.task("gerar_relatório").unwrap().output_file,
        Some("relatórios/{tema}.md")
    );
}

#[test]
fn only_name_placeholders_are_inputs_in_text_full_of_braces() {
    use jinja_and_json::*;
    assert_eq!(inputs(&TASK_REGISTRY), ["document", "customer", "rules"]);
    let extract = TASK_REGISTRY.task("extract_fields").unwrap();
    assert!(
        extract
            .description
            .contains(r#"{"name": "...", "items": [{"sku": "A1", "qty": 2}], "total": 12.5}"#)
    );
    assert!(extract.description.starts_with("{% if strict %}"));
}

#[test]
fn crlf_trailing_spaces_and_no_final_newline_read_as_lf() {
    use crlf_no_final_newline::*;
    // The fixture is what it says (.gitattributes keeps git from normalising it).
    let raw = std::fs::read_to_string("tests/fixtures/real_world/crlf_no_final_newline.tasks.yaml")
        .unwrap();
    assert!(raw.contains("sentences.   \r\n") && !raw.ends_with('\n'));
    let summarise = TASK_REGISTRY.task("summarise").unwrap();
    assert_eq!(
        summarise.description,
        "Summarise {article} in three sentences."
    );
    assert_eq!(summarise.expected_output, "Three sentences.");
    assert_eq!(inputs(&TASK_REGISTRY), ["article", "language"]);
    assert_eq!(TASK_REGISTRY.task("translate").unwrap().depends_on, [0]);
    assert_eq!(TASK_REGISTRY.agents[0].backstory, "Wrote for newspapers.");
}

#[test]
fn multi_line_scalars_and_four_space_indentation() {
    use scalars_and_indentation::*;
    let plan = TASK_REGISTRY.task("plan_post").unwrap();
    assert_eq!(
        plan.description,
        "Plan a blog post about {topic} that readers of {audience} will enjoy, in three parts."
    );
    assert_eq!(
        plan.expected_output,
        "An outline with three parts, each with two bullet points."
    );
    let write = TASK_REGISTRY.task("write_post").unwrap();
    assert_eq!(
        write.description,
        "Write the post from the outline.\n\nKeep it under 800 words."
    );
    assert_eq!(write.expected_output, "A post in Markdown.\n\n");
    assert_eq!(write.output_file, Some("output/{topic}-{current_year}.md"));
    // The output file's placeholders are inputs too, as CrewAI fills them.
    assert_eq!(
        inputs(&TASK_REGISTRY),
        ["topic", "audience", "current_year"]
    );
    let review = TASK_REGISTRY.task("review_post").unwrap();
    assert_eq!(review.description, "");
    assert_eq!(review.agent, None);
    assert_eq!(review.requires, ["write_post_output"]);
}

#[test]
fn what_crewai_ignores_stays_out() {
    use crewai_extras::*;
    assert_eq!(
        names(&TASK_REGISTRY),
        ["research_ticker", "write_report", "review_report"]
    );
    assert_eq!(inputs(&TASK_REGISTRY), ["ticker"]);
    assert_eq!(
        TASK_REGISTRY.task("review_report").unwrap().agent,
        Some("reviewer")
    );
}

#[test]
fn a_large_crew_keeps_its_stages() {
    use large_40_tasks::*;
    assert_eq!(TASK_REGISTRY.tasks.len(), 40);
    assert_eq!(inputs(&TASK_REGISTRY), ["company", "audience"]);
    let last = TASK_REGISTRY.tasks.len() - 1;
    assert_eq!(TASK_REGISTRY.order.last(), Some(&last));
    assert!(
        TASK_REGISTRY
            .tasks
            .iter()
            .skip(5)
            .all(|t| t.depends_on.len() == 2)
    );
}
