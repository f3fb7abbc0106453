//! A streaming, bounded reading of a large JSON config: what the config walk needs, whatever
//! the size of the data around it.
//!
//! A Keras config is objects (layers, their configs, the functions they name) and data (inline
//! vocabularies, weights-like constants, padding). Padding a `config.json` past a size limit must
//! not hide its first layer, and a big legitimate config must not cost a gigabyte. This reader
//! streams the text once and writes a smaller JSON document in which:
//! - every object is kept, at any size, with every key;
//! - in an array, the first [`KEEP_SCALARS`] plain values (numbers, `true`/`false`/`null`,
//!   strings) are kept, and later ones are dropped — except strings that look like dotted names
//!   (`os.system`, `keras.layers.Dense`), which a loader might resolve, and which are kept;
//! - strings longer than [`MAX_STRING`] are cut (counted);
//! - `NaN`/`Infinity`/`-Infinity` (which Python's `json` accepts) become `null`, and containers
//!   deeper than the walk's depth become `null` (both as `parse_python_json` does);
//! - past [`MAX_OUTPUT`] bytes of output nothing more is copied and the open containers are
//!   closed: the result says so, and the analysis is incomplete.

use std::io::{BufRead, BufReader, Read};

/// Plain values kept at the start of each array.
pub(crate) const KEEP_SCALARS: usize = 256;
/// Longest string kept whole.
pub(crate) const MAX_STRING: usize = 4 << 20;
/// Most output written.
pub(crate) const MAX_OUTPUT: usize = 64 << 20;

/// What the reading produced.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    /// The smaller JSON document.
    pub text: Vec<u8>,
    /// Array values dropped.
    pub dropped: u64,
    /// Strings cut.
    pub cut: u64,
    /// Containers deeper than the depth limit replaced by `null`.
    pub too_deep: bool,
    /// The output limit stopped the copy before the end.
    pub capped: bool,
    /// Bytes read.
    pub read: u64,
}

struct Frame {
    array: bool,
    /// Elements or keys written.
    written: usize,
    /// Plain values seen in this array.
    plain: usize,
    /// In an object: the next string is a key.
    expect_key: bool,
}

/// Whether a JSON string literal (quotes included) looks like a dotted name a loader resolves.
fn name_like(literal: &[u8]) -> bool {
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default();
    !inner.is_empty()
        && inner.len() <= 256
        && (inner.contains(&b'.') || inner.contains(&b'>'))
        && inner
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && inner
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._>:-".contains(c))
}

