//! The values the pipeline's tasks pass on, as tasks.yaml names them in `produces`. Their
//! JSON Schema (schemars) is what an agent answering for a task is asked to follow, doc
//! comments included.

use serde::{Deserialize, Serialize};
use tasknet::schemars::JsonSchema;

/// An email of the inbox, as `read_email` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Email {
    /// The email's file name in the inbox (`001-order.eml`): its key in the later tasks' maps.
    pub file: String,
    pub message_id: String,
    /// The sender's address.
    pub from: String,
    /// The sender's name, when the `From` header gives one.
    pub name: Option<String>,
    pub subject: String,
    pub body: String,
}

/// What a customer's email is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// The customer orders products.
    Order,
    /// The customer asks whether products are in stock.
    StockQuestion,
    /// The customer complains about a delivery.
    Complaint,
    /// Anything else.
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Order => "order",
            Category::StockQuestion => "stock_question",
            Category::Complaint => "complaint",
            Category::Other => "other",
        }
    }
}

/// One email's classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Classification {
    pub category: Category,
    /// The products the email mentions, by the names of the products we sell, each once.
    // Bounded so that a small model that repeats itself is cut off by the schema, not by
    // `max_tokens` in the middle of its JSON.
    #[schemars(length(max = 6))]
    pub products: Vec<String>,
}

/// One product's stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct StockLevel {
    pub kg_in_stock: i64,
    /// `None`: the product is not in the catalogue.
    pub price_per_kg_eur: Option<f64>,
    /// Below the task's `low_stock_threshold`.
    pub low: bool,
}

/// The reply to one email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Reply {
    /// The reply's text.
    pub text: String,
    /// Where it was written.
    pub file: String,
}

/// What the responder agent writes for one email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "tasknet::schemars")]
pub struct Draft {
    /// The reply's text, from the greeting to the signature.
    #[schemars(length(max = 500))]
    pub text: String,
}
