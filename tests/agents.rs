//! Agents that act: a task whose agent agents.yaml defines runs through the runner's LLM with
//! no code, a task implemented in code runs as code, and a CrewAI file runs with no task code
//! at all. Against a scripted fake server here (the real model's tests need its server).

mod crews;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tasknet::Runner;
use tasknet::llm::{LlmClient, LlmConfig};

use crews::{
    Drafts, Guarded, NoCode, OrderDesk, Picky, Reviewer, Team, Warehouse, crewai_test_config,
    guarded, human, mixed, tool_crew, typed,
};
use tasknet_testkit::fake_llm::{completion, fake_server, tool_calls};

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
        "Classify this email: Please send 20 kg of mangoes and 5 of papayas.\n\nExpected output: One category and the products it names.",
        "the email is in the description already: it is not sent again as input"
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
        // The file's `guardrail` text, checked by the LLM.
        completion(r#"{"valid": true, "feedback": ""}"#),
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
    assert!(
        seen[1].1["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Rule: ensure each bullet contains its source"),
        "{}",
        seen[1].1
    );
    let second = seen[2].1["messages"][1]["content"].as_str().unwrap();
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

fn stock_question() -> tool_crew::State {
    tool_crew::State {
        product: Some("mango".into()),
        ..Default::default()
    }
}

/// The agent calls both its tools in one turn; they run at once (each waits for the other),
/// their results go back with the calls' ids, and the answer after them is the typed output:
/// two calls, no schema on the tool turn, no third call to re-ask.
#[tokio::test]
async fn an_agent_calls_its_tools_concurrently_and_answers_with_their_results() {
    let server = fake_server(vec![
        tool_calls(&[
            ("check_stock", json!({"product": "mango"})),
            ("price_of", json!({"product": "mango"})),
        ]),
        completion(r#"{"in_stock": true, "price": 3.5}"#),
        tool_calls(&[("check_stock", json!({"product": "kiwi"}))]),
        completion(r#"{"quick_answer": "No."}"#),
    ])
    .await;
    let crew = Warehouse {
        meet: Some(Arc::new(tokio::sync::Barrier::new(2))),
        ..Warehouse::default()
    };
    let runner = Runner::new(tool_crew::Crew(crew))
        .progress(false)
        .llm(client(&server.url));
    let run = tokio::time::timeout(Duration::from_secs(20), runner.run(stock_question()))
        .await
        .expect("the two tool calls ran one after the other: each waits for the other")
        .unwrap();
    assert_eq!(run.state.in_stock, Some(true));
    assert_eq!(run.state.price, Some(3.5));
    assert_eq!(run.state.quick_answer.as_deref(), Some("No."));
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    let first = &seen[0].1;
    let offered: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["check_stock", "price_of"]);
    assert_eq!(
        first["tools"][0]["function"]["parameters"]["properties"]["product"]["description"],
        "The product's name, e.g. `mango`."
    );
    assert!(
        first.get("response_format").is_none(),
        "the schema is never sent with the tools: {first}"
    );
    let messages = seen[1].1["messages"].as_array().unwrap();
    let results: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_call_id"].as_str().unwrap(),
                m["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("call_0", r#"{"in_stock":true,"product":"mango"}"#),
            ("call_1", "3.5")
        ]
    );
    assert_eq!(messages[2]["tool_calls"][1]["function"]["name"], "price_of");
    // The quick check's tool failed: the error went back to the model as the call's result.
    let quick = seen[3].1["messages"].as_array().unwrap();
    assert_eq!(
        quick.last().unwrap()["content"],
        "Error: no product `kiwi` in the warehouse"
    );
    drop(seen);
    let rows = runner.log().tasks(&run.id).unwrap();
    let calls: Vec<Option<u32>> = rows
        .iter()
        .map(|r| r.llm.as_ref().map(|u| u.calls))
        .collect();
    assert_eq!(calls, [Some(2), Some(2)]);
}

/// An agent that keeps calling tools stops at its `max_iter` (2, from agents.yaml) with an
/// error that says so; a call of a tool it was not offered is answered with the tools it has.
#[tokio::test]
async fn an_agent_that_keeps_calling_tools_stops_at_its_max_iter() {
    let server = fake_server(vec![
        tool_calls(&[("check_stock", json!({"product": "mango"}))]),
        completion(r#"{"in_stock": true, "price": 3.5}"#),
        tool_calls(&[("price_of", json!({"product": "mango"}))]),
        tool_calls(&[("check_stock", json!({"product": "mango"}))]),
        completion("too late"),
    ])
    .await;
    let runner = Runner::new(tool_crew::Crew(Warehouse::default()))
        .progress(false)
        .llm(client(&server.url));
    let err = runner.run(stock_question()).await.unwrap_err().to_string();
    assert!(err.contains("quick_check"), "{err}");
    assert!(
        err.contains("still calling tools after 2 turns (its `max_iter`)"),
        "{err}"
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "no call after max_iter");
    let offered: Vec<&str> = seen[2].1["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["check_stock"], "the impatient agent's own tools");
    assert_eq!(
        seen[3].1["messages"].as_array().unwrap().last().unwrap()["content"],
        "Error: there is no tool `price_of`; the tools are: check_stock"
    );
    drop(seen);
    let run = runner.log().runs().unwrap().remove(0);
    let rows = runner.log().tasks(&run.id).unwrap();
    let quick = rows.iter().find(|r| r.task_name == "quick_check").unwrap();
    assert_eq!(quick.llm.as_ref().map(|u| u.calls), Some(2));
    let order = rows.iter().find(|r| r.task_name == "check_order").unwrap();
    assert_eq!(
        order.status,
        tasknet::TaskStatus::Succeeded,
        "the finished task's record is kept"
    );
}

/// The code's guardrail rejects a parsed answer: its message goes back to the agent, whose
/// next answer is taken.
#[tokio::test]
async fn a_code_guardrail_sends_its_reason_back_to_the_agent() {
    let server = fake_server(vec![
        completion(r#"{"category": "purchase", "products": ["mango"]}"#),
        completion(r#"{"category": "order", "products": ["mango"]}"#),
        completion(r#"{"summary": "An order."}"#),
    ])
    .await;
    let runner = Runner::new(mixed::Crew(Picky))
        .progress(false)
        .llm(client(&server.url));
    let state = mixed::State {
        email: Some("A mango, please.".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    assert_eq!(run.state.category.as_deref(), Some("order"));
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let retry = seen[1].1["messages"].as_array().unwrap();
    assert_eq!(
        retry.last().unwrap()["content"],
        "Your answer cannot be used: it was rejected: the category must be one of order, question, complaint, not `purchase`. Answer again with only the corrected JSON object."
    );
    drop(seen);
    let rows = runner.log().tasks(&run.id).unwrap();
    assert_eq!(rows[0].llm.as_ref().map(|u| u.calls), Some(2));
}

/// CrewAI's text `guardrail`: the LLM judges each answer against the rule; a broken rule's
/// feedback goes back to the agent; the checks count in the task's LLM use.
#[tokio::test]
async fn a_text_guardrail_is_checked_by_the_llm() {
    let server = fake_server(vec![
        completion(
            r#"{"summary": "The customer writes a long email about many fruits and prices."}"#,
        ),
        completion(r#"{"valid": false, "feedback": "Make it at most ten words."}"#),
        completion(r#"{"summary": "A fruit order."}"#),
        completion(r#"{"valid": true, "feedback": ""}"#),
    ])
    .await;
    let runner = Runner::new(guarded::Crew(Guarded))
        .progress(false)
        .llm(client(&server.url));
    let state = guarded::State {
        email: Some("Dear shop, ...".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    assert_eq!(run.state.summary.as_deref(), Some("A fruit order."));
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    let check = &seen[1].1;
    assert_eq!(
        check["messages"][1]["content"],
        "Rule: The summary is one sentence of at most ten words.\n\nAnswer: {\"summary\": \"The customer writes a long email about many fruits and prices.\"}"
    );
    assert_eq!(
        check["response_format"]["json_schema"]["schema"]["required"],
        json!(["valid", "feedback"])
    );
    assert_eq!(
        seen[2].1["messages"].as_array().unwrap().last().unwrap()["content"],
        "Your answer cannot be used: it was rejected: Make it at most ten words.. Answer again with only the corrected JSON object."
    );
    drop(seen);
    let rows = runner.log().tasks(&run.id).unwrap();
    let usage = rows[0].llm.as_ref().unwrap();
    assert_eq!(
        (usage.calls, usage.prompt_tokens, usage.completion_tokens),
        (4, 40, 16)
    );
}

fn draft_request() -> human::State {
    human::State {
        email: Some("Do you sell mangoes?".into()),
        ..Default::default()
    }
}

/// `human_input: true`: the person's feedback goes back to the agent, and an empty one accepts
/// the answer.
#[tokio::test]
async fn human_feedback_goes_back_to_the_agent_until_the_person_accepts() {
    let server = fake_server(vec![
        completion(r#"{"reply": "Yes."}"#),
        completion(r#"{"reply": "Yes, we sell mangoes: 3.50 EUR per kg."}"#),
    ])
    .await;
    let reviewer = Arc::new(Reviewer {
        feedback: vec!["Give the price.", ""],
        shown: Default::default(),
    });
    let runner = Runner::new(human::Crew(Drafts))
        .progress(false)
        .llm(client(&server.url))
        .human_input(reviewer.clone());
    let run = runner.run(draft_request()).await.unwrap();
    assert_eq!(
        run.state.reply.as_deref(),
        Some("Yes, we sell mangoes: 3.50 EUR per kg.")
    );
    assert_eq!(
        *reviewer.shown.lock().unwrap(),
        [
            r#"draft_reply: {"reply": "Yes."}"#,
            r#"draft_reply: {"reply": "Yes, we sell mangoes: 3.50 EUR per kg."}"#
        ]
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[1].1["messages"].as_array().unwrap().last().unwrap()["content"],
        "Feedback on your answer: Give the price.\nAnswer again, following it."
    );
}

/// With no one to ask, a crew with a `human_input` task fails at the start of the run, before
/// any LLM call, naming the task.
#[tokio::test]
async fn human_input_without_anyone_to_ask_fails_at_the_start() {
    let server = fake_server(vec![completion(r#"{"reply": "Yes."}"#)]).await;
    let runner = Runner::new(human::Crew(Drafts))
        .progress(false)
        .llm(client(&server.url));
    let err = runner.run(draft_request()).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "task `draft_reply` asks for human input (`human_input: true`), but no one can give it: run on a terminal, or give the runner a reviewer in code (`Runner::human_input`)"
    );
    assert!(server.seen.lock().unwrap().is_empty());
    assert!(
        runner.log().runs().unwrap().is_empty(),
        "no run was started"
    );
}

/// A user's type in `produces` is described to the model by its own `JsonSchema` (doc comments
/// included), and the answer parses into it.
#[tokio::test]
async fn a_users_output_type_is_asked_for_with_its_own_schema() {
    let server = fake_server(vec![completion(
        r#"{"order": {"products": ["mango"], "kg": 20}}"#,
    )])
    .await;
    let runner = Runner::new(typed::Crew(OrderDesk))
        .progress(false)
        .llm(client(&server.url));
    let state = typed::State {
        email: Some("20 kg of mangoes, please.".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    let order = run.state.order.unwrap();
    assert_eq!((order.products, order.kg), (vec!["mango".to_owned()], 20.0));
    let seen = server.seen.lock().unwrap();
    let schema = &seen[0].1["response_format"]["json_schema"]["schema"];
    assert_eq!(schema["properties"]["order"]["$ref"], "#/$defs/Order");
    assert_eq!(
        schema["$defs"]["Order"]["properties"]["kg"]["description"],
        "Kilograms in all."
    );
    assert_eq!(schema["required"], json!(["order"]));
}

/// An agent whose agents.yaml entry names a model (`llm: openai/classifier-model`) is asked
/// for that model, on the runner's server; the others get the runner's model. Each record
/// names the model its task used. An agent with `output_mode: tool` is asked for its typed
/// answer as the arguments of one function it must call.
#[tokio::test]
async fn an_agent_asks_for_the_model_its_agents_yaml_names() {
    let server = fake_server(vec![
        completion(r#"{"category": "order", "products": ["mango"]}"#),
        tool_calls(&[("write_summary_output", json!({"summary": "One mango."}))]),
    ])
    .await;
    let runner = Runner::new(crews::models::Crew(Team))
        .progress(false)
        .llm(client(&server.url));
    let state = crews::models::State {
        email: Some("One mango, please.".into()),
        ..Default::default()
    };
    let run = runner.run(state).await.unwrap();
    assert_eq!(run.state.summary.as_deref(), Some("One mango."));
    let seen = server.seen.lock().unwrap();
    let models: Vec<&Value> = seen.iter().map(|(_, body)| &body["model"]).collect();
    assert_eq!(models, [&json!("classifier-model"), &json!("fake-model")]);
    let by_tool = &seen[1].1;
    assert!(by_tool.get("response_format").is_none(), "{by_tool}");
    assert_eq!(
        by_tool["tools"][0]["function"]["name"],
        "write_summary_output"
    );
    assert_eq!(
        by_tool["tools"][0]["function"]["parameters"]["required"],
        json!(["summary"])
    );
    assert_eq!(
        by_tool["tool_choice"],
        json!({"type": "function", "function": {"name": "write_summary_output"}})
    );
    let rows = runner.log().tasks(&run.id).unwrap();
    let recorded: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.llm.as_ref().map(|u| u.model.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [Some("classifier-model"), None, Some("fake-model")]
    );
}
