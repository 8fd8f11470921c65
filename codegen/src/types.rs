//! Field types as written in `produces` / `inputs`: `String`, `bool`, `i64`, `u64`, `f64`,
//! `json` (serde_json::Value) or any owned Rust type such as `Vec<crate::Email>`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// A checked field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// `json`: `serde_json::Value`.
    Json,
    /// Any other type, kept parsed.
    Rust(String),
}

impl FieldType {
    /// The type's tokens; `json` is the runtime's alias of `serde_json::Value`, named through
    /// `rt` (the generated code's `__tasknet` alias).
    pub fn tokens(&self, rt: &TokenStream) -> TokenStream {
        match self {
            FieldType::Json => quote!(#rt::Json),
            FieldType::Rust(text) => syn::parse_str::<syn::Type>(text)
                .map(ToTokens::into_token_stream)
                .unwrap_or_else(|_| quote!(())),
        }
    }

    /// The type as the registry spells it.
    pub fn display(&self) -> String {
        match self {
            FieldType::Json => "json".to_owned(),
            FieldType::Rust(text) => text.clone(),
        }
    }
}

/// Why a type was refused, with a suggestion when one is obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeError {
    pub message: String,
    pub help: Option<String>,
}

const PRIMITIVES: &[&str] = &[
    "bool", "char", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize", "f32", "f64",
];

/// Names people write from Python or JSON Schema, and what they mean here.
const FOREIGN_NAMES: &[(&str, &str)] = &[
    ("str", "String"),
    ("string", "String"),
    ("int", "i64"),
    ("integer", "i64"),
    ("float", "f64"),
    ("number", "f64"),
    ("double", "f64"),
    ("boolean", "bool"),
    ("dict", "json"),
    ("object", "json"),
    ("any", "json"),
    ("list", "Vec<String>"),
    ("array", "Vec<String>"),
    ("Json", "json"),
    ("JSON", "json"),
];

pub(crate) fn parse_type(text: &str) -> Result<FieldType, TypeError> {
    let text = text.trim();
    if text == "json" {
        return Ok(FieldType::Json);
    }
    if let Some((_, instead)) = FOREIGN_NAMES.iter().find(|(name, _)| *name == text) {
        return Err(TypeError {
            message: format!("`{text}` is not a type tasknet knows"),
            help: Some(format!("write `{instead}`")),
        });
    }
    let ty = syn::parse_str::<syn::Type>(text).map_err(|e| TypeError {
        message: format!("`{text}` is not a valid Rust type: {e}"),
        help: Some(
            "use `String`, `bool`, `i64`, `u64`, `f64`, `json`, or a Rust type path such as `Vec<String>`"
                .to_owned(),
        ),
    })?;
    check_owned(&ty, text)?;
    Ok(FieldType::Rust(display_type(&ty)))
}

fn check_owned(ty: &syn::Type, text: &str) -> Result<(), TypeError> {
    let refuse = |why: &str| {
        Err(TypeError {
            message: format!("`{text}` cannot be a state field: {why}"),
            help: Some("state fields own their values (e.g. `String`, not `&str`)".to_owned()),
        })
    };
    match ty {
        syn::Type::Reference(_) | syn::Type::Ptr(_) => refuse("it is a reference"),
        syn::Type::ImplTrait(_) | syn::Type::TraitObject(_) => refuse("it is not a concrete type"),
        syn::Type::Infer(_)
        | syn::Type::Never(_)
        | syn::Type::Macro(_)
        | syn::Type::Verbatim(_) => refuse("it is not a concrete type"),
        syn::Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            let seg = &p.path.segments[0];
            let name = seg.ident.to_string();
            let lower = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if lower && seg.arguments.is_none() && !PRIMITIVES.contains(&name.as_str()) {
                return Err(TypeError {
                    message: format!("unknown type `{name}`"),
                    help: Some(
                        "use `String`, `bool`, `i64`, `u64`, `f64`, `json`, or a type path"
                            .to_owned(),
                    ),
                });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A type as rustfmt would print it (`Vec<crate::Email>`, not `Vec < crate :: Email >`).
pub(crate) fn display_type(ty: &syn::Type) -> String {
    let file: syn::File = syn::parse_quote!(type T = #ty;);
    let printed = prettyplease::unparse(&file);
    printed
        .trim()
        .strip_prefix("type T = ")
        .and_then(|s| s.strip_suffix(';'))
        .map_or_else(|| ty.to_token_stream().to_string(), str::to_owned)
}

/// `Option<T>` -> `Some(T)`.
pub(crate) fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_dialect() {
        assert_eq!(parse_type("json"), Ok(FieldType::Json));
        assert_eq!(parse_type("String"), Ok(FieldType::Rust("String".into())));
        assert_eq!(
            parse_type("Vec < crate::Email >"),
            Ok(FieldType::Rust("Vec<crate::Email>".into()))
        );
        assert_eq!(
            parse_type("std::collections::BTreeMap<String, f64>"),
            Ok(FieldType::Rust(
                "std::collections::BTreeMap<String, f64>".into()
            ))
        );
        assert!(parse_type("u64").is_ok());
        assert!(parse_type("(i64, bool)").is_ok());
    }

    #[test]
    fn refuses_with_help() {
        let e = parse_type("string").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write `String`"));
        assert!(
            parse_type("Vec<")
                .unwrap_err()
                .message
                .contains("not a valid Rust type")
        );
        assert!(
            parse_type("&str")
                .unwrap_err()
                .message
                .contains("reference")
        );
        assert!(
            parse_type("strng")
                .unwrap_err()
                .message
                .contains("unknown type")
        );
    }
}
