//! CrewAI compatibility: CrewAI's own tasks.yaml/agents.yaml files (tests/fixtures/crewai,
//! copied unchanged, MIT) generate registries that compile, and follow CrewAI's rules.
#![deny(warnings)]

mod crew_template {
    tasknet::task_registry!(
        file =
            "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__tasks.yaml",
        agents =
            "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__crew__config__agents.yaml"
    );
}

mod flow_content_crew {
    tasknet::task_registry!(
        file = "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__flow__crews__content_crew__config__tasks.yaml",
        agents = "tests/fixtures/crewai/lib__cli__src__crewai_cli__templates__flow__crews__content_crew__config__agents.yaml"
    );
}

mod crewai_test_config {
    tasknet::task_registry!(
        file = "tests/fixtures/crewai/lib__crewai__tests__config__tasks.yaml",
        agents = "tests/fixtures/crewai/lib__crewai__tests__config__agents.yaml"
    );
}

#[test]
fn sequential_process_reads_every_earlier_output() {
    use flow_content_crew::*;
    let editing = TASK_REGISTRY.task("editing_task").unwrap();
    assert_eq!(
        editing.requires,
        ["planning_task_output", "writing_task_output", "topic"]
    );
    assert_eq!(editing.depends_on, [0, 1]);
    assert_eq!(editing.output_file, Some("output/post.md"));
    let produced: Vec<&str> = editing.produces.iter().map(|f| f.name).collect();
    assert_eq!(produced, ["editing_task_output"]);
    assert_eq!(editing.produces[0].ty, "String");
}

#[test]
fn placeholders_become_string_inputs() {
    let inputs: Vec<&str> = crew_template::TASK_REGISTRY
        .inputs
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(inputs, ["topic", "current_year"]);
    // The test config hard-codes the year: only `topic` remains.
    let inputs: Vec<&str> = crewai_test_config::TASK_REGISTRY
        .inputs
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(inputs, ["topic"]);
}

#[test]
fn unknown_crewai_keys_are_kept_out_of_the_way() {
    // `guardrail` is a CrewAI key tasknet does not use; the task still loads.
    let task = crewai_test_config::TASK_REGISTRY
        .task("research_task")
        .unwrap();
    assert_eq!(task.agent, Some("researcher"));
}
