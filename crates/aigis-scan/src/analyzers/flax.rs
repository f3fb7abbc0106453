//! Flax msgpack checkpoints (`flax.serialization.to_bytes`): a msgpack map of nested maps whose
//! leaves are arrays encoded as msgpack extension types — code 1 an ndarray
//! (`packb((shape, dtype_name, buffer))`), code 2 a native complex, code 3 a NumPy scalar
//! (`packb((dtype_name, buffer))`) — with large arrays split into `__msgpack_chunked_array__`
//! maps.
//!
//! msgpack cannot run code, so a well-formed checkpoint is clean; the analyzer checks the
//! structure (every length against the bytes left, array buffers against shape × dtype size,
//! nesting depth, no trailing data) and records parameter count and dtypes. The walk streams
//! over the source and skips buffers, so its cost does not grow with the weights (`rmpv` would
//! read every buffer into memory); markers are classified with `rmp`.
//!
//! Recognised by content: a top-level map with string keys that holds at least one Flax ndarray
//! extension. Other msgpack maps are declined.

use crate::analyzer::{Analyzer, Context, Input};
use crate::{ByteSource, Format, RuleId, SliceSource};
use rmp::Marker;
use std::collections::BTreeSet;

/// Deepest nesting followed.
const MAX_DEPTH: usize = 64;
/// Most msgpack values walked.
const MAX_NODES: u64 = 5_000_000;

/// Analyzer for Flax msgpack checkpoints.
pub struct FlaxAnalyzer;

#[derive(Default)]
struct Walk {
    pos: u64,
    nodes: u64,
    arrays: u64,
    params: u64,
    dtypes: BTreeSet<String>,
}

/// Item size of a NumPy dtype name Flax writes, if fixed.
fn itemsize(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "bool" | "int8" | "uint8" | "float8_e4m3fn" | "float8_e5m2" | "float8_e4m3b11fnuz"
        | "float8_e4m3fnuz" | "float8_e5m2fnuz" => 1,
        "int16" | "uint16" | "float16" | "bfloat16" => 2,
        "int32" | "uint32" | "float32" => 4,
        "int64" | "uint64" | "float64" | "complex64" => 8,
        "complex128" => 16,
        _ => return None,
    })
}

impl Walk {
    fn bytes(&self, src: &dyn ByteSource, n: usize) -> Result<Vec<u8>, String> {
        let got = src.read_vec(self.pos, n).map_err(|e| e.to_string())?;
        if got.len() < n {
            return Err(format!("msgpack data ends early at byte {}", self.pos));
        }
        Ok(got)
    }

