//! An activity's form and config, and an answer checked against the config:
//! `{"kind", "config", "answer", …the rest of a form}` as JSON.
#![no_main]
use gonghui_actors::domain::{ActivitySpec, Answer, Config};
use gonghui_protocol::dto::ActivityForm;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let kind = value["kind"].as_str().unwrap_or("vote");
    if let Ok(config) = Config::parse(kind, &value["config"]) {
        let _ = config.public();
        let _ = config.prizes();
        let _ = Answer::parse(&config, &value["answer"]);
    }
    if let Ok(form) = serde_json::from_value::<ActivityForm>(value) {
        let _ = ActivitySpec::parse(&form);
    }
});
