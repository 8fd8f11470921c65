//! "Did you mean ...?" suggestions.

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let score = strsim::jaro_winkler(word, candidate);
        let edits = strsim::levenshtein(word, candidate);
        let likely = score >= 0.85 || (edits <= 2 && edits < word.len().max(2));
        if likely && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean `x`?)`, or nothing.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let fields = ["page_html", "url", "summary"];
        assert_eq!(closest("page_htm", fields), Some("page_html"));
        assert_eq!(closest("sumary", fields), Some("summary"));
        assert_eq!(closest("weather", fields), None);
        assert_eq!(
            closest("requies", ["requires", "produces"]),
            Some("requires")
        );
    }
}
