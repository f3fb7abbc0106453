//! CPython's UTF-7, punycode, HZ and IDNA (the labels that need no nameprep) text codecs and
//! its quoted-printable and uuencode bytes-to-bytes codecs, computed exactly as CPython 3.11
//! does (`Objects/unicodeobject.c`, `Lib/encodings/punycode.py`, `Lib/encodings/idna.py`,
//! `Modules/cjkcodecs/_codecs_cn.c`, `Modules/binascii.c`, `Lib/encodings/uu_codec.py`) for
//! [`crate::fold`]. Every function returns `None` where CPython raises, where its result would
//! hold a lone surrogate (a Rust string cannot), or where the input is past what is folded: the
//! caller then fails closed.

use crate::fold::MAX_FOLD;

// ---- UTF-7 ------------------------------------------------------------------------------

/// RFC 2152 sets as CPython's `utf7_category`: 0 set D, 1 set O, 2 whitespace, 3 special
/// (always base64-encoded).
#[rustfmt::skip]
const UTF7_CATEGORY: [u8; 128] = [
    3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 3, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 1, 1,
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 3, 3,
];

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The value of a modified-base64 digit (`IS_BASE64`/`FROM_BASE64`).
fn from_b64(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// `ENCODE_DIRECT` as `str.encode('utf-7')` uses it: sets D and O and whitespace, not NUL.
fn utf7_direct(c: u32) -> bool {
    c > 0
        && usize::try_from(c)
            .ok()
            .and_then(|i| UTF7_CATEGORY.get(i))
            .is_some_and(|&k| k != 3)
}

/// `str.encode('utf-7')`: direct characters as themselves, `+` (outside a run) as `+-`, every
/// run of other characters (a `+` then joining it) in modified base64 of its UTF-16 units after
/// `+`, closed with `-` at the end of the text or before a base64 digit or `-` (any other
/// direct character closes it implicitly).
pub(crate) fn utf7_encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    let mut in_shift = false;
    let mut bits = 0u32;
    let mut buf = 0u64;
    for c in s.chars() {
        let ch = u32::from(c);
        if in_shift && utf7_direct(ch) {
            if bits > 0 {
                out.push(B64[((buf << (6 - bits)) & 63) as usize]);
                buf = 0;
                bits = 0;
            }
            in_shift = false;
            if c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '-' {
                out.push(b'-');
            }
            out.push(ch as u8);
            continue;
        }
        if !in_shift {
            if c == '+' {
                out.extend(b"+-");
                continue;
            }
            if utf7_direct(ch) {
                out.push(ch as u8);
                continue;
            }
            out.push(b'+');
            in_shift = true;
        }
        let mut units = [0u16; 2];
        for &u in c.encode_utf16(&mut units).iter() {
            buf = (buf << 16) | u64::from(u);
            bits += 16;
            while bits >= 6 {
                out.push(B64[((buf >> (bits - 6)) & 63) as usize]);
                bits -= 6;
            }
            buf &= (1 << bits) - 1;
        }
    }
    if bits > 0 {
        out.push(B64[((buf << (6 - bits)) & 63) as usize]);
    }
    if in_shift {
        out.push(b'-');
    }
    out
}

/// `bytes.decode('utf-7')`: ASCII bytes other than `+` as themselves, `+-` as `+`, and
/// base64 runs after `+` (ended by any other byte, a `-` being absorbed) as UTF-16 units. `None`
/// where CPython raises (a byte past ASCII, `+` before a byte that is neither base64 nor `-`,
/// a run ending with a partial unit or non-zero padding bits) or where it would return a lone
/// surrogate.
pub(crate) fn utf7_decode(b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let mut in_shift = false;
    let mut bits = 0u32;
    let mut buf = 0u64;
    let mut high: Option<u32> = None;
    while i < b.len() {
        let c = b[i];
        if in_shift {
            if let Some(v) = from_b64(c) {
                buf = (buf << 6) | u64::from(v);
                bits += 6;
                i += 1;
                if bits >= 16 {
                    let unit = u32::try_from(buf >> (bits - 16)).ok()? & 0xFFFF;
                    bits -= 16;
                    buf &= (1 << bits) - 1;
                    if let Some(h) = high.take() {
                        if !(0xDC00..=0xDFFF).contains(&unit) {
                            // CPython writes the high surrogate alone.
                            return None;
                        }
                        out.push(char::from_u32(
                            0x10000 + ((h - 0xD800) << 10) + (unit - 0xDC00),
                        )?);
                    } else if (0xD800..=0xDBFF).contains(&unit) {
                        high = Some(unit);
                    } else {
                        out.push(char::from_u32(unit)?);
                    }
                }
                continue;
            }
            // Leaving the run: a partial unit or set padding bits is an error, and a pending
            // high surrogate is written alone (or dropped before an error), never a pair.
            in_shift = false;
            if bits >= 6 || (bits > 0 && buf != 0) || high.is_some() {
                return None;
            }
            if c == b'-' {
                i += 1;
            }
            continue;
        }
        if c == b'+' {
            i += 1;
            match b.get(i) {
                Some(b'-') => {
                    out.push('+');
                    i += 1;
                }
                Some(&n) if from_b64(n).is_none() => return None,
                _ => {
                    in_shift = true;
                    bits = 0;
                    buf = 0;
                    high = None;
                }
            }
        } else if c < 0x80 {
            out.push(char::from(c));
            i += 1;
        } else {
            return None;
        }
    }
    if in_shift && (high.is_some() || bits >= 6 || (bits > 0 && buf != 0)) {
        return None;
    }
    Some(out)
}

