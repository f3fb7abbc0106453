//! The `descr` of a `.npy` header resolved as numpy resolves it: `numpy.lib.format.descr_to_dtype`
//! over the literal, and `np.dtype(str)` (`_convert_from_str` in `descriptor.c`) for every
//! string in it — byte-order prefixes, one-character type codes (including the type numbers
//! below 24: `'\x11'` is object), kind + size (`'O8'`, with `strtol`'s leading whitespace and
//! sign), comma strings (`'i4,O'`, `'2O'`, via `_commastring`), subarrays and the `sctypeDict`
//! names (`'object'`). The answer that matters is whether the dtype holds Python objects
//! (`dtype.hasobject`): then `numpy.load` unpickles the data.

use super::literal::{self, Value};

/// What numpy makes of a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    /// `dtype.hasobject`: the array data is a pickle.
    pub has_object: bool,
    /// `dtype.type is numpy.void` (void, subarray or structured).
    pub void: bool,
    /// `dtype.names is not None`.
    pub fields: bool,
    /// An flexible flexible type (`S0`, `U0`, `V0`), whose size a tuple can set.
    pub flexible: bool,
    /// `dtype.itemsize`, when known.
    pub itemsize: Option<u64>,
}

impl Dtype {
    fn plain(itemsize: Option<u64>) -> Dtype {
        Dtype {
            has_object: false,
            void: false,
            fields: false,
            flexible: false,
            itemsize,
        }
    }

    fn object() -> Dtype {
        Dtype {
            has_object: true,
            ..Dtype::plain(Some(8))
        }
    }
}

/// Why numpy refuses the descriptor.
pub type Reject = String;

/// Nesting of descriptors followed (numpy's own limit is Python's recursion limit).
const MAX_DEPTH: usize = 64;

/// `numpy.lib.format.descr_to_dtype(descr)`.
pub fn descr_to_dtype(descr: &Value) -> Result<Dtype, Reject> {
    descr_at(descr, 0)
}

fn deeper(depth: usize) -> Result<usize, Reject> {
    if depth >= MAX_DEPTH {
        return Err("descriptor nested too deeply".into());
    }
    Ok(depth + 1)
}

/// The items Python's `for x in value` yields, for the types a literal can have.
fn iterate(value: &Value) -> Result<Vec<Value>, Reject> {
    Ok(match value {
        Value::Str(s) => s.chars().map(|c| Value::Str(c.to_string())).collect(),
        Value::Bytes(b) => b.iter().map(|&x| Value::Int(Some(i128::from(x)))).collect(),
        Value::Tuple(v) | Value::List(v) | Value::Set(v) => v.clone(),
        Value::Dict(pairs) => pairs.iter().map(|(k, _)| k.clone()).collect(),
        other => return Err(format!("{} is not iterable", type_name(other))),
    })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Complex(..) => "complex",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::Ellipsis => "ellipsis",
        Value::Tuple(_) => "tuple",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Dict(_) => "dict",
    }
}

fn descr_at(descr: &Value, depth: usize) -> Result<Dtype, Reject> {
    let depth = deeper(depth)?;
    match descr {
        Value::Str(s) => from_str(s, depth),
        Value::Tuple(items) => {
            let base = items.first().ok_or("tuple index out of range")?;
            let dt = descr_at(base, depth)?;
            let shape = items.get(1).ok_or("tuple index out of range")?;
            with_tuple(dt, shape, depth)
        }
        _ => fields(descr, depth),
    }
}

