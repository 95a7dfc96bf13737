//! A union tree uploaded for import: the first byte picks CSV or XLSX.
#![no_main]
use gonghui_actors::sheets::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((first, file)) = data.split_first() {
        let format = if first % 2 == 0 { Format::Csv } else { Format::Xlsx };
        gonghui_fuzz::tree(format, file);
    }
});