// ---- punycode -----------------------------------------------------------------------------

/// Longest input (in characters) punycode is decoded for: CPython's decoder is quadratic, and
/// so is this port of it.
const PUNYCODE_MAX: usize = 1 << 14;

/// Most steps (text length times distinct non-ASCII characters) the encoder is run for.
const PUNYCODE_ENCODE_WORK: usize = 1 << 26;

/// RFC 3492 `T(j, bias)` (tmin 1, tmax 26, base 36).
fn puny_t(j: u64, bias: u64) -> u64 {
    (36 * (j + 1)).saturating_sub(bias).clamp(1, 26)
}

/// RFC 3492 bias adaptation, as `punycode.adapt`.
fn puny_adapt(delta: u64, first: bool, numchars: u64) -> u64 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / numchars.max(1);
    let mut divisions = 0;
    while delta > 455 {
        delta /= 35;
        divisions += 36;
    }
    divisions + 36 * delta / (delta + 38)
}

/// `str.encode('punycode')`: the ASCII characters, then (after `-` if there were any) the
/// insertion deltas of the others as generalized variable-length integers in `a-z0-9`.
pub(crate) fn punycode_encode(s: &str) -> Option<Vec<u8>> {
    let text: Vec<u32> = s.chars().map(u32::from).collect();
    let mut out: Vec<u8> = text
        .iter()
        .filter(|&&c| c < 0x80)
        .map(|&c| c as u8)
        .collect();
    let base_len = out.len() as u64;
    let mut extended: Vec<u32> = text.iter().copied().filter(|&c| c >= 0x80).collect();
    extended.sort_unstable();
    extended.dedup();
    if text.len().saturating_mul(extended.len()) > PUNYCODE_ENCODE_WORK {
        return None;
    }
    // insertion_unsort
    let mut deltas = Vec::new();
    let mut oldchar = 0x80u64;
    let mut oldindex = -1i64;
    for &c in &extended {
        let ch = u64::from(c);
        let curlen = text.iter().filter(|&&x| x < c).count() as u64;
        let mut delta = (curlen + 1) * (ch - oldchar);
        let mut index = -1i64;
        for &x in &text {
            if x == c {
                index += 1;
                let d = u64::try_from(i64::try_from(delta).ok()? + index - oldindex).ok()?;
                deltas.push(d.checked_sub(1)?);
                oldindex = index;
                delta = 0;
            } else if x < c {
                index += 1;
            }
        }
        oldchar = ch;
    }
    // generate_integers
    const DIGITS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut ext = Vec::new();
    let mut bias = 72u64;
    for (points, &delta) in deltas.iter().enumerate() {
        let mut n = delta;
        let mut j = 0u64;
        loop {
            let t = puny_t(j, bias);
            if n < t {
                ext.push(DIGITS[usize::try_from(n).ok()?]);
                break;
            }
            ext.push(DIGITS[usize::try_from(t + (n - t) % (36 - t)).ok()?]);
            n = (n - t) / (36 - t);
            j += 1;
        }
        bias = puny_adapt(delta, points == 0, base_len + points as u64 + 1);
    }
    if !out.is_empty() {
        out.push(b'-');
    }
    out.extend(ext);
    Some(out)
}

