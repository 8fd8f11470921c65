//! Tools an agent may call: typed Rust functions. The model sees a tool's description and the
//! JSON Schema of its arguments (from their `JsonSchema` impl); a call's arguments are parsed
//! into the function's argument type, and what it returns goes back to the model as text.
//!
//! A tool runs on the machine that runs the task, with what the task's code gave it when it
//! was made: the model chooses only the arguments, which the function's own type bounds.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a tool call returns: the text for the model, or why the call failed (also shown to the
/// model, which may try again).
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

type CallFn = dyn Fn(Value) -> ToolFuture + Send + Sync;

/// A typed function an agent may call.
#[derive(Clone)]
pub struct Tool {
    description: Cow<'static, str>,
    parameters: Value,
    call: Arc<CallFn>,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("description", &self.description)
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// A tool running `function` on the arguments the model gives, parsed into `A` (a struct
    /// deriving `Deserialize` and `JsonSchema`; its doc comments describe the fields to the
    /// model). A result that serializes to a string is given as that string, any other as
    /// JSON; an error is given as its text.
    pub fn new<A, R, E, F, Fut>(description: impl Into<Cow<'static, str>>, function: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        R: Serialize,
        E: Display,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        let call = move |arguments: Value| -> ToolFuture {
            // A function of `()` is offered as taking an empty object.
            let empty = matches!(&arguments, Value::Object(fields) if fields.is_empty());
            let parsed = serde_json::from_value::<A>(arguments).or_else(|e| {
                if empty {
                    serde_json::from_value::<A>(Value::Null).map_err(|_| e)
                } else {
                    Err(e)
                }
            });
            match parsed {
                Err(e) => {
                    let why = format!("the arguments do not fit the tool's schema: {e}");
                    Box::pin(std::future::ready(Err(why)))
                }
                Ok(arguments) => {
                    let running = function(arguments);
                    Box::pin(async move {
                        match running.await {
                            Ok(result) => result_text(&result),
                            Err(e) => Err(e.to_string()),
                        }
                    })
                }
            }
        };
        Tool {
            description: description.into(),
            parameters: parameters_schema::<A>(),
            call: Arc::new(call),
        }
    }

    /// What the model is told the tool does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of the arguments (an object).
    pub fn parameters(&self) -> &Value {
        &self.parameters
    }

    /// Runs the tool on `arguments`, the JSON text the model sent (empty means no arguments).
    pub fn call(&self, arguments: &str) -> ToolFuture {
        let arguments = if arguments.trim().is_empty() {
            Ok(Value::Object(Default::default()))
        } else {
            serde_json::from_str::<Value>(arguments)
        };
        match arguments {
            Ok(arguments) => (self.call)(arguments),
            Err(e) => Box::pin(std::future::ready(Err(format!(
                "the arguments are not JSON: {e}"
            )))),
        }
    }
}

fn result_text<R: Serialize>(result: &R) -> Result<String, String> {
    match serde_json::to_value(result) {
        Ok(Value::String(text)) => Ok(text),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(format!("the tool's result is not JSON: {e}")),
    }
}

/// `A`'s schema as the chat APIs take a function's parameters: an object, without the
/// `$schema` and `title` keys they do not use.
fn parameters_schema<A: JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(A).to_value();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        // `()` and unit structs: a function without arguments still takes an object.
        if map.get("type").and_then(Value::as_str) != Some("object") {
            map.insert("type".into(), "object".into());
            map.entry("properties")
                .or_insert_with(|| Value::Object(Default::default()));
            map.remove("const");
            map.remove("enum");
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Looks up a product.
    #[derive(Deserialize, JsonSchema)]
    struct Lookup {
        /// The product's name.
        product: String,
        /// How many are wanted.
        count: u32,
    }

    fn run(tool: &Tool, arguments: &str) -> Result<String, String> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(tool.call(arguments))
    }

    #[test]
    fn a_tool_is_described_by_its_arguments_type_and_parses_them() {
        let tool = Tool::new("Stock of a product.", |a: Lookup| async move {
            if a.product == "mango" {
                Ok(serde_json::json!({"product": a.product, "in_stock": a.count <= 3}))
            } else {
                Err(format!("no product `{}`", a.product))
            }
        });
        let schema = tool.parameters();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["count"]["type"], "integer");
        assert_eq!(
            schema["properties"]["product"]["description"],
            "The product's name."
        );
        assert!(schema.get("$schema").is_none());
        assert_eq!(
            run(&tool, r#"{"product": "mango", "count": 2}"#).unwrap(),
            r#"{"in_stock":true,"product":"mango"}"#
        );
        assert_eq!(
            run(&tool, r#"{"product": "kiwi", "count": 2}"#).unwrap_err(),
            "no product `kiwi`"
        );
        let e = run(&tool, r#"{"product": "mango"}"#).unwrap_err();
        assert!(e.contains("missing field `count`"), "{e}");
        let e = run(&tool, "{product").unwrap_err();
        assert!(e.contains("not JSON"), "{e}");
    }

    #[test]
    fn a_tool_without_arguments_takes_an_object_and_text_results_stay_text() {
        let tool = Tool::new("The time.", |(): ()| async {
            Ok::<_, String>("noon".to_owned())
        });
        assert_eq!(tool.parameters()["type"], "object");
        assert_eq!(run(&tool, "").unwrap(), "noon");
    }
}
