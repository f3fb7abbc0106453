//! NumPy `.npy`: a magic string, a Python-literal header dict, then the array data. An object
//! dtype (`|O`, alone or inside a structured dtype) means the data is a pickle, which is scanned.

use super::pickle;
use crate::analyzer::{Analyzer, Context, Input};
use crate::{Format, RuleId};

const MAGIC: &[u8] = b"\x93NUMPY";
/// NumPy refuses headers longer than this by default (`max_header_size`).
const MAX_HEADER: usize = 10_000;

/// Analyzer for `.npy` arrays.
pub struct NumpyAnalyzer;

/// What the header says.
#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    shape: Vec<u64>,
    data_offset: u64,
}

impl Analyzer for NumpyAnalyzer {
    fn id(&self) -> &'static str {
        "numpy"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let header = match parse_header(input.head, input.source) {
            Ok(header) => header,
            Err(msg) => {
                cx.malformed(RuleId::FormatMalformed, format!("npy header: {msg}"), None);
                return Some(Format::Numpy);
            }
        };
        if has_object_dtype(&header.descr) {
            let scan = pickle::run(input.source, header.data_offset, cx);
            pickle::report(&scan, cx);
            return Some(Format::Numpy);
        }
        // Structured and exotic dtypes get no size check (nothing in them runs code).
        if let Some(size) = data_size(&header) {
            let available = input.source.len().saturating_sub(header.data_offset);
            if available < size {
                let msg = format!(
                    "array data truncated: header needs {size} bytes, file has {available}"
                );
                cx.malformed(RuleId::FormatMalformed, msg, Some(header.data_offset));
            }
        }
        Some(Format::Numpy)
    }
}

fn parse_header(head: &[u8], source: &dyn crate::ByteSource) -> Result<Header, String> {
    let major = *head.get(6).ok_or("truncated")?;
    let (len, start) = match major {
        1 => (
            u16::from_le_bytes([
                *head.get(8).ok_or("truncated")?,
                *head.get(9).ok_or("truncated")?,
            ]) as usize,
            10,
        ),
        2 | 3 => {
            let bytes = head.get(8..12).ok_or("truncated")?;
            (
                u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize,
                12,
            )
        }
        v => return Err(format!("unknown format version {v}")),
    };
    if len > MAX_HEADER {
        return Err(format!("header of {len} bytes exceeds {MAX_HEADER}"));
    }
    let raw = source
        .read_vec(start as u64, len)
        .map_err(|e| e.to_string())?;
    if raw.len() < len {
        return Err("truncated".into());
    }
    let text = String::from_utf8_lossy(&raw);
    let descr = literal_after(&text, "'descr'").ok_or("no descr")?;
    let shape_text = text
        .split("'shape'")
        .nth(1)
        .and_then(|rest| rest.split_once('(').map(|(_, r)| r))
        .and_then(|rest| rest.split_once(')').map(|(s, _)| s))
        .ok_or("no shape")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<u64>()
                .map_err(|_| format!("bad dimension `{s}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        descr,
        shape,
        data_offset: (start + len) as u64,
    })
}

/// The value after `key:` — a quoted string, or the whole structured-dtype list.
fn literal_after(text: &str, key: &str) -> Option<String> {
    let rest = text
        .split_once(key)?
        .1
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    if rest.starts_with('[') {
        let end = rest.find("],").or_else(|| rest.rfind(']'))?;
        return Some(rest[..=end].to_string());
    }
    // A Python string literal: the value runs to the matching quote.
    let body = rest.strip_prefix(['\'', '"'])?;
    let quote = rest.chars().next()?;
    Some(body[..body.find(quote)?].to_string())
}

fn has_object_dtype(descr: &str) -> bool {
    descr.split(['\'', '"']).any(|part| {
        matches!(
            part.trim_start_matches(['|', '<', '>', '=']),
            "O" | "O8" | "O4"
        )
    })
}

/// Bytes of array data implied by a simple dtype and shape; `None` for dtypes not sized here.
fn data_size(header: &Header) -> Option<u64> {
    let code = header.descr.trim_start_matches(['|', '<', '>', '=']);
    let (kind, digits) = code.split_at(code.find(|c: char| c.is_ascii_digit())?);
    let n: u64 = digits.split('[').next()?.parse().ok()?;
    let itemsize = match kind {
        "U" => n.checked_mul(4)?,
        "b" | "i" | "u" | "f" | "c" | "S" | "V" | "a" | "m" | "M" => n,
        _ => return None,
    };
    header
        .shape
        .iter()
        .try_fold(itemsize, |acc, &dim| acc.checked_mul(dim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn parses_simple_and_structured_headers() {
        let bytes = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n",
            &[0; 24],
        );
        let src = MemorySource::new(bytes.clone());
        let h = parse_header(&bytes, &src).ok();
        assert_eq!(h.as_ref().map(|h| h.shape.clone()), Some(vec![2, 3]));
        assert_eq!(h.as_ref().and_then(data_size), Some(24));

        let bytes = npy(
            "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }\n",
            &[],
        );
        let src = MemorySource::new(bytes.clone());
        let h = parse_header(&bytes, &src).ok();
        assert!(h.is_some_and(|h| has_object_dtype(&h.descr)));
    }

    #[test]
    fn non_ascii_where_a_quote_belongs_is_an_error_not_a_panic() {
        let bytes = npy("{'descr': \u{fffd}<f4\u{fffd}, 'shape': (1,), }", &[0; 4]);
        let src = MemorySource::new(bytes.clone());
        assert!(parse_header(&bytes, &src).is_err());
    }

    #[test]
    fn rejects_oversized_header() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend([2, 0]);
        bytes.extend(u32::MAX.to_le_bytes());
        let src = MemorySource::new(bytes.clone());
        assert!(parse_header(&bytes, &src).is_err());
    }
}
