//! The expansions behind `task_registry!` and `#[derive(TaskState)]`. They live here, not in
//! the proc-macro crate, so that tests can call them and so that the macro route runs the very
//! code the build.rs and CLI routes run. Nothing here panics: every failure is a
//! `compile_error!`.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

use crate::emit::rust::items;
use crate::emit::state::{StateField, task_state_impl};
use crate::model::{CustomField, CustomState, RunMetadataNames};
use crate::resolve::RUN_METADATA_FIELDS;
use crate::settings::GenerationSettings;
use crate::types::{display_type, option_inner};
use crate::{SourceFile, check_with, read_source};

/// Where the macro was called from.
#[derive(Debug, Clone)]
pub struct MacroEnv {
    /// `CARGO_MANIFEST_DIR` of the calling crate: paths are relative to it.
    pub manifest_dir: PathBuf,
    /// The calling source file, for paths starting with `./`.
    pub caller_file: Option<PathBuf>,
}

impl MacroEnv {
    /// Resolves a path as docs/generated-api.md says: relative to the crate root, or to the calling file's
    /// directory when it starts with `./`.
    pub fn resolve(&self, path: &str) -> PathBuf {
        if let Some(rest) = path.strip_prefix("./")
            && let Some(dir) = self
                .caller_file
                .as_ref()
                .and_then(|f| f.parent())
                .map(|d| self.manifest_dir.join(d))
        {
            return dir.join(rest);
        }
        self.manifest_dir.join(path)
    }

    /// How a path is shown in messages: relative to the crate root when it is inside it.
    pub fn display(&self, path: &Path) -> String {
        let shown = path.strip_prefix(&self.manifest_dir).unwrap_or(path);
        shown.display().to_string()
    }
}

/// The arguments of `task_registry!`: where the yaml is, and the [`GenerationSettings`].
#[derive(Default)]
struct Args {
    file: Option<LitStr>,
    yaml: Option<LitStr>,
    agents: Option<LitStr>,
    /// The state type as written, for the hand-over (its string form is in `settings`).
    state: Option<syn::Path>,
    settings: GenerationSettings,
    /// Filled in by the second stage, from the state's derive.
    state_fields: Option<Vec<(Ident, syn::Type)>>,
}

/// The hidden argument that carries the whole settings through the hand-over.
const FORWARDED: &str = "__settings";

const ARGUMENTS: &str =
    "`file`, `yaml`, `agents`, `state`, `name`, `crate`, `ws_url`, `ws_timeout_ms` or `strict`";

/// Parses one `key = value` into `args`.
fn parse_arg(input: ParseStream<'_>, args: &mut Args) -> syn::Result<()> {
    if input.peek(Token![crate]) {
        input.parse::<Token![crate]>()?;
        input.parse::<Token![=]>()?;
        let path: syn::Path = input.parse()?;
        args.settings = std::mem::take(&mut args.settings).with_crate_path(path_string(&path));
        return Ok(());
    }
    let key: Ident = input.parse()?;
    input.parse::<Token![=]>()?;
    let settings = std::mem::take(&mut args.settings);
    args.settings = match key.to_string().as_str() {
        "file" => {
            args.file = Some(input.parse()?);
            settings
        }
        "yaml" => {
            args.yaml = Some(input.parse()?);
            settings
        }
        "agents" => {
            args.agents = Some(input.parse()?);
            settings
        }
        "state" => {
            let path: syn::Path = input.parse()?;
            let settings = settings.with_state(path_string(&path));
            args.state = Some(path);
            settings
        }
        "name" => settings.with_registry_name(input.parse::<LitStr>()?.value()),
        "ws_url" => settings.with_ws_url(input.parse::<LitStr>()?.value()),
        "strict" => settings.with_strict(input.parse::<syn::LitBool>()?.value),
        "ws_timeout_ms" => {
            settings.with_ws_timeout_ms(input.parse::<syn::LitInt>()?.base10_parse()?)
        }
        "state_fields" => {
            let content;
            syn::braced!(content in input);
            let fields = Punctuated::<StateFieldArg, Token![,]>::parse_terminated(&content)?;
            args.state_fields = Some(fields.into_iter().map(|f| (f.name, f.ty)).collect());
            settings
        }
        FORWARDED => {
            let text: LitStr = input.parse()?;
            GenerationSettings::from_forwarded(&text.value())
                .map_err(|e| syn::Error::new(text.span(), format!("tasknet internal error: {e}")))?
        }
        other => {
            return Err(syn::Error::new(
                key.span(),
                format!("unknown argument `{other}`: expected {ARGUMENTS}"),
            ));
        }
    };
    Ok(())
}

struct StateFieldArg {
    name: Ident,
    ty: syn::Type,
}

