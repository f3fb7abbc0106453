#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aigis_fuzz::run("analyzer_deps", data);
});