/// `bytes.decode('punycode')`: the part before the last `-` is the ASCII base, the rest (case
/// folded) the deltas; `None` where CPython raises (non-ASCII input, a digit outside
/// `A-Z0-9`, a truncated integer, a code point past U+10FFFF) or would return a surrogate.
pub(crate) fn punycode_decode(b: &[u8]) -> Option<String> {
    if !b.is_ascii() || b.len() > PUNYCODE_MAX {
        return None;
    }
    let (base, extended) = match b.iter().rposition(|&c| c == b'-') {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (&b[..0], b),
    };
    let mut text: Vec<char> = base.iter().map(|&c| char::from(c)).collect();
    let mut ch = 0x80u64;
    let mut pos = -1i64;
    let mut bias = 72u64;
    let mut extpos = 0usize;
    while extpos < extended.len() {
        // decode_generalized_number; a value past u64 is refused (CPython's would be a code
        // point past U+10FFFF).
        let start = extpos;
        let mut result = 0u64;
        let mut w = 1u64;
        let mut j = 0u64;
        loop {
            let c = extended.get(extpos)?.to_ascii_uppercase();
            extpos += 1;
            let digit = match c {
                b'A'..=b'Z' => u64::from(c - b'A'),
                b'0'..=b'9' => u64::from(c - b'0') + 26,
                _ => return None,
            };
            let t = puny_t(j, bias);
            result = result.checked_add(digit.checked_mul(w)?)?;
            if digit < t {
                break;
            }
            w = w.checked_mul(36 - t)?;
            j += 1;
        }
        let delta = result;
        let len = text.len() as u64 + 1;
        let p = u64::try_from(
            pos.checked_add(i64::try_from(delta).ok()?)?
                .checked_add(1)?,
        )
        .ok()?;
        ch = ch.checked_add(p / len)?;
        if ch > 0x10FFFF {
            return None;
        }
        let at = p % len;
        pos = i64::try_from(at).ok()?;
        text.insert(
            usize::try_from(at).ok()?,
            char::from_u32(u32::try_from(ch).ok()?)?,
        );
        bias = puny_adapt(delta, start == 0, text.len() as u64);
    }
    Some(text.into_iter().collect())
}

// ---- HZ ---------------------------------------------------------------------------------

/// `str.encode('hz')`: ASCII as itself (`~` doubled), runs of GB2312 characters between `~{`
/// and `~}` as their EUC bytes with the high bits cleared; the output ends in ASCII mode.
/// `None` for a character GB2312 does not have.
pub(crate) fn hz_encode(s: &str) -> Option<Vec<u8>> {
    let gb = crate::cjk::table("gb2312")?;
    let mut out = Vec::with_capacity(s.len() + 4);
    let mut gb_mode = false;
    for c in s.chars() {
        if c.is_ascii() {
            if gb_mode {
                out.extend(b"~}");
                gb_mode = false;
            }
            out.push(c as u8);
            if c == '~' {
                out.push(b'~');
            }
            continue;
        }
        let seq = gb.encode_cp(u32::from(c))?;
        let [hi, lo] = u16::try_from(seq).ok()?.to_be_bytes();
        if hi & 0x80 == 0 || lo & 0x80 == 0 {
            return None;
        }
        if !gb_mode {
            out.extend(b"~{");
            gb_mode = true;
        }
        out.extend([hi & 0x7F, lo & 0x7F]);
    }
    if gb_mode {
        out.extend(b"~}");
    }
    Some(out)
}

/// `bytes.decode('hz')`: in ASCII mode bytes as themselves, `~~` as `~`, `~\n` dropped, `~{`
/// into GB mode; in GB mode pairs of GB2312 bytes (high bits cleared), `~}` back to ASCII.
/// `None` where CPython raises (another `~` escape, a byte past ASCII, a pair GB2312 does not
/// have, an input ending inside an escape or a pair).
pub(crate) fn hz_decode(b: &[u8]) -> Option<String> {
    let gb = crate::cjk::table("gb2312")?;
    let mut out = String::with_capacity(b.len());
    let mut gb_mode = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'~' {
            match (*b.get(i + 1)?, gb_mode) {
                (b'~', false) => out.push('~'),
                (b'{', false) => gb_mode = true,
                (b'\n', false) => {}
                (b'}', true) => gb_mode = false,
                _ => return None,
            }
            i += 2;
            continue;
        }
        if c & 0x80 != 0 {
            return None;
        }
        if !gb_mode {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        let c2 = *b.get(i + 1)?;
        if c2 & 0x80 != 0 {
            return None;
        }
        let key = (u32::from(c | 0x80) << 8) | u32::from(c2 | 0x80);
        out.push(char::from_u32(gb.decode_seq(key)?)?);
        i += 2;
    }
    Some(out)
}