impl Parse for StateFieldArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(StateFieldArg {
            name,
            ty: input.parse()?,
        })
    }
}

fn parse_args(input: TokenStream) -> syn::Result<Args> {
    if let Ok(file) = syn::parse2::<LitStr>(input.clone()) {
        return Ok(Args {
            file: Some(file),
            ..Args::default()
        });
    }
    let mut args = Args::default();
    let parser = |stream: ParseStream<'_>| {
        while !stream.is_empty() {
            parse_arg(stream, &mut args)?;
            if stream.is_empty() {
                break;
            }
            stream.parse::<Token![,]>()?;
        }
        Ok(())
    };
    parser.parse2(input)?;
    if let (None, Some(state)) = (&args.state, args.settings.state()) {
        // Forwarded: the state's path comes back as text.
        args.state = syn::parse_str(state).ok();
    }
    match (&args.file, &args.yaml) {
        (None, None) => Err(syn::Error::new(
            Span::call_site(),
            "task_registry! needs a tasks file: `task_registry!(\"tasks.yaml\")` or `file = \"tasks.yaml\"` (or inline `yaml = \"...\"`)",
        )),
        (Some(f), Some(_)) => Err(syn::Error::new(
            f.span(),
            "give either `file` or `yaml`, not both",
        )),
        _ => Ok(args),
    }
}

/// `task_registry!(...)`: the first stage. With `state = Path`, hands over to the state's
/// derive (which knows the struct's fields) and comes back as [`task_registry_with_state`].
pub fn task_registry(input: TokenStream, env: &MacroEnv) -> TokenStream {
    guard(|| {
        let args = match parse_args(input) {
            Ok(args) => args,
            Err(e) => return e.to_compile_error(),
        };
        match &args.state {
            Some(state) if args.state_fields.is_none() => hand_over_to_state(&args, state, env),
            _ => expand(&args, env),
        }
    })
}

/// The second stage, called back by the state's derive with `state_fields = {...}`.
pub fn task_registry_with_state(input: TokenStream, env: &MacroEnv) -> TokenStream {
    guard(|| match parse_args(input) {
        Ok(args) => expand(&args, env),
        Err(e) => e.to_compile_error(),
    })
}

/// A panic here would be a tasknet bug; it still becomes a compile error, never
/// "proc-macro panicked".
fn guard(f: impl FnOnce() -> TokenStream) -> TokenStream {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let message = format!("internal error in tasknet (please report it): {what}");
        quote!(::core::compile_error!(#message);)
    })
}

fn krate(args: &Args) -> TokenStream {
    args.settings.crate_path_tokens()
}

/// `include_bytes!` of each yaml file, so that editing it rebuilds the crate, also when it
/// fails to check.
fn include_files(paths: &[&Path]) -> TokenStream {
    let includes = paths.iter().filter(|p| p.is_file()).map(|p| {
        let lit = p.display().to_string();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#lit);
        )
    });
    quote!(#(#includes)*)
}

