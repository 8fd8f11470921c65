//! JSON kept as text: what the execution log stores for each task's input and output.
//!
//! Serializing straight to text (no `serde_json::Value` tree) and parsing only on demand
//! keeps logging cheap on both sides: the executor writes it, the store reads it back as is.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Valid JSON text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// `null`.
    pub fn null() -> Self {
        JsonText(RawValue::NULL.to_owned())
    }

    /// Serializes a value straight to text.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(JsonText)
    }

    /// Checks that `text` is JSON and keeps it.
    pub fn from_string(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(JsonText)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The text parsed (it was checked when made, so this cannot fail but for memory).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// The text parsed into a type.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    pub fn is_null(&self) -> bool {
        self.as_str() == "null"
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> Self {
        JsonText::of(&value).unwrap_or_else(|_| JsonText::null())
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JsonText {}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_compares_as_text() {
        let t = JsonText::of(&json!({"a": [1, "x"]})).unwrap();
        assert_eq!(t.as_str(), r#"{"a":[1,"x"]}"#);
        assert_eq!(t.value()["a"][1], "x");
        assert_eq!(t, JsonText::from(json!({"a": [1, "x"]})));
        assert!(JsonText::from_string("{nope".into()).is_err());
        assert!(JsonText::null().is_null());
        let wrapped = json!({"inputs": t});
        assert_eq!(
            wrapped["inputs"]["a"][0], 1,
            "serializes as the JSON it holds"
        );
    }
}
