//! Protocol-0 text arguments, parsed as CPython's two unpicklers parse them.
//!
//! A text opcode's argument is a line. The C unpickler hands the line (with its newline, ended by
//! a NUL) to C functions — `strtol`, `PyLong_FromString`, `PyOS_string_to_double` — which stop at
//! the first NUL; the pure-Python unpickler hands the line to `int()` / `float()`, mostly after
//! slicing off its last byte (`readline()[:-1]`, which at the end of the input, where the line has
//! no newline, drops a real character). The two grammars differ (`010` is an octal 8 in C and an
//! error in Python; `1_0.5` and `1e999` are floats only in Python; `5\0junk` is 5 only in C), so
//! each reading parses with its own unpickler's grammar ([`Loader`]): what one loader reads past,
//! that loader's reading reads past too.

use crate::feed::Loader;
use crate::value::Value;

/// A parsed integer: small, or decimal digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Num {
    Small(i128),
    Big(String),
}

impl Num {
    pub(crate) fn into_value(self) -> Value {
        match self {
            Num::Small(v) => match i64::try_from(v) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::BigInt(v.to_string()),
            },
            Num::Big(s) => Value::BigInt(s),
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Num::Small(v) => u64::try_from(*v).ok(),
            Num::Big(_) => None,
        }
    }

    fn is_negative(&self) -> bool {
        match self {
            Num::Small(v) => *v < 0,
            Num::Big(s) => s.starts_with('-'),
        }
    }
}

/// ASCII whitespace as `Py_ISSPACE` and C's `isspace` (C locale) see it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s
        && is_space(*first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && is_space(*last)
    {
        s = rest;
    }
    s
}

/// The bytes a C function sees: up to the first NUL.
fn c_string(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    }
}

fn digit_value(b: u8) -> Option<u32> {
    (b as char).to_digit(36)
}

/// Python's `int(s, base)` for `base` 0 or 10 on bytes: surrounding whitespace, a sign, a
/// `0x`/`0o`/`0b` prefix (base 0), single underscores between digits, no leading zeros in base 0
/// unless the value is zero.
pub(crate) fn py_int(s: &[u8], base: u32) -> Option<Num> {
    let s = trim(s);
    let (neg, s) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let (radix, mut body, old_octal) = if base == 0 {
        match s {
            [b'0', b'x' | b'X', rest @ ..] => (16, rest, false),
            [b'0', b'o' | b'O', rest @ ..] => (8, rest, false),
            [b'0', b'b' | b'B', rest @ ..] => (2, rest, false),
            [b'0', ..] => (10, s, true),
            _ => (10, s, false),
        }
    } else {
        (10, s, false)
    };
    // One underscore may follow a base prefix.
    if radix != 10
        && let [b'_', rest @ ..] = body
    {
        body = rest;
    }
    let mut digits = String::new();
    let mut prev_underscore = true;
    for &b in body {
        if b == b'_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        let d = digit_value(b).filter(|&d| d < radix)?;
        digits.push(char::from_digit(d, radix)?);
        prev_underscore = false;
    }
    if digits.is_empty() || prev_underscore {
        return None;
    }
    let value = parse_digits(&digits, radix, neg);
    if old_octal && value != Num::Small(0) {
        return None;
    }
    Some(value)
}

fn parse_digits(digits: &str, radix: u32, neg: bool) -> Num {
    match i128::from_str_radix(digits, radix) {
        Ok(v) => Num::Small(if neg { -v } else { v }),
        Err(_) => {
            let sign = if neg { "-" } else { "" };
            let shown = if radix == 10 {
                digits.to_owned()
            } else {
                format!("<{}-digit base-{radix} integer>", digits.len())
            };
            Num::Big(format!("{sign}{shown}"))
        }
    }
}

