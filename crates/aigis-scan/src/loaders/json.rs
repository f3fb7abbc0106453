//! JSON as Python's `json` module reads it — the one JSON reader of every config a Python loader
//! reads with `json.loads` (Keras `config.json`/`metadata.json` and HDF5 `model_config`, skops
//! `schema.json`, `tokenizer_config.json`, a processor's `chat_template.json`, …).
//!
//! Two entry points, one per way loaders hand the text over:
//! - [`loads_bytes`]: `json.loads(bytes)` — the encoding is detected as `json.detect_encoding`
//!   detects it (UTF-32/UTF-16 BOMs, a UTF-8 BOM, UTF-16/32 without a BOM from the position of
//!   NUL bytes, else UTF-8) and decoded with `surrogatepass`;
//! - [`loads_utf8_text`]: `json.loads(bytes.decode("utf-8"))` or `json.load(open(p,
//!   encoding="utf-8"))` — strict UTF-8, and a leading BOM is an error ("Unexpected UTF-8 BOM").
//!
//! The grammar is CPython's C scanner's (`Modules/_json.c`): whitespace is exactly ` \t\n\r`;
//! `NaN`, `Infinity` and `-Infinity` are values (kept as `null`: serde_json has no such number);
//! strings reject raw control characters and unknown escapes, combine `\uD8xx\uDCxx` pairs and
//! keep lone surrogates (as U+FFFD here, so they never equal a name a loader looks up); numbers
//! follow `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?` with backtracking, and an integer of more than
//! 4300 digits is refused (`sys.int_info.default_max_str_digits`); duplicate keys keep the last
//! value; data after the value is an error. Nesting is read to any depth with an explicit stack;
//! containers deeper than the caller's `keep_depth` are kept as `null` (and counted), so a walk
//! over the result is bounded.
//!
//! Held to Python by the differential in `loaders::tests` (`fixtures/differential/json.jsonl.gz`,
//! made by `scripts/differential/config_loaders.py` with `json.loads`).

use serde_json::{Map, Number, Value};

/// Longest integer literal Python's `int()` converts (`sys.int_info.default_max_str_digits`).
pub const MAX_INT_DIGITS: usize = 4300;

/// Deepest nesting Python's C scanner reads when called from a shallow stack (CPython 3.11's
/// recursion limit of 1000, less the frames of `json.loads` and its caller): a loader refuses
/// deeper documents with `RecursionError`.
pub const PYTHON_MAX_DEPTH: usize = 990;

/// Why Python's `json` refuses a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The bytes do not decode in the detected encoding.
    #[error("not valid {encoding}: {reason}")]
    Encoding {
        /// Python's codec name.
        encoding: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A JSON syntax error (Python's `JSONDecodeError`), at a character offset.
    #[error("{message} (char {at})")]
    Syntax {
        /// Python's message.
        message: &'static str,
        /// Character offset (code points, as Python counts them).
        at: usize,
    },
    /// An integer literal longer than Python converts.
    #[error("an integer of {0} digits exceeds Python's limit of 4300 digits")]
    IntTooLong(usize),
}

/// A decoded document.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The value (`NaN`/`Infinity` and containers past `keep_depth` as `null`).
    pub value: Value,
    /// Python's codec name for the detected encoding.
    pub encoding: &'static str,
    /// Containers deeper than `keep_depth` were replaced by `null`.
    pub pruned: bool,
    /// Deepest container nesting in the text.
    pub depth: usize,
}

impl Decoded {
    /// Whether Python's scanner would stop at its recursion limit on this document.
    pub fn too_deep_for_python(&self) -> bool {
        self.depth > PYTHON_MAX_DEPTH
    }
}

/// `json.detect_encoding`: Python's codec name for `bytes`.
pub fn detect_encoding(b: &[u8]) -> &'static str {
    if b.starts_with(&[0, 0, 0xfe, 0xff]) || b.starts_with(&[0xff, 0xfe, 0, 0]) {
        return "utf-32";
    }
    if b.starts_with(&[0xfe, 0xff]) || b.starts_with(&[0xff, 0xfe]) {
        return "utf-16";
    }
    if b.starts_with(&[0xef, 0xbb, 0xbf]) {
        return "utf-8-sig";
    }
    match b {
        [0, b1, _, _, ..] => {
            if *b1 != 0 {
                "utf-16-be"
            } else {
                "utf-32-be"
            }
        }
        [_, 0, b2, b3, ..] => {
            if *b2 != 0 || *b3 != 0 {
                "utf-16-le"
            } else {
                "utf-32-le"
            }
        }
        [0, _] => "utf-16-be",
        [_, 0] => "utf-16-le",
        _ => "utf-8",
    }
}

