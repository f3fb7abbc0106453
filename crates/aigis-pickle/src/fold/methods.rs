//! The str/bytes methods and operators a payload's bytes may pass through: `replace`,
//! `strip`/`lstrip`/`rstrip`, `removeprefix`/`removesuffix`, `translate` with the tables of
//! `bytes.maketrans`/`str.maketrans` or a dict, `upper`/`lower`/`swapcase` (ASCII),
//! repetition (`*`), `%` formatting and `str.format` with plain conversions, and `reversed`
//! where `bytes()`/`join` consume it. Each follows CPython 3.11 exactly on the cases it
//! computes (checked against `scripts/fold/make_transform_vectors.py`) and returns `None` for
//! anything else, so a loader given the result is reported rather than passed.

use std::collections::{HashMap, HashSet};

use super::{Args, MAX_FOLD, bytes_of, bytes_value, int_of, seq_items, str_of, str_value};
use crate::value::{Arena, Id, Value};

/// What a method is called on: `builtins.<ty>.<method>` checks the type of `self` exactly
/// (`bytes.replace(bytearray(...), ...)` raises).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Bytes,
    ByteArray,
    Str,
}

impl Ty {
    pub(super) fn of_name(name: &str) -> Option<(Ty, &str)> {
        let rest = name.strip_prefix("builtins.")?;
        let (ty, method) = rest.split_once('.')?;
        let ty = match ty {
            "bytes" => Ty::Bytes,
            "bytearray" => Ty::ByteArray,
            "str" => Ty::Str,
            _ => return None,
        };
        Some((ty, method))
    }

    /// The type of `id`, when it is a bytes, bytearray or str.
    fn of_value(arena: &Arena, id: Id) -> Option<Ty> {
        match arena.get(id) {
            Value::Bytes(_) => Some(Ty::Bytes),
            Value::ByteArray(_) => Some(Ty::ByteArray),
            Value::Str(_) => Some(Ty::Str),
            _ => None,
        }
    }

    /// Whether `id` is a value of this type exactly.
    pub(super) fn holds(self, arena: &Arena, id: Id) -> bool {
        Ty::of_value(arena, id) == Some(self)
    }
}

/// A str or bytes operand, owned (str as code points: Python indexes characters).
enum Seq {
    Bytes(Vec<u8>),
    Str(Vec<char>),
}

fn out(ty: Ty, seq: Seq) -> Option<Value> {
    match seq {
        Seq::Bytes(b) => bytes_value(b, ty == Ty::ByteArray),
        Seq::Str(c) => str_value(c.into_iter().collect()),
    }
}

/// `self` of a `ty` method, as a sequence.
fn this(a: &Args<'_>, ty: Ty) -> Option<Seq> {
    let id = *a.pos.first()?;
    if !ty.holds(a.arena, id) {
        return None;
    }
    operand(a.arena, id, ty)
}

/// An argument a `ty` method takes as its own kind: a bytes-like for bytes and bytearray,
/// a str for str.
fn operand(arena: &Arena, id: Id, ty: Ty) -> Option<Seq> {
    match ty {
        Ty::Str => Some(Seq::Str(str_of(arena, id)?.chars().collect())),
        Ty::Bytes | Ty::ByteArray => Some(Seq::Bytes(bytes_of(arena, id)?.to_vec())),
    }
}

/// The positional arguments after `self`, with no keywords.
fn positional<'b>(a: &'b Args<'_>) -> Option<&'b [Id]> {
    a.kw.is_empty().then(|| a.pos.get(1..)).flatten()
}

