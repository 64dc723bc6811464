//! The import follower on an arbitrary entry module inside a small package tree.
#![no_main]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::imports(data));