/// C `strtol(s, &end, 0)` (glibc, C locale): `Some(value)` when it consumed the whole string up
/// to the newline or NUL without overflow.
fn strtol_whole(cstr: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < cstr.len() && is_space(cstr[i]) {
        i += 1;
    }
    let neg = match cstr.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let radix = match (cstr.get(i), cstr.get(i + 1), cstr.get(i + 2)) {
        (Some(b'0'), Some(b'x' | b'X'), Some(h)) if h.is_ascii_hexdigit() => {
            i += 2;
            16
        }
        (Some(b'0'), ..) => 8,
        _ => 10,
    };
    let start = i;
    let mut value: i128 = 0;
    while let Some(d) = cstr
        .get(i)
        .and_then(|&b| digit_value(b))
        .filter(|&d| d < radix)
    {
        value = value * i128::from(radix) + i128::from(d);
        if value > i128::from(i64::MAX) + 1 {
            return None;
        }
        i += 1;
    }
    // No digits: `end` is the start of the string, which must then be its end.
    if i == start {
        return cstr.is_empty().then_some(0);
    }
    let rest = &cstr[i..];
    if !(rest.is_empty() || rest == b"\n") {
        return None;
    }
    let value = if neg { -value } else { value };
    i64::try_from(value).ok()
}

/// The C string an argument line becomes: the line and its newline, ended at the first NUL.
fn c_line(line: &[u8]) -> Vec<u8> {
    let mut s = line.to_vec();
    s.push(b'\n');
    c_string(&s).to_vec()
}

/// The bytes `readline()[:-1]` gives the pure-Python unpickler.
fn py_chopped(line: &[u8], at_eof: bool) -> &[u8] {
    if at_eof {
        line.split_last().map_or(line, |(_, rest)| rest)
    } else {
        line
    }
}

