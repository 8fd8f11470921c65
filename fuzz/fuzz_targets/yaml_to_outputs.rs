//! yaml -> checked model -> every emitter. A file that passes `check` must give Rust that
//! parses, a sound Petri net, JSON that parses and well-formed PNML; a file that fails must
//! give an error that renders. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tasknet_codegen::emit::petri::{self as writers, json::JsOptions};
use tasknet_codegen::petri;
use tasknet_codegen::{GenerationSettings, SourceFile, check, emit};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let checked = match check(SourceFile::new("tasks.yaml", text), None, None) {
        Ok(checked) => checked,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let tokens = emit::rust::items(&checked.model, &GenerationSettings::default());
    if let Err(e) = syn::parse2::<syn::File>(tokens) {
        panic!("the emitted Rust does not parse: {e}");
    }
    let net = petri::build(&checked.model);
    if let Err(e) = petri::check(&net) {
        panic!("the net of a checked model is unsound: {e}");
    }
    let options = JsOptions::default();
    let json = writers::json::to_json_string(&net, &checked.model, &options);
    serde_json::from_str::<serde_json::Value>(&json).expect("the net's JSON parses");
    let pnml = writers::pnml::to_pnml(&net, &checked.model, &options);
    roxmltree::Document::parse(&pnml).expect("the PNML is well-formed XML");
    let _ = writers::dot::to_dot(&net);
    let _ = writers::mermaid::to_mermaid(&net);
});