/// The structured branch of `descr_to_dtype`: padding fields dropped, the rest given to
/// `np.dtype({'names', 'formats', 'titles', 'offsets', 'itemsize'})`.
fn fields(descr: &Value, depth: usize) -> Result<Dtype, Reject> {
    let mut names: Vec<Value> = Vec::new();
    let mut has_object = false;
    let mut size: Option<u64> = Some(0);
    for field in iterate(descr)? {
        let parts = match &field {
            Value::Str(_) | Value::Bytes(_) | Value::Tuple(_) | Value::List(_) => iterate(&field)?,
            Value::Set(_) | Value::Dict(_) => iterate(&field)?,
            other => return Err(format!("object of type {} has no len()", type_name(other))),
        };
        let (name, dt) = match parts.as_slice() {
            [name, descr] => (name, descr_at(descr, depth)?),
            [name, descr, shape] => (name, with_tuple(descr_at(descr, depth)?, shape, depth)?),
            _ => {
                return Err(format!(
                    "field {} has {} elements, not 2 or 3",
                    describe(&field),
                    parts.len()
                ));
            }
        };
        size = size.zip(dt.itemsize).and_then(|(a, b)| a.checked_add(b));
        let is_pad = matches!(name, Value::Str(s) if s.is_empty()) && dt.void && !dt.fields;
        if is_pad {
            continue;
        }
        let (title, name) = match name {
            Value::Tuple(pair) => match pair.as_slice() {
                [title, name] => (Some(title.clone()), name.clone()),
                _ => return Err("a field's (title, name) tuple must have two elements".into()),
            },
            other => (None, other.clone()),
        };
        let Value::Str(_) = name else {
            return Err("field names must be strings".into());
        };
        if names.iter().any(|n| n.py_eq(&name)) {
            return Err(format!("field {} occurs more than once", describe(&name)));
        }
        names.push(name);
        if let Some(title @ Value::Str(_)) = title {
            if names.iter().any(|n| n.py_eq(&title)) {
                return Err("title already used as a name or title".into());
            }
            names.push(title);
        }
        has_object |= dt.has_object;
    }
    Ok(Dtype {
        has_object,
        void: true,
        fields: true,
        flexible: false,
        itemsize: size,
    })
}

fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("{s:?}"),
        other => type_name(other).to_string(),
    }
}

/// `np.dtype((dt, second))`: a subarray shape, an itemsize for flexible types, or the
/// `(base, new)` form, which numpy refuses whenever an object dtype is involved.
fn with_tuple(dt: Dtype, second: &Value, depth: usize) -> Result<Dtype, Reject> {
    let ints = |items: &[Value]| -> Option<Vec<i128>> {
        items
            .iter()
            .map(|v| match v {
                Value::Int(Some(n)) => Some(*n),
                Value::Int(None) => Some(i128::MAX),
                Value::Bool(b) => Some(i128::from(*b)),
                _ => None,
            })
            .collect()
    };
    let shape: Option<Vec<i128>> = match second {
        Value::Int(Some(n)) => Some(vec![*n]),
        Value::Int(None) => Some(vec![i128::MAX]),
        Value::Tuple(items) | Value::List(items) => ints(items),
        _ => None,
    };
    let Some(shape) = shape else {
        // `(base, new)` with `new` a dtype, or invalid; neither unpickles anything.
        if dt.has_object || mentions_object(second, depth) {
            return Err(
                "dtypes of the form (old_dtype, new_dtype) containing the object dtype are not \
                 supported"
                    .into(),
            );
        }
        let converts = match second {
            Value::Str(s) => from_str(s, depth).is_ok(),
            Value::None | Value::List(_) | Value::Dict(_) | Value::Tuple(_) => true,
            _ => false,
        };
        if !converts {
            return Err("invalid shape in fixed-type tuple".into());
        }
        return Ok(Dtype::plain(None));
    };
    // `PyDataType_ISUNSIZED`: size 0 and no fields (`S0`, `V0`, a subarray of 0 items).
    if dt.flexible || (dt.itemsize == Some(0) && !dt.fields) {
        return match second {
            Value::Int(Some(n)) if *n >= 0 => Ok(Dtype {
                flexible: *n == 0,
                itemsize: u64::try_from(*n).ok(),
                ..dt
            }),
            _ => Err("invalid itemsize in generic type tuple".into()),
        };
    }
    if matches!(second, Value::Tuple(items) if items.is_empty()) {
        return Ok(dt);
    }
    if shape.len() > 64 {
        return Err("invalid shape in fixed-type tuple".into());
    }
    let mut items: i128 = 1;
    for &dim in &shape {
        if dim < 0 {
            return Err("invalid shape in fixed-type tuple: dimension smaller then zero".into());
        }
        if dim > i128::from(i32::MAX) {
            return Err(
                "invalid shape in fixed-type tuple: dimension does not fit into a C int".into(),
            );
        }
        items = items.saturating_mul(dim);
    }
    let elsize = i128::from(dt.itemsize.unwrap_or(0));
    if items > i128::from(i32::MAX) || items.saturating_mul(elsize) > i128::from(i32::MAX) {
        return Err(
            "invalid shape in fixed-type tuple: dtype size in bytes must fit into a C int".into(),
        );
    }
    Ok(Dtype {
        has_object: dt.has_object,
        void: true,
        fields: false,
        flexible: false,
        itemsize: dt.itemsize.map(|e| e.saturating_mul(items as u64)),
    })
}

