//! The seed's sales pipeline: the registry generated from tasks.yaml and agents.yaml, and the
//! four agents. Each run reads the inbox's new emails (up to `max_emails`) and carries them
//! as lists through the four tasks. Offline and deterministic by default: the inbox is a
//! folder of `.eml` files, the emails are classified and answered by rules, the stock is an
//! SQLite table seeded from `data/stock.csv`, replies go to an outbox folder as `.eml` files.
//! With an LLM (`--llm URL --model NAME`), `classify_message` and `generate_response` ask
//! their agents instead, one typed answer per email. (Shared by `main.rs` and the tests.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use tasknet::{Run, Storage, TaskContext, TaskError};

#[path = "types.rs"]
mod types;
pub use types::{Category, Classification, Draft, Email, Reply, StockLevel};

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
        let mut emails = Vec::new();
        for path in files {
            if emails.len() as i64 >= input.input_data.max_emails {
                break;
            }
            if claim(&path, &input.outbox_dir)? {
                emails.push(parse_email(&path)?);
            }
        }
        Ok(ReadEmailOutput { emails })
    }

    async fn classify_message(
        &self,
        ctx: &TaskContext,
        input: ClassifyMessageInput,
    ) -> Result<ClassifyMessageOutput, TaskError> {
        let known = input.input_data.known_products;
        let classified: Vec<Result<Classification, TaskError>> = if ctx.llm.is_some() {
            join_all(
                input
                    .emails
                    .iter()
                    .map(|email| ask_classifier(ctx, email, known)),
            )
            .await
        } else {
            input
                .emails
                .iter()
                .map(|email| Ok(classify_by_rules(email, known)))
                .collect()
        };
        let mut classifications = BTreeMap::new();
        for (email, classification) in input.emails.iter().zip(classified) {
            let mut classification = classification?;
            classification.products = catalogue_names(&classification.products, known);
            classifications.insert(email.file.clone(), classification);
        }
        Ok(ClassifyMessageOutput { classifications })
    }

    async fn check_stock_availability(
        &self,
        _ctx: &TaskContext,
        input: CheckStockAvailabilityInput,
    ) -> Result<CheckStockAvailabilityOutput, TaskError> {
        let conn = Connection::open(&input.stock_db)?;
        let products: BTreeSet<&String> = input
            .classifications
            .values()
            .flat_map(|c| &c.products)
            .collect();
        let mut stock = BTreeMap::new();
        for product in products {
            let row: Option<(i64, f64)> = conn
                .query_row(
                    "SELECT kg_in_stock, price_per_kg_eur FROM stock WHERE product = ?1",
                    params![product],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (kg_in_stock, price_per_kg_eur) = match row {
                Some((kg, price)) => (kg, Some(price)),
                None => (0, None),
            };
            let low =
                price_per_kg_eur.is_some() && kg_in_stock < input.input_data.low_stock_threshold;
            stock.insert(
                product.clone(),
                StockLevel {
                    kg_in_stock,
                    price_per_kg_eur,
                    low,
                },
            );
        }
        Ok(CheckStockAvailabilityOutput { stock })
    }

    async fn generate_response(
        &self,
        ctx: &TaskContext,
        input: GenerateResponseInput,
    ) -> Result<GenerateResponseOutput, TaskError> {
        let mut cases = Vec::with_capacity(input.emails.len());
        for email in &input.emails {
            let classification = input.classifications.get(&email.file).ok_or_else(|| {
                TaskError::msg(format!("the email {} has no classification", email.file))
            })?;
            let stock: BTreeMap<&String, &StockLevel> = classification
                .products
                .iter()
                .filter_map(|p| input.stock.get(p).map(|s| (p, s)))
                .collect();
            cases.push((email, classification, stock));
        }
        let data = &input.input_data;
        let texts: Vec<Result<String, TaskError>> = if ctx.llm.is_some() {
            join_all(cases.iter().map(|(email, classification, stock)| {
                ask_responder(ctx, email, classification, stock, data.signature, data.tone)
            }))
            .await
        } else {
            cases
                .iter()
                .map(|(email, classification, stock)| {
                    Ok(reply_by_rules(
                        ctx,
                        email,
                        classification,
                        stock,
                        data.signature,
                    ))
                })
                .collect()
        };
        let mut replies = BTreeMap::new();
        for ((email, _, _), text) in cases.iter().zip(texts) {
            let text = text?;
            let file = write_reply(&input.outbox_dir, email, &text, data.signature)?;
            replies.insert(email.file.clone(), Reply { text, file });
        }
        Ok(GenerateResponseOutput { replies })
    }
}

