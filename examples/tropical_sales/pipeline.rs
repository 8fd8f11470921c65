//! The seed's sales pipeline: the registry generated from tasks.yaml and agents.yaml, and the
//! four agents. Offline and deterministic: the inbox is a folder of `.eml` files, the stock an
//! SQLite table seeded from `data/stock.csv`, replies go to an outbox folder as `.eml` files.
//! (Shared by `main.rs` and the end-to-end test, `tests/tropical_sales.rs`.)

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use tasknet::{Run, Storage, TaskContext, TaskError};

tasknet::task_registry!(
    file = "examples/tropical_sales/tasks.yaml",
    agents = "examples/tropical_sales/agents.yaml",
    name = "tropical_sales"
);

/// The example's shipped data, wherever the binary is started from.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tropical_sales/data")
}

/// Prepares an output folder (outbox, stock database seeded from the CSV) and returns the
/// kickoff inputs.
pub fn prepare(out: &Path) -> Result<State, Box<dyn std::error::Error + Send + Sync>> {
    let outbox = out.join("outbox");
    std::fs::create_dir_all(&outbox)
        .map_err(|e| format!("cannot create {}: {e}", outbox.display()))?;
    let stock_db = out.join("stock.db");
    seed_stock(&stock_db, &data_dir().join("stock.csv"))?;
    Ok(State {
        inbox_dir: Some(data_dir().join("inbox").display().to_string()),
        outbox_dir: Some(outbox.display().to_string()),
        stock_db: Some(stock_db.display().to_string()),
        ..State::default()
    })
}

