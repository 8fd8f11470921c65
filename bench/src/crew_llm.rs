//! tasknet's side of the LLM pair: bench/crew's three-task crew, every task left to its agent,
//! run once per email against an OpenAI-compatible server. What each run cost in calls and
//! tokens is counted by the harness's proxy, which sees both sides' requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasknet::Runner;
use tasknet::llm::{LlmClient, LlmConfig};

mod crew {
    tasknet::task_registry!(file = "crew/tasks.yaml", agents = "crew/agents.yaml");
    /// No task code: every task runs through its agent.
    pub struct Agents;
    impl Tasks for Agents {}
}

/// `crew-llm --url URL --emails FILE [--max-tokens N]`: one run per email of FILE (a JSON
/// list), one after the other.
pub fn crew_llm(args: &super::Args) -> Value {
    let url = args
        .text("url")
        .unwrap_or_else(|| super::fail("--url is required"));
    let emails = args
        .text("emails")
        .unwrap_or_else(|| super::fail("--emails is required"));
    let emails: Vec<String> = std::fs::read(emails)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| super::fail("--emails names a JSON list of strings"));
    let mut config = LlmConfig::new(url, "smollm2");
    config.temperature = Some(0.0);
    config.seed = Some(7);
    config.max_tokens = Some(args.number("max-tokens", Some(96)) as u32);
    config.timeout = Duration::from_secs(300);
    let client = Arc::new(LlmClient::new(config).unwrap_or_else(|e| super::fail(&e)));
    let runner = Runner::new(crew::Crew(crew::Agents))
        .progress(false)
        .llm(client);
    let runs: Vec<Value> = super::runtime().block_on(async {
        let mut runs = Vec::with_capacity(emails.len());
        for email in emails {
            let state = crew::State {
                email: Some(email),
                ..Default::default()
            };
            let started = Instant::now();
            let result = runner.run(state).await;
            let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
            runs.push(match result {
                Ok(run) => json!({
                    "wall_ms": wall_ms,
                    "completed": true,
                    "parsed": run.state.product.is_some() && run.state.kg.is_some(),
                }),
                Err(e) => json!({
                    "wall_ms": wall_ms,
                    "completed": false,
                    "parsed": false,
                    "error": e.to_string(),
                }),
            });
        }
        runs
    });
    json!({ "runs": runs })
}