/// `json.loads(bytes)`, keeping containers up to `keep_depth` levels.
pub fn loads_bytes(bytes: &[u8], keep_depth: usize) -> Result<Decoded, JsonError> {
    let encoding = detect_encoding(bytes);
    let text = to_generalized_utf8(bytes, encoding)?;
    let mut decoded = scan(&text, keep_depth)?;
    decoded.encoding = encoding;
    Ok(decoded)
}

/// `json.loads(bytes.decode("utf-8"))`: strict UTF-8 (no surrogates), a BOM refused.
pub fn loads_utf8_text(bytes: &[u8], keep_depth: usize) -> Result<Decoded, JsonError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(JsonError::Encoding {
            encoding: "utf-8",
            reason: e.to_string(),
        });
    }
    if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err(JsonError::Syntax {
            message: "Unexpected UTF-8 BOM (decode using utf-8-sig)",
            at: 0,
        });
    }
    scan(bytes, keep_depth)
}

fn encoding_error(encoding: &'static str, reason: impl Into<String>) -> JsonError {
    JsonError::Encoding {
        encoding,
        reason: reason.into(),
    }
}

/// Appends code point `cp` (a surrogate included) in generalized UTF-8.
fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    // Surrogates are encoded like any other code point below 0x10000 (as `surrogatepass` does).
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend([0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend([
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => out.extend([
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
    }
}

/// Decodes `bytes` in Python's codec `encoding` with `surrogatepass` into generalized UTF-8 (UTF-8
/// in which a lone surrogate is a 3-byte sequence), the form the scanner reads.
fn to_generalized_utf8(bytes: &[u8], encoding: &'static str) -> Result<Vec<u8>, JsonError> {
    match encoding {
        "utf-8" | "utf-8-sig" => {
            let body = if encoding == "utf-8-sig" {
                bytes.get(3..).unwrap_or_default()
            } else {
                bytes
            };
            check_utf8_surrogatepass(body).map_err(|r| encoding_error(encoding, r))?;
            Ok(body.to_vec())
        }
        "utf-16" | "utf-16-le" | "utf-16-be" => {
            let (big, body) = match encoding {
                "utf-16" => (
                    bytes.starts_with(&[0xfe, 0xff]),
                    bytes.get(2..).unwrap_or_default(),
                ),
                "utf-16-be" => (true, bytes),
                _ => (false, bytes),
            };
            if body.len() % 2 != 0 {
                return Err(encoding_error(encoding, "truncated data"));
            }
            let units = body.chunks_exact(2).map(|c| {
                if big {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            });
            let mut out = Vec::with_capacity(body.len());
            let mut units = units.peekable();
            while let Some(unit) = units.next() {
                let unit = u32::from(unit);
                if (0xd800..0xdc00).contains(&unit)
                    && let Some(&low) = units.peek()
                    && (0xdc00..0xe000).contains(&u32::from(low))
                {
                    units.next();
                    let cp = 0x10000 + ((unit - 0xd800) << 10) + (u32::from(low) - 0xdc00);
                    push_code_point(&mut out, cp);
                } else {
                    push_code_point(&mut out, unit);
                }
            }
            Ok(out)
        }
        _ => {
            // UTF-32 (with a BOM, or -le/-be).
            let (big, body) = match encoding {
                "utf-32" => (
                    bytes.starts_with(&[0, 0, 0xfe, 0xff]),
                    bytes.get(4..).unwrap_or_default(),
                ),
                "utf-32-be" => (true, bytes),
                _ => (false, bytes),
            };
            if body.len() % 4 != 0 {
                return Err(encoding_error(encoding, "truncated data"));
            }
            let mut out = Vec::with_capacity(body.len());
            for c in body.chunks_exact(4) {
                let cp = if big {
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                } else {
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                };
                if cp > 0x10ffff {
                    return Err(encoding_error(
                        encoding,
                        "code point not in range(0x110000)",
                    ));
                }
                push_code_point(&mut out, cp);
            }
            Ok(out)
        }
    }
}

/// UTF-8 as Python's decoder with `surrogatepass` accepts it: standard UTF-8 plus the 3-byte
/// encodings of surrogates (`ED A0..BF xx`).
fn check_utf8_surrogatepass(bytes: &[u8]) -> Result<(), String> {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let at = e.valid_up_to();
                let tail = &rest[at..];
                match tail {
                    [0xed, 0xa0..=0xbf, 0x80..=0xbf, ..] => rest = &tail[3..],
                    _ => {
                        let offset = bytes.len() - tail.len();
                        return Err(format!("invalid byte sequence at byte {offset}"));
                    }
                }
            }
        }
    }
}

/// One open container of the scan.
enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, Option<String>),
    /// A container past `keep_depth`: read, not kept (true for an object).
    Skipped(bool),
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Character offset of byte `at` (Python counts code points).
    fn chars_at(&self, at: usize) -> usize {
        let upto = &self.text[..at.min(self.text.len())];
        upto.iter().filter(|b| (**b & 0xc0) != 0x80).count()
    }

    fn error(&self, message: &'static str, at: usize) -> JsonError {
        JsonError::Syntax {
            message,
            at: self.chars_at(at),
        }
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.text
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(lit))
    }

    /// A string, the opening quote already consumed (`scanstring` with `strict=True`).
    fn string(&mut self, start: usize) -> Result<String, JsonError> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("Unterminated string starting at", start));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let esc_at = self.pos;
                    self.pos += 1;
                    let Some(code) = self.peek() else {
                        return Err(self.error("Unterminated string starting at", start));
                    };
                    self.pos += 1;
                    let c = match code {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let Some(high) = self.hex4() else {
                                return Err(self.error("Invalid \\uXXXX escape", esc_at + 1));
                            };
                            let mut cp = high;
                            if (0xd800..0xdc00).contains(&high) && self.starts_with(b"\\u") {
                                let save = self.pos;
                                self.pos += 2;
                                match self.hex4() {
                                    Some(low) if (0xdc00..0xe000).contains(&low) => {
                                        cp = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                                    }
                                    _ => self.pos = save,
                                }
                            }
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.error("Invalid \\escape", esc_at)),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.error("Invalid control character at", self.pos)),
                0xed if matches!(self.text.get(self.pos + 1), Some(0xa0..=0xbf)) => {
                    // A raw lone surrogate (only reachable through `surrogatepass`).
                    out.extend_from_slice("\u{fffd}".as_bytes());
                    self.pos += 3;
                }
                _ => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
        // Every byte pushed is valid UTF-8 (surrogates were replaced).
        Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into()))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let text = std::str::from_utf8(digits).ok()?;
        let value = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    /// A number at `pos` (`_match_number_unicode`); `None` when no number starts here.
    fn number(&mut self) -> Result<Option<Value>, JsonError> {
        let start = self.pos;
        let digit = |s: &Self, at: usize| s.text.get(at).is_some_and(u8::is_ascii_digit);
        let mut i = start;
        if self.text.get(i) == Some(&b'-') {
            i += 1;
        }
        match self.text.get(i) {
            Some(b'1'..=b'9') => {
                i += 1;
                while digit(self, i) {
                    i += 1;
                }
            }
            Some(b'0') => i += 1,
            _ => return Ok(None),
        }
        let mut is_float = false;
        if self.text.get(i) == Some(&b'.') && digit(self, i + 1) {
            is_float = true;
            i += 2;
            while digit(self, i) {
                i += 1;
            }
        }
        if matches!(self.text.get(i), Some(b'e' | b'E')) {
            let e_start = i;
            i += 1;
            if matches!(self.text.get(i), Some(b'-' | b'+')) {
                i += 1;
            }
            let digits_from = i;
            while digit(self, i) {
                i += 1;
            }
            if i > digits_from {
                is_float = true;
            } else {
                i = e_start;
            }
        }
        self.pos = i;
        let literal = std::str::from_utf8(&self.text[start..i]).unwrap_or("0");
        if is_float {
            let value: f64 = literal.parse().unwrap_or(f64::NAN);
            return Ok(Some(
                Number::from_f64(value).map_or(Value::Null, Value::Number),
            ));
        }
        let digits = literal.trim_start_matches('-').len();
        if digits > MAX_INT_DIGITS {
            return Err(JsonError::IntTooLong(digits));
        }
        if let Ok(v) = literal.parse::<i64>() {
            return Ok(Some(Value::from(v)));
        }
        if let Ok(v) = literal.parse::<u64>() {
            return Ok(Some(Value::from(v)));
        }
        let value: f64 = literal.parse().unwrap_or(f64::NAN);
        Ok(Some(
            Number::from_f64(value).map_or(Value::Null, Value::Number),
        ))
    }
}