/// Creates the `stock` table from the CSV the first time; later runs keep its contents.
fn seed_stock(db: &Path, csv: &Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = Connection::open(db)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS stock (product TEXT PRIMARY KEY, kg_in_stock INTEGER NOT NULL, price_per_kg_eur REAL NOT NULL)",
    )?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM stock", [], |r| r.get(0))?;
    if rows > 0 {
        return Ok(());
    }
    let text =
        std::fs::read_to_string(csv).map_err(|e| format!("cannot read {}: {e}", csv.display()))?;
    let tx = conn.transaction()?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let [product, kg, price] = cols[..] else {
            return Err(format!("{}:{}: expected product,kg,price", csv.display(), n + 1).into());
        };
        tx.execute(
            "INSERT INTO stock VALUES (?1, ?2, ?3)",
            params![product, kg.parse::<i64>()?, price.parse::<f64>()?],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The file name of the reply to an email: only a plain `.eml` name is taken, so that an
/// email's `file` (which a client of the task server supplies) cannot name a path outside
/// the outbox.
fn reply_name(email_file: &str) -> Result<String, TaskError> {
    let plain = !email_file.is_empty()
        && !email_file.starts_with('.')
        && !email_file.contains(['/', '\\', '\0'])
        && email_file.ends_with(".eml");
    if !plain {
        return Err(TaskError::msg(format!(
            "`{}` is not an email file name (a plain `NAME.eml`)",
            email_file.escape_debug()
        )));
    }
    Ok(format!("reply-to-{email_file}"))
}

pub struct SalesTeam;

impl Tasks for SalesTeam {
    async fn read_email(
        &self,
        _ctx: &TaskContext,
        input: ReadEmailInput,
    ) -> Result<ReadEmailOutput, TaskError> {
        // Regular files only: a FIFO or a device named `x.eml` would block the read.
        let mut files: Vec<PathBuf> = std::fs::read_dir(&input.inbox_dir)
            .map_err(|e| TaskError::msg(format!("cannot read the inbox {}: {e}", input.inbox_dir)))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml") && p.is_file())
            .collect();
        files.sort();
        // An email is claimed by creating its reply's file, which only one run can do: two
        // runs at once never answer the same email.
        let mut claimed = None;
        for path in files.iter().take(input.input_data.max_emails as usize) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let Ok(reply) = reply_name(&name) else {
                continue;
            };
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(Path::new(&input.outbox_dir).join(reply));
            match created {
                Ok(_) => {
                    claimed = Some(path);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(TaskError::msg(format!(
                        "cannot claim {} in the outbox {}: {e}",
                        name, input.outbox_dir
                    )));
                }
            }
        }
        let unanswered = claimed.ok_or_else(|| {
            TaskError::msg(format!(
                "every email of {} has a reply in {}: delete the outbox to start over",
                input.inbox_dir, input.outbox_dir
            ))
        })?;
        let raw = std::fs::read(unanswered)?;
        let message = mail_parser::MessageParser::default()
            .parse(&raw)
            .ok_or_else(|| TaskError::msg(format!("{} is not an email", unanswered.display())))?;
        let sender = message.from().and_then(|a| a.first());
        Ok(ReadEmailOutput {
            email: json!({
                "file": unanswered.file_name().map(|f| f.to_string_lossy()),
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
        // A deterministic rule set: the first category with a matching phrase wins.
        let rules: [(&str, &[&str]); 3] = [
            (
                "complaint",
                &["complain", "damaged", "refund", "arrived late"],
            ),
            ("order", &["order", "we would like", "please send"]),
            ("stock_question", &["in stock", "do you have", "available"]),
        ];
        let category = rules
            .iter()
            .find(|(_, phrases)| phrases.iter().any(|p| text.contains(p)))
            .map_or("other", |(category, _)| category);
        if !input.input_data.categories.contains(&category) {
            return Err(TaskError::msg(format!(
                "`{category}` is not a category of tasks.yaml"
            )));
        }
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
        let conn = Connection::open(&input.stock_db)?;
        let mut stock = serde_json::Map::new();
        for product in &input.products {
            let row: Option<(i64, f64)> = conn
                .query_row(
                    "SELECT kg_in_stock, price_per_kg_eur FROM stock WHERE product = ?1",
                    params![product],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let entry = match row {
                Some((kg, price)) => json!({
                    "kg_in_stock": kg,
                    "price_per_kg_eur": price,
                    "low": kg < input.input_data.low_stock_threshold,
                }),
                None => json!({"kg_in_stock": 0, "unknown": true}),
            };
            stock.insert(product.clone(), entry);
        }
        Ok(CheckStockAvailabilityOutput {
            stock: stock.into(),
        })
    }

    async fn generate_response(
        &self,
        ctx: &TaskContext,
        input: GenerateResponseInput,
    ) -> Result<GenerateResponseOutput, TaskError> {
        let email = &input.email;
        let name = email["name"].as_str().unwrap_or("customer");
        let mut lines = vec![format!("Dear {name},"), String::new()];
        lines.push(
            match input.category.as_str() {
                "order" => "Thank you for your order. This is what we can deliver:",
                "stock_question" => "Thank you for asking. Our stock this week:",
                "complaint" => "We are sorry to hear that. A colleague will call you today.",
                _ => "Thank you for your message; we will get back to you shortly.",
            }
            .to_owned(),
        );
        let quotes_stock = matches!(input.category.as_str(), "order" | "stock_question");
        if let (true, Some(stock)) = (quotes_stock, input.stock.as_object()) {
            for (product, s) in stock {
                let kg = s["kg_in_stock"].as_i64().unwrap_or(0);
                lines.push(match s["price_per_kg_eur"].as_f64() {
                    Some(_) if kg == 0 => format!("- {product}: out of stock this week"),
                    Some(price) => format!("- {product}: {kg} kg available at EUR {price:.2}/kg"),
                    None => format!("- {product}: not in our catalogue"),
                });
            }
        }
        lines.extend([String::new(), "Kind regards,".to_owned()]);
        lines.push(input.input_data.signature.to_owned());
        if let Some(role) = &ctx.role {
            lines.push(role.to_string());
        }
        let response = lines.join("\n");

        let subject = email["subject"].as_str().unwrap_or_default();
        let in_reply_to = email["message_id"].as_str().unwrap_or_default();
        let file = reply_name(email["file"].as_str().unwrap_or("email.eml"))?;
        let eml = format!(
            "From: {signature} <sales@tropical-fruits.example>\r\nTo: {name} <{to}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: <{in_reply_to}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            signature = input.input_data.signature,
            to = email["from"].as_str().unwrap_or_default(),
            body = response.replace('\n', "\r\n"),
        );
        let path = Path::new(&input.outbox_dir).join(&file);
        std::fs::write(&path, eml)
            .map_err(|e| TaskError::msg(format!("cannot write {}: {e}", path.display())))?;
        Ok(GenerateResponseOutput {
            response,
            reply_file: path.display().to_string(),
        })
    }
}

/// Writes `report.md` in `out` for a finished run; returns its path.
pub fn write_report(
    out: &Path,
    run: &Run<State>,
    log: &dyn Storage,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let s = &run.state;
    let email = s.email.clone().unwrap_or_default();
    let mut md = format!(
        "# Tropical Fruits: run {}\n\n| | |\n|---|---|\n| email | {} |\n| from | {} |\n| category | {} |\n| products | {} |\n| reply | {} |\n\n## Stock\n\n| product | kg in stock | EUR/kg |\n|---|---:|---:|\n",
        run.id,
        email["subject"].as_str().unwrap_or(""),
        email["from"].as_str().unwrap_or(""),
        s.category.as_deref().unwrap_or(""),
        s.products.clone().unwrap_or_default().join(", "),
        s.reply_file.as_deref().unwrap_or(""),
    );
    if let Some(stock) = s.stock.as_ref().and_then(|v| v.as_object()) {
        for (product, entry) in stock {
            md.push_str(&format!(
                "| {product} | {} | {} |\n",
                entry["kg_in_stock"],
                entry["price_per_kg_eur"]
                    .as_f64()
                    .map_or("-".to_owned(), |p| format!("{p:.2}"))
            ));
        }
    }
    md.push_str("\n## Reply\n\n```text\n");
    md.push_str(s.response.as_deref().unwrap_or(""));
    md.push_str("\n```\n\n## Execution log\n\n| # | task | status | ms | replayed |\n|---:|---|---|---:|---|\n");
    for t in log.tasks(&run.id)? {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} |\n",
            t.task_index,
            t.task_name,
            serde_json::to_value(t.status)?.as_str().unwrap_or(""),
            t.duration_ms,
            if t.was_replayed { "yes" } else { "" }
        ));
    }
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
