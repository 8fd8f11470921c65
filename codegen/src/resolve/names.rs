//! Which names a task file may use, and the Rust names made from them.
//!
//! A task, field or input_data name may be any Python identifier, as CrewAI's are (its tasks
//! are `@task` methods, its inputs `str.format` keys): `gerar_relatório`, `ReadEmail`, `type`.
//! The yaml name stays the registry's, the log's and the wire's name; the generated Rust uses a
//! name made from it: the name itself when it already is a lint-free snake_case identifier,
//! otherwise the name transliterated to ASCII and snake-cased (`gerar_relatorio`,
//! `read_email`, `type_`). Names that would meet in Rust are told apart by a suffix, in file
//! order: the first keeps the plain name.

use std::collections::HashSet;

use heck::ToSnakeCase;

/// Field names the generated code uses for itself (each task's `input_data` in its Input).
pub(super) const RESERVED_FIELDS: [&str; 1] = ["input_data"];

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

pub(super) fn crewai_output_name(task: &str) -> String {
    format!("{task}_output")
}

/// Whether `name` is a Python identifier: a letter or `_`, then letters, digits and `_`, in
/// Unicode's sense (XID), as Python 3 reads them.
pub(crate) fn is_python_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || unicode_ident::is_xid_start(c))
        && chars.all(unicode_ident::is_xid_continue)
}

/// Task, field and input_data names must be Python identifiers: the problem and a fix if not.
pub(crate) fn check_identifier(name: &str) -> Result<(), (String, String)> {
    if is_python_identifier(name) {
        return Ok(());
    }
    let suggestion: String = name
        .chars()
        .map(|c| {
            if unicode_ident::is_xid_continue(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .to_snake_case();
    let suggestion =
        if suggestion.starts_with(|c: char| c.is_ascii_digit()) || suggestion.is_empty() {
            format!("_{suggestion}")
        } else {
            suggestion
        };
    Err((
        "is not a valid name".to_owned(),
        format!(
            "names are identifiers, as in Python: letters, digits and `_`, not starting with a digit, e.g. `{suggestion}`"
        ),
    ))
}

/// Whether rustc's `non_snake_case` lint accepts `name` and it is an ASCII identifier that is
/// not a keyword: such a name is used as it is.
fn is_plain_snake(name: &str) -> bool {
    let inner = name.trim_matches('_');
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !inner.is_empty()
        && !inner.contains("__")
        && !RUST_KEYWORDS.contains(&name)
}

/// The snake_case Rust identifier made from a Python identifier (before telling apart names
/// that meet): ASCII, lint-free, never a keyword.
pub(super) fn snake_ident(name: &str) -> String {
    if is_plain_snake(name) {
        return name.to_owned();
    }
    let mut ascii = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            match deunicode::deunicode_char(c) {
                Some(t) if t.chars().any(|c| c.is_ascii_alphanumeric()) => ascii.push_str(t),
                // A character with no transliteration keeps its code point.
                _ => ascii.push_str(&format!("_u{:x}_", u32::from(c))),
            }
        }
    }
    let mut snake = ascii.to_snake_case();
    if snake.is_empty() {
        snake.push_str("unnamed");
    }
    if snake.starts_with(|c: char| c.is_ascii_digit()) {
        snake.insert(0, '_');
    }
    if RUST_KEYWORDS.contains(&snake.as_str()) {
        snake.push('_');
    }
    snake
}

/// The UpperCamelCase stem of the type names of a task whose Rust name is `snake`: each word
/// capitalised, with the `_` kept between two digits (`t_1_10` -> `T1_10`, `t_11_0` ->
/// `T11_0`), which rustc's `non_camel_case_types` lint allows.
pub(super) fn camel_name(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    for word in snake.split('_').filter(|w| !w.is_empty()) {
        if out.ends_with(|c: char| c.is_ascii_digit())
            && word.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push('_');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if !out.starts_with(|c: char| c.is_ascii_uppercase()) {
        out.insert_str(0, "Task");
    }
    out
}

/// Names handed out in order, each distinct from the ones before and from the reserved ones: a
/// name already taken gets the first free suffix `2`, `3`, ... (after a `_` when the name ends
/// in a digit or is snake_case, so that the lints still pass).
pub(super) struct NameTable {
    taken: HashSet<String>,
    snake: bool,
}

impl NameTable {
    /// A table of snake_case names.
    pub(super) fn snake(reserved: &[&str]) -> Self {
        NameTable {
            taken: reserved.iter().map(|r| (*r).to_owned()).collect(),
            snake: true,
        }
    }

    /// A table of UpperCamelCase names.
    pub(super) fn camel() -> Self {
        NameTable {
            taken: HashSet::new(),
            snake: false,
        }
    }

    /// `natural`, or the first suffixed form of it that is free.
    pub(super) fn claim(&mut self, natural: String) -> String {
        if self.taken.insert(natural.clone()) {
            return natural;
        }
        let separator = if self.snake || natural.ends_with(|c: char| c.is_ascii_digit()) {
            "_"
        } else {
            ""
        };
        let mut n = 2usize;
        loop {
            let candidate = format!("{natural}{separator}{n}");
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_identifiers_are_names() {
        for ok in [
            "read_email",
            "_private2",
            "ReadEmail",
            "gerar_relatório",
            "type",
            "_",
            "名前",
        ] {
            assert!(check_identifier(ok).is_ok(), "{ok}");
        }
        assert!(
            check_identifier("read-email")
                .unwrap_err()
                .1
                .contains("read_email")
        );
        assert!(check_identifier("2fast").unwrap_err().1.contains("_2fast"));
        assert!(check_identifier("").is_err());
        assert!(check_identifier("researcher\n").is_err());
    }

    #[test]
    fn rust_names_are_ascii_snake_case_and_plain_names_stay() {
        assert_eq!(snake_ident("read_email"), "read_email");
        assert_eq!(snake_ident("_private2"), "_private2");
        assert_eq!(snake_ident("gerar_relatório"), "gerar_relatorio");
        assert_eq!(snake_ident("ReadEmail"), "read_email");
        assert_eq!(snake_ident("type"), "type_");
        assert_eq!(snake_ident("a__b"), "a_b");
        assert_eq!(snake_ident("_"), "unnamed");
        assert_eq!(snake_ident("Ω2"), "o2");
    }

    #[test]
    fn camel_names_keep_digit_runs_apart() {
        assert_eq!(camel_name("t_1_10"), "T1_10");
        assert_eq!(camel_name("t_11_0"), "T11_0");
        assert_eq!(camel_name("read_email"), "ReadEmail");
        assert_eq!(camel_name("_2fast"), "Task2fast");
    }

    #[test]
    fn names_that_meet_get_suffixes_in_order() {
        let mut snake = NameTable::snake(&RESERVED_FIELDS);
        assert_eq!(snake.claim("a".into()), "a");
        assert_eq!(snake.claim("a".into()), "a_2");
        assert_eq!(snake.claim("input_data".into()), "input_data_2");
        let mut camel = NameTable::camel();
        assert_eq!(camel.claim("Ab".into()), "Ab");
        assert_eq!(camel.claim("Ab".into()), "Ab2");
        assert_eq!(camel.claim("T1".into()), "T1");
        assert_eq!(camel.claim("T1".into()), "T1_2");
    }
}