    fn uint(&mut self, src: &dyn ByteSource, n: usize) -> Result<u64, String> {
        let b = self.bytes(src, n)?;
        self.pos += n as u64;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    fn skip(&mut self, src: &dyn ByteSource, n: u64) -> Result<(), String> {
        let end = self.pos.saturating_add(n);
        if end > src.len() {
            return Err(format!(
                "msgpack value at byte {} claims {n} bytes past the end",
                self.pos
            ));
        }
        self.pos = end;
        Ok(())
    }

    fn marker(&mut self, src: &dyn ByteSource) -> Result<Marker, String> {
        let b = self.bytes(src, 1)?;
        self.pos += 1;
        Ok(Marker::from_u8(b[0]))
    }

    /// Reads a string value (up to 256 bytes kept).
    fn string(&mut self, src: &dyn ByteSource) -> Result<Option<String>, String> {
        let len = match self.marker(src)? {
            Marker::FixStr(n) => u64::from(n),
            Marker::Str8 => self.uint(src, 1)?,
            Marker::Str16 => self.uint(src, 2)?,
            Marker::Str32 => self.uint(src, 4)?,
            Marker::Bin8 => self.uint(src, 1)?,
            Marker::Bin16 => self.uint(src, 2)?,
            Marker::Bin32 => self.uint(src, 4)?,
            _ => return Ok(None),
        };
        let keep = usize::try_from(len.min(256)).unwrap_or(256);
        let text = String::from_utf8_lossy(&self.bytes(src, keep)?).into_owned();
        self.skip(src, len)?;
        Ok(Some(text))
    }

    /// Walks one value; returns true if it was (or contained) a Flax array.
    fn value(&mut self, src: &dyn ByteSource, depth: usize) -> Result<bool, String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!("more than {MAX_NODES} msgpack values"));
        }
        if depth > MAX_DEPTH {
            return Err(format!("msgpack nesting deeper than {MAX_DEPTH}"));
        }
        let marker = self.marker(src)?;
        let (items, pairs) = match marker {
            Marker::Null | Marker::True | Marker::False | Marker::FixPos(_) | Marker::FixNeg(_) => {
                return Ok(false);
            }
            Marker::U8 | Marker::I8 => return self.skip(src, 1).map(|_| false),
            Marker::U16 | Marker::I16 => return self.skip(src, 2).map(|_| false),
            Marker::U32 | Marker::I32 | Marker::F32 => return self.skip(src, 4).map(|_| false),
            Marker::U64 | Marker::I64 | Marker::F64 => return self.skip(src, 8).map(|_| false),
            Marker::FixStr(n) => return self.skip(src, u64::from(n)).map(|_| false),
            Marker::Str8 | Marker::Bin8 => {
                let n = self.uint(src, 1)?;
                return self.skip(src, n).map(|_| false);
            }
            Marker::Str16 | Marker::Bin16 => {
                let n = self.uint(src, 2)?;
                return self.skip(src, n).map(|_| false);
            }
            Marker::Str32 | Marker::Bin32 => {
                let n = self.uint(src, 4)?;
                return self.skip(src, n).map(|_| false);
            }
            Marker::FixArray(n) => (u64::from(n), false),
            Marker::Array16 => (self.uint(src, 2)?, false),
            Marker::Array32 => (self.uint(src, 4)?, false),
            Marker::FixMap(n) => (u64::from(n), true),
            Marker::Map16 => (self.uint(src, 2)?, true),
            Marker::Map32 => (self.uint(src, 4)?, true),
            Marker::FixExt1 => return self.ext(src, 1),
            Marker::FixExt2 => return self.ext(src, 2),
            Marker::FixExt4 => return self.ext(src, 4),
            Marker::FixExt8 => return self.ext(src, 8),
            Marker::FixExt16 => return self.ext(src, 16),
            Marker::Ext8 => {
                let n = self.uint(src, 1)?;
                return self.ext(src, n);
            }
            Marker::Ext16 => {
                let n = self.uint(src, 2)?;
                return self.ext(src, n);
            }
            Marker::Ext32 => {
                let n = self.uint(src, 4)?;
                return self.ext(src, n);
            }
            Marker::Reserved => {
                return Err(format!(
                    "byte {} is the reserved msgpack marker 0xc1",
                    self.pos - 1
                ));
            }
        };
        let per_item = if pairs { 2 } else { 1 };
        // Every item takes at least one byte.
        if items.saturating_mul(per_item) > src.len().saturating_sub(self.pos) {
            return Err(format!(
                "msgpack container at byte {} claims {items} items, more than the bytes left",
                self.pos
            ));
        }
        let mut found = false;
        for _ in 0..items * per_item {
            found |= self.value(src, depth + 1)?;
        }
        Ok(found)
    }

    /// An extension value of `len` bytes: Flax's ndarray (1), complex (2) or scalar (3).
    fn ext(&mut self, src: &dyn ByteSource, len: u64) -> Result<bool, String> {
        let code = self.bytes(src, 1)?[0] as i8;
        self.pos += 1;
        let start = self.pos;
        self.skip(src, len)?;
        let payload = SliceSource::new(src, start, len);
        match code {
            1 => {
                let (shape, dtype, buffer) = ndarray_header(&payload)
                    .map_err(|e| format!("Flax ndarray at byte {start}: {e}"))?;
                let count = shape.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d));
                let count = count
                    .ok_or_else(|| format!("Flax ndarray at byte {start}: shape overflows"))?;
                if let Some(size) = itemsize(&dtype)
                    && count.checked_mul(size) != Some(buffer)
                {
                    return Err(format!(
                        "Flax ndarray at byte {start}: shape {shape:?} of {dtype} needs {} bytes, buffer has {buffer}",
                        count.saturating_mul(size)
                    ));
                }
                self.arrays += 1;
                self.params = self.params.saturating_add(count);
                if self.dtypes.len() < 64 {
                    self.dtypes.insert(dtype);
                }
                Ok(true)
            }
            2 | 3 => Ok(true),
            other => Err(format!(
                "unknown msgpack extension type {other} at byte {start}"
            )),
        }
    }
}

