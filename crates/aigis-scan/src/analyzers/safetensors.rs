//! safetensors: an 8-byte little-endian header length, a JSON header (tensor name → dtype, shape,
//! data offsets, plus an optional `__metadata__` string map), then the tensor data. Nothing in it
//! runs code; the risks are parser differentials and hidden bytes, so the header is checked as
//! strictly as the reference loader does: every tensor's bytes in bounds, contiguous from offset 0,
//! sized exactly by shape × dtype, and together covering the data section with no gap or trailing
//! bytes. The `safetensors` crate parses the same header as a second opinion. Tensor data is never
//! read.

use crate::analyzer::{Analyzer, Context, Input};
use crate::deep::{TensorKind, TensorSpan};
use crate::{Format, RuleId};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// The reference loader refuses headers longer than this (`MAX_HEADER_SIZE`).
const MAX_HEADER: u64 = 100_000_000;

/// Known dtypes and their size in bits, as in the `safetensors` crate's `Dtype`.
const DTYPES: &[(&str, u64)] = &[
    ("BOOL", 8),
    ("F4", 4),
    ("F6_E2M3", 6),
    ("F6_E3M2", 6),
    ("U8", 8),
    ("I8", 8),
    ("F8_E5M2", 8),
    ("F8_E4M3", 8),
    ("F8_E8M0", 8),
    ("F8_E4M3FNUZ", 8),
    ("F8_E5M2FNUZ", 8),
    ("I16", 16),
    ("U16", 16),
    ("F16", 16),
    ("BF16", 16),
    ("I32", 32),
    ("U32", 32),
    ("F32", 32),
    ("C64", 64),
    ("F64", 64),
    ("I64", 64),
    ("U64", 64),
];

/// Analyzer for safetensors files.
pub struct SafetensorsAnalyzer;

impl Analyzer for SafetensorsAnalyzer {
    fn id(&self) -> &'static str {
        "safetensors"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        // The length's bytes can be anything, so the JSON opening decides: `{` then `"` or `}`.
        let Some(json) = head.get(8..) else {
            return false;
        };
        let mut rest = json.iter().skip_while(|b| b.is_ascii_whitespace());
        rest.next() == Some(&b'{')
            && matches!(
                rest.find(|b| !b.is_ascii_whitespace()),
                Some(b'"') | Some(b'}') | None
            )
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if let Err(problem) = check(input, cx) {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("safetensors: {}", problem.0),
                problem.1,
            );
        }
        Some(Format::Safetensors)
    }
}

/// A structural problem and where it is.
struct Problem(String, Option<u64>);

impl<T: Into<String>> From<T> for Problem {
    fn from(msg: T) -> Problem {
        Problem(msg.into(), None)
    }
}

/// The header's top-level entries in file order, duplicates kept.
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// One tensor as the header describes it.
struct Tensor {
    name: String,
    start: u64,
    end: u64,
}