/// `ty.<method>(self, ...)` for the methods of this module.
pub(super) fn call(a: &Args<'_>, ty: Ty, method: &str) -> Option<Value> {
    match method {
        "replace" => replace(a, ty),
        "strip" | "lstrip" | "rstrip" => strip(a, ty, method),
        "removeprefix" | "removesuffix" => {
            let ([affix], Some(s)) = (positional(a)?, this(a, ty)) else {
                return None;
            };
            let affix = operand(a.arena, *affix, ty)?;
            let kept = match (s, affix) {
                (Seq::Bytes(s), Seq::Bytes(x)) => Seq::Bytes(remove_affix(&s, &x, method)),
                (Seq::Str(s), Seq::Str(x)) => Seq::Str(remove_affix(&s, &x, method)),
                _ => return None,
            };
            out(ty, kept)
        }
        "translate" => translate(a, ty),
        "maketrans" => maketrans_bytes(a, ty),
        "upper" | "lower" | "swapcase" => {
            let ([], Some(s)) = (positional(a)?, this(a, ty)) else {
                return None;
            };
            let map = |c: u8| match method {
                "upper" => c.to_ascii_uppercase(),
                "lower" => c.to_ascii_lowercase(),
                _ if c.is_ascii_uppercase() => c.to_ascii_lowercase(),
                _ => c.to_ascii_uppercase(),
            };
            match s {
                Seq::Bytes(b) => out(ty, Seq::Bytes(b.into_iter().map(map).collect())),
                // Case mapping beyond ASCII follows Unicode tables of a Python version; only
                // ASCII text is folded.
                Seq::Str(c) if c.iter().all(char::is_ascii) => out(
                    ty,
                    Seq::Str(c.into_iter().map(|c| char::from(map(c as u8))).collect()),
                ),
                Seq::Str(_) => None,
            }
        }
        "__mul__" | "__rmul__" => {
            let ([n], Some(s)) = (positional(a)?, this(a, ty)) else {
                return None;
            };
            out(ty, repeat(s, int_of(a.arena, *n)?)?)
        }
        "__mod__" => {
            let [args] = positional(a)? else {
                return None;
            };
            percent(a.arena, a.pos[0], *args)
        }
        "format" => format(a),
        _ => None,
    }
}

/// `operator.mul(x, y)`: a sequence times an int, either way round.
pub(super) fn mul(a: &Args<'_>) -> Option<Value> {
    let ([x, y], true) = (a.pos.as_slice(), a.kw.is_empty()) else {
        return None;
    };
    let arena = a.arena;
    let (seq, n) = match int_of(arena, *y) {
        Some(n) => (*x, n),
        None => (*y, int_of(arena, *x)?),
    };
    let ty = Ty::of_value(arena, seq)?;
    out(ty, repeat(operand(arena, seq, ty)?, n)?)
}

fn repeat(s: Seq, n: i64) -> Option<Seq> {
    let n = usize::try_from(n.max(0)).ok()?;
    let len = match &s {
        Seq::Bytes(b) => b.len(),
        Seq::Str(c) => c.len(),
    };
    if len.checked_mul(n)? > MAX_FOLD {
        return None;
    }
    Some(match s {
        Seq::Bytes(b) => Seq::Bytes(b.repeat(n)),
        Seq::Str(c) => Seq::Str(c.repeat(n)),
    })
}

fn remove_affix<T: PartialEq + Clone>(s: &[T], affix: &[T], method: &str) -> Vec<T> {
    let kept = if method == "removeprefix" {
        s.strip_prefix(affix)
    } else {
        s.strip_suffix(affix)
    };
    kept.unwrap_or(s).to_vec()
}

