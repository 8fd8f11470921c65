//! Which names Rust can take: task, field and input_data names become identifiers.

use heck::ToSnakeCase;

/// Field names the generated code uses for itself.
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

/// Task, field and input_data names become Rust identifiers: snake_case, no keywords.
pub(crate) fn check_identifier(name: &str) -> Result<(), (String, String)> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "_";
    if !valid {
        let suggestion: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .to_snake_case();
        let suggestion =
            if suggestion.starts_with(|c: char| c.is_ascii_digit()) || suggestion.is_empty() {
                format!("_{suggestion}")
            } else {
                suggestion
            };
        return Err((
            "is not a snake_case Rust identifier".to_owned(),
            format!("use lowercase letters, digits and `_`, e.g. `{suggestion}`"),
        ));
    }
    if RUST_KEYWORDS.contains(&name) {
        return Err((
            "is a reserved word in Rust".to_owned(),
            format!("rename it, e.g. `{name}_task`"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_identifier;

    #[test]
    fn identifiers() {
        assert!(check_identifier("read_email").is_ok());
        assert!(check_identifier("_private2").is_ok());
        assert!(check_identifier("ReadEmail").is_err());
        assert!(
            check_identifier("read-email")
                .unwrap_err()
                .1
                .contains("read_email")
        );
        assert!(
            check_identifier("match")
                .unwrap_err()
                .0
                .contains("reserved")
        );
        assert!(check_identifier("2fast").unwrap_err().1.contains("_2fast"));
        assert!(check_identifier("").is_err());
    }
}
