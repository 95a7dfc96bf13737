//! A member list uploaded as CSV (any encoding the reader accepts).
#![no_main]
use gonghui_actors::sheets::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gonghui_fuzz::roster(Format::Csv, data));