/// Streams `reader` (at most `max_input` bytes) into a [`Pruned`] document; `depth_limit` is
/// the container depth past which containers become `null`.
pub(crate) fn prune(reader: impl Read, depth_limit: usize, max_input: u64) -> Pruned {
    let mut input = BufReader::with_capacity(1 << 16, reader.take(max_input));
    let mut out = Pruned::default();
    let mut stack: Vec<Frame> = Vec::new();
    // While skipping a container too deep to keep: how many brackets are open in it.
    let mut skipping = 0usize;
    let mut token = Vec::new();
    while let Some(byte) = next(&mut input, &mut out) {
        if out.capped {
            break;
        }
        if byte.is_ascii_whitespace() || byte == b',' {
            continue;
        }
        if skipping > 0 {
            match byte {
                b'"' => skip_string(&mut input, &mut out),
                b'[' | b'{' => skipping += 1,
                b']' | b'}' => skipping -= 1,
                _ => {
                    skip_plain(&mut input, &mut out);
                }
            }
            continue;
        }
        match byte {
            b'{' | b'[' => {
                if stack.len() >= depth_limit {
                    write_value(&mut out, &mut stack, b"null", false);
                    out.too_deep = true;
                    skipping = 1;
                    continue;
                }
                write_value(&mut out, &mut stack, &[byte], false);
                stack.push(Frame {
                    array: byte == b'[',
                    written: 0,
                    plain: 0,
                    expect_key: byte == b'{',
                });
            }
            b'}' | b']' => {
                if stack.pop().is_some() {
                    out.text.push(byte);
                    after_value(&mut stack);
                }
            }
            b':' => {
                out.text.push(b':');
                if let Some(frame) = stack.last_mut() {
                    frame.expect_key = false;
                }
            }
            b'"' => {
                token.clear();
                token.push(b'"');
                read_string(&mut input, &mut out, &mut token);
                let is_key = stack.last().is_some_and(|f| !f.array && f.expect_key);
                if is_key {
                    if let Some(frame) = stack.last_mut() {
                        if frame.written > 0 {
                            out.text.push(b',');
                        }
                        frame.written += 1;
                    }
                    out.text.extend_from_slice(&token);
                } else {
                    let keep = name_like(&token);
                    write_value(&mut out, &mut stack, &token, !keep);
                }
            }
            _ => {
                token.clear();
                token.push(byte);
                while let Some(&c) = input.fill_buf().ok().and_then(|b| b.first()) {
                    if c.is_ascii_whitespace() || b",]}:".contains(&c) {
                        break;
                    }
                    token.push(c);
                    input.consume(1);
                    out.read += 1;
                }
                let literal: &[u8] = match token.as_slice() {
                    b"NaN" | b"Infinity" | b"-Infinity" => b"null",
                    other => other,
                };
                write_value(&mut out, &mut stack, literal, true);
                // Past the kept values of an array, the plain values up to the next string or
                // container are dropped a buffer at a time (a padded config costs a scan).
                if let Some(frame) = stack.last_mut()
                    && frame.array
                    && frame.plain >= KEEP_SCALARS
                {
                    let dropped = skip_plain(&mut input, &mut out);
                    frame.plain = frame.plain.saturating_add(dropped as usize);
                    out.dropped += dropped;
                }
            }
        }
        if out.text.len() > MAX_OUTPUT {
            out.capped = true;
        }
    }
    // Close what is still open, so the document parses.
    while let Some(frame) = stack.pop() {
        if !frame.array && !frame.expect_key {
            // A key without its value.
            out.text.extend_from_slice(b"null");
        }
        out.text.push(if frame.array { b']' } else { b'}' });
    }
    out
}

fn next(input: &mut impl BufRead, out: &mut Pruned) -> Option<u8> {
    let byte = *input.fill_buf().ok()?.first()?;
    input.consume(1);
    out.read += 1;
    Some(byte)
}

/// Where the first byte that ends a run of plain values is: a string, or a container opening or
/// closing. Searched a window at a time, so a call costs the distance to what it finds.
fn find_structural(buf: &[u8]) -> Option<usize> {
    const WINDOW: usize = 512;
    buf.chunks(WINDOW).enumerate().find_map(|(i, window)| {
        let opening = memchr::memchr3(b'"', b'[', b'{', window);
        let closing = memchr::memchr2(b']', b'}', &window[..opening.unwrap_or(window.len())]);
        closing.or(opening).map(|at| i * WINDOW + at)
    })
}

/// Consumes plain values (numbers, literals, separators) up to the next string or container
/// byte, which is left unread; returns how many values followed the one just read (the commas
/// that are followed by a value in the run).
fn skip_plain(input: &mut impl BufRead, out: &mut Pruned) -> u64 {
    let mut values = 0u64;
    // A comma was read and no value after it yet.
    let mut pending_comma = false;
    while let Ok(buf) = input.fill_buf() {
        if buf.is_empty() {
            break;
        }
        let end = find_structural(buf);
        let run = &buf[..end.unwrap_or(buf.len())];
        // A byte other than whitespace after a comma starts a value.
        for &byte in run {
            if byte == b',' {
                pending_comma = true;
            } else if pending_comma && !byte.is_ascii_whitespace() {
                values += 1;
                pending_comma = false;
            }
        }
        let len = run.len();
        input.consume(len);
        out.read += len as u64;
        if end.is_some() {
            break;
        }
    }
    values
}

