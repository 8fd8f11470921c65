//! End to end in a real browser: the server runs the seed pipeline, headless Chromium opens
//! the runner page, clicks Run, and the page plays the Petri net (each task place's `logica`
//! runs its task over the WebSocket) until the end place holds its token; the log then holds
//! one succeeded run with all four tasks.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); skipped without
//! them unless TASKNET_REQUIRE_TOOLS=1. With
//! `TASKNET_SCREENSHOT=docs/runner.png` it also writes the screenshot shown in the README.

// The example's pipeline module; this test uses its tasks, not its report writer.
#[allow(dead_code)]
#[path = "../examples/tropical_sales/pipeline.rs"]
mod pipeline;
// The crews of the agent tests; this test uses the human-input one.
mod crews;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use pipeline::{Crew, SalesTeam};
use serde_json::json;
use tasknet::server::{Server, ServerConfig};
use tasknet::{
    LlmUsage, RunStatus, Runner, SqliteStorage, Storage, TaskContext, TaskError, TaskStatus,
};
use tasknet_testkit::fake_llm::{completion, fake_server};

/// The seed's team, whose `classify_message` reports what an LLM call of its own cost (as a
/// hand-written task that calls a model does, through `TaskContext::record_llm_usage`): the
/// page shows it.
struct MeteredTeam;

impl pipeline::Tasks for MeteredTeam {
    async fn read_email(
        &self,
        ctx: &TaskContext,
        input: pipeline::ReadEmailInput,
    ) -> Result<pipeline::ReadEmailOutput, TaskError> {
        SalesTeam.read_email(ctx, input).await
    }

    async fn classify_message(
        &self,
        ctx: &TaskContext,
        input: pipeline::ClassifyMessageInput,
    ) -> Result<pipeline::ClassifyMessageOutput, TaskError> {
        ctx.record_llm_usage(&LlmUsage {
            model: "metered".into(),
            calls: 1,
            prompt_tokens: 120,
            completion_tokens: 7,
            llm_ms: 3.0,
        });
        SalesTeam.classify_message(ctx, input).await
    }

    async fn check_stock_availability(
        &self,
        ctx: &TaskContext,
        input: pipeline::CheckStockAvailabilityInput,
    ) -> Result<pipeline::CheckStockAvailabilityOutput, TaskError> {
        SalesTeam.check_stock_availability(ctx, input).await
    }