/// Claims an email by creating its reply's file, which only one run can do: two runs at once
/// never answer the same email. `false`: it has a reply already (or is no email name).
fn claim(email: &Path, outbox_dir: &str) -> Result<bool, TaskError> {
    let name = email.file_name().unwrap_or_default().to_string_lossy();
    let Ok(reply) = reply_name(&name) else {
        return Ok(false);
    };
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(Path::new(outbox_dir).join(reply));
    match created {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(TaskError::msg(format!(
            "cannot claim {name} in the outbox {outbox_dir}: {e}"
        ))),
    }
}

fn parse_email(path: &Path) -> Result<Email, TaskError> {
    let raw = std::fs::read(path)?;
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .ok_or_else(|| TaskError::msg(format!("{} is not an email", path.display())))?;
    let sender = message.from().and_then(|a| a.first());
    Ok(Email {
        file: path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        from: sender
            .and_then(|s| s.address())
            .unwrap_or_default()
            .to_owned(),
        name: sender.and_then(|s| s.name()).map(str::to_owned),
        subject: message.subject().unwrap_or_default().to_owned(),
        body: message.body_text(0).unwrap_or_default().into_owned(),
    })
}

/// A deterministic rule set: the first category with a matching phrase wins; the products are
/// the catalogue's names found in the text.
fn classify_by_rules(email: &Email, known_products: &[&str]) -> Classification {
    let text = format!("{} {}", email.subject, email.body).to_lowercase();
    let rules: [(Category, &[&str]); 3] = [
        (
            Category::Complaint,
            &["complain", "damaged", "refund", "arrived late"],
        ),
        (Category::Order, &["order", "we would like", "please send"]),
        (
            Category::StockQuestion,
            &["in stock", "do you have", "available"],
        ),
    ];
    let category = rules
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| text.contains(p)))
        .map_or(Category::Other, |(category, _)| *category);
    let products = known_products
        .iter()
        .filter(|p| text.contains(*p))
        .map(|p| p.to_string())
        .collect();
    Classification { category, products }
}

/// The classifier agent's typed answer for one email: its category comes from the fixed set
/// of [`Category`], which the schema sent to the model enumerates.
async fn ask_classifier(
    ctx: &TaskContext,
    email: &Email,
    known_products: &[&str],
) -> Result<Classification, TaskError> {
    let question = json!({
        "email": {"from": email.from, "subject": email.subject, "body": email.body},
        "products_we_sell": known_products,
    });
    let (classification, _) = tasknet::llm::answer_as(ctx, &question, &|_| Ok(())).await?;
    Ok(classification)
}

