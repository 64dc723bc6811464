//! The lambda.toml parser on arbitrary text: diagnostics must point inside the text.
#![no_main]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::project_toml(data));