/// Whether `value`, read as a dtype, would contain an object dtype anywhere.
fn mentions_object(value: &Value, depth: usize) -> bool {
    if depth >= MAX_DEPTH {
        return true;
    }
    match value {
        Value::Str(s) => from_str(s, depth).is_ok_and(|d| d.has_object),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            items.iter().any(|v| mentions_object(v, depth + 1))
        }
        Value::Dict(pairs) => pairs
            .iter()
            .any(|(k, v)| mentions_object(k, depth + 1) || mentions_object(v, depth + 1)),
        _ => false,
    }
}

/// Names in numpy 2's `np.sctypeDict` (looked up with the whole string, byte order included).
const TYPE_DICT: &[(&str, Option<u64>)] = &[
    ("a", None),
    ("bool", Some(1)),
    ("bool_", Some(1)),
    ("byte", Some(1)),
    ("bytes", None),
    ("bytes_", None),
    ("cdouble", Some(16)),
    ("clongdouble", Some(32)),
    ("complex", Some(16)),
    ("complex128", Some(16)),
    ("complex256", Some(32)),
    ("complex64", Some(8)),
    ("csingle", Some(8)),
    ("datetime64", Some(8)),
    ("double", Some(8)),
    ("float", Some(8)),
    ("float128", Some(16)),
    ("float16", Some(2)),
    ("float32", Some(4)),
    ("float64", Some(8)),
    ("half", Some(2)),
    ("int", Some(8)),
    ("int16", Some(2)),
    ("int32", Some(4)),
    ("int64", Some(8)),
    ("int8", Some(1)),
    ("int_", Some(8)),
    ("intc", Some(4)),
    ("intp", Some(8)),
    ("long", Some(8)),
    ("longdouble", Some(16)),
    ("longlong", Some(8)),
    ("short", Some(2)),
    ("single", Some(4)),
    ("str", None),
    ("str_", None),
    ("timedelta64", Some(8)),
    ("ubyte", Some(1)),
    ("uint", Some(8)),
    ("uint16", Some(2)),
    ("uint32", Some(4)),
    ("uint64", Some(8)),
    ("uint8", Some(1)),
    ("uintc", Some(4)),
    ("uintp", Some(8)),
    ("ulong", Some(8)),
    ("ulonglong", Some(8)),
    ("unicode", None),
    ("ushort", Some(2)),
    ("void", None),
];

/// `sctypeDict` names of the object type.
const OBJECT_NAMES: &[&str] = &["object", "object_"];

/// One-character type codes (`PyArray_DescrFromType` of the character's code): the letters (`a`
/// only through `sctypeDict`, so `'|a'` is refused), and
/// the type numbers 0–23 as control characters. `O` and type number 17 are object; `T` is
/// `StringDType`, whose `hasobject` is true as well.
fn type_code(c: u8) -> Option<Dtype> {
    let size = match c {
        b'O' | 17 | b'T' => return Some(Dtype::object()),
        b'S' | 18 | b'U' | 19 => {
            return Some(Dtype {
                flexible: true,
                ..Dtype::plain(Some(0))
            });
        }
        b'V' | 20 => {
            return Some(Dtype {
                void: true,
                flexible: true,
                ..Dtype::plain(Some(0))
            });
        }
        b'?' | b'b' | b'B' | 0..=2 => 1,
        b'h' | b'H' | 3 | 4 | b'e' | 23 => 2,
        b'i' | b'I' | 5 | 6 | b'f' | 11 => 4,
        b'l' | b'L' | b'q' | b'Q' | b'n' | b'N' | b'p' | b'P' | 7..=10 | b'd' | 12 => 8,
        b'M' | b'm' | 21 | 22 | b'F' | 14 => 8,
        b'c' => 1,
        b'g' | 13 | b'D' | 15 => 16,
        b'G' | 16 => 32,
        _ => return None,
    };
    Some(Dtype::plain(Some(size)))
}