/// Product names as the catalogue spells them (`Mangoes` -> `mango`), each once; a name the
/// catalogue does not have is kept (lower case), and answered as not in the catalogue.
fn catalogue_names(products: &[String], known_products: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for product in products {
        let lower = product.trim().to_lowercase();
        let name = known_products
            .iter()
            .find(|known| lower.starts_with(*known))
            .map_or(lower, |known| known.to_string());
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn reply_by_rules(
    ctx: &TaskContext,
    email: &Email,
    classification: &Classification,
    stock: &BTreeMap<&String, &StockLevel>,
    signature: &str,
) -> String {
    let name = email.name.as_deref().unwrap_or("customer");
    let mut lines = vec![format!("Dear {name},"), String::new()];
    let category = classification.category;
    lines.push(
        match category {
            Category::Order => "Thank you for your order. This is what we can deliver:",
            Category::StockQuestion => "Thank you for asking. Our stock this week:",
            Category::Complaint => "We are sorry to hear that. A colleague will call you today.",
            Category::Other => "Thank you for your message; we will get back to you shortly.",
        }
        .to_owned(),
    );
    if matches!(category, Category::Order | Category::StockQuestion) {
        for (product, s) in stock {
            lines.push(match s.price_per_kg_eur {
                Some(_) if s.kg_in_stock == 0 => format!("- {product}: out of stock this week"),
                Some(price) => format!(
                    "- {product}: {} kg available at EUR {price:.2}/kg",
                    s.kg_in_stock
                ),
                None => format!("- {product}: not in our catalogue"),
            });
        }
    }
    lines.extend([String::new(), "Kind regards,".to_owned()]);
    lines.push(signature.to_owned());
    if let Some(role) = &ctx.role {
        lines.push(role.to_string());
    }
    lines.join("\n")
}

/// The responder agent's reply to one email, given its classification and stock.
async fn ask_responder(
    ctx: &TaskContext,
    email: &Email,
    classification: &Classification,
    stock: &BTreeMap<&String, &StockLevel>,
    signature: &str,
    tone: &str,
) -> Result<String, TaskError> {
    let question = json!({
        "email": {"from": email.from, "name": email.name, "subject": email.subject, "body": email.body},
        "category": classification.category,
        "stock": stock,
        "signature": signature,
        "tone": tone,
    });
    let not_empty = |draft: &Draft| {
        if draft.text.trim().is_empty() {
            Err("the reply is empty".to_owned())
        } else {
            Ok(())
        }
    };
    let (draft, _) = tasknet::llm::answer_as::<Draft>(ctx, &question, &not_empty).await?;
    Ok(draft.text)
}

/// Writes the reply to `email` into the outbox as an `.eml` file; returns its path.
fn write_reply(
    outbox_dir: &str,
    email: &Email,
    text: &str,
    signature: &str,
) -> Result<String, TaskError> {
    let file = reply_name(&email.file)?;
    let eml = format!(
        "From: {signature} <sales@tropical-fruits.example>\r\nTo: {name} <{to}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: <{in_reply_to}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        name = header_text(email.name.as_deref().unwrap_or("customer")),
        to = header_text(&email.from),
        subject = header_text(&email.subject),
        in_reply_to = header_text(&email.message_id),
        body = text.replace("\r\n", "\n").replace('\n', "\r\n"),
    );
    let path = Path::new(outbox_dir).join(&file);
    std::fs::write(&path, eml)
        .map_err(|e| TaskError::msg(format!("cannot write {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

/// A header value on one line: a line break in it would start a header of the sender's choosing.
fn header_text(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// What a finished run did, one line per email answered, or a line saying there was none.
pub fn summary(state: &State) -> String {
    let emails = state.emails.as_deref().unwrap_or_default();
    if emails.is_empty() {
        return format!(
            "no new email in {}: every email there has a reply in {}",
            state.inbox_dir.as_deref().unwrap_or("the inbox"),
            state.outbox_dir.as_deref().unwrap_or("the outbox"),
        );
    }
    let mut lines = Vec::with_capacity(emails.len());
    for email in emails {
        let classification = state
            .classifications
            .as_ref()
            .and_then(|c| c.get(&email.file));
        let reply = state.replies.as_ref().and_then(|r| r.get(&email.file));
        lines.push(format!(
            "{}: {} ({}: {}) -> {}",
            email.file,
            email.subject,
            classification.map_or("?", |c| c.category.as_str()),
            classification.map_or(String::new(), |c| c.products.join(", ")),
            reply.map_or("?", |r| r.file.as_str()),
        ));
    }
    lines.join("\n")
}

/// Writes `report.md` in `out` for a finished run; returns its path.
pub fn write_report(
    out: &Path,
    run: &Run<State>,
    log: &dyn Storage,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let s = &run.state;
    let emails = s.emails.as_deref().unwrap_or_default();
    let mut md = format!("# Tropical Fruits: run {}\n\n", run.id);
    if emails.is_empty() {
        md.push_str(&summary(s));
        md.push_str("\n\n");
    } else {
        md.push_str("| email | from | category | products | reply |\n|---|---|---|---|---|\n");
        for email in emails {
            let c = s.classifications.as_ref().and_then(|c| c.get(&email.file));
            let reply = s.replies.as_ref().and_then(|r| r.get(&email.file));
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&email.subject),
                cell(&email.from),
                c.map_or("", |c| c.category.as_str()),
                cell(&c.map_or(String::new(), |c| c.products.join(", "))),
                cell(reply.map_or("", |r| r.file.as_str())),
            ));
        }
        md.push_str("\n## Stock\n\n| product | kg in stock | EUR/kg |\n|---|---:|---:|\n");
        for (product, level) in s.stock.iter().flatten() {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(product),
                level.kg_in_stock,
                level
                    .price_per_kg_eur
                    .map_or("-".to_owned(), |p| format!("{p:.2}"))
            ));
        }
        md.push_str("\n## Replies\n");
        for (email, reply) in s.replies.iter().flatten() {
            md.push_str(&format!(
                "\n### {}\n\n```text\n{}\n```\n",
                cell(email),
                reply.text
            ));
        }
    }
    md.push_str("\n## Execution log\n\n| # | task | status | ms | LLM calls | tokens in/out | replayed |\n|---:|---|---|---:|---:|---|---|\n");
    for t in log.tasks(&run.id)? {
        let (calls, tokens) = t.llm.as_ref().map_or((String::new(), String::new()), |u| {
            (
                u.calls.to_string(),
                format!("{}/{}", u.prompt_tokens, u.completion_tokens),
            )
        });
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {calls} | {tokens} | {} |\n",
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

/// Text for a markdown table cell: one line, no column break.
fn cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ").replace('|', "\\|")
}