fn hand_over_to_state(args: &Args, state: &syn::Path, env: &MacroEnv) -> TokenStream {
    let Some(last) = state.segments.last() else {
        return syn::Error::new_spanned(state, "expected the state type's path").to_compile_error();
    };
    let mut macro_path = state.clone();
    let macro_name = state_macro_name(&last.ident);
    if let Some(seg) = macro_path.segments.last_mut() {
        seg.ident = macro_name;
        seg.arguments = syn::PathArguments::None;
    }
    let krate = krate(args);
    let mut forwarded = Vec::new();
    let mut files = Vec::new();
    if let Some(file) = &args.file {
        let path = env.resolve(&file.value());
        let lit = LitStr::new(&path.display().to_string(), file.span());
        forwarded.push(quote!(file = #lit));
        files.push(path);
    }
    if let Some(yaml) = &args.yaml {
        forwarded.push(quote!(yaml = #yaml));
    }
    if let Some(agents) = &args.agents {
        let path = env.resolve(&agents.value());
        let lit = LitStr::new(&path.display().to_string(), agents.span());
        forwarded.push(quote!(agents = #lit));
        files.push(path);
    }
    // The whole settings, not a list of them: an option added later cannot be dropped here.
    let settings = args.settings.to_forwarded();
    let forwarded_key = format_ident!("{}", FORWARDED);
    forwarded.push(quote!(#forwarded_key = #settings));
    let includes = include_files(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let span = syn::spanned::Spanned::span(state);
    // Also assert the trait, so that a missing derive says so in plain words.
    let assert = quote_spanned! {span=>
        const _: fn() = || {
            fn state_must_derive_task_state<T: #krate::TaskState>() {}
            state_must_derive_task_state::<#state>();
        };
    };
    quote! {
        #includes
        #assert
        #macro_path! { { #krate::__macros::task_registry_with_state } { #(#forwarded,)* } }
    }
}

/// The name of the callback macro that `#[derive(TaskState)]` defines for a struct.
pub fn state_macro_name(state: &Ident) -> Ident {
    format_ident!("__tasknet_state_{}", state)
}

fn expand(args: &Args, env: &MacroEnv) -> TokenStream {
    let mut files: Vec<PathBuf> = Vec::new();
    let tasks = match (&args.file, &args.yaml) {
        (Some(file), _) => {
            let path = env.resolve(&file.value());
            files.push(path.clone());
            match read_source(&path, &env.display(&path)) {
                Ok(source) => source,
                Err(e) => {
                    let message = format!(
                        "{e} (paths are relative to the crate root; start with `./` for the calling file's folder)"
                    );
                    return syn::Error::new(file.span(), message).to_compile_error();
                }
            }
        }
        (None, Some(yaml)) => SourceFile::new(inline_name(env), yaml.value()),
        (None, None) => return quote!(::core::compile_error!("task_registry! needs a tasks file");),
    };
    let agents = match &args.agents {
        Some(agents) => {
            let path = env.resolve(&agents.value());
            files.push(path.clone());
            match read_source(&path, &env.display(&path)) {
                Ok(source) => Some(source),
                Err(e) => return syn::Error::new(agents.span(), e.to_string()).to_compile_error(),
            }
        }
        None => None,
    };
    let includes = include_files(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let custom = match (&args.state, &args.state_fields) {
        (Some(path), Some(fields)) => Some(custom_state(path, fields)),
        _ => None,
    };
    let body = match check_with(&args.settings, tasks, agents, custom.as_ref()) {
        Ok(checked) => {
            let items = items(&checked.model, &args.settings);
            let warnings = checked
                .warnings
                .iter()
                .map(|w| warning(&w.render(&checked.sources, crate::Style::Nested)));
            quote!(#items #(#warnings)*)
        }
        Err(failed) => {
            let errors = failed.diagnostics.iter().map(|d| {
                let rendered = d.render(&failed.sources, crate::Style::Nested);
                if !d.is_error() {
                    return warning(&rendered);
                }
                // rustc prints "error: " itself.
                let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
                quote!(::core::compile_error!(#message);)
            });
            quote!(#(#errors)*)
        }
    };
    quote! {
        #includes
        #body
    }
}

/// A warning that `cargo build` shows, on stable Rust (a proc macro has no warning API there):
/// the use of a deprecated item, whose note is the rendered diagnostic with its yaml location.
/// `#![deny(deprecated)]` (or `deny(warnings)`) makes it an error; `strict = true` does so for
/// tasknet's warnings alone.
fn warning(rendered: &str) -> TokenStream {
    let note = rendered.strip_prefix("warning: ").unwrap_or(rendered);
    let note = format!("tasknet: {note}");
    quote! {
        const _: () = {
            #[deprecated(note = #note)]
            #[allow(non_camel_case_types)]
            struct tasknet_yaml_warning;
            let _ = tasknet_yaml_warning;
        };
    }
}

fn inline_name(env: &MacroEnv) -> String {
    match &env.caller_file {
        Some(file) => format!("{} (inline yaml)", file.display()),
        None => "inline yaml".to_owned(),
    }
}

fn path_string(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

fn custom_state(path: &syn::Path, fields: &[(Ident, syn::Type)]) -> CustomState {
    CustomState {
        path: path_string(path),
        fields: fields
            .iter()
            .map(|(name, ty)| {
                let inner = option_inner(ty);
                CustomField {
                    name: name.to_string(),
                    ty: display_type(inner.unwrap_or(ty)),
                    optional: inner.is_some(),
                }
            })
            .collect(),
    }
}

/// `#[derive(TaskState)]`: the `TaskState` impl, plus a callback macro carrying the field list
/// for `task_registry!(state = ...)` (a proc macro cannot look at another item's fields).
pub fn derive_task_state(input: TokenStream) -> TokenStream {
    guard(|| match derive(input) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    })
}

fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: syn::DeriveInput = syn::parse2(input)?;
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "TaskState cannot be derived for a generic struct",
        ));
    }
    let syn::Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "TaskState can only be derived for a struct with named fields",
        ));
    };
    let syn::Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "TaskState can only be derived for a struct with named fields",
        ));
    };
    let mut krate = quote!(::tasknet);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("tasknet")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                krate = path.parse::<syn::Path>()?.to_token_stream();
                Ok(())
            } else {
                Err(meta.error("unknown tasknet attribute: expected `crate = \"path\"`"))
            }
        })?;
    }
    let mut task_fields = Vec::new();
    let mut callback_fields = Vec::new();
    let mut metadata_found = Vec::new();
    for field in &named.named {
        let Some(name) = &field.ident else { continue };
        let name_str = name.to_string();
        if RUN_METADATA_FIELDS.contains(&name_str.as_str()) {
            metadata_found.push(name_str);
            continue;
        }
        let inner = option_inner(&field.ty);
        let value_ty = inner.unwrap_or(&field.ty);
        task_fields.push(StateField {
            ident: name.clone(),
            name: name_str.clone(),
            ty: value_ty.to_token_stream(),
            ty_display: display_type(value_ty),
            optional: inner.is_some(),
        });
        let ty = &field.ty;
        callback_fields.push(quote!(#name: #ty));
    }
    let missing: Vec<String> = RUN_METADATA_FIELDS
        .iter()
        .filter(|m| !metadata_found.iter().any(|f| f == *m))
        .map(|m| format!("`{m}`"))
        .collect();
    if !missing.is_empty() {
        return Err(syn::Error::new_spanned(
            ident,
            format!(
                "TaskState needs the run metadata fields `execution_log: Vec<tasknet::LogEntry>`, `current_task: Option<String>` and `timestamp: Option<String>`; `{ident}` lacks {}",
                missing.join(", ")
            ),
        ));
    }
    let state_impl = task_state_impl(
        &ident.to_token_stream(),
        &task_fields,
        &RunMetadataNames::seed(),
    );
    let macro_name = state_macro_name(ident);
    Ok(quote! {
        // An anonymous scope, so that the alias cannot clash with the registry's own.
        const _: () = {
            use #krate::__private as __tasknet;
            #state_impl
        };

        #[doc(hidden)]
        macro_rules! #macro_name {
            ({ $($callback:tt)* } { $($args:tt)* }) => {
                $($callback)*! { $($args)* state_fields = { #(#callback_fields,)* } }
            };
        }
        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #macro_name;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> MacroEnv {
        MacroEnv {
            manifest_dir: PathBuf::from("/crate"),
            caller_file: Some(PathBuf::from("tests/ui/case.rs")),
        }
    }

    #[test]
    fn resolves_paths_like_askama() {
        let env = env();
        assert_eq!(
            env.resolve("tasks.yaml"),
            PathBuf::from("/crate/tasks.yaml")
        );
        assert_eq!(
            env.resolve("./x.yaml"),
            PathBuf::from("/crate/tests/ui/x.yaml")
        );
        assert_eq!(env.resolve("/abs/x.yaml"), PathBuf::from("/abs/x.yaml"));
        assert_eq!(
            env.display(Path::new("/crate/tests/ui/x.yaml")),
            "tests/ui/x.yaml"
        );
    }

    #[test]
    fn bad_arguments_are_compile_errors() {
        let out = task_registry(quote!(fie = "x.yaml"), &env()).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown argument `fie`"), "{out}");
        let out = task_registry(quote!(), &env()).to_string();
        assert!(out.contains("needs a tasks file"), "{out}");
        let out = task_registry(quote!("missing.yaml"), &env()).to_string();
        assert!(out.contains("cannot read"), "{out}");
    }

    #[test]
    fn failing_yaml_is_still_included_so_edits_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tasks.yaml"), "a: {requires: [nope]}\n").unwrap();
        let env = MacroEnv {
            manifest_dir: dir.path().to_path_buf(),
            caller_file: None,
        };
        let out = task_registry(quote!("tasks.yaml"), &env).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("include_bytes"), "{out}");
        assert!(out.contains(&dir.path().join("tasks.yaml").display().to_string()));
        // Also through the hand-over to a hand-written state.
        let out = task_registry(quote!(file = "tasks.yaml", state = S), &env).to_string();
        assert!(out.contains("include_bytes"), "{out}");
        assert!(out.contains("__tasknet_state_S"), "{out}");
    }

    #[test]
    fn inline_yaml_expands() {
        let yaml = "a:\n  description: x\n  produces: {n: i64}\n";
        let out = task_registry(quote!(yaml = #yaml), &env()).to_string();
        assert!(out.contains("TASK_REGISTRY"), "{out}");
    }

    #[test]
    fn derive_requires_metadata_and_named_fields() {
        let out = derive_task_state(quote!(
            struct S {
                a: Option<String>,
            }
        ))
        .to_string();
        assert!(out.contains("`execution_log`"), "{out}");
        let out = derive_task_state(quote!(
            struct S(u8);
        ))
        .to_string();
        assert!(out.contains("named fields"), "{out}");
        let out = derive_task_state(quote!(
            struct S {
                a: Option<String>,
                execution_log: Vec<tasknet::LogEntry>,
                current_task: Option<String>,
                timestamp: Option<String>,
            }
        ))
        .to_string();
        assert!(out.contains("__tasknet_state_S"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }
}
