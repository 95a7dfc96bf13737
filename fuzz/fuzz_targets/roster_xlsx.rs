//! A member list uploaded as XLSX (a zip of XML parts).
#![no_main]
use gonghui_actors::sheets::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gonghui_fuzz::roster(Format::Xlsx, data));
