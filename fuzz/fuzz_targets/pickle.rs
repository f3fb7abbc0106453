#![no_main]
use aigis_pickle::{Options, scan};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut options = Options::default();
    options.limits.max_opcodes = 1_000_000;
    let first = scan(data, 0, &options);
    // Deterministic: the same bytes give the same verdicts.
    let second = scan(data, 0, &options);
    assert_eq!(first, second);
});
