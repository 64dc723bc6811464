//! Handler discovery on arbitrary text, whole and through incremental edits.
#![no_main]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::discovery(data));