fn check(input: &Input<'_>, cx: &mut Context<'_>) -> Result<(), Problem> {
    cx.model().set_framework("safetensors");
    let file_len = input.source.len();
    let len_bytes = input
        .head
        .get(..8)
        .ok_or("file shorter than the 8-byte header length")?;
    let mut raw = [0u8; 8];
    raw.copy_from_slice(len_bytes);
    let header_len = u64::from_le_bytes(raw);
    if header_len > MAX_HEADER {
        return Err(Problem(
            format!("header length {header_len} exceeds the loader's limit of {MAX_HEADER} bytes"),
            Some(0),
        ));
    }
    if header_len > file_len - 8 {
        return Err(Problem(
            format!(
                "header length {header_len} runs past the end of the file ({} bytes after the length)",
                file_len - 8
            ),
            Some(0),
        ));
    }
    let bytes = input
        .source
        .read_vec(8, header_len as usize)
        .map_err(|e| format!("reading the header: {e}"))?;
    if bytes.len() as u64 != header_len {
        return Err(Problem("header truncated".into(), Some(8)));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Problem(
            format!("header is not UTF-8: {e}"),
            Some(8 + e.valid_up_to() as u64),
        )
    })?;
    // serde_json caps nesting at 128 levels, so hostile depth is an error, not a stack overflow.
    let entries: Entries = serde_json::from_str(text)
        .map_err(|e| Problem(format!("header is not a JSON object: {e}"), Some(8)))?;
    let data_len = file_len - 8 - header_len;

    // A key written twice: the library's JSON map keeps the last value, as most JSON readers do;
    // a reader that keeps the first sees another tensor when the two differ.
    let mut effective: Vec<(&String, &Value)> = Vec::with_capacity(entries.0.len());
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, value) in &entries.0 {
        match index.get(name.as_str()) {
            Some(&at) => {
                if effective[at].1 == value {
                    irregular(
                        cx,
                        format!("key `{name}` is written twice (with the same value)"),
                    );
                } else {
                    let msg = format!(
                        "safetensors: key `{name}` is written twice with different values; the \
                         library keeps the last, a reader that keeps the first loads another \
                         tensor"
                    );
                    cx.report(RuleId::FormatMalformed, msg, None);
                }
                effective[at].1 = value;
            }
            None => {
                index.insert(name.as_str(), effective.len());
                effective.push((name, value));
            }
        }
    }
    let mut tensors = Vec::with_capacity(effective.len());
    let mut parameters: u64 = 0;
    for (name, value) in effective {
        if name == "__metadata__" {
            // `Option<HashMap<String, String>>` in the library: `null` is no metadata.
            if value.is_null() {
                continue;
            }
            let map = value.as_object().ok_or("`__metadata__` is not an object")?;
            for (key, v) in map {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("`__metadata__` value of `{key}` is not a string"))?;
                if key == "format" {
                    cx.model().metadata.insert("format".into(), v.to_string());
                }
                if key == "license" {
                    cx.model().metadata.insert("license".into(), v.to_string());
                }
                let field = format!("safetensors __metadata__ `{key}`");
                crate::secrets::check_value(cx, crate::secrets::Place::Metadata, &field, v, None);
                if crate::secrets::worth_checking(key) {
                    let field = "safetensors __metadata__ key";
                    crate::secrets::check_value(
                        cx,
                        crate::secrets::Place::Metadata,
                        field,
                        key,
                        None,
                    );
                }
            }
            continue;
        }
        let info = value
            .as_object()
            .ok_or_else(|| format!("tensor `{name}` is not an object"))?;
        if let Some(extra) = info
            .keys()
            .find(|k| !matches!(k.as_str(), "dtype" | "shape" | "data_offsets"))
        {
            // The library ignores fields it does not know; nothing reads them.
            irregular(
                cx,
                format!("tensor `{name}` has a field the loader ignores, `{extra}`"),
            );
        }
        let dtype = info
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tensor `{name}` has no dtype"))?;
        let bits = DTYPES
            .iter()
            .find(|(d, _)| *d == dtype)
            .map(|(_, b)| *b)
            .ok_or_else(|| format!("tensor `{name}` has unknown dtype `{dtype}`"))?;
        let shape = info
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("tensor `{name}` has no shape"))?
            .iter()
            .map(Value::as_u64)
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| {
                format!("tensor `{name}` shape is not a list of non-negative integers")
            })?;
        let offsets = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| match a.as_slice() {
                [s, e] => Some((s.as_u64()?, e.as_u64()?)),
                _ => None,
            })
            .ok_or_else(|| format!("tensor `{name}` data_offsets is not a pair of integers"))?;
        let (start, end) = offsets;
        if end < start {
            return Err(format!(
                "tensor `{name}` data_offsets [{start}, {end}] end before they start"
            )
            .into());
        }
        if end > data_len {
            return Err(format!(
                "tensor `{name}` data_offsets [{start}, {end}] run past the {data_len}-byte data section"
            )
            .into());
        }
        let data_at = 8 + header_len;
        cx.declare_tensor(TensorSpan {
            name: name.clone(),
            start: data_at + start,
            len: end - start,
            kind: match dtype {
                "F16" => TensorKind::F16,
                "BF16" => TensorKind::BF16,
                "F32" => TensorKind::F32,
                "F64" => TensorKind::F64,
                _ => TensorKind::Other,
            },
        });
        let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let nbits = elements.and_then(|e| e.checked_mul(bits));
        if nbits.is_none_or(|nbits| nbits % 8 != 0 || nbits / 8 != end - start) {
            let needs = nbits.map_or("more than 2^64".to_string(), |n| n.div_ceil(8).to_string());
            let msg = format!(
                "tensor `{name}`: shape {shape:?} of {dtype} needs {needs} bytes, data_offsets span {}",
                end - start
            );
            cx.layout_mismatch(format!("safetensors: {msg}"), Some(data_at + start));
            return Err(msg.into());
        }
        let elements = elements.unwrap_or(0);
        parameters = parameters.saturating_add(elements);
        cx.model().dtypes.insert(dtype.to_string());
        tensors.push(Tensor {
            name: name.clone(),
            start,
            end,
        });
    }

    // Contiguous from 0 to the end of the file: no overlaps, no gaps, no trailing bytes.
    tensors.sort_by_key(|t| (t.start, t.end));
    let mut cursor = 0u64;
    let mut previous: Option<&Tensor> = None;
    for t in &tensors {
        let data_at = 8 + header_len;
        if t.start < cursor {
            let other = previous.map_or("", |p| p.name.as_str());
            let msg = format!("tensors `{other}` and `{}` overlap", t.name);
            cx.layout_mismatch(format!("safetensors: {msg}"), Some(data_at + t.start));
            return Err(msg.into());
        }
        if t.start > cursor {
            let msg = format!(
                "{} hidden bytes at data offsets [{cursor}, {}) belong to no tensor",
                t.start - cursor,
                t.start
            );
            gap(cx, data_at + cursor, t.start - cursor);
            return Err(msg.into());
        }
        cursor = t.end;
        previous = Some(t);
    }
    if cursor != data_len {
        gap(cx, 8 + header_len + cursor, data_len - cursor);
        return Err(Problem(
            format!(
                "{} trailing bytes after the last tensor belong to no tensor",
                data_len - cursor
            ),
            Some(8 + header_len + cursor),
        ));
    }

    // Second opinion: the reference implementation's own header validation.
    if let Err(err) = serde_json::from_str::<safetensors::tensor::Metadata>(text) {
        return Err(format!("rejected by the reference parser: {err}").into());
    }

    if !tensors.is_empty() {
        cx.model().add_parameters(parameters);
    }
    Ok(())
}