/// Plain decimal digits (what picklers write), at most 18 of them: the value, without the
/// general grammars. A leading zero is left to them (`010` is octal to C, an error to Python).
fn plain_digits(line: &[u8]) -> Option<i64> {
    if line.is_empty() || line.len() > 18 || (line.len() > 1 && line[0] == b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &b in line {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

/// INT: C `strtol` then `PyLong_FromString(s, 0)`; Python `int(line, 0)` (newline included).
pub(crate) fn int_arg(line: &[u8], at_eof: bool, loader: Loader) -> Option<Value> {
    if !at_eof && let Some(v) = plain_digits(line) {
        return Some(Value::Int(v));
    }
    // `I00` and `I01` are False and True to both unpicklers; the rest is an int.
    if !at_eof && line == b"00" {
        return Some(Value::Bool(false));
    }
    if !at_eof && line == b"01" {
        return Some(Value::Bool(true));
    }
    if loader.c() && !at_eof && !line.is_empty() {
        let cstr = c_line(line);
        if let Some(v) = strtol_whole(&cstr) {
            return Some(Value::Int(v));
        }
        if let Some(n) = py_int(&cstr, 0) {
            return Some(n.into_value());
        }
    }
    if !loader.py() {
        return None;
    }
    let mut py = line.to_vec();
    if !at_eof {
        py.push(b'\n');
    }
    py_int(&py, 0).map(Num::into_value)
}

/// LONG: C drops a final `L` (by ending the string there) and calls `PyLong_FromString(s, 0)`;
/// Python slices the newline, then one `L`, and calls `int(…, 0)`.
pub(crate) fn long_arg(line: &[u8], at_eof: bool, loader: Loader) -> Option<Value> {
    if loader.c() && !at_eof && !line.is_empty() {
        let c = match line.split_last() {
            Some((b'L', rest)) => rest.to_vec(),
            _ => c_line(line),
        };
        if let Some(n) = py_int(c_string(&c), 0) {
            return Some(n.into_value());
        }
    }
    if !loader.py() {
        return None;
    }
    let py = py_chopped(line, at_eof);
    let py = py.strip_suffix(b"L").unwrap_or(py);
    py_int(py, 0).map(Num::into_value)
}

/// A memo index (GET/PUT): C `PyLong_FromString(s, 10)`, Python `int(readline()[:-1])`.
/// Negative or too large indices are `None` (a PUT refuses them; a GET finds nothing).
pub(crate) fn index_arg(line: &[u8], at_eof: bool, loader: Loader) -> Option<u64> {
    if !at_eof && let Some(v) = plain_digits(line) {
        return u64::try_from(v).ok();
    }
    let c = (loader.c() && !at_eof && !line.is_empty())
        .then(|| py_int(&c_line(line), 10))
        .flatten();
    let n = c.or_else(|| {
        loader
            .py()
            .then(|| py_int(py_chopped(line, at_eof), 10))
            .flatten()
    })?;
    if n.is_negative() {
        return None;
    }
    n.as_u64()
}

/// Whether `s` (no whitespace, no underscores) is a float as `PyOS_string_to_double` reads it;
/// `Some(finite)` says whether it stays finite (C refuses an overflow, Python makes it `inf`).
fn float_literal(s: &[u8]) -> Option<bool> {
    let lower = s.to_ascii_lowercase();
    let body = lower
        .strip_prefix(b"-")
        .or_else(|| lower.strip_prefix(b"+"))
        .unwrap_or(&lower);
    if matches!(body, b"inf" | b"infinity" | b"nan") {
        return Some(true);
    }
    let mut i = 0;
    let int_digits = body.iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if body.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = body[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if body.get(i) == Some(&b'e') {
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = body[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != body.len() {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let v: f64 = text.parse().ok()?;
    Some(v.is_finite())
}

/// FLOAT: C `PyOS_string_to_double` (no whitespace, no underscores, overflow refused, ends at
/// the newline or a NUL); Python `float(readline()[:-1])` (whitespace, underscores between
/// digits, overflow to `inf`).
pub(crate) fn float_arg(line: &[u8], at_eof: bool, loader: Loader) -> Option<f64> {
    if loader.c() && !at_eof && !line.is_empty() {
        let c = c_string(line);
        if float_literal(c) == Some(true) {
            return Some(float_value(c));
        }
    }
    if !loader.py() {
        return None;
    }
    let py = trim(py_chopped(line, at_eof));
    if py.contains(&0) {
        return None;
    }
    // Underscores only between digits.
    let mut plain = Vec::with_capacity(py.len());
    for (i, &b) in py.iter().enumerate() {
        if b == b'_' {
            let before = i > 0 && py[i - 1].is_ascii_digit();
            let after = py.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
            continue;
        }
        plain.push(b);
    }
    float_literal(&plain)?;
    Some(float_value(&plain))
}

fn float_value(s: &[u8]) -> f64 {
    let lower = String::from_utf8_lossy(s).to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    let neg = lower.starts_with('-');
    let v = match unsigned {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => unsigned.parse().unwrap_or(f64::INFINITY),
    };
    if neg { -v } else { v }
}

/// Why a text argument was refused.
pub(crate) type TextError = &'static str;

/// STRING: a quoted Python 2 `str` literal (`'…'` or `"…"`), escapes decoded as
/// `codecs.escape_decode` does; the bytes become a latin-1 `str` (the most permissive
/// `encoding` loaders pass).
pub(crate) fn string_arg(line: &[u8], at_eof: bool) -> Result<String, TextError> {
    let s = py_chopped(line, at_eof);
    let quoted = s.len() >= 2 && (s[0] == b'\'' || s[0] == b'"') && s.last() == Some(&s[0]);
    if !quoted {
        return Err("the STRING opcode argument must be quoted");
    }
    let body = &s[1..s.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(&e) = body.get(i) else {
            return Err("trailing \\ in the STRING argument");
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = body
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|_| body[i..i + 2].iter().all(u8::is_ascii_hexdigit));
                let Some(v) = hex else {
                    return Err("invalid \\x escape in the STRING argument");
                };
                out.push(v);
                i += 2;
            }
            _ => {
                // Unknown escapes stay as written; the next byte is read as itself.
                out.push(b'\\');
                i -= 1;
            }
        }
    }
    Ok(out.iter().map(|&b| char::from(b)).collect())
}

/// UNICODE: `raw-unicode-escape` (only `\uXXXX` and `\UXXXXXXXX` are escapes, and must be
/// complete; a backslash before any other byte stays, with that byte).
pub(crate) fn unicode_arg(line: &[u8], at_eof: bool) -> Result<String, TextError> {
    // A lone surrogate is a valid Python str; it cannot name anything importable.
    raw_unicode_escape(py_chopped(line, at_eof), Some('\u{fffd}'))
}

/// `bytes.decode('raw_unicode_escape')`: only `\uXXXX` and `\UXXXXXXXX` are escapes, and must be
/// complete; a backslash before any other byte (or at the end) stays, with that byte. A lone
/// surrogate (a valid Python str) becomes `lone_surrogate`, or an error without one.
pub(crate) fn raw_unicode_escape(
    s: &[u8],
    lone_surrogate: Option<char>,
) -> Result<String, TextError> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        i += 1;
        if b != b'\\' || i >= s.len() {
            out.push(char::from(b));
            continue;
        }
        let e = s[i];
        i += 1;
        let width = match e {
            b'u' => 4,
            b'U' => 8,
            _ => {
                out.push('\\');
                out.push(char::from(e));
                continue;
            }
        };
        let hex = s.get(i..i + width).ok_or("truncated \\u escape")?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err("bad \\u escape");
        }
        let cp = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("bad \\u escape")?;
        if cp > 0x10_ffff {
            return Err("\\U escape out of range");
        }
        out.push(
            char::from_u32(cp)
                .or(lone_surrogate)
                .ok_or("lone surrogate")?,
        );
        i += width;
    }
    Ok(out)
}

/// UTF-8 with `surrogatepass` (BINUNICODE and friends): encoded surrogates are accepted (and
/// kept as U+FFFD), anything else invalid is refused.
pub(crate) fn utf8_surrogatepass(mut b: &[u8]) -> Result<String, TextError> {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return Ok(out);
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).map_err(|_| "invalid UTF-8")?);
                match rest {
                    [0xed, 0xa0..=0xbf, 0x80..=0xbf, tail @ ..] => {
                        out.push('\u{fffd}');
                        b = tail;
                    }
                    _ => return Err("invalid UTF-8"),
                }
            }
        }
    }
}

