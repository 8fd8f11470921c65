//! JSON kept as text: what the execution log stores for each task's input and output.
//!
//! Serializing straight to text (no `serde_json::Value` tree) and parsing only on demand
//! keeps logging cheap on both sides: the executor writes it, the store reads it back as is.
//! Text from outside is checked when it comes in ([`JsonText::from_string`]); text a store
//! hands back is the text it was given, and is checked again only when it is parsed or
//! serialized (a damaged database then says so instead of spreading broken JSON).

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// JSON text. (A `String`, not a `Box<str>`: shrinking serde_json's buffer would cost a
/// reallocation per value.)
#[derive(Clone)]
pub struct JsonText(String);

impl JsonText {
    /// `null`.
    pub fn null() -> Self {
        JsonText("null".to_owned())
    }

    /// Serializes a value straight to text.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(JsonText)
    }

    /// Checks that `text` is JSON and keeps it.
    pub fn from_string(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<&RawValue>(&text)?;
        Ok(JsonText(text))
    }

    /// Text a store wrote from a `JsonText` and reads back: not checked again here.
    // Only the SQLite store reads text back.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn from_store(text: String) -> Self {
        JsonText(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text parsed; `null` if a damaged store returned text that is not JSON.
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

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.as_str()).map_err(|e| {
            serde::ser::Error::custom(format!("the log holds text that is not JSON: {e}"))
        })?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        JsonText::from_string(raw.get().to_owned()).map_err(D::Error::custom)
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
        let damaged = JsonText::from_store("{nope".into());
        assert!(
            serde_json::to_string(&damaged).is_err(),
            "damage is reported, not copied"
        );
        assert_eq!(damaged.value(), serde_json::Value::Null);
        let wrapped = json!({"inputs": t});
        assert_eq!(
            wrapped["inputs"]["a"][0], 1,
            "serializes as the JSON it holds"
        );
    }
}
