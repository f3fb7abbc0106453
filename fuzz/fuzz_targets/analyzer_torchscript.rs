#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| aigis_fuzz::member_analyzer(
    "torchscript-code",
    "archive/code/__torch__.py",
    data
));
