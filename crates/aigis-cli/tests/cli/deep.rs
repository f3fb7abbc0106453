//! `--deep`: the weight-level checks (WEIGHTS-EMBEDDED-PAYLOAD, WEIGHTS-NAN-INF,
//! WEIGHTS-LAYOUT-MISMATCH, WEIGHTS-LOWBIT-ANOMALY) on the fixtures of
//! `scripts/fixtures/make_deep_fixtures.py` (each row of `fixtures/manifest-deep.jsonl` says what
//! `--deep` adds), never without the flag, and on a file past the in-memory size, where the
//! checks run in the engine's hashing pass.

use crate::support::{finding_text, repo_root, scan_json, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};

const DEEP_RULES: &[&str] = &[
    "WEIGHTS-EMBEDDED-PAYLOAD",
    "WEIGHTS-NAN-INF",
    "WEIGHTS-LAYOUT-MISMATCH",
    "WEIGHTS-LOWBIT-ANOMALY",
];

fn rows() -> Vec<Value> {
    let path = repo_root().join("fixtures/manifest-deep.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn results(doc: &Value) -> Vec<&Value> {
    doc["results"].as_array().into_iter().flatten().collect()
}

fn result_for<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    results(doc)
        .into_iter()
        .find(|r| r["path"].as_str().map(PathBuf::from).as_deref() == Some(path))
        .unwrap_or_else(|| panic!("no result for {}", path.display()))
}

fn deep_findings(result: &Value) -> Vec<&Value> {
    result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| DEEP_RULES.contains(&f["rule_id"].as_str().unwrap_or("")))
        .collect()
}

pub(crate) fn every_deep_fixture_is_judged_with_deep_and_untouched_without() {
    let rows = rows();
    assert!(rows.len() >= 10, "{} rows", rows.len());
    let dir = repo_root().join("fixtures/deep");
    let (_, deep) = scan_json(&[&dir], &["--deep", "--no-cache", "--no-policy"]);
    let (_, plain) = scan_json(&[&dir], &["--no-cache", "--no-policy"]);
    let mut failures = Vec::new();
    let mut benign = 0;
    for row in &rows {
        let file = row["file"].as_str().unwrap_or("");
        let path = repo_root().join("fixtures").join(file);
        let with = result_for(&deep, &path);
        let without = result_for(&plain, &path);
        let text = finding_text(with);
        // Without the flag, no weight-level check runs.
        if !deep_findings(without).is_empty() {
            failures.push(format!(
                "{file}: deep findings without --deep\n{}",
                finding_text(without)
            ));
        }
        let want = row["deep"]["max_severity"].as_str().unwrap_or("");
        let got = with["max_severity"].as_str().unwrap_or("none");
        if want != got {
            failures.push(format!(
                "{file}: max_severity {got}, expected {want}\n{text}"
            ));
        }
        let expected = row["deep"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if expected.is_empty() {
            benign += 1;
            if !deep_findings(with).is_empty() {
                failures.push(format!("{file}: a benign file has deep findings\n{text}"));
            }
        }
        for f in &expected {
            let rule = f["rule_id"].as_str().unwrap_or("");
            let severity = f["severity"].as_str().unwrap_or("");
            let contains = f["message_contains"].as_str().unwrap_or("");
            let found = with["findings"].as_array().into_iter().flatten().any(|g| {
                g["rule_id"].as_str() == Some(rule)
                    && g["severity"].as_str() == Some(severity)
                    && g["message"].as_str().is_some_and(|m| m.contains(contains))
            });
            if !found {
                failures.push(format!(
                    "{file}: no {rule} ({severity}) containing `{contains}`\n{text}"
                ));
            }
        }
    }
    assert!(benign >= 2, "benign fixtures: {benign}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Normal-looking f32 weights (Box–Muller over xorshift), little-endian.
fn weights(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let (u, v) = (next().max(1e-12), next());
        let x = ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * 0.02) as f32;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// A 64-byte ELF64 x86-64 executable header with sane fields.
fn elf_header() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16..18].copy_from_slice(&2u16.to_le_bytes());
    h[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes());
    h
}

pub(crate) fn a_large_checkpoint_is_checked_in_the_hashing_pass() {
    // 3 Mi f32 (12 MiB, past the in-memory size) and a NaN tensor after it. The ELF sits at a
    // 512-aligned offset of the big tensor within the last bytes of the engine's first 4 MiB
    // read, so it is judged across two reads.
    let big = 3 << 20;
    let header = format!(
        r#"{{"model.big":{{"dtype":"F32","shape":[{big}],"data_offsets":[0,{}]}},"model.nan":{{"dtype":"F32","shape":[1024],"data_offsets":[{},{}]}}}}"#,
        big * 4,
        big * 4,
        big * 4 + 4096
    );
    let data_at = 8 + header.len();
    let mut data = weights(big, 11);
    let chunk = 4usize << 20;
    let in_tensor = (chunk - 40 - data_at) / 512 * 512;
    assert!(data_at + in_tensor + 64 > chunk - 512 && data_at + in_tensor < chunk);
    data[in_tensor..in_tensor + 64].copy_from_slice(&elf_header());
    for _ in 0..1024 {
        data.extend_from_slice(&f32::NAN.to_le_bytes());
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend_from_slice(&data);
    let dir = temp_dir();
    let path = dir.path().join("big.safetensors");
    std::fs::write(&path, &file).unwrap_or_else(|e| panic!("{e}"));
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&file))
    };

    // A plain scan first, through the cache: the deep scan must not be answered by it.
    let (_, plain) = scan_json(&[&path], &["--no-policy"]);
    let plain = &results(&plain)[0];
    assert!(deep_findings(plain).is_empty(), "{}", finding_text(plain));
    let (code, doc) = scan_json(&[&path], &["--deep", "--no-policy"]);
    let result = results(&doc)[0];
    let text = finding_text(result);
    assert_eq!(code, 1, "{text}");
    assert_eq!(result["sha256"].as_str(), Some(sha.as_str()), "{text}");
    assert!(result["incomplete"].is_null(), "{result}");
    let findings = deep_findings(result);
    let at = (data_at + in_tensor) as u64;
    assert!(
        findings
            .iter()
            .any(|f| f["rule_id"] == "WEIGHTS-EMBEDDED-PAYLOAD"
                && f["severity"] == "high"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("tensor `model.big`")
                        && m.contains(&format!("at byte {in_tensor} of the tensor")))
                && f["location"].as_str() == Some(&format!("byte {at}"))),
        "{text}"
    );
    assert!(
        findings.iter().any(|f| f["rule_id"] == "WEIGHTS-NAN-INF"
            && f["severity"] == "high"
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("tensor `model.nan`"))),
        "{text}"
    );
    // Nothing else: the normal weights around them are clean.
    assert_eq!(findings.len(), 2, "{text}");
}
