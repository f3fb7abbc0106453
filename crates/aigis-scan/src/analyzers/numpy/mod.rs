//! NumPy `.npy`: a magic string, a version, a header length, a header that numpy evaluates with
//! `ast.literal_eval` (see [`literal`]) and whose `descr` it resolves with `np.dtype` (see
//! [`dtype`]), then the array data. A dtype that holds Python objects means the data is a pickle,
//! which `numpy.load(allow_pickle=True)` unpickles and aigis scans. A header numpy refuses makes
//! the file invalid, with numpy's reason.

mod dtype;
mod literal;

use super::pickle;
use crate::analyzer::{Analyzer, Context, Input};
use crate::{Finding, Format, RuleId, Severity};
use literal::Value;

const MAGIC: &[u8] = b"\x93NUMPY";
/// Longest header aigis evaluates; a longer one is reported (high), never passed as clean.
/// (numpy's own `max_header_size` of 10,000 is lifted by `allow_pickle=True`, which object
/// arrays need, so it stops no pickle.)
const MAX_HEADER: usize = 1 << 20;

/// Analyzer for `.npy` arrays.
pub struct NumpyAnalyzer;

/// What the header says.
#[derive(Debug)]
struct Header {
    descr: Value,
    dtype: dtype::Dtype,
    shape: Vec<i128>,
    data_offset: u64,
    /// A `\N{…}` escape aigis could not resolve: the descriptor may mean something else.
    uncertain: bool,
}

/// Why the header cannot be used.
#[derive(Debug)]
enum HeaderError {
    /// numpy refuses the file.
    Rejected(String),
    /// numpy would read it, but it is beyond what aigis evaluates.
    TooLarge(usize),
}

impl Analyzer for NumpyAnalyzer {
    fn id(&self) -> &'static str {
        "numpy"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let header = match parse_header(input.head, input.source) {
            Ok(header) => header,
            Err(HeaderError::Rejected(msg)) => {
                cx.malformed(
                    RuleId::FormatMalformed,
                    format!("npy header (numpy refuses the file): {msg}"),
                    None,
                );
                return Some(Format::Numpy);
            }
            Err(HeaderError::TooLarge(len)) => {
                let finding = Finding::new(
                    RuleId::ResourceLimit,
                    format!(
                        "npy header of {len} bytes is larger than aigis evaluates ({MAX_HEADER}); \
                         numpy.load(allow_pickle=True) reads it, and the data may be a pickle"
                    ),
                );
                cx.record(finding.with_severity(Severity::High), None);
                cx.malformed(RuleId::ResourceLimit, "npy header not analysed", None);
                cx.not_analysed("npy header over the size aigis evaluates");
                return Some(Format::Numpy);
            }
        };
        if header.uncertain && !header.dtype.has_object {
            let finding = Finding::new(
                RuleId::FormatMalformed,
                "npy header uses a \\N{…} escape aigis does not resolve: the dtype may hold \
                 objects, so the data is scanned as a pickle",
            );
            cx.record(finding.with_severity(Severity::High), None);
        }
        if header.dtype.has_object || header.uncertain {
            let scan = pickle::run(input.source, header.data_offset, cx);
            pickle::report(&scan, cx);
            return Some(Format::Numpy);
        }
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

/// `numpy.lib.format.read_magic` + `_read_array_header`.
fn parse_header(head: &[u8], source: &dyn crate::ByteSource) -> Result<Header, HeaderError> {
    let rejected = |msg: &str| HeaderError::Rejected(msg.to_string());
    let (major, minor) = match head.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(rejected("magic string truncated")),
    };
    let (len, start, utf8) = match (major, minor) {
        (1, 0) => match head.get(8..10) {
            Some(&[a, b]) => (usize::from(u16::from_le_bytes([a, b])), 10, false),
            _ => return Err(rejected("array header length truncated")),
        },
        (2 | 3, 0) => match head.get(8..12) {
            Some(&[a, b, c, d]) => (
                usize::try_from(u32::from_le_bytes([a, b, c, d])).unwrap_or(usize::MAX),
                12,
                major == 3,
            ),
            _ => return Err(rejected("array header length truncated")),
        },
        (major, minor) => {
            return Err(HeaderError::Rejected(format!(
                "format version ({major}, {minor}) is not supported (numpy reads 1.0, 2.0 and 3.0)"
            )));
        }
    };
    let available = source.len().saturating_sub(start as u64);
    if (len as u64) > available {
        return Err(HeaderError::Rejected(format!(
            "array header of {len} bytes runs past the end of the file ({available} left)"
        )));
    }
    if len > MAX_HEADER {
        return Err(HeaderError::TooLarge(len));
    }
    let raw = source
        .read_vec(start as u64, len)
        .map_err(|e| HeaderError::Rejected(e.to_string()))?;
    if raw.len() < len {
        return Err(rejected("array header truncated"));
    }
    let text = if utf8 {
        String::from_utf8(raw).map_err(|_| rejected("version 3.0 header is not valid UTF-8"))?
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let options = literal::Options {
        long_suffix: major < 3,
    };
    let parsed = literal::literal_eval(&text, options)
        .map_err(|e| HeaderError::Rejected(format!("cannot parse header: {e}")))?;
    let Value::Dict(pairs) = parsed.value else {
        return Err(rejected("header is not a dictionary"));
    };
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    };
    let (Some(descr), Some(fortran), Some(shape)) =
        (get("descr"), get("fortran_order"), get("shape"))
    else {
        return Err(rejected("header does not contain the correct keys"));
    };
    if pairs.len() != 3 {
        return Err(rejected("header does not contain the correct keys"));
    }
    let shape = match shape {
        Value::Tuple(items) => items
            .iter()
            .map(|v| match v {
                Value::Int(Some(n)) => Some(*n),
                Value::Int(None) => Some(i128::MAX),
                Value::Bool(b) => Some(i128::from(*b)),
                _ => None,
            })
            .collect::<Option<Vec<i128>>>()
            .ok_or_else(|| rejected("shape is not valid"))?,
        _ => return Err(rejected("shape is not valid")),
    };
    if !matches!(fortran, Value::Bool(_)) {
        return Err(rejected("fortran_order is not a valid bool"));
    }
    let dtype = dtype::descr_to_dtype(descr).map_err(|e| {
        HeaderError::Rejected(format!("descr is not a valid dtype descriptor: {e}"))
    })?;
    // `numpy.multiply.reduce(shape, dtype=int64)` runs before the data is read: a dimension
    // must convert to a C long or unsigned long.
    if shape
        .iter()
        .any(|&d| d < i128::from(i64::MIN) || d > i128::from(u64::MAX))
    {
        return Err(rejected(
            "a shape dimension is too large to convert to C long (numpy.multiply.reduce)",
        ));
    }
    Ok(Header {
        descr: descr.clone(),
        dtype,
        shape,
        data_offset: (start + len) as u64,
        uncertain: parsed.uncertain,
    })
}