/// `replace(old, new[, count])`: non-overlapping occurrences from the left; an empty `old`
/// matches before every item and at the end; a negative count replaces all.
fn replace(a: &Args<'_>, ty: Ty) -> Option<Value> {
    let arena = a.arena;
    let s = *a.pos.first()?;
    if !ty.holds(arena, s) {
        return None;
    }
    let (old, new, count) = match positional(a)? {
        [old, new] => (*old, *new, -1),
        [old, new, count] => (*old, *new, int_of(arena, *count)?),
        _ => return None,
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if ty == Ty::Str {
        let (s, old, new) = (str_of(arena, s)?, str_of(arena, old)?, str_of(arena, new)?);
        if old.is_empty() {
            let chars: Vec<char> = s.chars().collect();
            let new: Vec<char> = new.chars().collect();
            return out(ty, Seq::Str(insert_between(&chars, &new, count)?));
        }
        // A match of valid UTF-8 in valid UTF-8 starts and ends on character boundaries.
        let done = replace_bytes(s.as_bytes(), old.as_bytes(), new.as_bytes(), count)?;
        return str_value(String::from_utf8(done).ok()?);
    }
    let (s, old, new) = (
        bytes_of(arena, s)?,
        bytes_of(arena, old)?,
        bytes_of(arena, new)?,
    );
    let done = if old.is_empty() {
        insert_between(s, new, count)?
    } else {
        replace_bytes(s, old, new, count)?
    };
    out(ty, Seq::Bytes(done))
}

/// `new` before each of the first `count` items and, if any are left, at the end.
fn insert_between<T: Clone>(s: &[T], new: &[T], count: usize) -> Option<Vec<T>> {
    let inserts = count.min(s.len().saturating_add(1));
    if s.len().saturating_add(inserts.saturating_mul(new.len())) > MAX_FOLD {
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in s.iter().enumerate() {
        if i < inserts {
            out.extend_from_slice(new);
        }
        out.push(item.clone());
    }
    if inserts > s.len() {
        out.extend_from_slice(new);
    }
    Some(out)
}

/// The first `count` non-overlapping occurrences of the non-empty `old` replaced by `new`.
fn replace_bytes(s: &[u8], old: &[u8], new: &[u8], count: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut at = 0;
    for hit in memchr::memmem::find_iter(s, old).take(count) {
        out.extend_from_slice(&s[at..hit]);
        out.extend_from_slice(new);
        at = hit + old.len();
        if out.len() > MAX_FOLD {
            return None;
        }
    }
    out.extend_from_slice(&s[at..]);
    (out.len() <= MAX_FOLD).then_some(out)
}

/// What `str.strip()` removes: the characters `str.isspace` accepts.
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `strip([chars])`, `lstrip`, `rstrip`: `chars` absent or None strips whitespace (ASCII
/// whitespace for bytes).
fn strip(a: &Args<'_>, ty: Ty, method: &str) -> Option<Value> {
    let s = this(a, ty)?;
    let chars = match positional(a)? {
        [] => None,
        [c] if matches!(a.arena.get(*c), Value::None) => None,
        [c] => Some(operand(a.arena, *c, ty)?),
        _ => return None,
    };
    let (left, right) = (method != "rstrip", method != "lstrip");
    let kept = match (s, chars) {
        (Seq::Bytes(b), None) => {
            Seq::Bytes(trim(&b, left, right, |c| b" \t\n\r\x0b\x0c".contains(c)))
        }
        (Seq::Bytes(b), Some(Seq::Bytes(set))) => {
            let mut member = [false; 256];
            for &c in &set {
                member[usize::from(c)] = true;
            }
            Seq::Bytes(trim(&b, left, right, |&c| member[usize::from(c)]))
        }
        (Seq::Str(s), None) => Seq::Str(trim(&s, left, right, |c| is_py_space(*c))),
        (Seq::Str(s), Some(Seq::Str(set))) => {
            let set: HashSet<char> = set.into_iter().collect();
            Seq::Str(trim(&s, left, right, |c| set.contains(c)))
        }
        _ => return None,
    };
    out(ty, kept)
}

fn trim<T: Clone>(s: &[T], left: bool, right: bool, drop: impl Fn(&T) -> bool) -> Vec<T> {
    let mut start = 0;
    let mut end = s.len();
    if left {
        while start < end && drop(&s[start]) {
            start += 1;
        }
    }
    if right {
        while end > start && drop(&s[end - 1]) {
            end -= 1;
        }
    }
    s[start..end].to_vec()
}

/// `bytes.translate(table[, delete])` (table: 256 bytes or None) and `str.translate(table)`
/// (table: a dict of code points to code points, strs or None; or a str indexed by code point).
fn translate(a: &Args<'_>, ty: Ty) -> Option<Value> {
    let arena = a.arena;
    let s = this(a, ty)?;
    match s {
        Seq::Bytes(b) => {
            if !a.fits(&["self", "table", "delete"]) || a.pos.len() < 2 {
                return None;
            }
            let table = a.pos[1];
            let table = match arena.get(table) {
                Value::None => None,
                _ => Some(bytes_of(arena, table).filter(|t| t.len() == 256)?),
            };
            let delete = match a.param(2, "delete") {
                Some(d) => bytes_of(arena, d)?,
                None => &[],
            };
            let mut deleted = [false; 256];
            for &c in delete {
                deleted[usize::from(c)] = true;
            }
            let done = b
                .into_iter()
                .filter(|&c| !deleted[usize::from(c)])
                .map(|c| table.map_or(c, |t| t[usize::from(c)]))
                .collect();
            out(ty, Seq::Bytes(done))
        }
        Seq::Str(chars) => {
            let ([table], true) = (&a.pos[1..], a.kw.is_empty()) else {
                return None;
            };
            let map = CharMap::of(arena, *table)?;
            let mut done = Vec::with_capacity(chars.len());
            for c in chars {
                match map.get(arena, c)? {
                    Mapped::Keep => done.push(c),
                    Mapped::To(t) => done.extend(t),
                }
                if done.len() > MAX_FOLD {
                    return None;
                }
            }
            out(ty, Seq::Str(done))
        }
    }
}

/// A `str.translate` table.
enum CharMap {
    /// A dict: the last value of each key that is an int (what a lookup of `ord(c)` finds).
    Dict(HashMap<i64, Id>),
    /// A str: `table[ord(c)]`, unchanged past its end.
    Str(Vec<char>),
}

enum Mapped {
    Keep,
    To(Vec<char>),
}

impl CharMap {
    fn of(arena: &Arena, id: Id) -> Option<Self> {
        match arena.get(id) {
            Value::Dict(pairs) => {
                // Keys the lookup `ord(c)` can hit are ints (and bools, equal to 0 and 1);
                // other constant keys never match; a float or computed key might.
                for &(k, _) in pairs {
                    match arena.get(k) {
                        Value::Int(_)
                        | Value::Bool(_)
                        | Value::BigInt(_)
                        | Value::Str(_)
                        | Value::Bytes(_)
                        | Value::None => {}
                        _ => return None,
                    }
                }
                let ints = pairs
                    .iter()
                    .filter_map(|&(k, v)| Some((int_of(arena, k)?, v)))
                    .collect();
                Some(CharMap::Dict(ints))
            }
            _ => Some(CharMap::Str(str_of(arena, id)?.chars().collect())),
        }
    }

    fn get(&self, arena: &Arena, c: char) -> Option<Mapped> {
        let code = i64::from(u32::from(c));
        let to = match self {
            CharMap::Str(t) => match usize::try_from(code).ok().and_then(|i| t.get(i)) {
                Some(&t) => return Some(Mapped::To(vec![t])),
                None => return Some(Mapped::Keep),
            },
            CharMap::Dict(map) => match map.get(&code) {
                None => return Some(Mapped::Keep),
                Some(&v) => v,
            },
        };
        match arena.get(to) {
            Value::None => Some(Mapped::To(Vec::new())),
            Value::Str(_) => Some(Mapped::To(str_of(arena, to)?.chars().collect())),
            Value::Int(_) | Value::Bool(_) => {
                let n = u32::try_from(int_of(arena, to)?).ok()?;
                Some(Mapped::To(vec![char::from_u32(n)?]))
            }
            _ => None,
        }
    }
}

/// `bytes.maketrans(from, to)`: the identity table with `from[i]` mapped to `to[i]`.
fn maketrans_bytes(a: &Args<'_>, ty: Ty) -> Option<Value> {
    if ty == Ty::Str {
        return None;
    }
    let ([from, to], true) = (a.pos.as_slice(), a.kw.is_empty()) else {
        return None;
    };
    let (from, to) = (bytes_of(a.arena, *from)?, bytes_of(a.arena, *to)?);
    if from.len() != to.len() {
        return None;
    }
    let mut table: Vec<u8> = (0..=255).collect();
    for (&f, &t) in from.iter().zip(to) {
        table[usize::from(f)] = t;
    }
    bytes_value(table, false)
}

/// Most distinct keys a folded `str.maketrans` table holds.
const MAX_TABLE: usize = 4096;

/// `str.maketrans(x[, y[, z]])`: a dict from code points to code points (or None for the
/// characters of `z`); with one argument, a dict whose keys are code points or characters.
/// The table's keys and values are new values of the arena.
pub(super) fn maketrans_str(arena: &mut Arena, pos: &[Id], has_kwargs: bool) -> Option<Value> {
    enum To {
        Code(u32),
        Value(Id),
        Delete,
    }
    if has_kwargs {
        return None;
    }
    let mut pairs: Vec<(u32, To)> = Vec::new();
    match pos {
        [x] => {
            let Value::Dict(items) = arena.get(*x) else {
                return None;
            };
            for &(k, v) in items {
                let key = match arena.get(k) {
                    Value::Int(_) | Value::Bool(_) => u32::try_from(int_of(arena, k)?).ok()?,
                    Value::Str(_) => {
                        let s = str_of(arena, k)?;
                        let mut it = s.chars();
                        let (Some(c), None) = (it.next(), it.next()) else {
                            return None;
                        };
                        u32::from(c)
                    }
                    _ => return None,
                };
                pairs.push((key, To::Value(v)));
            }
        }
        [x, y] | [x, y, _] => {
            let from: Vec<char> = str_of(arena, *x)?.chars().collect();
            let to: Vec<char> = str_of(arena, *y)?.chars().collect();
            if from.len() != to.len() {
                return None;
            }
            for (f, t) in from.into_iter().zip(to) {
                pairs.push((u32::from(f), To::Code(u32::from(t))));
            }
            if let [_, _, z] = pos {
                for c in str_of(arena, *z)?.chars() {
                    pairs.push((u32::from(c), To::Delete));
                }
            }
        }
        _ => return None,
    }
    // One entry per key, the last value written, in first-insertion order (a dict's reading).
    let mut order: Vec<u32> = Vec::new();
    let mut last: HashMap<u32, usize> = HashMap::new();
    for (i, (k, _)) in pairs.iter().enumerate() {
        if last.insert(*k, i).is_none() {
            order.push(*k);
        }
    }
    if order.len() > MAX_TABLE {
        return None;
    }
    let mut dict = Vec::with_capacity(order.len());
    for k in order {
        let v = match &pairs[last[&k]].1 {
            To::Code(c) => arena.push(Value::Int(i64::from(*c))),
            To::Delete => arena.push(Value::None),
            To::Value(v) => *v,
        };
        let key = arena.push(Value::Int(i64::from(k)));
        dict.push((key, v));
    }
    Some(Value::Dict(dict))
}

/// What `reversed(x)` yields, when `id` is that call on a constant list, tuple, bytes (ints)
/// or str (one-character strs); the items are in `x`'s order, for the caller to reverse.
pub(super) enum Reversed<'a> {
    Ids(&'a [Id]),
    Bytes(&'a [u8]),
    Str(&'a str),
}

pub(super) fn reversed_of(arena: &Arena, id: Id) -> Option<Reversed<'_>> {
    let [x] = super::builtin_call_args(arena, id, "builtins.reversed")? else {
        return None;
    };
    if let Some(items) = seq_items(arena, *x) {
        return Some(Reversed::Ids(items));
    }
    if let Some(b) = bytes_of(arena, *x) {
        return Some(Reversed::Bytes(b));
    }
    str_of(arena, *x).map(Reversed::Str)
}

// ---- formatting ----------------------------------------------------------------------

/// A value as `str()` writes it, for the constants whose spelling is plain.
fn str_conv(arena: &Arena, id: Id) -> Option<String> {
    match arena.get(id) {
        Value::Str(_) => str_of(arena, id).map(str::to_owned),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Value::None => Some("None".to_owned()),
        _ => None,
    }
}

/// An int for `%d`-style conversions (an int or a bool; not a float, which is truncated).
fn int_conv(arena: &Arena, id: Id) -> Option<i64> {
    match arena.get(id) {
        Value::Int(_) | Value::Bool(_) => int_of(arena, id),
        _ => None,
    }
}

fn radix(n: i64, conv: char) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let m = n.unsigned_abs();
    match conv {
        'x' => format!("{sign}{m:x}"),
        'X' => format!("{sign}{m:X}"),
        'o' => format!("{sign}{m:o}"),
        _ => n.to_string(),
    }
}

/// `fmt % args` for a str or bytes `fmt`, with the conversions `s`, `d`, `i`, `u`, `x`, `X`,
/// `o`, `c` (and `b` for bytes) and `%%`, no flags, width, precision or mapping keys.
pub(super) fn percent(arena: &Arena, fmt: Id, args: Id) -> Option<Value> {
    let ty = Ty::of_value(arena, fmt)?;
    let values: Vec<Id> = match arena.get(args) {
        Value::Tuple(items) => items.clone(),
        Value::Str(_)
        | Value::Int(_)
        | Value::Bool(_)
        | Value::None
        | Value::Bytes(_)
        | Value::ByteArray(_) => vec![args],
        // A list, dict or other object may be a mapping (no argument required) or print
        // as its repr: not folded.
        _ => return None,
    };
    let mut next = values.iter();
    let done = match ty {
        Ty::Str => {
            let f = str_of(arena, fmt)?;
            let mut s = String::with_capacity(f.len());
            let mut chars = f.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    s.push(c);
                    continue;
                }
                let conv = chars.next()?;
                if conv == '%' {
                    s.push('%');
                    continue;
                }
                let v = *next.next()?;
                match conv {
                    's' => s.push_str(&str_conv(arena, v)?),
                    'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                        s.push_str(&radix(int_conv(arena, v)?, conv))
                    }
                    'c' => match arena.get(v) {
                        Value::Str(_) => {
                            let t = str_of(arena, v)?;
                            let mut it = t.chars();
                            let (Some(c), None) = (it.next(), it.next()) else {
                                return None;
                            };
                            s.push(c);
                        }
                        _ => s.push(char::from_u32(u32::try_from(int_conv(arena, v)?).ok()?)?),
                    },
                    _ => return None,
                }
                if s.len() > MAX_FOLD {
                    return None;
                }
            }
            Seq::Str(s.chars().collect())
        }
        Ty::Bytes | Ty::ByteArray => {
            let f = bytes_of(arena, fmt)?;
            let mut s = Vec::with_capacity(f.len());
            let mut bytes = f.iter();
            while let Some(&c) = bytes.next() {
                if c != b'%' {
                    s.push(c);
                    continue;
                }
                let conv = *bytes.next()?;
                if conv == b'%' {
                    s.push(b'%');
                    continue;
                }
                let v = *next.next()?;
                match conv {
                    b's' | b'b' => s.extend_from_slice(bytes_of(arena, v)?),
                    b'd' | b'i' | b'u' | b'x' | b'X' | b'o' => {
                        s.extend_from_slice(
                            radix(int_conv(arena, v)?, char::from(conv)).as_bytes(),
                        );
                    }
                    b'c' => match bytes_of(arena, v) {
                        Some(&[b]) => s.push(b),
                        Some(_) => return None,
                        None => s.push(u8::try_from(int_conv(arena, v)?).ok()?),
                    },
                    _ => return None,
                }
                if s.len() > MAX_FOLD {
                    return None;
                }
            }
            Seq::Bytes(s)
        }
    };
    // Arguments left over: "not all arguments converted".
    if next.next().is_some() {
        return None;
    }
    out(ty, done)
}

