//! A YAML document as a tree of nodes that remember where they were written.
//!
//! serde-saphyr does the parsing; its `Spanned<T>` gives each node's location, which is what
//! lets every later error point at `tasks.yaml:LINE:COL` (serde_yaml cannot).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::source::{FileId, SourceFile, Span};

/// A YAML node and its span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub span: Span,
}

/// A mapping key: always a string (YAML 1.1 would read a key `n` or `on` as a boolean).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// How the value is described in messages ("a string", "a list", ...).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// A YAML syntax error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// Parses one YAML document into a [`Node`] tree. An empty document is `Null`.
pub(crate) fn parse(file: FileId, source: &SourceFile) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        // YAML 1.2 core schema: only `true`/`false` are booleans, so a field called `y`, `on`
        // or `no` stays a name (YAML 1.1 would read it as a boolean).
        strict_booleans: true,
        // Generated files of 10,000 tasks exceed the default node budget (250,000). Nesting:
        // each level costs ~40 KB of stack in a debug build of the parser, so the default
        // limit (64) overflowed a spawned thread's 2 MiB; a tasks file needs a handful.
        // An alias bomb (a few hundred bytes of nested aliases) is refused when its
        // expansion passes these, long before it costs seconds and hundreds of MB.
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 200_000,
            max_alias_expansions_per_anchor: 10_000,
        },
        budget: serde_saphyr::budget! {
            max_nodes: 50_000_000,
            max_events: 100_000_000,
            max_depth: 32,
            max_recorded_anchor_events: 100_000,
        },
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<RawValue>>>(&source.text, options) {
        Ok(Some(root)) => Ok(root.into_node(file, &source.text)),
        Ok(None) => Ok(Node {
            value: Value::Null,
            span: Span::new(file, 0..0),
        }),
        Err(e) => {
            let span = e
                .location()
                .map(|loc| span_of(file, &loc, &source.text))
                .unwrap_or(Span::new(file, 0..0));
            Err(SyntaxError {
                message: clean_message(&e.to_string()),
                span,
            })
        }
    }
}

/// serde-saphyr appends " at line X column Y" to some messages; the location is shown anyway.
/// A breached budget is said in words: which limit, and what to do.
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    if first.contains("budget breached") || first.contains("replay") {
        let aliases = ["Anchor", "Alias", "alias", "replay", "Replay"]
            .iter()
            .any(|word| first.contains(word));
        let limit = first.split("budget breached: ").nth(1).unwrap_or(first);
        return if aliases {
            format!(
                "anchors and aliases expand this file past tasknet's limit (an alias bomb?): write the values out instead ({limit})"
            )
        } else {
            format!("the file is past tasknet's limits for a yaml file ({limit})")
        };
    }
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

fn span_of(file: FileId, loc: &Location, text: &str) -> Span {
    let span = loc.span();
    let start = match span.byte_offset() {
        Some(b) => b as usize,
        None => byte_of_line_col(text, loc.line() as usize, loc.column() as usize),
    };
    let len = span.byte_len().unwrap_or(0) as usize;
    let start = start.min(text.len());
    Span::new(file, start..(start + len).min(text.len()))
}

fn byte_of_line_col(text: &str, line: usize, column: usize) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// What serde-saphyr hands over; converted to [`Node`] once spans are resolved to bytes.
enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<String>, Spanned<RawValue>)>),
}

trait IntoNode {
    fn into_node(self, file: FileId, text: &str) -> Node;
}

impl IntoNode for Spanned<RawValue> {
    fn into_node(self, file: FileId, text: &str) -> Node {
        let mut span = span_of(file, &self.referenced, text);
        let value = match self.value {
            RawValue::Null => Value::Null,
            RawValue::Bool(b) => Value::Bool(b),
            RawValue::Int(i) => Value::Int(i),
            RawValue::UInt(u) => Value::UInt(u),
            RawValue::Float(f) => Value::Float(f),
            RawValue::Str(s) => Value::Str(s),
            RawValue::Seq(items) => {
                let items: Vec<Node> = items.into_iter().map(|i| i.into_node(file, text)).collect();
                if let Some(last) = items.last() {
                    span.end = span.end.max(last.span.end);
                }
                Value::Seq(items)
            }
            RawValue::Map(entries) => {
                let entries: Vec<(Key, Node)> = entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = Key {
                            span: span_of(file, &k.referenced, text),
                            name: k.value,
                        };
                        (key, v.into_node(file, text))
                    })
                    .collect();
                if let Some((_, last)) = entries.last() {
                    span.end = span.end.max(last.span.end);
                }
                Value::Map(entries)
            }
        };
        Node { value, span }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => RawValue::Int(i),
            Err(_) => RawValue::UInt(v),
        })
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawValue, E> {
        i64::try_from(v)
            .map(RawValue::Int)
            .map_err(|_| E::custom(format!("integer {v} does not fit in 64 bits")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawValue, E> {
        u64::try_from(v)
            .map(|u| self.visit_u64::<E>(u).unwrap_or(RawValue::UInt(u)))
            .map_err(|_| E::custom(format!("integer {v} does not fit in 64 bits")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    fn parse_str(text: &str) -> (Sources, Result<Node, SyntaxError>) {
        let mut sources = Sources::default();
        let id = sources.add(SourceFile::new("t.yaml", text));
        let result = parse(id, sources.get(id));
        (sources, result)
    }

    #[test]
    fn keeps_spans_and_order() {
        let (sources, node) = parse_str("b: 1\na:\n  n: [x, \"y\"]\n");
        let node = node.unwrap();
        let Value::Map(entries) = &node.value else {
            panic!("{node:?}")
        };
        assert_eq!(entries[0].0.name, "b");
        assert_eq!(entries[1].0.name, "a");
        let Value::Map(inner) = &entries[1].1.value else {
            panic!()
        };
        // A key stays a string, whatever it looks like.
        assert_eq!(inner[0].0.name, "n");
        assert_eq!(sources.location(inner[0].0.span), "t.yaml:3:3");
        let Value::Seq(items) = &inner[0].1.value else {
            panic!()
        };
        assert_eq!(sources.location(items[1].span), "t.yaml:3:10");
        assert_eq!(items[1].value, Value::Str("y".into()));
    }

    #[test]
    fn yaml_1_2_booleans() {
        let (_, node) = parse_str("[y, no, on, true, False]\n");
        let Value::Seq(items) = node.unwrap().value else {
            panic!()
        };
        let values: Vec<&Value> = items.iter().map(|n| &n.value).collect();
        assert_eq!(values[0], &Value::Str("y".into()));
        assert_eq!(values[1], &Value::Str("no".into()));
        assert_eq!(values[2], &Value::Str("on".into()));
        assert_eq!(values[3], &Value::Bool(true));
    }

    #[test]
    fn syntax_error_is_located() {
        let (sources, node) = parse_str("a:\n  b: [1, 2\nc: 3\n");
        let err = node.unwrap_err();
        assert!(!err.message.is_empty());
        assert!(sources.location(err.span).starts_with("t.yaml:"), "{err:?}");
    }

    #[test]
    fn empty_document_is_null() {
        let (_, node) = parse_str("# only a comment\n");
        assert_eq!(node.unwrap().value, Value::Null);
    }
}