/// Bytes of array data the header implies, when the dtype's size is known.
fn data_size(header: &Header) -> Option<u64> {
    let itemsize = header.dtype.itemsize?;
    if header.dtype.flexible || !matches!(header.descr, Value::Str(_)) {
        return None;
    }
    header.shape.iter().try_fold(itemsize, |acc, &dim| {
        u64::try_from(dim).ok().and_then(|d| acc.checked_mul(d))
    })
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
        assert!(h.is_some_and(|h| h.dtype.has_object));
    }

    fn scan(bytes: Vec<u8>) -> crate::FileResult {
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        scanner.scan_source("x.npy".into(), &MemorySource::new(bytes))
    }

    /// `pickle.dumps` of a `__reduce__` returning `(os.system, ('id',))`, protocol 2.
    const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

    #[test]
    fn every_object_spelling_scans_the_pickle() {
        for header in [
            "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
            "{'descr': 'O8', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': 'object', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '\\x4f', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '|' 'O', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'descr': 'O', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '\\x11', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': 'i4,O', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': [('a', [('b', 'O', (2,))])], 'fortran_order': False, 'shape': (1,)}",
            "{'descr': ['xO'], 'fortran_order': False, 'shape': (1,)}",
            "{'descr': ('O', 3), 'fortran_order': False, 'shape': (1L,)}",
            "{\"descr\": r'O', 'fortran_order': False, # comment\n 'shape': ()}",
        ] {
            let result = scan(npy(header, EVIL));
            assert_eq!(
                result.max_severity,
                Some(Severity::Critical),
                "{header}: {result:?}"
            );
        }
    }

    #[test]
    fn headers_numpy_refuses_are_invalid_with_the_reason() {
        for (header, reason) in [
            (
                "{'descr': '|O', 'fortran_order': 0, 'shape': (1,)}",
                "fortran_order",
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': [1]}",
                "shape",
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "keys",
            ),
            (
                "{'descr': 'O16', 'fortran_order': False, 'shape': (1,)}",
                "not understood",
            ),
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,)} x",
                "parse",
            ),
            (
                "{'descr': ('i8', 'O'), 'fortran_order': False, 'shape': (1,)}",
                "old_dtype",
            ),
            ("['descr', 'fortran_order', 'shape']", "dictionary"),
        ] {
            let result = scan(npy(header, EVIL));
            assert_eq!(result.status, crate::Status::Invalid, "{header}");
            assert!(
                result.findings.iter().any(|f| f.message.contains(reason)),
                "{header}: {:?}",
                result.findings
            );
            assert!(result.max_severity < Some(Severity::High), "{header}");
        }
        let mut v4 = MAGIC.to_vec();
        v4.extend([1, 1, 4, 0]);
        v4.extend(b"{}  ");
        assert_eq!(scan(v4).status, crate::Status::Invalid);
    }

    #[test]
    fn long_headers_still_load_with_allow_pickle() {
        let header = format!(
            "{{'descr': '|O', 'fortran_order': False, 'shape': (1,), }}{}\n",
            " ".repeat(20_000)
        );
        let mut bytes = MAGIC.to_vec();
        bytes.extend([2, 0]);
        bytes.extend((header.len() as u32).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(EVIL);
        assert_eq!(scan(bytes).max_severity, Some(Severity::Critical));
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

    /// The differential: every header of `fixtures/differential/npy_headers.jsonl.gz` (made by
    /// `scripts/differential/npy_headers.py` with numpy's own reader) must be read as numpy
    /// reads it: object dtype, plain dtype, or refused.
    #[test]
    fn reads_headers_as_numpy_does() {
        use std::io::Read;
        // A campaign file (`npy_headers.py --scale N --out FILE`) replaces the committed one.
        let path = std::env::var("AIGIS_NPY_DIFFERENTIAL").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/differential/npy_headers.jsonl.gz"
            )
            .to_string()
        });
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut divergences = Vec::new();
        let mut cases = 0;
        for line in text.lines() {
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let version: Vec<u8> = case["v"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|x| x as u8)
                        .collect()
                })
                .unwrap_or_default();
            let header: Vec<u8> = case["h"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .map(|c| c as u32 as u8)
                .collect();
            let mut bytes = MAGIC.to_vec();
            bytes.extend(&version);
            if version == [1, 0] {
                bytes.extend((header.len() as u16).to_le_bytes());
            } else {
                bytes.extend((header.len() as u32).to_le_bytes());
            }
            bytes.extend(&header);
            let src = MemorySource::new(bytes.clone());
            let ours = match parse_header(&bytes, &src) {
                Ok(h) if h.dtype.has_object || h.uncertain => "object",
                Ok(_) => "plain",
                Err(_) => "error",
            };
            let numpy = case["numpy"].as_str().unwrap_or_default();
            cases += 1;
            if ours != numpy {
                divergences.push(format!(
                    "v{version:?} {:?}: numpy {numpy} ({}), aigis {ours}",
                    case["h"].as_str().unwrap_or_default(),
                    case["why"].as_str().unwrap_or_default()
                ));
            }
        }
        assert!(cases > 3000, "only {cases} cases");
        assert!(
            divergences.is_empty(),
            "{} of {cases} headers read differently from numpy:\n{}",
            divergences.len(),
            divergences.join("\n")
        );
    }
    /// Hostile headers (random soups of the characters that matter) never panic and stay bounded.
    #[test]
    fn random_headers_never_panic() {
        const ALPHABET: &[u8] = b"{}()[],:'\"\\ \n\t#xuNObrfL0189_.+-|<>=jeTs\x11\xe9\x0c\r";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000u32 {
            let len = (next() % 80) as usize;
            let mut header: Vec<u8> = b"{'descr': ".to_vec();
            header.extend((0..len).map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize]));
            let mut bytes = MAGIC.to_vec();
            bytes.extend([1 + (round % 3) as u8, 0]);
            if round % 3 == 0 {
                bytes.extend((header.len() as u16).to_le_bytes());
            } else {
                bytes.extend((header.len() as u32).to_le_bytes());
            }
            bytes.extend(&header);
            let src = MemorySource::new(bytes.clone());
            let _ = parse_header(&bytes, &src);
        }
    }
}
