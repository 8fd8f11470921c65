//! Fills `{placeholders}` the way CrewAI does, for the `TaskContext` a task method gets.
//!
//! The rules match the generator's: `{name}` with `name` an identifier is a placeholder,
//! `{{` and `}}` are literal braces, any other brace is text. A placeholder with no value is
//! left as written.

use serde_json::{Map, Value};

/// A registry text rendered: borrowed as it is when it has no braces.
pub fn render_static(
    template: &'static str,
    values: &Map<String, Value>,
) -> std::borrow::Cow<'static, str> {
    if template.contains(['{', '}']) {
        std::borrow::Cow::Owned(render(template, values))
    } else {
        std::borrow::Cow::Borrowed(template)
    }
}

/// `template` with each `{name}` replaced by `values[name]` (strings as they are, other JSON
/// values as compact JSON).
pub fn render(template: &str, values: &Map<String, Value>) -> String {
    if !template.contains(['{', '}']) {
        return template.to_owned();
    }
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'}' if bytes.get(i + 1) == Some(&bytes[i]) => {
                out.push_str(&template[copied..=i]);
                i += 2;
                copied = i;
            }
            b'{' => {
                let rest = &template[i + 1..];
                let len = rest
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                let name = &rest[..len];
                let closed = rest.as_bytes().get(len) == Some(&b'}');
                let identifier = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
                match values.get(name) {
                    Some(value) if closed && identifier => {
                        out.push_str(&template[copied..i]);
                        match value {
                            Value::String(s) => out.push_str(s),
                            other => out.push_str(&other.to_string()),
                        }
                        i += len + 2;
                        copied = i;
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&template[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> Map<String, Value> {
        json!({"topic": "mangoes", "n": 3, "tags": ["a"]})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn fills_known_placeholders_only() {
        let v = values();
        assert_eq!(
            render("About {topic}, {n} items", &v),
            "About mangoes, 3 items"
        );
        assert_eq!(render("{tags} {missing}", &v), "[\"a\"] {missing}");
        assert_eq!(
            render("{{topic}} {\"json\": 1}", &v),
            "{topic} {\"json\": 1}"
        );
        assert_eq!(render("no braces", &v), "no braces");
        assert_eq!(render("ünï {topic}", &v), "ünï mangoes");
    }
}