// ---- quoted-printable ---------------------------------------------------------------------

const MAXLINESIZE: usize = 76;

/// `codecs.encode(b, 'quopri')`, i.e. `binascii.b2a_qp(b, quotetabs=True)`: bytes past `~`,
/// `=`, controls, space and tab as `=XX` (uppercase), a `.` alone on a line start quoted,
/// newlines kept (CRLF throughout when the first newline follows a CR), soft breaks `=\n` to
/// keep lines under 76 characters.
pub(crate) fn qp_encode(data: &[u8]) -> Option<Vec<u8>> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let crlf = data
        .iter()
        .position(|&c| c == b'\n')
        .is_some_and(|p| p > 0 && data[p - 1] == b'\r');
    let soft_break = |out: &mut Vec<u8>| {
        out.push(b'=');
        if crlf {
            out.push(b'\r');
        }
        out.push(b'\n');
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / 2);
    let mut linelen = 0usize;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        let next = data.get(i + 1).copied();
        let quoted = c > 126
            || c == b'='
            || (c == b'.' && linelen == 0 && matches!(next, None | Some(b'\n' | b'\r' | 0)))
            || ((c == b'\t' || c == b' ') && next.is_none())
            || (c < 33 && c != b'\r' && c != b'\n');
        if quoted {
            if linelen + 3 >= MAXLINESIZE {
                soft_break(&mut out);
                linelen = 0;
            }
            out.extend([b'=', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            i += 1;
            linelen += 3;
        } else if c == b'\n' || (c == b'\r' && next == Some(b'\n')) {
            linelen = 0;
            if let Some(&last @ (b' ' | b'\t')) = out.last() {
                out.pop();
                out.extend([
                    b'=',
                    HEX[usize::from(last >> 4)],
                    HEX[usize::from(last & 15)],
                ]);
            }
            if crlf {
                out.push(b'\r');
            }
            out.push(b'\n');
            i += if c == b'\r' { 2 } else { 1 };
        } else {
            if next.is_some() && next != Some(b'\n') && linelen + 1 >= MAXLINESIZE {
                soft_break(&mut out);
                linelen = 0;
            }
            linelen += 1;
            out.push(c);
            i += 1;
        }
        if out.len() > MAX_FOLD {
            return None;
        }
    }
    Some(out)
}

/// `codecs.decode(b, 'quopri')`, i.e. `binascii.a2b_qp(b)`: `=XX` (either case) as the byte,
/// `=` before a line end as a soft break (up to the next `\n`), `==` as `=`, any other `=` kept.
pub(crate) fn qp_decode(data: &[u8]) -> Vec<u8> {
    let hexval = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] != b'=' {
            out.push(data[i]);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&c) = data.get(i) else { break };
        if c == b'\n' || c == b'\r' {
            while i < data.len() && data[i] != b'\n' {
                i += 1;
            }
            if i < data.len() {
                i += 1;
            }
        } else if c == b'=' {
            out.push(b'=');
            i += 1;
        } else if let (Some(h), Some(l)) = (hexval(c), data.get(i + 1).and_then(|&x| hexval(x))) {
            out.push(h << 4 | l);
            i += 2;
        } else {
            out.push(b'=');
        }
    }
    out
}

// ---- uuencode ---------------------------------------------------------------------------

/// `binascii.b2a_uu(chunk)` for at most 45 bytes: the length as a character, the data in
/// excess-space 6-bit characters (zero-padded to whole groups), a newline.
fn b2a_uu(chunk: &[u8], out: &mut Vec<u8>) {
    out.push(b' ' + chunk.len() as u8);
    for group in chunk.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for k in 0..4 {
            out.push(b' ' + ((n >> (18 - 6 * k)) & 63) as u8);
        }
    }
    out.push(b'\n');
}

/// `codecs.encode(b, 'uu')`: `begin 666 <data>`, `b2a_uu` lines of 45-byte chunks, ` ` and
/// `end` lines.
pub(crate) fn uu_encode(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = b"begin 666 <data>\n".to_vec();
    for chunk in data.chunks(45) {
        b2a_uu(chunk, &mut out);
        if out.len() > MAX_FOLD {
            return None;
        }
    }
    out.extend(b" \nend\n");
    Some(out)
}

