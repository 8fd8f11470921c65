//! The seed's sales pipeline: read the oldest email of the inbox, classify it, check the stock,
//! write the reply. The dataflow (which task reads what) is declared in tasks.yaml and checked
//! at compile time; the four methods below are the agents.
//!
//! Run: `cargo run --example tropical_sales` (works from any directory).
//!
//! Until the runtime executor lands (SQLite execution log, replay, concurrency: issue #3),
//! `main` drives the registry itself, in its topological order.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde_json::json;
use tasknet::{TaskContext, TaskError, TaskSet, TaskState};

tasknet::task_registry!(
    file = "examples/tropical_sales/tasks.yaml",
    agents = "examples/tropical_sales/agents.yaml"
);

struct SalesTeam;

impl Tasks for SalesTeam {
    async fn read_email(
        &self,
        _ctx: &TaskContext,
        input: ReadEmailInput,
    ) -> Result<ReadEmailOutput, TaskError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&input.inbox_dir)
            .map_err(|e| TaskError::msg(format!("cannot read inbox {}: {e}", input.inbox_dir)))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files.truncate(input.input_data.max_emails as usize);
        let path = files
            .first()
            .ok_or_else(|| TaskError::msg(format!("no .eml file in {}", input.inbox_dir)))?;
        let raw = std::fs::read(path)?;
        let message = mail_parser::MessageParser::default()
            .parse(&raw)
            .ok_or_else(|| TaskError::msg(format!("{} is not an email", path.display())))?;
        let sender = message.from().and_then(|a| a.first());
        Ok(ReadEmailOutput {
            email: json!({
                "file": path.file_name().map(|f| f.to_string_lossy()),
                "message_id": message.message_id(),
                "from": sender.and_then(|s| s.address()),
                "name": sender.and_then(|s| s.name()),
                "subject": message.subject(),
                "body": message.body_text(0),
            }),
        })
    }

    async fn classify_message(
        &self,
        _ctx: &TaskContext,
        input: ClassifyMessageInput,
    ) -> Result<ClassifyMessageOutput, TaskError> {
        let text = format!(
            "{} {}",
            input.email["subject"].as_str().unwrap_or_default(),
            input.email["body"].as_str().unwrap_or_default()
        )
        .to_lowercase();
        // A deterministic rule set: first match wins.
        let rules: [(&str, &[&str]); 3] = [
            (
                "complaint",
                &["complain", "damaged", "refund", "late delivery"],
            ),
            ("order", &["order", "we would like", "please send"]),
            ("stock_question", &["in stock", "do you have", "available"]),
        ];
        let category = rules
            .iter()
            .find(|(_, words)| words.iter().any(|w| text.contains(w)))
            .map_or("other", |(category, _)| category);
        debug_assert!(input.input_data.categories.contains(&category));
        let products = input
            .input_data
            .known_products
            .iter()
            .filter(|p| text.contains(*p))
            .map(|p| p.to_string())
            .collect();
        Ok(ClassifyMessageOutput {
            category: category.to_owned(),
            products,
        })
    }

    async fn check_stock_availability(
        &self,
        _ctx: &TaskContext,
        input: CheckStockAvailabilityInput,
    ) -> Result<CheckStockAvailabilityOutput, TaskError> {
        let csv = std::fs::read_to_string(&input.stock_file)
            .map_err(|e| TaskError::msg(format!("cannot read {}: {e}", input.stock_file)))?;
        let mut stock = serde_json::Map::new();
        for product in &input.products {
            let row = csv
                .lines()
                .skip(1)
                .map(|line| line.split(',').collect::<Vec<_>>())
                .find(|cols| cols.first() == Some(&product.as_str()));
            let entry = match row.as_deref() {
                Some([_, kg, price]) => {
                    let kg: u64 = kg.trim().parse()?;
                    let price: f64 = price.trim().parse()?;
                    json!({
                        "kg_in_stock": kg,
                        "price_per_kg_eur": price,
                        "low": kg < input.input_data.low_stock_threshold as u64,
                    })
                }
                _ => json!({"kg_in_stock": 0, "unknown": true}),
            };
            stock.insert(product.clone(), entry);
        }
        Ok(CheckStockAvailabilityOutput {
            stock: stock.into(),
        })
    }

    async fn generate_response(
        &self,
        _ctx: &TaskContext,
        input: GenerateResponseInput,
    ) -> Result<GenerateResponseOutput, TaskError> {
        let name = input.email["name"].as_str().unwrap_or("customer");
        let mut lines = vec![format!("Dear {name},"), String::new()];
        lines.push(match input.category.as_str() {
            "order" => "Thank you for your order. Here is what we can deliver:".to_owned(),
            "stock_question" => "Thank you for asking. Our current stock:".to_owned(),
            "complaint" => "We are sorry to hear that. A colleague will call you today.".to_owned(),
            _ => "Thank you for your message.".to_owned(),
        });
        if let Some(stock) = input.stock.as_object() {
            for (product, s) in stock {
                let kg = s["kg_in_stock"].as_u64().unwrap_or(0);
                let line = match s["price_per_kg_eur"].as_f64() {
                    Some(_) if kg == 0 => format!("- {product}: out of stock this week"),
                    Some(price) => format!("- {product}: {kg} kg available at EUR {price:.2}/kg"),
                    None => format!("- {product}: not in our catalogue"),
                };
                lines.push(line);
            }
        }
        lines.extend([String::new(), "Kind regards,".to_owned()]);
        lines.push(input.input_data.signature.to_owned());
        Ok(GenerateResponseOutput {
            response: lines.join("\n"),
        })
    }
}

/// These tasks do blocking file reads and never wait, so polling once finishes them.
fn finish<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a tropical_sales task waited; use the runtime executor"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tropical_sales/data");
    let mut state = State {
        inbox_dir: Some(data.join("inbox").display().to_string()),
        stock_file: Some(data.join("stock.csv").display().to_string()),
        ..State::default()
    };
    let crew = Crew(SalesTeam);
    for &index in TASK_REGISTRY.order {
        let spec = &TASK_REGISTRY.tasks[index];
        let ctx = TaskContext {
            task: spec.name.into(),
            run_id: "tropical-sales-1".into(),
            agent: spec.agent.map(str::to_owned),
            ..TaskContext::default()
        };
        let output = finish(crew.call(index, &ctx, &state)?)
            .map_err(|e| format!("task `{}` failed: {e}", spec.name))?;
        output.apply(&mut state);
        eprintln!(
            "[{}/{}] {} done",
            state.execution_log().len(),
            TASK_REGISTRY.tasks.len(),
            spec.name
        );
    }
    println!(
        "email:    {} ({})",
        state
            .email
            .as_ref()
            .map_or("", |e| e["subject"].as_str().unwrap_or("")),
        state.category.as_deref().unwrap_or("")
    );
    println!(
        "products: {}",
        state.products.clone().unwrap_or_default().join(", ")
    );
    println!("\n{}", state.response.as_deref().unwrap_or_default());
    Ok(())
}
