//! `{placeholder}`s in descriptions, located in the yaml. The grammar (what a placeholder is)
//! is `tasknet_contract::placeholder`'s, which the runtime renders with.

pub(crate) use tasknet_contract::placeholder::scan;

use crate::source::{Sources, Span};
use crate::spec::Text;

/// Placeholders of a spanned text with spans in the source file. The text's value may differ
/// from its source (folded scalars, escapes), so each `{name}` is looked up in the source;
/// when it cannot be found, the whole text is pointed at.
pub(crate) fn located(text: &Text, sources: &Sources) -> Vec<(String, Span)> {
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