/// `binascii.a2b_uu(line)` for a non-empty line: as many bytes as the first character says,
/// missing characters (and CR/LF) read as zero; `None` where it raises (a character outside
/// `' '..='`'`, anything but space, backtick or CR/LF after the data).
fn a2b_uu(line: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = line.split_first()?;
    let mut left = usize::from(first.wrapping_sub(b' ') & 63);
    let mut out = Vec::with_capacity(left);
    let mut acc = 0u32;
    let mut accbits = 0u32;
    let mut i = 0;
    while left > 0 {
        let v = match rest.get(i) {
            None | Some(b'\n' | b'\r') => 0,
            Some(&c @ b' '..=b'`') => u32::from(c - b' ') & 63,
            Some(_) => return None,
        };
        i += 1;
        acc = (acc << 6) | v;
        accbits += 6;
        if accbits >= 8 {
            accbits -= 8;
            out.push((acc >> accbits) as u8);
            acc &= (1 << accbits) - 1;
            left -= 1;
        }
    }
    let trailing = rest.get(i..).unwrap_or_default();
    trailing
        .iter()
        .all(|&c| matches!(c, b' ' | b'`' | b'\n' | b'\r'))
        .then_some(out)
}

/// `codecs.decode(b, 'uu')`: the lines after the first starting with `begin`, up to a line
/// `end\n`, each through `a2b_uu` (on an error, again on its first bytes as the length
/// character counts them, as `uu_codec` does). `None` where CPython raises (no `begin` line,
/// no `end\n` line, a line even the retry rejects).
pub(crate) fn uu_decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut lines = data.split_inclusive(|&c| c == b'\n');
    lines.find(|l| l.starts_with(b"begin"))?;
    let mut out = Vec::new();
    for line in lines {
        if line == b"end\n" {
            return Some(out);
        }
        let bytes = match a2b_uu(line) {
            Some(b) => b,
            None => {
                let n = (usize::from(line.first()?.wrapping_sub(32) & 63) * 4 + 5) / 3;
                a2b_uu(&line[..n.min(line.len())])?
            }
        };
        out.extend(bytes);
        if out.len() > MAX_FOLD {
            return None;
        }
    }
    None
}

// ---- IDNA (RFC 3490, `Lib/encodings/idna.py`) -------------------------------------------

/// The label separators of IDNA section 3.1 (`idna.dots`) other than '.'.
const IDNA_DOTS: [char; 3] = ['\u{3002}', '\u{FF0E}', '\u{FF61}'];

/// `str.encode('idna')` where no label needs nameprep: every character ASCII or one of the
/// IDNA dots. CPython's ASCII fast path (and, for input with U+3002, U+FF0E or U+FF61, its
/// per-label `ToASCII`, which returns an ASCII label as it is) gives the labels joined by '.',
/// each 1 to 63 bytes but the last, which may be empty (a trailing dot); otherwise it raises.
/// A label with any other non-ASCII character goes through nameprep: `None`. CPython 3.11 to
/// 3.13 agree on all of this.
pub(crate) fn idna_encode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else if IDNA_DOTS.contains(&c) {
            out.push(b'.');
        } else {
            return None;
        }
    }
    if out.is_empty() {
        return Some(out);
    }
    let labels: Vec<&[u8]> = out.split(|&c| c == b'.').collect();
    let (last, rest) = labels.split_last()?;
    if rest.iter().any(|l| l.is_empty() || l.len() >= 64) || last.len() >= 64 {
        return None;
    }
    Some(out)
}

