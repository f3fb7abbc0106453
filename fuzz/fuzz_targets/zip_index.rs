#![no_main]
use aigis_scan::MemorySource;
use aigis_scan::archive::zip_index::read_index;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let index = read_index(&MemorySource::new(data.to_vec()), 10_000);
    for entry in &index.entries {
        assert!(entry.data_offset >= entry.header_offset || !entry.in_central);
    }
});
