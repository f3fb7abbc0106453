//! Property tests: any bytes — including bytes that start like each supported format — give a
//! result (never a panic), and the same result every time.

use aigis_scan::{MemorySource, ScanOptions, Scanner};
use proptest::prelude::*;
use std::sync::OnceLock;

/// Magic prefixes that route the input to each analyzer.
const PREFIXES: &[&[u8]] = &[
    b"",
    b"PK\x03\x04",
    b"\x93NUMPY\x01\x00",
    b"\x1f\x8b\x08\x00",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"\x04\x22\x4d\x18",
    b"\x28\xb5\x2f\xfd",
    b"\x78\x9c",
    b"\x80\x02",
    b"\x80\x04\x95",
    b"(c",
];

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        Scanner::new(ScanOptions {
            hash: false,
            ..ScanOptions::default()
        })
    })
}

fn scan_twice(bytes: Vec<u8>) -> (String, String) {
    let source = MemorySource::new(bytes);
    let a = scanner().scan_source("p".into(), &source);
    let b = scanner().scan_source("p".into(), &source);
    (
        serde_json::to_string(&a).unwrap_or_default(),
        serde_json::to_string(&b).unwrap_or_default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_scan_deterministically(
        prefix in prop::sample::select(PREFIXES),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend(body);
        let (a, b) = scan_twice(bytes);
        prop_assert!(!a.is_empty());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn mutated_fixtures_scan_deterministically(
        index in 0usize..64,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/zip");
        let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        prop_assume!(!files.is_empty());
        let mut bytes = std::fs::read(&files[index % files.len()]).unwrap_or_default();
        prop_assume!(!bytes.is_empty());
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let (a, b) = scan_twice(bytes);
        prop_assert_eq!(a, b);
    }
}
