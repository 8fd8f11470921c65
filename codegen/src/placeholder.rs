//! `{placeholder}`s in descriptions, as CrewAI interpolates them.
//!
//! `{name}` with `name` an identifier is a placeholder; `{{` and `}}` are literal braces, and
//! braces around anything else (JSON, `{foo-bar}`, `{ }`) are text.

use std::ops::Range;

use crate::source::{Sources, Span};
use crate::spec::Text;

/// Each placeholder's name and its byte range (braces included) in `text`, in order.
pub fn scan(text: &str) -> Vec<(&str, Range<usize>)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'{' => {
                let rest = &text[i + 1..];
                let len = rest
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                let name = &rest[..len];
                if len > 0 && rest.as_bytes().get(len) == Some(&b'}') && is_identifier(name) {
                    found.push((name, i..i + len + 2));
                    i += len + 2;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

/// Placeholders of a spanned text with spans in the source file. The text's value may differ
/// from its source (folded scalars, escapes), so each `{name}` is looked up in the source;
/// when it cannot be found, the whole text is pointed at.
pub fn located(text: &Text, sources: &Sources) -> Vec<(String, Span)> {
    let source = &sources.get(text.span.file).text;
    let raw = source.get(text.span.range()).unwrap_or("");
    let mut search_from = 0;
    scan(&text.value)
        .into_iter()
        .map(|(name, range)| {
            let needle = &text.value[range];
            let span = match raw[search_from..].find(needle) {
                Some(at) => {
                    let start = search_from + at;
                    search_from = start + needle.len();
                    text.span.sub(start..start + needle.len())
                }
                None => text.span,
            };
            (name.to_owned(), span)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
