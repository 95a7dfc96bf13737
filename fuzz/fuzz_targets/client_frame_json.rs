//! A client's JSON text frame, as a session reads it.
#![no_main]
use gonghui_protocol::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gonghui_fuzz::client_frame(Codec::Json, data));