    async fn generate_response(
        &self,
        ctx: &TaskContext,
        input: pipeline::GenerateResponseInput,
    ) -> Result<pipeline::GenerateResponseOutput, TaskError> {
        SalesTeam.generate_response(ctx, input).await
    }
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_chromedriver(chromedriver: &tasknet_testkit::Tool) -> (Driver, u16) {
    let port = free_port();
    let child = chromedriver
        .command()
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (driver, port)
}

/// A headless Chromium session through chromedriver, or `None` (after saying why) when they
/// are not installed. The driver and the profile live as long as the session.
async fn chromium_session() -> Option<(Driver, tempfile::TempDir, fantoccini::Client)> {
    const INSTALL: &str = "Debian: chromium and chromium-driver; .ci/run installs them";
    let chromium = tasknet_testkit::tool("chromium", INSTALL)?;
    let chromedriver = tasknet_testkit::tool("chromedriver", INSTALL)?;
    let (driver, port) = start_chromedriver(&chromedriver).await;
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium.path(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some((driver, profile, client))
}

/// The value of the page's `document.body.dataset[key]` (`""` when unset).
async fn dataset(
    client: &fantoccini::Client,
    key: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let value = client
        .execute(&format!("return document.body.dataset.{key} || ''"), vec![])
        .await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

/// Waits (at most until `deadline`) for `dataset(key)` to be one of `values`; returns it.
async fn wait_for(
    client: &fantoccini::Client,
    key: &str,
    values: &[&str],
    deadline: Instant,
) -> Result<String, fantoccini::error::CmdError> {
    loop {
        let now = dataset(client, key).await?;
        if values.contains(&now.as_str()) {
            return Ok(now);
        }
        assert!(
            Instant::now() < deadline,
            "the page's {key} is `{now}`, not one of {values:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_page_plays_the_seed_net_in_chromium() {
    let Some((_driver, _profile, client)) = chromium_session().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let db = out.path().join("log.db");
    let initial = pipeline::prepare(out.path()).unwrap();
    let runner = Runner::new(Crew(MeteredTeam))
        .storage(SqliteStorage::open(&db).unwrap())
        .progress(false);
    let server = Server::bind(
        runner,
        ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            // The page gets the token from its own URL and passes it on to every request it
            // makes (the net, the inputs, the WebSocket): without that, nothing would run.
            token: Some("browser-token".to_owned()),
            ..Default::default()
        }
        // The folders and the stock database are the server's: the page never sees them.
        .server_inputs_from(&initial),
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));

    let result = async {
        client
            .goto(&format!("http://{addr}/?token=browser-token"))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = |client: &fantoccini::Client| {
            let client = client.clone();
            async move {
                client
                    .execute("return document.body.dataset.status", vec![])
                    .await
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
            }
        };
        while status(&client).await? != "ready" {
            assert!(Instant::now() < deadline, "the page did not load the net");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client.find(Locator::Css("#run")).await?.click().await?;
        let finished = loop {
            let now = status(&client).await?;
            if now == "done" || now == "error" {
                break now;
            }
            assert!(Instant::now() < deadline, "the run did not finish in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let text = client.find(Locator::Css("#status")).await?.text().await?;
        let final_state = client.find(Locator::Css("#final")).await?.text().await?;
        let run_id = client
            .execute("return document.body.dataset.runId", vec![])
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The page shows the run's LLM use once the run is over, from the log.
        while client
            .execute("return document.body.dataset.llmCalls", vec![])
            .await?
            .is_null()
        {
            assert!(Instant::now() < deadline, "the page did not show the LLM use");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let usage = client.find(Locator::Css("#usage")).await?.text().await?;
        let classify_row = client
            .execute(
                "return [...document.querySelectorAll('#places tbody tr')].find((r) => r.cells[0].textContent === 'classify_message').cells[3].textContent",
                vec![],
            )
            .await?;
        if let Ok(path) = std::env::var("TASKNET_SCREENSHOT") {
            let png = client.screenshot().await?;
            std::fs::write(path, png).unwrap();
        }
        Ok::<_, fantoccini::error::CmdError>((
            finished,
            text,
            final_state,
            run_id,
            usage,
            classify_row,
        ))
    }
    .await;
    let _ = client.close().await;
    let (finished, text, final_state, run_id, usage, classify_row) = result.unwrap();
    assert_eq!(finished, "done", "{text}");
    assert_eq!(usage, "LLM: 1 call, 120 prompt + 7 completion tokens");
    assert_eq!(classify_row, "120/7 (1 call)");
    let final_state: serde_json::Value = serde_json::from_str(&final_state).unwrap();
    let replies = final_state["replies"].as_object().unwrap();
    assert_eq!(
        replies.len(),
        5,
        "the run answered five emails: {replies:?}"
    );
    assert!(
        replies["001-order.eml"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Dear Ana Souza")
    );
    for owned in ["inbox_dir", "outbox_dir", "stock_db"] {
        assert!(final_state.get(owned).is_none(), "{owned} reached the page");
    }

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    let log = SqliteStorage::open(&db).unwrap();
    let runs = log.runs().unwrap();
    assert_eq!(runs.len(), 1, "one run per browser run");
    assert_eq!(runs[0].id, run_id, "the run the server issued to the page");
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert!(
        runs[0].inputs["outbox_dir"].is_string(),
        "the server's inputs are logged"
    );
    let tasks = log.tasks(&run_id).unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| &*t.task_name).collect();
    assert_eq!(
        names,
        [
            "read_email",
            "classify_message",
            "check_stock_availability",
            "generate_response"
        ]
    );
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Succeeded));
}

/// A `human_input` task run from the page: the page shows the agent's answer in its feedback
/// box; feedback typed there goes back to the agent, and Accept lets the run go on with the
/// answer accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_page_asks_a_person_for_human_input() {
    let Some((_driver, _profile, client)) = chromium_session().await else {
        return;
    };
    let llm = fake_server(vec![
        completion(r#"{"reply": "Yes."}"#),
        completion(r#"{"reply": "Yes, at 3.50 EUR per kg."}"#),
    ])
    .await;
    let (_log, addr) = crews::serve_drafts(&llm.url).await;

    let result = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        client.goto(&format!("http://{addr}/")).await?;
        wait_for(&client, "status", &["ready"], deadline).await?;
        client
            .execute(
                "document.getElementById('initial').value = JSON.stringify({email: 'Do you sell mangoes?'})",
                vec![],
            )
            .await?;
        client.find(Locator::Css("#run")).await?.click().await?;
        wait_for(&client, "review", &["draft_reply"], deadline).await?;
        let first = client.find(Locator::Css("#review-answer")).await?.text().await?;
        client
            .find(Locator::Css("#review-feedback"))
            .await?
            .send_keys("Give the price.")
            .await?;
        client.find(Locator::Css("#review-send")).await?.click().await?;
        // The box shows the next answer when the agent has given it.
        let second = loop {
            let shown = client
                .execute(
                    "return document.getElementById('review').hidden ? '' : document.getElementById('review-answer').textContent",
                    vec![],
                )
                .await?;
            let shown = shown.as_str().unwrap_or_default();
            if !shown.is_empty() && shown != first {
                break shown.to_owned();
            }
            assert!(Instant::now() < deadline, "no second answer to review");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        client.find(Locator::Css("#review-accept")).await?.click().await?;
        let finished = wait_for(&client, "status", &["done", "error"], deadline).await?;
        let text = client.find(Locator::Css("#status")).await?.text().await?;
        let hidden = client
            .execute("return document.getElementById('review').hidden", vec![])
            .await?;
        let final_state = client.find(Locator::Css("#final")).await?.text().await?;
        Ok::<_, fantoccini::error::CmdError>((first, second, finished, text, hidden, final_state))
    }
    .await;
    let _ = client.close().await;
    let (first, second, finished, text, hidden, final_state) = result.unwrap();
    assert_eq!(first, r#"{"reply": "Yes."}"#);
    assert_eq!(second, r#"{"reply": "Yes, at 3.50 EUR per kg."}"#);
    assert_eq!(finished, "done", "{text}");
    assert_eq!(hidden, json!(true), "the box goes away once answered");
    let final_state: serde_json::Value = serde_json::from_str(&final_state).unwrap();
    assert_eq!(final_state["reply"], "Yes, at 3.50 EUR per kg.");
    let seen = llm.seen.lock().unwrap();
    let last = seen[1].1["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["content"],
        "Feedback on your answer: Give the price.\nAnswer again, following it."
    );
}
