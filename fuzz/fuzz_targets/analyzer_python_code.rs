#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| aigis_fuzz::member_analyzer(
    "python-code",
    "pipeline/train.py",
    data
));
