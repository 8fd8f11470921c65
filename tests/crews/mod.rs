//! The crews the agent tests run (tests/agents.rs against a scripted server,
//! tests/llm_model.rs against a real model): one mixing agent tasks with code, one of
//! CrewAI's own files with no task code at all, and crews with tools, guardrails and human input.

// Shared by tests/agents.rs and tests/llm_model.rs, each of which uses a part.
#![allow(dead_code)]

use tasknet::{TaskContext, TaskError};

pub mod mixed {
    tasknet::task_registry!(
        file = "tests/fixtures/mixed_crew.tasks.yaml",
        agents = "tests/fixtures/mixed_crew.agents.yaml"
    );
}

/// The mixed crew with agents.yaml naming the classifier's model.
pub mod models {
    tasknet::task_registry!(
        file = "tests/fixtures/mixed_crew.tasks.yaml",
        agents = "tests/fixtures/models_crew.agents.yaml"
    );
}

pub mod crewai_test_config {
    tasknet::task_registry!(
        file = "tests/fixtures/crewai/lib__crewai__tests__config__tasks.yaml",
        agents = "tests/fixtures/crewai/lib__crewai__tests__config__agents.yaml"
    );
}

/// Only `count_products` (no agent) is code; the other two are left to their agents.
pub struct Team;

impl mixed::Tasks for Team {
    async fn count_products(
        &self,
        _ctx: &TaskContext,
        input: mixed::CountProductsInput,
    ) -> Result<mixed::CountProductsOutput, TaskError> {
        Ok(mixed::CountProductsOutput {
            count: input.products.len() as u64,
        })
    }
}

impl models::Tasks for Team {
    async fn count_products(
        &self,
        _ctx: &TaskContext,
        input: models::CountProductsInput,
    ) -> Result<models::CountProductsOutput, TaskError> {
        Ok(models::CountProductsOutput {
            count: input.products.len() as u64,
        })
    }
}

/// `count_products` in code, and a guardrail on `classify_message`'s typed output.
pub struct Picky;

impl mixed::Tasks for Picky {
    async fn count_products(
        &self,
        ctx: &TaskContext,
        input: mixed::CountProductsInput,
    ) -> Result<mixed::CountProductsOutput, TaskError> {
        mixed::Tasks::count_products(&Team, ctx, input).await
    }

    fn classify_message_guardrail(
        &self,
        output: &mixed::ClassifyMessageOutput,
    ) -> Result<(), String> {
        const CATEGORIES: [&str; 3] = ["order", "question", "complaint"];
        if CATEGORIES.contains(&output.category.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "the category must be one of order, question, complaint, not `{}`",
                output.category
            ))
        }
    }
}

pub mod guarded {
    tasknet::task_registry!(
        file = "tests/fixtures/guarded_crew.tasks.yaml",
        agents = "tests/fixtures/mixed_crew.agents.yaml"
    );
}

/// No task code: the text guardrail is the yaml's.
pub struct Guarded;

impl guarded::Tasks for Guarded {}

/// No task code: every task runs through its agent.
pub struct NoCode;

impl crewai_test_config::Tasks for NoCode {}

pub mod tool_crew {
    tasknet::task_registry!(
        file = "tests/fixtures/tool_crew.tasks.yaml",
        agents = "tests/fixtures/tool_crew.agents.yaml"
    );
}

/// The arguments of both stock tools.
#[derive(serde::Deserialize, tasknet::schemars::JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Product {
    /// The product's name, e.g. `mango`.
    pub product: String,
}

