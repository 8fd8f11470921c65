//! Agents that act: a task whose agent agents.yaml defines runs through the runner's LLM with
//! no code, a task implemented in code runs as code, and a CrewAI file runs with no task code
//! at all. Against a scripted fake server here (the real model's tests need its server).

mod crews;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tasknet::Runner;
use tasknet::llm::{LlmClient, LlmConfig};

use crews::{NoCode, Team, crewai_test_config, mixed};
use tasknet_testkit::fake_llm::{completion, fake_server};

fn client(url: &str) -> Arc<LlmClient> {
    let mut config = LlmConfig::new(url, "fake-model");
    config.backoff = Duration::from_millis(10);
    Arc::new(LlmClient::new(config).unwrap())
}

#[tokio::test]
async fn a_mixed_crew_runs_its_agents_through_the_llm_and_its_code_as_code() {
    let server = fake_server(vec![
        completion(r#"{"category": "order", "products": ["mango", "papaya"]}"#),
        completion(r#"{"summary": "An order for two fruits."}"#),
    ])
    .await;
    let runner = Runner::new(mixed::Crew(Team))
        .progress(false)
        .llm(client(&server.url));
    let state = mixed::State {
        email: Some("Please send 20 kg of mangoes and 5 of papayas.".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    assert_eq!(run.state.category.as_deref(), Some("order"));
    assert_eq!(run.state.count, Some(2));
    assert_eq!(
        run.state.summary.as_deref(),
        Some("An order for two fruits.")
    );
    // Each agent task's record holds its model, calls and the server's token counts.
    let rows = runner.log().tasks(&run.id).unwrap();
    let usage: Vec<Option<(u32, u64, u64)>> = rows
        .iter()
        .map(|r| {
            r.llm
                .as_ref()
                .map(|u| (u.calls, u.prompt_tokens, u.completion_tokens))
        })
        .collect();
    assert_eq!(usage, [Some((1, 10, 4)), None, Some((1, 10, 4))]);
    assert_eq!(rows[0].llm.as_ref().unwrap().model, "fake-model");
    // `log` shows them per task and in all.
    let record = runner.log().run(&run.id).unwrap().unwrap();
    let mut shown = Vec::new();
    tasknet::report::print_run(&**runner.log(), &record, &mut shown).unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert!(shown.contains("TOKENS IN/OUT"), "{shown}");
    let classify = shown
        .lines()
        .find(|l| l.contains("classify_message"))
        .unwrap();
    assert!(classify.contains(" 10/4 "), "{shown}");
    assert!(
        shown.contains("llm    2 calls, 20 prompt + 8 completion tokens"),
        "{shown}"
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        2,
        "one call per agent task, none for the code task"
    );
    let classify = &seen[0].1;
    assert_eq!(classify["messages"][0]["role"], "system");
    assert_eq!(
        classify["messages"][0]["content"],
        "You are Sales clerk. Ten years at the counter.\nYour goal: Sort the mail"
    );
    assert_eq!(
        classify["messages"][1]["content"],
        "Classify this email: Please send 20 kg of mangoes and 5 of papayas.\n\nExpected output: One category and the products it names.\n\nInput: {\"email\":\"Please send 20 kg of mangoes and 5 of papayas.\"}"
    );
    assert_eq!(
        classify["response_format"]["json_schema"]["schema"]["required"],
        json!(["category", "products"])
    );
    assert_eq!(
        seen[1].1["messages"][1]["content"],
        "Summarise the request in one sentence.\n\nExpected output: One sentence.\n\nInput: {\"category\":\"order\",\"count\":2}"
    );
}

/// An answer that never parses goes back `guardrail_max_retries` times (1 here), then fails
/// the task with the raw reply; the record keeps what the failed answers cost.
#[tokio::test]
async fn an_answer_that_never_parses_fails_the_task_after_its_retries() {
    let bad = || completion(r#"{"category": "order", "products": "mango"}"#);
    let server = fake_server(vec![bad(), bad(), bad()]).await;
    let runner = Runner::new(mixed::Crew(Team))
        .progress(false)
        .llm(client(&server.url));
    let state = mixed::State {
        email: Some("A mango.".into()),
        ..Default::default()
    };
    let err = runner.run(state).await.unwrap_err().to_string();
    assert!(
        err.contains("the answer is not the task's output: after 2 answers"),
        "{err}"
    );
    assert!(err.contains("field `products` must be an array"), "{err}");
    assert_eq!(server.seen.lock().unwrap().len(), 2);
    let run = runner.log().runs().unwrap().remove(0);
    let rows = runner.log().tasks(&run.id).unwrap();
    assert_eq!(rows[0].llm.as_ref().map(|u| u.calls), Some(2));
}

#[tokio::test]
async fn an_agent_task_without_an_llm_fails_clearly() {
    let runner = Runner::new(mixed::Crew(Team)).progress(false);
    let state = mixed::State {
        email: Some("hi".into()),
        ..Default::default()
    };
    let err = runner.run(state).await.unwrap_err().to_string();
    assert!(
        err.contains(
            "task `classify_message` runs through its agent `classifier`, but no LLM is configured"
        ),
        "{err}"
    );
}

/// A CrewAI file runs with no task code: each `<task>_output` is the agent's text answer.
#[tokio::test]
async fn a_crewai_file_runs_with_no_task_code() {
    let server = fake_server(vec![
        completion("- LLMs got cheaper\n- Agents got tools"),
        completion("# Report\nAI agents matured."),
    ])
    .await;
    let runner = Runner::new(crewai_test_config::Crew(NoCode))
        .progress(false)
        .llm(client(&server.url));
    let state = crewai_test_config::State {
        topic: Some("AI agents".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    assert_eq!(
        run.state.research_task_output.as_deref(),
        Some("- LLMs got cheaper\n- Agents got tools")
    );
    assert_eq!(
        run.state.reporting_task_output.as_deref(),
        Some("# Report\nAI agents matured.")
    );
    let seen = server.seen.lock().unwrap();
    // A text task asks for text: no response_format; the second reads the first's output.
    assert!(seen[0].1.get("response_format").is_none());
    let system = seen[0].1["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are AI agents Senior Data Researcher."),
        "{system}"
    );
    let second = seen[1].1["messages"][1]["content"].as_str().unwrap();
    assert!(second.contains("- LLMs got cheaper"), "{second}");
}

/// An `App` binary takes the LLM from `--llm` and `--model` (or the environment); without one,
/// a task left to its agent fails the run, saying how to configure it.
#[test]
fn an_app_runs_its_agents_through_the_llm_it_is_given() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(fake_server(vec![
        completion(r#"{"category": "order", "products": ["mango"]}"#),
        completion(r#"{"summary": "One mango order."}"#),
    ]));
    let app = || {
        tasknet::App::new("mixed", mixed::Crew(Team))
            .db("memory:")
            .inputs(|| {
                Ok(mixed::State {
                    email: Some("One mango, please.".into()),
                    ..Default::default()
                })
            })
    };
    let code = app().main_from([
        "mixed",
        "--quiet",
        "--llm",
        &server.url,
        "--model",
        "openai/fake-model",
    ]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].1["model"], "fake-model",
        "the provider prefix is CrewAI's, not the model's"
    );
    drop(seen);
    // (Unless this machine names a model in the environment.)
    if std::env::var_os(tasknet::llm::MODEL_ENV).is_none() {
        let code = app().main_from(["mixed", "--quiet"]);
        assert_eq!(code, std::process::ExitCode::FAILURE);
    }
}
