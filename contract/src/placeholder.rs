//! `{placeholder}`s in descriptions, as CrewAI interpolates them.
//!
//! `{name}` with `name` an identifier (ASCII letters, digits and `_`, not starting with a
//! digit) is a placeholder; `{{` and `}}` are literal braces; braces around anything else
//! (JSON, `{foo-bar}`, `{ }`) are text. The generator [`scan`]s to check each name; the
//! runtime [`render`]s with the task's input. Both read the text through [`pieces`], so the
//! grammar cannot differ between them.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::{Map, Value};

/// A piece of a text, as the grammar reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as it is.
    Text(&'a str),
    /// `{{` or `}}`: one literal brace.
    Brace(char),
    /// `{name}`: the name, and the range of the whole placeholder (braces included).
    Placeholder(&'a str, Range<usize>),
}

/// The pieces of `text`, in order.
pub fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    Pieces { text, at: 0 }
}

struct Pieces<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let text = self.text;
        let bytes = text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            let b = bytes[i];
            if (b == b'{' || b == b'}') && bytes.get(i + 1) == Some(&b) {
                if i > start {
                    break;
                }
                self.at = i + 2;
                return Some(Piece::Brace(char::from(b)));
            }
            if b == b'{'
                && let Some(len) = placeholder_len(&text[i + 1..])
            {
                if i > start {
                    break;
                }
                self.at = i + len + 2;
                return Some(Piece::Placeholder(
                    &text[i + 1..i + 1 + len],
                    i..i + len + 2,
                ));
            }
            i += 1;
        }
        self.at = i;
        Some(Piece::Text(&text[start..i]))
    }
}

/// The length of the identifier that `rest` (the text after a `{`) starts with, when a `}`
/// closes it.
fn placeholder_len(rest: &str) -> Option<usize> {
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let starts_well = rest
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
    (len > 0 && starts_well && rest.as_bytes().get(len) == Some(&b'}')).then_some(len)
}

/// Each placeholder's name and its byte range (braces included) in `text`, in order.
pub fn scan(text: &str) -> Vec<(&str, Range<usize>)> {
    pieces(text)
        .filter_map(|piece| match piece {
            Piece::Placeholder(name, range) => Some((name, range)),
            _ => None,
        })
        .collect()
}

/// `template` with each `{name}` replaced by `values[name]` (strings as they are, other JSON
/// values as compact JSON); a placeholder with no value is left as written, and `{{`/`}}`
/// become single braces. Borrowed when there is nothing to replace.
pub fn render<'t>(template: &'t str, values: &Map<String, Value>) -> Cow<'t, str> {
    if !template.contains(['{', '}']) {
        return Cow::Borrowed(template);
    }
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Brace(brace) => out.push(brace),
            Piece::Placeholder(name, range) => match values.get(name) {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => out.push_str(&template[range]),
            },
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(text: &str) -> Vec<&str> {
        scan(text).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn finds_identifiers_only() {
        assert_eq!(
            names("about {topic} in {current_year}."),
            ["topic", "current_year"]
        );
        assert_eq!(
            names("literal {{topic}} and {\"a\": 1} and {foo-bar} {}"),
            Vec::<&str>::new()
        );
        assert_eq!(names("{a}{b}"), ["a", "b"]);
        assert_eq!(names("{{{x}}}"), ["x"]);
        assert_eq!(names("{1abc} {_x}"), ["_x"]);
        assert_eq!(scan("ab {x}")[0].1, 3..6);
        assert_eq!(names("ünï {x} {"), ["x"]);
    }

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
        assert!(matches!(render("no braces", &v), Cow::Borrowed(_)));
        assert_eq!(render("ünï {topic}", &v), "ünï mangoes");
        assert_eq!(render("{{{topic}}}", &v), "{mangoes}");
        assert_eq!(render("a } b { c", &v), "a } b { c");
    }

    /// What scanning finds is exactly what rendering replaces.
    #[test]
    fn scan_and_render_agree() {
        for text in [
            "{a}{b}",
            "{{a}} {b} {c-d} {1e} {_f}",
            "x {y",
            "}}{z}{{",
            "{ }{}{g}",
        ] {
            let mut values = Map::new();
            for (name, _) in scan(text) {
                values.insert(name.to_owned(), Value::String(format!("<{name}>")));
            }
            let rendered = render(text, &values);
            for (name, _) in scan(text) {
                assert!(
                    rendered.contains(&format!("<{name}>")),
                    "{text}: {rendered}"
                );
            }
            assert_eq!(
                render(text, &Map::new()).matches('{').count() + text.matches("{{").count(),
                text.matches('{').count(),
                "{text}"
            );
        }
    }
}