/// `str.format(self, *args, **kwargs)` with plain replacement fields: `{}`, `{0}`, `{name}`,
/// no conversion, format spec, attribute or index; `{{` and `}}` escapes.
fn format(a: &Args<'_>) -> Option<Value> {
    let arena = a.arena;
    let fmt = *a.pos.first()?;
    if !Ty::Str.holds(arena, fmt) {
        return None;
    }
    let f: Vec<char> = str_of(arena, fmt)?.chars().collect();
    let args = &a.pos[1..];
    let mut s = String::with_capacity(f.len());
    // Automatic numbering and manual numbering cannot be mixed.
    let (mut auto, mut manual) = (0usize, false);
    let mut i = 0;
    while i < f.len() {
        match f[i] {
            '{' if f.get(i + 1) == Some(&'{') => {
                s.push('{');
                i += 2;
            }
            '}' if f.get(i + 1) == Some(&'}') => {
                s.push('}');
                i += 2;
            }
            '}' => return None,
            '{' => {
                let end = i + 1 + f[i + 1..].iter().position(|&c| c == '}')?;
                let field: String = f[i + 1..end].iter().collect();
                if field.contains(['{', '[', '.', '!', ':']) || !field.is_ascii() {
                    return None;
                }
                let v = if field.is_empty() {
                    if manual {
                        return None;
                    }
                    auto += 1;
                    *args.get(auto - 1)?
                } else if field.bytes().all(|c| c.is_ascii_digit()) {
                    if auto > 0 {
                        return None;
                    }
                    manual = true;
                    *args.get(field.parse::<usize>().ok()?)?
                } else {
                    a.kw.iter().find(|(k, _)| *k == field).map(|&(_, v)| v)?
                };
                s.push_str(&str_conv(arena, v)?);
                if s.len() > MAX_FOLD {
                    return None;
                }
                i = end + 1;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    str_value(s)
}