/// No task code; the two tools. When `meet` is set, each lookup of a mango waits until another
/// one has started too, so a crew that ran two such calls one after the other would hang.
#[derive(Default)]
pub struct Warehouse {
    pub meet: Option<std::sync::Arc<tokio::sync::Barrier>>,
    /// How many times `check_stock` ran.
    pub stock_checks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tool_crew::Tasks for Warehouse {}

impl tool_crew::Tools for Warehouse {
    fn check_stock(&self) -> tasknet::Tool {
        let meet = self.meet.clone();
        let stock_checks = self.stock_checks.clone();
        tasknet::Tool::new("Whether a product is in stock.", move |p: Product| {
            let meet = meet.clone();
            stock_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                if let Some(meet) = meet.filter(|_| p.product == "mango") {
                    meet.wait().await;
                }
                match p.product.as_str() {
                    "mango" => Ok(serde_json::json!({"product": "mango", "in_stock": true})),
                    other => Err(format!("no product `{other}` in the warehouse")),
                }
            }
        })
    }

    fn price_of(&self) -> tasknet::Tool {
        let meet = self.meet.clone();
        tasknet::Tool::new(
            "The price of a product, in euros per kg.",
            move |p: Product| {
                let meet = meet.clone();
                async move {
                    if let Some(meet) = meet.filter(|_| p.product == "mango") {
                        meet.wait().await;
                    }
                    Ok::<_, String>(if p.product == "mango" { 3.5 } else { 0.0 })
                }
            },
        )
    }
}

pub mod one_tool {
    tasknet::task_registry!(
        file = "tests/fixtures/one_tool.tasks.yaml",
        agents = "tests/fixtures/tool_crew.agents.yaml"
    );
}

impl one_tool::Tasks for Warehouse {}

impl one_tool::Tools for Warehouse {
    fn check_stock(&self) -> tasknet::Tool {
        tool_crew::Tools::check_stock(self)
    }

    fn price_of(&self) -> tasknet::Tool {
        tool_crew::Tools::price_of(self)
    }
}

pub mod human {
    tasknet::task_registry!(
        file = "tests/fixtures/human_crew.tasks.yaml",
        agents = "tests/fixtures/mixed_crew.agents.yaml"
    );
}

/// No task code: the answer goes to a person.
pub struct Drafts;

impl human::Tasks for Drafts {}

/// A task server on a free loopback port for the human crew, answering through the LLM at
/// `url` and logging to memory: its log and address.
pub async fn serve_drafts(
    url: &str,
) -> (std::sync::Arc<dyn tasknet::Storage>, std::net::SocketAddr) {
    use std::sync::Arc;
    use tasknet::llm::{LlmClient, LlmConfig};
    use tasknet::server::{Server, ServerConfig};
    let log: Arc<dyn tasknet::Storage> = Arc::new(tasknet::MemoryStorage::new());
    let llm = LlmClient::new(LlmConfig::new(url, "fake-model")).unwrap();
    let runner = tasknet::Runner::new(human::Crew(Drafts))
        .shared_storage(log.clone())
        .progress(false)
        .llm(Arc::new(llm));
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let server = Server::bind(runner, config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    (log, addr)
}

/// A scripted person: gives each feedback in turn (the last one again when they run out) and
/// keeps the answers it was shown.
pub struct Reviewer {
    pub feedback: Vec<&'static str>,
    pub shown: std::sync::Mutex<Vec<String>>,
}

impl tasknet::llm::HumanFeedback for Reviewer {
    fn feedback<'a>(&'a self, task: &'a str, answer: &'a str) -> tasknet::llm::FeedbackFuture<'a> {
        let mut shown = self.shown.lock().unwrap();
        shown.push(format!("{task}: {answer}"));
        let n = shown.len().min(self.feedback.len()) - 1;
        let feedback = self.feedback[n].to_owned();
        Box::pin(async move { Ok(feedback) })
    }
}

/// An order, as the typed crew's agent must give it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, tasknet::schemars::JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Order {
    /// The products ordered.
    pub products: Vec<String>,
    /// Kilograms in all.
    pub kg: f64,
}

pub mod typed {
    tasknet::task_registry!(
        file = "tests/fixtures/typed_crew.tasks.yaml",
        agents = "tests/fixtures/mixed_crew.agents.yaml"
    );
}

/// No task code.
pub struct OrderDesk;

impl typed::Tasks for OrderDesk {}
