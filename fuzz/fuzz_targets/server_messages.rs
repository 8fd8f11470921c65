//! What a browser sends the task server: the frame as JSON, then its `input_data` decoded into
//! the typed state for every task of the seed's pipeline (and encoded back when it decodes),
//! and the Origin check. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tasknet::server::ServerConfig;
use tasknet::server::state_json::{decode, encode};

mod pipeline {
    tasknet::task_registry!(
        file = "../examples/tropical_sales/tasks.yaml",
        agents = "../examples/tropical_sales/agents.yaml",
        name = "tropical_sales"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ServerConfig::default().origin_allowed(&text);
    let Ok(frame) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let input = frame
        .get("data")
        .and_then(|d| d.get("input_data"))
        .unwrap_or(&frame);
    for task in pipeline::TASK_REGISTRY.tasks {
        match decode::<pipeline::State>(task, input) {
            Ok(state) => {
                let encoded = encode(input, &state);
                assert!(encoded.is_object(), "{encoded}");
            }
            Err(e) => assert!(!e.message.is_empty()),
        }
    }
});