/// `bytes.decode('idna')` where no label is an ACE label: ASCII input in which no label starts
/// with `xn--` in any case comes back as it is (CPython 3.11/3.12's fast path for input without
/// `b"xn--"`, 3.13's for input without it in any case, and otherwise every version's `ToUnicode`
/// of a label without the prefix; 3.12 and later raise for such a label past 1024 bytes on that
/// slow path, 3.11 returns it: the reading that produces the value). An ACE label needs
/// punycode and then nameprep to check the round trip: `None`; so does non-ASCII input, which
/// CPython refuses.
pub(crate) fn idna_decode(b: &[u8]) -> Option<String> {
    if !b.is_ascii() {
        return None;
    }
    let ace = b
        .split(|&c| c == b'.')
        .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"xn--"));
    if ace {
        return None;
    }
    String::from_utf8(b.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idna_without_nameprep_is_cpythons() {
        // Checked against CPython 3.11-3.13: codecs.encode(s, 'idna') / codecs.decode(b, 'idna').
        let enc = |s: &str| idna_encode(s);
        assert_eq!(enc(""), Some(Vec::new()));
        assert_eq!(enc("Example.COM."), Some(b"Example.COM.".to_vec()));
        assert_eq!(enc("cos\nsystem\n"), Some(b"cos\nsystem\n".to_vec()));
        assert_eq!(enc("a\u{3002}b\u{ff0e}c\u{ff61}"), Some(b"a.b.c.".to_vec()));
        let l63 = "a".repeat(63);
        assert_eq!(enc(&format!("{l63}.{l63}")).map(|v| v.len()), Some(127));
        // An empty label but the last, a label of 64, the lone dot: UnicodeError.
        assert_eq!(enc("a..b"), None);
        assert_eq!(enc("."), None);
        assert_eq!(enc("\u{3002}"), None);
        assert_eq!(enc(&"a".repeat(64)), None);
        assert_eq!(enc(&format!("{}.", "a".repeat(64))), None);
        // Non-ASCII labels need nameprep: not folded.
        assert_eq!(enc("b\u{fc}cher.de"), None);
        assert_eq!(enc("\u{00ad}"), None);
        let dec = |b: &[u8]| idna_decode(b);
        assert_eq!(dec(b"").as_deref(), Some(""));
        assert_eq!(dec(b"Example..COM.").as_deref(), Some("Example..COM."));
        assert_eq!(dec(b"axn--b.c").as_deref(), Some("axn--b.c"));
        let long = "a".repeat(2000);
        assert_eq!(dec(long.as_bytes()).as_deref(), Some(long.as_str()));
        // ACE labels (any case: 3.13 compares lowercased) and non-ASCII bytes: not folded.
        assert_eq!(dec(b"xn--bcher-kva.de"), None);
        assert_eq!(dec(b"a.XN--abc"), None);
        assert_eq!(dec(b"Xn--"), None);
        assert_eq!(dec(b"b\xfccher"), None);
    }

    #[test]
    fn spot_values_are_cpythons() {
        // 'é+a😀-'.encode('utf-7') == b'+AOkAKw-a+2D3eAA--' ('+' inside a run is base64)
        assert_eq!(utf7_encode("é+a😀-"), b"+AOkAKw-a+2D3eAA--".to_vec());
        // b'+AOk.'.decode('utf-7') == 'é.'; b'+AOkA'.decode('utf-7') raises
        assert_eq!(utf7_decode(b"+AOk.").as_deref(), Some("é."));
        assert_eq!(utf7_decode(b"+AOkA"), None);
        // b'+'.decode('utf-7') == ''; b'+!'.decode('utf-7') raises
        assert_eq!(utf7_decode(b"+").as_deref(), Some(""));
        assert_eq!(utf7_decode(b"+!"), None);
        // 'bücher'.encode('punycode') == b'bcher-kva'
        assert_eq!(punycode_encode("bücher"), Some(b"bcher-kva".to_vec()));
        assert_eq!(punycode_decode(b"bcher-KVA").as_deref(), Some("bücher"));
        // b'abc-!'.decode('punycode') raises
        assert_eq!(punycode_decode(b"abc-!"), None);
        // '中~中'.encode('hz') == b'~{VP~}~~~{VP~}'
        assert_eq!(hz_encode("中~中"), Some(b"~{VP~}~~~{VP~}".to_vec()));
        // b'~{VP'.decode('hz') == '中'; b'~{VP~~VP~}'.decode('hz') raises
        assert_eq!(hz_decode(b"~{VP").as_deref(), Some("中"));
        assert_eq!(hz_decode(b"~{VP~~VP~}"), None);
        // codecs.encode(b'a=b \t\n', 'quopri') == b'a=3Db=20=09\n'
        assert_eq!(qp_encode(b"a=b \t\n"), Some(b"a=3Db=20=09\n".to_vec()));
        // codecs.decode(b'=3d=\n=4', 'quopri') == b'==4'
        assert_eq!(qp_decode(b"=3d=\n=4"), b"==4".to_vec());
        // codecs.encode(b'ab', 'uu') == b'begin 666 <data>\n"86( \n \nend\n'
        assert_eq!(
            uu_encode(b"ab"),
            Some(b"begin 666 <data>\n\"86( \n \nend\n".to_vec())
        );
        // codecs.decode(b'begin\n\nend\n', 'uu') == bytes(42)
        assert_eq!(uu_decode(b"begin\n\nend\n"), Some(vec![0; 42]));
        // codecs.decode(b'begin\n', 'uu') raises ('Truncated input data')
        assert_eq!(uu_decode(b"begin\n"), None);
    }
}