/// The scan of generalized UTF-8 `text` (`JSONDecoder.decode`).
fn scan(text: &[u8], keep_depth: usize) -> Result<Decoded, JsonError> {
    let mut s = Scanner { text, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    let mut kept = 0usize;
    let mut pruned = false;
    let mut max_depth = 0usize;
    s.skip_ws();
    // After a value: whether the container wants a `,` or its end.
    let result: Option<Value>;
    'values: loop {
        // Parse one value at `pos` (`scan_once`), or open a container.
        let value_at = s.pos;
        let value = match s.peek() {
            Some(b'"') => {
                s.pos += 1;
                Value::String(s.string(value_at)?)
            }
            Some(open @ (b'{' | b'[')) => {
                s.pos += 1;
                max_depth = max_depth.max(stack.len() + 1);
                let keep = kept < keep_depth && !matches!(stack.last(), Some(Frame::Skipped(_)));
                if keep {
                    kept += 1;
                } else {
                    pruned = true;
                }
                s.skip_ws();
                let close = if open == b'{' { b'}' } else { b']' };
                if s.peek() == Some(close) {
                    s.pos += 1;
                    if keep {
                        kept -= 1;
                        if open == b'{' {
                            Value::Object(Map::new())
                        } else {
                            Value::Array(Vec::new())
                        }
                    } else {
                        Value::Null
                    }
                } else {
                    stack.push(match (keep, open) {
                        (false, open) => Frame::Skipped(open == b'{'),
                        (true, b'{') => Frame::Object(Map::new(), None),
                        _ => Frame::Array(Vec::new()),
                    });
                    if open == b'{' {
                        if s.peek() != Some(b'"') {
                            return Err(s.error(
                                "Expecting property name enclosed in double quotes",
                                s.pos,
                            ));
                        }
                        object_key(&mut s, &mut stack)?;
                    }
                    continue 'values;
                }
            }
            Some(b'n') if s.starts_with(b"null") => {
                s.pos += 4;
                Value::Null
            }
            Some(b't') if s.starts_with(b"true") => {
                s.pos += 4;
                Value::Bool(true)
            }
            Some(b'f') if s.starts_with(b"false") => {
                s.pos += 5;
                Value::Bool(false)
            }
            Some(b'N') if s.starts_with(b"NaN") => {
                s.pos += 3;
                Value::Null
            }
            Some(b'I') if s.starts_with(b"Infinity") => {
                s.pos += 8;
                Value::Null
            }
            Some(b'-') if s.starts_with(b"-Infinity") => {
                s.pos += 9;
                Value::Null
            }
            _ => match s.number()? {
                Some(v) => v,
                None => return Err(s.error("Expecting value", value_at)),
            },
        };
        // Place the value, then close every container that ends here.
        let mut value = Some(value);
        loop {
            let Some(frame) = stack.last_mut() else {
                result = value.take();
                break 'values;
            };
            if let Some(v) = value.take() {
                match frame {
                    Frame::Array(items) => items.push(v),
                    Frame::Object(map, key) => {
                        if let Some(k) = key.take() {
                            map.insert(k, v);
                        }
                    }
                    Frame::Skipped(_) => {}
                }
            }
            s.skip_ws();
            let is_object = match frame {
                Frame::Object(..) => true,
                Frame::Array(_) => false,
                Frame::Skipped(object) => *object,
            };
            let close = if is_object { b'}' } else { b']' };
            match s.peek() {
                Some(b',') => {
                    s.pos += 1;
                    s.skip_ws();
                    if is_object {
                        if s.peek() != Some(b'"') {
                            return Err(s.error(
                                "Expecting property name enclosed in double quotes",
                                s.pos,
                            ));
                        }
                        object_key(&mut s, &mut stack)?;
                    }
                    continue 'values;
                }
                Some(c) if c == close => {
                    s.pos += 1;
                    let done = stack.pop();
                    value = Some(match done {
                        Some(Frame::Array(items)) => {
                            kept -= 1;
                            Value::Array(items)
                        }
                        Some(Frame::Object(map, _)) => {
                            kept -= 1;
                            Value::Object(map)
                        }
                        _ => Value::Null,
                    });
                }
                _ => return Err(s.error("Expecting ',' delimiter", s.pos)),
            }
        }
    }
    s.skip_ws();
    if s.pos != text.len() {
        return Err(s.error("Extra data", s.pos));
    }
    Ok(Decoded {
        value: result.unwrap_or(Value::Null),
        encoding: "utf-8",
        pruned,
        depth: max_depth,
    })
}

