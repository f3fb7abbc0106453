//! `base64.a85decode`, `b85decode`, `b32decode` and `b32hexdecode`, as CPython 3.11's
//! `base64.py` computes them (checked against `scripts/fold/make_transform_vectors.py`).

use super::{Args, ascii_input, bytes_value};
use crate::value::{Arena, Id, Value};

/// A keyword flag: absent is `false`; a bool, None or an int is read by truth.
fn flag(arena: &Arena, id: Option<Id>) -> Option<bool> {
    match id.map(|id| arena.get(id)) {
        None | Some(Value::None) => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Int(i)) => Some(*i != 0),
        Some(_) => None,
    }
}

/// `base64.a85decode(b, *, foldspaces=False, adobe=False, ignorechars=b' \t\n\r\x0b')`.
pub(super) fn a85decode(a: &Args<'_>) -> Option<Value> {
    let arena = a.arena;
    let ([b], true) = (
        a.pos.as_slice(),
        a.kw.iter()
            .all(|(k, _)| ["foldspaces", "adobe", "ignorechars"].contains(&k.as_str())),
    ) else {
        return None;
    };
    let kw = |name: &str| a.kw.iter().find(|(k, _)| k == name).map(|&(_, v)| v);
    let mut b = ascii_input(arena, *b)?;
    let foldspaces = flag(arena, kw("foldspaces"))?;
    let adobe = flag(arena, kw("adobe"))?;
    // Tested as `x in ignorechars` with `x` an int: a bytes-like holds it or not; a str
    // raises once it is tested (`None`).
    let ignore: Option<Vec<u8>> = match kw("ignorechars") {
        Some(id) => match super::bytes_of(arena, id) {
            Some(b) => Some(b.to_vec()),
            None => {
                super::str_of(arena, id)?;
                None
            }
        },
        None => Some(b" \t\n\r\x0b".to_vec()),
    };
    if adobe {
        if !b.ends_with(b"~>") {
            return None;
        }
        b = if b.starts_with(b"<~") {
            // `b[2:-2]`: empty when the markers overlap.
            b.get(2..b.len() - 2).map_or_else(Vec::new, <[u8]>::to_vec)
        } else {
            b[..b.len() - 2].to_vec()
        };
    }
    let mut out = Vec::with_capacity(b.len() / 5 * 4 + 4);
    let mut group: Vec<u8> = Vec::with_capacity(5);
    for x in b.iter().copied().chain(*b"uuuu") {
        if (b'!'..=b'u').contains(&x) {
            group.push(x);
            if group.len() == 5 {
                let mut acc: u64 = 0;
                for &c in &group {
                    acc = acc * 85 + u64::from(c - b'!');
                }
                out.extend(u32::try_from(acc).ok()?.to_be_bytes());
                group.clear();
            }
        } else if x == b'z' {
            if !group.is_empty() {
                return None;
            }
            out.extend([0; 4]);
        } else if foldspaces && x == b'y' {
            if !group.is_empty() {
                return None;
            }
            out.extend([b' '; 4]);
        } else if !ignore.as_ref()?.contains(&x) {
            return None;
        }
    }
    let padding = 4 - group.len();
    out.truncate(out.len().saturating_sub(padding));
    bytes_value(out, false)
}

const B85: &[u8; 85] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

/// `base64.b85decode(b)`.
pub(super) fn b85decode(a: &Args<'_>) -> Option<Value> {
    let ([b], true) = (a.pos.as_slice(), a.kw.is_empty()) else {
        return None;
    };
    let mut b = ascii_input(a.arena, *b)?;
    let padding = (5 - b.len() % 5) % 5;
    b.extend(std::iter::repeat_n(b'~', padding));
    let mut rev = [None; 256];
    for (i, &c) in B85.iter().enumerate() {
        rev[usize::from(c)] = u64::try_from(i).ok();
    }
    let mut out = Vec::with_capacity(b.len() / 5 * 4);
    for chunk in b.chunks(5) {
        let mut acc: u64 = 0;
        for &c in chunk {
            acc = acc * 85 + rev[usize::from(c)]?;
        }
        out.extend(u32::try_from(acc).ok()?.to_be_bytes());
    }
    out.truncate(out.len() - padding);
    bytes_value(out, false)
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// `base64.b32decode(s, casefold=False, map01=None)` and `b32hexdecode(s, casefold=False)`.
pub(super) fn b32decode(a: &Args<'_>, hex: bool) -> Option<Value> {
    let arena = a.arena;
    let params: &[&str] = if hex {
        &["s", "casefold"]
    } else {
        &["s", "casefold", "map01"]
    };
    if !a.fits(params) {
        return None;
    }
    let mut s = ascii_input(arena, a.param(0, "s")?)?;
    if s.len() % 8 != 0 {
        return None;
    }
    let map01 = if hex {
        None
    } else {
        match a.param(2, "map01").map(|id| (id, arena.get(id))) {
            None | Some((_, Value::None)) => None,
            Some((id, _)) => Some(ascii_input(arena, id)?),
        }
    };
    if let Some(m) = map01 {
        let [m] = m.as_slice() else {
            return None;
        };
        for c in &mut s {
            match *c {
                b'0' => *c = b'O',
                b'1' => *c = *m,
                _ => {}
            }
        }
    }
    if flag(arena, a.param(1, "casefold"))? {
        s.make_ascii_uppercase();
    }
    let l = s.len();
    while s.last() == Some(&b'=') {
        s.pop();
    }
    let padchars = l - s.len();
    let alphabet = if hex { B32HEX } else { B32 };
    let mut rev = [None; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        rev[usize::from(c)] = u64::try_from(i).ok();
    }
    let mut decoded = Vec::with_capacity(s.len() / 8 * 5 + 5);
    let mut acc: u64 = 0;
    for quanta in s.chunks(8) {
        acc = 0;
        for &c in quanta {
            acc = (acc << 5) + rev[usize::from(c)]?;
        }
        decoded.extend(&acc.to_be_bytes()[3..]);
    }
    if ![0, 1, 3, 4, 6].contains(&padchars) {
        return None;
    }
    if padchars > 0 && !decoded.is_empty() {
        acc <<= 5 * padchars;
        let last = &acc.to_be_bytes()[3..];
        let leftover = (43 - 5 * padchars) / 8;
        decoded.truncate(decoded.len() - 5);
        decoded.extend(&last[..leftover]);
    }
    bytes_value(decoded, false)
}