/// `PyArray_TypestrConvert(elsize, kind)` for the kinds numpy sizes (`f8`, `O8`, …).
fn typestr(kind: u8, size: u64) -> Option<Dtype> {
    let ok = match kind {
        b'O' => return matches!(size, 4 | 8).then(Dtype::object),
        b'b' => size == 1,
        b'i' | b'u' => matches!(size, 1 | 2 | 4 | 8),
        b'f' => matches!(size, 2 | 4 | 8 | 16),
        b'c' => matches!(size, 8 | 16 | 32),
        b'M' | b'm' => size == 8,
        b'a' => true,
        _ => false,
    };
    ok.then(|| Dtype::plain(Some(size)))
}

/// C `isspace` (what `strtol` skips).
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtol(s, &end, 10)`: the value (saturated) and how many bytes it consumed (0 when none).
fn strtol(s: &[u8]) -> (i128, usize) {
    let mut i = 0;
    while s.get(i).copied().is_some_and(c_space) {
        i += 1;
    }
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let start = i;
    let mut value: i128 = 0;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        value = value
            .saturating_mul(10)
            .saturating_add(i128::from(d - b'0'));
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (if negative { -value } else { value }, i)
}

fn is_byteorder(b: u8) -> bool {
    matches!(b, b'<' | b'>' | b'|' | b'=')
}

/// `_check_for_commastring`.
fn is_commastring(s: &[u8]) -> bool {
    let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    if digit(0) || (s.len() > 1 && is_byteorder(s[0]) && digit(1)) {
        return true;
    }
    if (s.len() > 1 && s.starts_with(b"()"))
        || (s.len() > 3 && is_byteorder(s[0]) && s[1..].starts_with(b"()"))
    {
        return true;
    }
    let mut brackets = 0i64;
    for &b in s {
        match b {
            b',' if brackets == 0 => return true,
            b'[' => brackets += 1,
            b']' => brackets -= 1,
            _ => {}
        }
    }
    false
}

/// `np.dtype(s)` for a string.
pub fn from_str(s: &str, depth: usize) -> Result<Dtype, Reject> {
    let depth = deeper(depth)?;
    let not_understood = || format!("data type {s:?} not understood");
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(not_understood());
    }
    if is_commastring(bytes) {
        return commastring(s, depth);
    }
    let rest = if is_byteorder(bytes[0]) {
        &bytes[1..]
    } else {
        bytes
    };
    if rest.is_empty() {
        return Err(not_understood());
    }
    if (rest.len() >= 2 && rest[1] == b'8' && matches!(rest[0], b'M' | b'm'))
        || rest.starts_with(b"datetime64")
        || rest.starts_with(b"timedelta64")
    {
        return datetime(rest).ok_or_else(not_understood);
    }
    let typedict = || -> Result<Dtype, Reject> {
        if OBJECT_NAMES.contains(&s) {
            return Ok(Dtype::object());
        }
        if let Some((_, size)) = TYPE_DICT.iter().find(|(name, _)| *name == s) {
            return Ok(match size {
                Some(size) => Dtype::plain(Some(*size)),
                None => Dtype {
                    flexible: true,
                    void: s == "void",
                    ..Dtype::plain(Some(0))
                },
            });
        }
        Err(not_understood())
    };
    if rest.len() == 1 {
        return match type_code(rest[0]) {
            Some(dt) => Ok(dt),
            None => typedict(),
        };
    }
    let tail = &rest[1..];
    let (value, used) = strtol(tail);
    if !(0..=i128::from(i32::MAX)).contains(&value) {
        return Err(not_understood());
    }
    if used > 0 && used == tail.len() {
        let size = value as u64;
        return match rest[0] {
            b'S' => Ok(Dtype {
                flexible: size == 0,
                ..Dtype::plain(Some(size))
            }),
            b'U' => {
                if value > i128::from(i32::MAX / 4) {
                    return Err(not_understood());
                }
                Ok(Dtype {
                    flexible: size == 0,
                    ..Dtype::plain(Some(size * 4))
                })
            }
            b'V' => Ok(Dtype {
                void: true,
                flexible: size == 0,
                ..Dtype::plain(Some(size))
            }),
            _ if size == 0 => typedict(),
            kind => match typestr(kind, size) {
                Some(dt) => Ok(dt),
                None => typedict(),
            },
        };
    }
    if used > 0 && tail[..used].contains(&0) {
        return Err(not_understood());
    }
    typedict()
}

/// `M8`, `m8[ns]`, `datetime64[2D]`: never objects; the unit is checked loosely.
fn datetime(rest: &[u8]) -> Option<Dtype> {
    let body = if rest.starts_with(b"datetime64") {
        &rest[10..]
    } else if rest.starts_with(b"timedelta64") {
        &rest[11..]
    } else {
        &rest[2..]
    };
    if body.is_empty() {
        return Some(Dtype::plain(Some(8)));
    }
    let inner = body.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let unit: Vec<u8> = inner
        .iter()
        .copied()
        .skip_while(u8::is_ascii_digit)
        .collect();
    const UNITS: &[&[u8]] = &[
        b"Y",
        b"M",
        b"W",
        b"D",
        b"h",
        b"m",
        b"s",
        b"ms",
        b"us",
        b"ns",
        b"ps",
        b"fs",
        b"as",
        b"generic",
        "\u{3bc}s".as_bytes(),
    ];
    UNITS
        .contains(&unit.as_slice())
        .then(|| Dtype::plain(Some(8)))
}

/// Python's `str.isspace` for one character.
fn py_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ' | '\u{85}') || c.is_whitespace()
}

/// `numpy._core._internal._commastring`, then `np.dtype` of its result.
fn commastring(astr: &str, depth: usize) -> Result<Dtype, Reject> {
    let chars: Vec<char> = astr.chars().collect();
    let not_recognized = |n: usize| format!("format number {n} of {astr:?} is not recognized");
    let order_char = |c: Option<&char>| c.copied().filter(|c| matches!(c, '<' | '>' | '|' | '='));
    let mut pos = 0;
    let mut items: Vec<(String, Option<Value>)> = Vec::new();
    let mut islist = false;
    while pos < chars.len() {
        // format_re
        let order1 = order_char(chars.get(pos));
        if order1.is_some() {
            pos += 1;
        }
        let rep_start = pos;
        while chars.get(pos) == Some(&' ') {
            pos += 1;
        }
        if chars.get(pos) == Some(&'(') {
            pos += 1;
        }
        while chars
            .get(pos)
            .is_some_and(|c| *c == ' ' || *c == ',' || c.is_ascii_digit())
        {
            pos += 1;
        }
        if chars.get(pos) == Some(&')') {
            pos += 1;
        }
        while chars.get(pos) == Some(&' ') {
            pos += 1;
        }
        let repeats: String = chars[rep_start..pos].iter().collect();
        let order2 = order_char(chars.get(pos));
        if order2.is_some() {
            pos += 1;
        }
        let dt_start = pos;
        while chars
            .get(pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '?')
        {
            pos += 1;
        }
        if chars.get(pos) == Some(&'[') {
            let mut end = pos + 1;
            while chars
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == ',' || *c == '.')
            {
                end += 1;
            }
            if end > pos + 1 && chars.get(end) == Some(&']') {
                pos = end + 1;
            }
        }
        let dtype: String = chars[dt_start..pos].iter().collect();
        // Separator or trailing whitespace.
        if pos < chars.len() {
            if chars[pos..].iter().all(|c| py_space(*c)) {
                pos = chars.len();
            } else {
                let mut p = pos;
                while chars.get(p).is_some_and(|c| py_space(*c)) {
                    p += 1;
                }
                if chars.get(p) != Some(&',') {
                    return Err(not_recognized(items.len() + 1));
                }
                p += 1;
                while chars.get(p).is_some_and(|c| py_space(*c)) {
                    p += 1;
                }
                pos = p;
                islist = true;
            }
        }
        let native = |o: char| if o == '=' { '<' } else { o };
        let order = match (order1, order2) {
            (o, None) | (None, o) => o,
            (Some(a), Some(b)) => {
                if native(a) != native(b) {
                    return Err(format!("inconsistent byte-order specification {a} and {b}"));
                }
                Some(native(a))
            }
        };
        let order = match order {
            Some('|' | '=' | '<') | None => String::new(),
            Some(o) => o.to_string(),
        };
        let spec = format!("{order}{dtype}");
        // `_commastring` evaluates the repeats as it goes (`ast.literal_eval`).
        let repeats = if repeats.is_empty() {
            None
        } else {
            let shape = literal::literal_eval(&repeats, literal::Options::default())
                .map_err(|e| format!("repeats {repeats:?}: {e}"))?;
            Some(shape.value)
        };
        items.push((spec, repeats));
    }
    // `_convert_from_list` ignores a last empty format (`'i4,O, |'`).
    if items.len() > 1
        && items
            .last()
            .is_some_and(|(spec, repeats)| spec.is_empty() && repeats.is_none())
    {
        items.pop();
    }
    let resolve = |(spec, repeats): &(String, Option<Value>)| -> Result<Dtype, Reject> {
        let dt = from_str(spec, depth)?;
        match repeats {
            None => Ok(dt),
            Some(shape) => with_tuple(dt, shape, depth),
        }
    };
    if !islist {
        return match items.first() {
            Some(item) => resolve(item),
            None => Err(not_recognized(1)),
        };
    }
    let mut out = Dtype {
        has_object: false,
        void: true,
        fields: true,
        flexible: false,
        itemsize: Some(0),
    };
    for item in &items {
        let dt = resolve(item)?;
        out.has_object |= dt.has_object;
        out.itemsize = out
            .itemsize
            .zip(dt.itemsize)
            .and_then(|(a, b)| a.checked_add(b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(s: &str) -> Option<bool> {
        from_str(s, 0).ok().map(|d| d.has_object)
    }

    #[test]
    fn object_spellings() {
        for s in [
            "O", "|O", "<O", ">O", "=O", "O8", "O4", "object", "object_", "O 8", "O+8", "O\t8",
            "\x11", "|\x11", "i4,O", "2O", "O,", "(2,)O", "O8,i4", "O08", "b1,O", "T",
        ] {
            assert_eq!(object(s), Some(true), "{s:?}");
        }
        for s in [
            "<f4", "a", "c", "S", "U", "V8", "M8", "m8[s]", "i4,f8", "float64",
        ] {
            assert_eq!(object(s), Some(false), "{s:?}");
        }
        for s in [
            "O16", "O0", "|object", "(2)O", ",O", "[O]", "O:x", "object0", "Object", "o", "O 08 ",
            "i0", "", "|",
        ] {
            assert_eq!(object(s), None, "{s:?}");
        }
    }

    fn descr(text: &str) -> Result<Dtype, Reject> {
        let value = literal::literal_eval(text, literal::Options::default())
            .map_err(|e| e.to_string())?
            .value;
        descr_to_dtype(&value)
    }

    #[test]
    fn structured_descriptors() {
        let has = |t: &str| descr(t).map(|d| d.has_object);
        assert_eq!(has("[('a', '<i4'), ('b', '|O')]"), Ok(true));
        assert_eq!(has("[('', 'O')]"), Ok(true));
        assert_eq!(has("[('', 'O', (2,))]"), Ok(false)); // a void subarray named '' is padding
        assert_eq!(has("['aO']"), Ok(true));
        assert_eq!(has("{'aO': 1}"), Ok(true));
        assert_eq!(has("[(('t', 'n'), 'O')]"), Ok(true));
        assert_eq!(has("[('a', [('b', [('c', 'O')])])]"), Ok(true));
        assert_eq!(has("('O', (2, 3))"), Ok(true));
        assert_eq!(has("('O', [2])"), Ok(true));
        assert!(has("[('a', 'i8', 'O')]").is_err());
        assert!(has("[('a', 'O'), ('a', 'i4')]").is_err());
        assert!(has("('O', 2.0)").is_err());
        assert!(has("('O', True)").is_err());
        assert!(has("'xO'").is_err());
        assert!(has("5").is_err());
    }
}