/// Reads `"key" :` of an object member (the quote is at `pos`) and stores the key.
fn object_key(s: &mut Scanner<'_>, stack: &mut [Frame]) -> Result<(), JsonError> {
    let at = s.pos;
    s.pos += 1;
    let key = s.string(at)?;
    s.skip_ws();
    if s.peek() != Some(b':') {
        return Err(s.error("Expecting ':' delimiter", s.pos));
    }
    s.pos += 1;
    s.skip_ws();
    if let Some(Frame::Object(_, pending)) = stack.last_mut() {
        *pending = Some(key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &[u8]) -> Value {
        loads_bytes(text, 100)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(text)))
            .value
    }

    #[test]
    fn python_json_quirks() {
        assert_eq!(
            ok(b" {\"a\": NaN, \"b\": [-Infinity, 1e400]} "),
            serde_json::json!({"a": null, "b": [null, null]})
        );
        assert_eq!(ok(b"{\"a\": 1, \"a\": 2}"), serde_json::json!({"a": 2}));
        assert_eq!(ok(b"\"\\ud800x\""), serde_json::json!("\u{fffd}x"));
        assert_eq!(ok(b"\"\\ud83d\\ude00\""), serde_json::json!("\u{1f600}"));
        assert_eq!(ok(b"\xef\xbb\xbf{\"k\": 1}"), serde_json::json!({"k": 1}));
        let utf16: Vec<u8> = "{\"class_name\": \"x\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(ok(&utf16), serde_json::json!({"class_name": "x"}));
        for bad in [
            &b"{\"a\": 1,}"[..],
            b"[01]",
            b"{'a': 1}",
            b"\"a\x01\"",
            b"[1] x",
            b"",
            b"\"\\x41\"",
            b"\x0c[]",
        ] {
            assert!(
                loads_bytes(bad, 100).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big = format!("[{}]", "9".repeat(4301));
        assert_eq!(
            loads_bytes(big.as_bytes(), 100),
            Err(JsonError::IntTooLong(4301))
        );
        assert!(loads_utf8_text(b"\xef\xbb\xbf{}", 100).is_err());
    }

    #[test]
    fn deep_documents_are_read_and_pruned() {
        let deep = format!(
            "{{\"a\": {}1{}, \"b\": {{\"c\": [1]}}}}",
            "[".repeat(3000),
            "]".repeat(3000)
        );
        let d = loads_bytes(deep.as_bytes(), 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(d.pruned && d.too_deep_for_python());
        assert_eq!(d.value["b"]["c"][0], 1);
        let deep_objects = format!("{}1{}", "{\"k\": ".repeat(50), "}".repeat(50));
        let d = loads_bytes(deep_objects.as_bytes(), 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(d.pruned);
        assert!(
            loads_bytes(
                format!("{}1{}", "{\"k\": ".repeat(50), "]".repeat(50)).as_bytes(),
                10
            )
            .is_err()
        );
    }
}
