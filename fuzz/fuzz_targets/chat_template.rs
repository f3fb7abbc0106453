#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let first = aigis_scan::analyzers::chat_template::analyze(text);
        assert_eq!(first, aigis_scan::analyzers::chat_template::analyze(text));
    }
});