/// Parses `(shape, dtype_name, buffer)` and returns the shape, dtype and buffer length; the
/// buffer must end exactly at the end of the payload.
fn ndarray_header(payload: &dyn ByteSource) -> Result<(Vec<u64>, String, u64), String> {
    let mut w = Walk::default();
    let n = match w.marker(payload)? {
        Marker::FixArray(n) => n,
        _ => return Err("payload is not a (shape, dtype, buffer) triple".into()),
    };
    if n != 3 {
        return Err("payload is not a (shape, dtype, buffer) triple".into());
    }
    let dims = match w.marker(payload)? {
        Marker::FixArray(n) => u64::from(n),
        Marker::Array16 => w.uint(payload, 2)?,
        Marker::Array32 => w.uint(payload, 4)?,
        _ => return Err("shape is not an array".into()),
    };
    if dims > 64 {
        return Err(format!("{dims} dimensions"));
    }
    let mut shape = Vec::new();
    for _ in 0..dims {
        let d = match w.marker(payload)? {
            Marker::FixPos(v) => u64::from(v),
            Marker::U8 => w.uint(payload, 1)?,
            Marker::U16 => w.uint(payload, 2)?,
            Marker::U32 => w.uint(payload, 4)?,
            Marker::U64 => w.uint(payload, 8)?,
            _ => return Err("shape holds a non-integer".into()),
        };
        shape.push(d);
    }
    let dtype = w.string(payload)?.ok_or("dtype is not a string")?;
    let buffer = match w.marker(payload)? {
        Marker::Bin8 | Marker::Str8 => w.uint(payload, 1)?,
        Marker::Bin16 | Marker::Str16 => w.uint(payload, 2)?,
        Marker::Bin32 | Marker::Str32 => w.uint(payload, 4)?,
        Marker::FixStr(n) => u64::from(n),
        _ => return Err("buffer is not bytes".into()),
    };
    if w.pos.checked_add(buffer) != Some(payload.len()) {
        return Err(format!(
            "buffer of {buffer} bytes does not fill the {}-byte payload",
            payload.len()
        ));
    }
    Ok((shape, dtype, buffer))
}

impl Analyzer for FlaxAnalyzer {
    fn id(&self) -> &'static str {
        "flax"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        // A non-empty map whose first key is a string.
        match head {
            [0x81..=0x8f, k, ..] | [0xde, _, _, k, ..] | [0xdf, _, _, _, _, k, ..] => {
                matches!(k, 0xa0..=0xbf | 0xd9..=0xdb)
            }
            _ => false,
        }
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let src = input.source;
        let mut walk = Walk::default();
        let result = walk.value(src, 0);
        let trailing = result.is_ok() && walk.pos != src.len();
        if walk.arrays == 0 {
            // No Flax array was reached: not (recognisably) a Flax checkpoint.
            return None;
        }
        match result {
            Err(err) => cx.malformed(RuleId::FormatMalformed, err, None),
            Ok(_) if trailing => {
                let msg = format!(
                    "{} bytes follow the checkpoint's msgpack value",
                    src.len() - walk.pos
                );
                cx.malformed(RuleId::FormatMalformed, msg, Some(walk.pos));
            }
            Ok(_) => {}
        }
        let model = cx.model();
        model.set_framework("flax");
        model.add_parameters(walk.params);
        model.dtypes.extend(walk.dtypes);
        Some(Format::Flax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;

    fn ndarray(shape: &[u8], dtype: &str, buffer: &[u8]) -> Vec<u8> {
        let mut inner = vec![0x93, 0x90 | shape.len() as u8];
        inner.extend(shape);
        inner.push(0xa0 | dtype.len() as u8);
        inner.extend(dtype.as_bytes());
        inner.extend([0xc4, buffer.len() as u8]);
        inner.extend(buffer);
        let mut out = vec![0xc7, inner.len() as u8, 1];
        out.extend(inner);
        out
    }

    #[test]
    fn header_checks_buffer_size() {
        let ext = ndarray(&[2], "float16", &[0; 4]);
        let payload = MemorySource::new(ext[3..].to_vec());
        assert_eq!(
            ndarray_header(&payload),
            Ok((vec![2], "float16".to_string(), 4))
        );
        let mut w = Walk::default();
        let doc = [vec![0x81, 0xa1, b'w'], ndarray(&[3], "float16", &[0; 4])].concat();
        let src = MemorySource::new(doc);
        assert!(w.value(&src, 0).is_err());
    }

    #[test]
    fn hostile_counts_fail_fast() {
        let src = MemorySource::new(vec![0x81, 0xa1, b'a', 0xdf, 0xff, 0xff, 0xff, 0xff]);
        let mut w = Walk::default();
        assert!(w.value(&src, 0).is_err());
        let deep = [[0x81, 0xa1, b'a'].repeat(100), vec![0xc0]].concat();
        let mut w = Walk::default();
        assert!(w.value(&MemorySource::new(deep), 0).is_err());
    }
}
