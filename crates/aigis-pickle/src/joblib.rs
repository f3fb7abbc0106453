//! joblib's inline NumPy arrays.
//!
//! `joblib.dump` pickles each array as a `NumpyArrayWrapper` and, right after the BUILD that
//! sets the wrapper's state, writes the raw array bytes into the stream (preceded, in newer
//! versions, by one padding-length byte and that many padding bytes). For object arrays a
//! complete pickle follows instead. `joblib.load` reads them in `load_build`; so must we, or
//! the rest of the stream decodes as garbage.

use crate::value::{Arena, Id, Value};

/// Qualified names of the wrapper class.
pub(crate) const WRAPPERS: &[&str] = &[
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
];

/// What follows the BUILD of a wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArrayPayload {
    /// Raw bytes: `padded` says whether a padding-length byte comes first.
    Raw { padded: bool, bytes: u64 },
    /// A complete pickle (object dtype).
    Pickle,
}

/// Reads the wrapper state dict and works out what follows it.
pub(crate) fn payload(arena: &Arena, state: Id) -> Result<ArrayPayload, String> {
    let Value::Dict(pairs) = arena.get(state) else {
        return Err("wrapper state is not a dict".into());
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| arena.as_str(*k) == Some(name))
            .map(|&(_, v)| v)
    };
    let dtype = field("dtype").ok_or("wrapper state has no dtype")?;
    let (kind, itemsize) = dtype_itemsize(arena, dtype)?;
    if kind == DtypeKind::Object {
        return Ok(ArrayPayload::Pickle);
    }
    let shape = field("shape").ok_or("wrapper state has no shape")?;
    let dims = arena.tuple_items(shape).ok_or("shape is not a tuple")?;
    let mut count: u64 = 1;
    for &d in dims {
        let n = match arena.get(d) {
            Value::Int(n) if *n >= 0 => *n as u64,
            _ => return Err("shape holds a non-integer or negative dimension".into()),
        };
        count = count.checked_mul(n).ok_or("array size overflows")?;
    }
    let bytes = count.checked_mul(itemsize).ok_or("array size overflows")?;
    let padded =
        field("numpy_array_alignment_bytes").is_some_and(|v| !matches!(arena.get(v), Value::None));
    Ok(ArrayPayload::Raw { padded, bytes })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DtypeKind {
    Plain,
    Object,
}

/// Item size of a `numpy.dtype(...)` call value with its BUILD state.
fn dtype_itemsize(arena: &Arena, dtype: Id) -> Result<(DtypeKind, u64), String> {
    let Value::Call { args, state, .. } = arena.get(dtype) else {
        return Err("dtype is not a numpy.dtype(...) value".into());
    };
    let code = arena
        .tuple_items(*args)
        .and_then(|a| a.first())
        .and_then(|&c| arena.as_str(c))
        .ok_or("dtype code is not a string")?;
    // State: (version, byteorder, subdescr, names, fields, elsize, alignment, flags).
    let st = state.and_then(|s| arena.tuple_items(s)).unwrap_or(&[]);
    if let Some(&fields) = st.get(4)
        && has_object_field(arena, fields)
    {
        return Ok((DtypeKind::Object, 0));
    }
    let code = code.trim_start_matches(['<', '>', '=', '|']);
    if code.starts_with('O') {
        return Ok((DtypeKind::Object, 0));
    }
    if let Some(&el) = st.get(5)
        && let Value::Int(n) = arena.get(el)
        && *n > 0
    {
        return Ok((DtypeKind::Plain, *n as u64));
    }
    code_itemsize(code)
        .map(|n| (DtypeKind::Plain, n))
        .ok_or_else(|| format!("unknown dtype code {code:?}"))
}

fn has_object_field(arena: &Arena, fields: Id) -> bool {
    let mut found = false;
    arena.walk(fields, 10_000, |_, v| {
        if let Value::Call { args, .. } = v {
            let code = arena
                .tuple_items(*args)
                .and_then(|a| a.first())
                .and_then(|&c| arena.as_str(c));
            if code.is_some_and(|c| c.trim_start_matches(['<', '>', '=', '|']).starts_with('O')) {
                found = true;
            }
        }
    });
    found
}

/// Item size of a dtype code (`f8`, `U5`, `d`, `?`, ...).
pub(crate) fn code_itemsize(code: &str) -> Option<u64> {
    let mut chars = code.chars();
    let kind = chars.next()?;
    let digits = chars.as_str();
    if digits.is_empty() {
        return Some(match kind {
            '?' | 'b' | 'B' | 'c' => 1,
            'h' | 'H' | 'e' => 2,
            'i' | 'I' | 'f' => 4,
            'l' | 'L' | 'q' | 'Q' | 'd' | 'F' | 'p' | 'P' | 'M' | 'm' | 'n' | 'N' => 8,
            'g' | 'D' => 16,
            'G' => 32,
            _ => return None,
        });
    }
    // Datetime codes may carry a unit: M8[ns].
    let num: String = digits.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = num.parse().ok()?;
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'a' | 'V' => Some(n),
        'M' | 'm' => Some(8),
        'U' => n.checked_mul(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::code_itemsize;

    #[test]
    fn itemsizes() {
        assert_eq!(code_itemsize("f8"), Some(8));
        assert_eq!(code_itemsize("U5"), Some(20));
        assert_eq!(code_itemsize("b1"), Some(1));
        assert_eq!(code_itemsize("c16"), Some(16));
        assert_eq!(code_itemsize("M8[ns]"), Some(8));
        assert_eq!(code_itemsize("d"), Some(8));
        assert_eq!(code_itemsize("?"), Some(1));
        assert_eq!(code_itemsize("S3"), Some(3));
        assert_eq!(code_itemsize("x"), None);
    }
}