/// Consumes the rest of a string literal (the opening quote is consumed) without keeping it.
fn skip_string(input: &mut impl BufRead, out: &mut Pruned) {
    loop {
        let Ok(buf) = input.fill_buf() else { return };
        if buf.is_empty() {
            return;
        }
        match memchr::memchr2(b'"', b'\\', buf) {
            Some(at) => {
                let quote = buf[at] == b'"';
                input.consume(at + 1);
                out.read += at as u64 + 1;
                if quote {
                    return;
                }
                // The escaped byte.
                if next(input, out).is_none() {
                    return;
                }
            }
            None => {
                let len = buf.len();
                input.consume(len);
                out.read += len as u64;
            }
        }
    }
}

/// Reads the rest of a string literal (the opening quote is consumed), appending it (closing
/// quote included) to `token`, cut at [`MAX_STRING`] bytes on a character boundary.
fn read_string(input: &mut impl BufRead, out: &mut Pruned, token: &mut Vec<u8>) {
    let mut cut = false;
    while let Ok(buf) = input.fill_buf() {
        if buf.is_empty() {
            break;
        }
        let at = memchr::memchr2(b'"', b'\\', buf);
        let plain = &buf[..at.unwrap_or(buf.len())];
        let room = MAX_STRING.saturating_sub(token.len());
        if plain.len() > room {
            cut = true;
        }
        token.extend_from_slice(&plain[..plain.len().min(room)]);
        let Some(at) = at else {
            let len = buf.len();
            input.consume(len);
            out.read += len as u64;
            continue;
        };
        let quote = buf[at] == b'"';
        input.consume(at + 1);
        out.read += at as u64 + 1;
        if quote {
            break;
        }
        let escaped = next(input, out);
        if token.len() < MAX_STRING {
            token.push(b'\\');
            if let Some(e) = escaped {
                token.push(e);
            }
        } else {
            cut = true;
        }
    }
    if cut {
        // Do not end inside a UTF-8 sequence or after a lone backslash.
        while token
            .last()
            .is_some_and(|b| (0x80..0xc0).contains(b) || *b >= 0xc0)
        {
            token.pop();
        }
        if token.len() > 1 && token.ends_with(b"\\") {
            token.pop();
        }
        out.cut += 1;
    }
    token.push(b'"');
}

/// Writes a value in the current container (`plain`: a scalar an array may drop).
fn write_value(out: &mut Pruned, stack: &mut [Frame], value: &[u8], plain: bool) {
    match stack.last_mut() {
        Some(frame) if frame.array => {
            if plain {
                frame.plain += 1;
                if frame.plain > KEEP_SCALARS {
                    out.dropped += 1;
                    return;
                }
            }
            if frame.written > 0 {
                out.text.push(b',');
            }
            frame.written += 1;
            out.text.extend_from_slice(value);
        }
        Some(frame) => {
            out.text.extend_from_slice(value);
            frame.expect_key = true;
        }
        None => out.text.extend_from_slice(value),
    }
    if value.first().is_some_and(|b| *b != b'[' && *b != b'{') {
        after_value(stack);
    }
}