/// Bytes between or after tensors that no tensor declares: with `--deep`, checked for data.
fn gap(cx: &mut Context<'_>, start: u64, len: u64) {
    cx.declare_tensor(TensorSpan {
        name: format!("bytes outside every tensor at [{start}, {})", start + len),
        start,
        len,
        kind: TensorKind::Gap,
    });
}

/// Something in the header the library accepts and no writer produces: low, the file stays
/// valid.
fn irregular(cx: &mut Context<'_>, message: String) {
    let finding = crate::Finding::new(RuleId::FormatMalformed, format!("safetensors: {message}"))
        .with_severity(crate::Severity::Low);
    cx.record(finding, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::registry;
    use crate::{AnalysisOptions, MemorySource};

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(vec![0u8; data]);
        out
    }

    fn invalid(bytes: Vec<u8>) -> bool {
        let reg = registry();
        let opts = AnalysisOptions::default();
        let mut cx = Context::new(&reg, &opts);
        let src = MemorySource::new(bytes);
        let head = src
            .as_slice()
            .map(|s| s[..s.len().min(4096)].to_vec())
            .unwrap_or_default();
        let input = Input::new(&src, &head, None);
        assert!(SafetensorsAnalyzer.sniff(&head, src.len()));
        SafetensorsAnalyzer.analyze(&input, &mut cx);
        cx.is_invalid()
    }

    use crate::ByteSource;

    #[test]
    fn good_header_is_valid() {
        let h = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[],"data_offsets":[8,10]}}"#;
        assert!(!invalid(file(h, 10)));
        assert!(!invalid(file("{}", 0)));
    }

    #[test]
    fn structural_violations_are_invalid() {
        let cases = [
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                12,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8,
            ),
            (
                r#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#,
                8,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}"#,
                8,
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#,
                8,
            ),
            (r#"{"__metadata__":{"k":1}}"#, 0),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
                8,
            ),
        ];
        for (header, data) in cases {
            assert!(invalid(file(header, data)), "{header}");
        }
        // A key twice: the library keeps the last value and loads the file (a finding, valid).
        let twice = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(!invalid(file(twice, 8)));
        let mut long = file("{}", 0);
        long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(invalid(long));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(invalid(file(&deep, 0)));
    }
}
