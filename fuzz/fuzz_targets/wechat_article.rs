//! An official-account article page, as the WeChat adapter reads it.
#![no_main]
use gonghui_actors::wechat::article::extract;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let page = String::from_utf8_lossy(data);
    if let Ok(article) = extract(&page) {
        assert!(!article.title.is_empty(), "an article has a title");
    }
});