/// A GLOBAL line (strict UTF-8) or INST line (ASCII) as the unpicklers decode it.
pub(crate) fn name_arg(line: &[u8], at_eof: bool, ascii: bool) -> Result<String, TextError> {
    let s = py_chopped(line, at_eof);
    if ascii && !s.is_ascii() {
        return Err("an INST name must be ASCII");
    }
    String::from_utf8(s.to_vec()).map_err(|_| "a GLOBAL name must be UTF-8")
}

/// A PERSID line: ASCII only.
pub(crate) fn persid_arg(line: &[u8], at_eof: bool) -> Result<String, TextError> {
    let s = py_chopped(line, at_eof);
    if !s.is_ascii() {
        return Err("persistent IDs in protocol 0 must be ASCII strings");
    }
    Ok(String::from_utf8_lossy(s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &[u8]) -> Option<String> {
        int_arg(s, false, Loader::Either).map(|v| format!("{v:?}"))
    }

    #[test]
    fn ints_either_unpickler_accepts() {
        // Python's int() grammar.
        for s in [
            &b"1_000"[..],
            b"-0",
            b"-00",
            b"+5",
            b" 7",
            b"7 ",
            b"0x_1f",
            b"0o17",
            b"0b101",
            b"0_0",
            b"99999999999999999999999",
        ] {
            assert!(int(s).is_some(), "{s:?}");
        }
        // C's strtol: a leading zero is octal, a NUL ends the number.
        assert_eq!(int(b"010"), Some("Int(8)".into()));
        assert_eq!(int(b"5\0junk"), Some("Int(5)".into()));
        assert_eq!(int(b"00"), Some("Bool(false)".into()));
        // Neither.
        for s in [
            &b"08"[..],
            b"",
            b"+",
            b"1__0",
            b"_1",
            b"1_",
            b"5L",
            b"1e3",
            b" ",
        ] {
            assert!(int(s).is_none(), "{s:?}");
        }
        // At the end of the input only Python reads, and int() gets the line as it is.
        assert_eq!(
            int_arg(b"12", true, Loader::Py).map(|v| format!("{v:?}")),
            Some("Int(12)".into())
        );
    }

    #[test]
    fn plain_digits_take_the_short_way_to_the_same_value() {
        for (s, v) in [
            (&b"0"[..], 0),
            (b"7", 7),
            (b"123456789012345678", 123_456_789_012_345_678),
        ] {
            assert_eq!(plain_digits(s), Some(v));
            assert_eq!(index_arg(s, false, Loader::Either), u64::try_from(v).ok());
        }
        for s in [
            &b"00"[..],
            b"010",
            b"1234567890123456789",
            b"-1",
            b"",
            b"1_0",
        ] {
            assert_eq!(plain_digits(s), None, "{s:?}");
        }
        assert_eq!(
            int(b"1234567890123456789"),
            Some("Int(1234567890123456789)".into())
        );
    }

    #[test]
    fn longs_and_indices() {
        // `5 L`: both drop the `L`, and int() takes the trailing space.
        for s in [
            &b"5L"[..],
            b"5",
            b"-5L",
            b"0x10L",
            b"1_000L",
            b"00L",
            b"-0L",
            b"5 L",
        ] {
            assert!(long_arg(s, false, Loader::Either).is_some(), "{s:?}");
        }
        for s in [&b"010L"[..], b"L", b"5LL", b"5l"] {
            assert!(long_arg(s, false, Loader::Either).is_none(), "{s:?}");
        }
        assert_eq!(index_arg(b"-0", false, Loader::Either), Some(0));
        assert_eq!(index_arg(b"0_0", false, Loader::Either), Some(0));
        assert_eq!(index_arg(b" 3 ", false, Loader::Either), Some(3));
        assert_eq!(index_arg(b"3\0x", false, Loader::Either), Some(3));
        assert_eq!(index_arg(b"007", false, Loader::Either), Some(7));
        assert_eq!(index_arg(b"-1", false, Loader::Either), None);
        assert_eq!(index_arg(b"0x0", false, Loader::Either), None);
        // `p12` at the end of the input: Python slices the `2` off.
        assert_eq!(index_arg(b"12", true, Loader::Either), Some(1));
    }

    #[test]
    fn floats_either_unpickler_accepts() {
        for s in [
            &b"1.5"[..],
            b" 1.5",
            b"1.5 ",
            b"1_000.5",
            b"1e999",
            b"-inf",
            b"NaN",
            b"infinity",
            b"1.",
            b".5",
            b"1.5\0x",
        ] {
            assert!(float_arg(s, false, Loader::Either).is_some(), "{s:?}");
        }
        for s in [
            &b"0x1p3"[..],
            b"1,5",
            b"",
            b"1_e5",
            b"1e_5",
            b"e5",
            b"1.5e",
            b".",
        ] {
            assert!(float_arg(s, false, Loader::Either).is_none(), "{s:?}");
        }
    }

    #[test]
    fn each_unpickler_reads_with_its_own_grammar() {
        // Octal and a NUL end are C's; underscores in a float, overflow to inf and a final
        // line without its newline are Python's.
        for loader in [Loader::C, Loader::Py] {
            assert_eq!(
                int_arg(b"01", false, loader).map(|v| format!("{v:?}")),
                Some("Bool(true)".into())
            );
        }
        assert!(int_arg(b"010", false, Loader::C).is_some());
        assert!(int_arg(b"010", false, Loader::Py).is_none());
        assert!(int_arg(b"5\0junk", false, Loader::Py).is_none());
        assert!(int_arg(b"12", true, Loader::C).is_none());
        assert!(float_arg(b"1e999", false, Loader::C).is_none());
        assert!(float_arg(b"1e999", false, Loader::Py).is_some());
        assert!(float_arg(b"1_0.5", false, Loader::C).is_none());
        assert!(float_arg(b"1.5\0x", false, Loader::Py).is_none());
        assert!(float_arg(b"1.5\0x", false, Loader::C).is_some());
        assert!(long_arg(b"5", true, Loader::C).is_none());
        assert_eq!(index_arg(b"3\0x", false, Loader::Py), None);
        assert_eq!(index_arg(b"12", true, Loader::C), None);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(string_arg(b"'a\\nb'", false), Ok("a\nb".into()));
        assert_eq!(string_arg(b"\"it's\"", false), Ok("it's".into()));
        assert_eq!(string_arg(b"'\\x41\\101'", false), Ok("AA".into()));
        assert_eq!(string_arg(b"'\\z'", false), Ok("\\z".into()));
        assert_eq!(string_arg(b"'\\777'", false), Ok("\u{ff}".into()));
        assert!(string_arg(b"'\\'", false).is_err());
        assert!(string_arg(b"'\\x4'", false).is_err());
        assert!(string_arg(b"'a", false).is_err());
        // At the end of the input Python slices the last byte off: `'a'X` is 'a'.
        assert_eq!(string_arg(b"'a'X", true), Ok("a".into()));
        assert_eq!(unicode_arg(b"a\\u0062c", false), Ok("abc".into()));
        assert_eq!(unicode_arg(b"\\\\u0041", false), Ok("\\\\u0041".into()));
        assert_eq!(unicode_arg(b"a\\", false), Ok("a\\".into()));
        assert!(unicode_arg(b"\\u00", false).is_err());
        assert!(unicode_arg(b"\\U00110000", false).is_err());
        assert_eq!(
            utf8_surrogatepass(b"a\xed\xa0\x80b"),
            Ok("a\u{fffd}b".into())
        );
        assert!(utf8_surrogatepass(b"\xff").is_err());
    }
}
