//! The `TaskState` impl, shared by the generated `State` and `#[derive(TaskState)]`, so that
//! both kinds of state behave the same.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::model::RunMetadataNames;

/// A task field of a state struct, as the impl needs it.
pub struct StateField {
    /// The field's name in the struct.
    pub ident: Ident,
    /// Its name in the yaml, the registry and the JSON.
    pub name: String,
    /// The value type: inside `Option` when `optional`.
    pub ty: TokenStream,
    /// The value type as shown in `TaskState::FIELDS`.
    pub ty_display: String,
    /// Whether the struct holds it as an `Option`.
    pub optional: bool,
}

/// `impl TaskState for #state { ... }`. The struct must also have the run metadata fields
/// `metadata` names (the seed's `execution_log`, `current_task` and `timestamp` for a derive).
pub fn task_state_impl(
    state: &TokenStream,
    fields: &[StateField],
    metadata: &RunMetadataNames,
) -> TokenStream {
    // The caller brings `__tasknet` (the runtime's `__private` module) into scope.
    let krate = &quote!(__tasknet);
    let infos = fields.iter().map(|f| {
        let name = &f.name;
        let ty = &f.ty_display;
        let optional = f.optional;
        quote!(#krate::FieldInfo { name: #name, ty: #ty, optional: #optional })
    });
    let unknown = quote!(Err(#krate::StateError::UnknownField(field.to_owned())));
    let get_arms = fields.iter().map(|f| {
        let ident = &f.ident;
        let name = &f.name;
        quote!(#name => #krate::to_json(&self.#ident, #name),)
    });
    let set_arms = fields.iter().map(|f| {
        let ident = &f.ident;
        let name = &f.name;
        quote!(#name => self.#ident = #krate::from_json(value, #name)?,)
    });
    let is_set_arms = fields.iter().map(|f| {
        let ident = &f.ident;
        let name = &f.name;
        if f.optional {
            quote!(#name => Ok(self.#ident.is_some()),)
        } else {
            quote!(#name => Ok(true),)
        }
    });
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let merges = fields.iter().map(|f| {
        let ident = &f.ident;
        if f.optional {
            quote!(if #ident.is_some() { self.#ident = #ident; })
        } else {
            quote!(self.#ident = #ident;)
        }
    });
    // A match with only the fallback arm trips clippy::match_single_binding.
    let by_name = |arms: TokenStream| {
        if fields.is_empty() {
            quote!(#unknown)
        } else {
            quote!(match field { #arms _ => #unknown, })
        }
    };
    let get_body = by_name(quote!(#(#get_arms)*));
    let set_body = if fields.is_empty() {
        quote!(let _ = value; #unknown)
    } else {
        quote! {
            match field {
                #(#set_arms)*
                _ => return #unknown,
            }
            Ok(())
        }
    };
    let is_set_body = by_name(quote!(#(#is_set_arms)*));
    let ident = |name: &str| Ident::new(name, Span::call_site());
    let (log, current, stamp) = (
        ident(&metadata.execution_log),
        ident(&metadata.current_task),
        ident(&metadata.timestamp),
    );
    let keys = if metadata.is_seed() {
        TokenStream::new()
    } else {
        let (l, c, t) = (
            &metadata.execution_log,
            &metadata.current_task,
            &metadata.timestamp,
        );
        quote! {
            const RUN_METADATA: #krate::RunMetadataKeys = #krate::RunMetadataKeys {
                execution_log: #l, current_task: #c, timestamp: #t,
            };
        }
    };
    let result = quote!(#krate::Result);
    let option = quote!(#krate::Option);
    quote! {
        impl #krate::TaskState for #state {
            const FIELDS: &'static [#krate::FieldInfo] = &[#(#infos),*];
            #keys

            fn get_json(&self, field: &str) -> #result<#option<#krate::Json>, #krate::StateError> {
                #get_body
            }

            fn set_json(&mut self, field: &str, value: #krate::Json) -> #result<(), #krate::StateError> {
                #set_body
            }

            fn is_set(&self, field: &str) -> #result<bool, #krate::StateError> {
                #is_set_body
            }

            fn merge(&mut self, other: Self) {
                // The metadata's names are distinct from every field's (RunMetadataNames).
                let Self { #(#idents,)* #log, #current, #stamp } = other;
                #(#merges)*
                self.#log.extend(#log);
                if #current.is_some() {
                    self.#current = #current;
                }
                if #stamp.is_some() {
                    self.#stamp = #stamp;
                }
            }

            fn record(&mut self, task: &'static str) {
                #krate::record(&mut self.#log, &mut self.#current, &mut self.#stamp, task);
            }

            fn execution_log(&self) -> &[#krate::LogEntry] {
                &self.#log
            }
        }
    }
}