/// After a complete value in an object, the next string is a key.
fn after_value(stack: &mut [Frame]) {
    if let Some(frame) = stack.last_mut()
        && !frame.array
    {
        frame.expect_key = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(text: &str) -> (serde_json::Value, Pruned) {
        let out = prune(text.as_bytes(), 100, u64::MAX);
        let value = serde_json::from_slice(&out.text)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.text)));
        (value, out)
    }

    #[test]
    fn keeps_objects_and_names_drops_bulk_data() {
        let vocab: Vec<String> = (0..5000).map(|i| format!("\"w{i}\"")).collect();
        let text = format!(
            r#"{{"class_name": "Functional", "config": {{"layers": [{{"class_name": "Lambda", "config": {{"function": {{"class_name": "__lambda__", "config": {{"code": "YWJj"}}}}}}}}, {{"vocabulary": [{}, "os.system"], "x": NaN, "y": [1, 2, Infinity]}}]}}}}"#,
            vocab.join(", ")
        );
        let (value, out) = pruned(&text);
        let layers = &value["config"]["layers"];
        assert_eq!(layers[0]["config"]["function"]["class_name"], "__lambda__");
        let vocabulary = layers[1]["vocabulary"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(vocabulary.len(), KEEP_SCALARS + 1);
        assert_eq!(
            vocabulary.last().and_then(|v| v.as_str()),
            Some("os.system")
        );
        assert!(layers[1]["x"].is_null());
        assert_eq!(out.dropped, 5000 - KEEP_SCALARS as u64);
        assert!(!out.capped && !out.too_deep);
    }

    /// A reader that hands out one byte per read: every value and string crosses a buffer end.
    struct ByteAtATime<'a>(&'a [u8]);

    impl Read for ByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn dropped_runs_are_counted_and_end_where_a_name_or_object_starts() {
        let numbers: Vec<String> = (0..10_000).map(|i| format!("{i}.5e-3")).collect();
        let text = format!(
            r#"{{"a": [{} , "os.system", {{"class_name": "Lambda", "s": "x\"]}}"}}, true,null , -1, NaN,
            [7], 8 ], "b": [1, 2,], "c": "tail\\"}}"#,
            numbers.join(" ,\n")
        );
        let whole = prune(text.as_bytes(), 100, u64::MAX);
        let by_byte = prune(ByteAtATime(text.as_bytes()), 100, u64::MAX);
        assert_eq!(whole.text, by_byte.text);
        assert_eq!((whole.dropped, whole.read), (by_byte.dropped, by_byte.read));
        assert_eq!(whole.read, text.len() as u64);
        // 10,000 numbers, then true, null, -1, NaN and 8 past the kept ones.
        assert_eq!(whole.dropped, 10_000 + 5 - KEEP_SCALARS as u64);
        let value: serde_json::Value = serde_json::from_slice(&whole.text)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&whole.text)));
        let a = value["a"].as_array().cloned().unwrap_or_default();
        assert_eq!(a.len(), KEEP_SCALARS + 3);
        assert_eq!(a[KEEP_SCALARS], "os.system");
        assert_eq!(a[KEEP_SCALARS + 1]["s"], "x\"]}");
        assert_eq!(a[KEEP_SCALARS + 2], serde_json::json!([7]));
        assert_eq!(value["b"], serde_json::json!([1, 2]));
        assert_eq!(value["c"], "tail\\");
    }

    #[test]
    fn a_string_past_the_cap_is_cut_wherever_the_buffers_end() {
        let long = "é".repeat(MAX_STRING / 2 + 3);
        let text = format!(r#"{{"k": "{long}", "after": "os.system"}}"#);
        let whole = prune(text.as_bytes(), 100, u64::MAX);
        assert_eq!(whole.cut, 1);
        let value: serde_json::Value =
            serde_json::from_slice(&whole.text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["after"], "os.system");
        assert!(value["k"].as_str().is_some_and(|k| k.len() <= MAX_STRING));
    }

    #[test]
    fn deep_and_broken_inputs_still_parse() {
        let deep = format!(
            "{{\"a\": {}1{}, \"b\": 2}}",
            "[".repeat(300),
            "]".repeat(300)
        );
        let (value, out) = pruned(&deep);
        assert!(out.too_deep);
        assert_eq!(value["b"], 2);
        // Truncated input: the open containers are closed.
        let out = prune(&b"{\"a\": [1, {\"b\": \"c"[..], 100, u64::MAX);
        assert!(serde_json::from_slice::<serde_json::Value>(&out.text).is_ok());
        let out = prune(&b"{\"a\": "[..], 100, u64::MAX);
        assert!(serde_json::from_slice::<serde_json::Value>(&out.text).is_ok());
    }
}
