//! Protobuf wire-format helpers shared by the ONNX and TensorFlow analyzers.
//!
//! Protobuf has no magic number, and ONNX models or frozen graphs can be gigabytes of tensor
//! data. So instead of handing the whole file to `prost`, [`prune`] walks the wire format through
//! a [`ByteSource`] and copies out only the fields a [`Schema`] marks as kept — graph structure,
//! names, shapes, external-data locations. Tensor payloads are skipped by advancing an offset:
//! they are never read, let alone copied (only packed varint arrays, which a parser must decode
//! to accept, are read through). `prost` then decodes the small pruned buffer into the
//! generated structs of `aigis-proto`. The wire format is walked as protobuf's own parsers walk
//! it (see [`prune`]), so what a loader reads, aigis reads. [`head_matches`] checks the first bytes
//! against the same schemas to recognise a format by content.

use crate::ByteSource;
use std::borrow::Cow;
use std::io;

/// What a known field holds; decides the wire types accepted and how the field is handled. A
/// known field on the wire with a wire type its kind does not take is an unknown field, as
/// protobuf parsers treat it (skipped, never an error).
#[derive(Clone, Copy)]
pub enum Kind {
    /// A varint (wire type 0).
    Varint,
    /// A repeated varint: unpacked (wire type 0) or packed (2).
    Varints,
    /// A repeated 32-bit fixed-width scalar (`float`): unpacked (5) or packed (2).
    Fixed32s,
    /// A repeated 64-bit fixed-width scalar (`double`): unpacked (1) or packed (2).
    Fixed64s,
    /// One 32-bit fixed-width scalar (wire type 5).
    Fixed32,
    /// Any scalar or packed repeated scalar (wire types 0, 1, 2, 5), not checked.
    Scalar,
    /// Length-delimited bytes, not checked.
    Bytes,
    /// Length-delimited UTF-8 text (checked when sniffing).
    Text,
    /// A proto2 `string`: protobuf does not check that it is UTF-8, so it is kept with invalid
    /// sequences replaced by U+FFFD (checked like [`Kind::Text`] when sniffing).
    LossyText,
    /// A proto2 `string` that may hold any bytes (a file path): kept as [`Kind::LossyText`], not
    /// checked when sniffing.
    AnyText,
    /// A nested message with its own schema. Kept, its kept fields are copied; not kept, it is
    /// still walked (a parser parses it) and must be well formed.
    Message(&'static Schema),
}

impl Kind {
    /// Whether a field of this kind may come with wire type `wire`.
    fn fits(self, wire: u8) -> bool {
        match self {
            Kind::Varint => wire == 0,
            Kind::Varints => matches!(wire, 0 | 2),
            Kind::Fixed32s => matches!(wire, 5 | 2),
            Kind::Fixed64s => matches!(wire, 1 | 2),
            Kind::Fixed32 => wire == 5,
            Kind::Scalar => matches!(wire, 0 | 1 | 2 | 5),
            Kind::Bytes | Kind::Text | Kind::LossyText | Kind::AnyText | Kind::Message(_) => {
                wire == 2
            }
        }
    }
}

/// The fields of one message type: `(number, kind, kept)`. Unlisted fields are unknown: skipped
/// when pruning and, unless `open`, a sign when sniffing that the bytes are not this message.
pub struct Schema {
    /// Message name, for error messages.
    pub name: &'static str,
    /// Known fields.
    pub fields: &'static [(u32, Kind, bool)],
    /// Whether unknown fields are expected (message types that grow often).
    pub open: bool,
}

impl Schema {
    pub(crate) fn field(&self, number: u32) -> Option<(Kind, bool)> {
        self.fields
            .iter()
            .find(|(n, _, _)| *n == number)
            .map(|&(_, kind, keep)| (kind, keep))
    }
}

/// Why pruning stopped.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The bytes end inside a field, or a length runs past its enclosing message.
    #[error("truncated or corrupt protobuf: {what} at byte {offset}")]
    Corrupt {
        /// What was wrong.
        what: String,
        /// Where.
        offset: u64,
    },
    /// Messages nest deeper than the limit.
    #[error("messages nested deeper than {0} levels")]
    TooDeep(usize),
    /// The kept fields exceed the output limit.
    #[error("more than {0} bytes of graph structure (tensor data excluded)")]
    TooLarge(usize),
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// Limits of one [`prune`] run.
#[derive(Debug, Clone, Copy)]
pub struct PruneLimits {
    /// Messages and groups may nest below the top-level message to depth `max_depth - 1`
    /// (protobuf and prost refuse more than 100 levels).
    pub max_depth: usize,
    /// Maximum size of the pruned output.
    pub max_output: usize,
}

/// Copies the kept fields of the message spanning all of `source` into a new buffer that
/// decodes as the same message with every other field absent.
///
/// The wire format is read as protobuf (upb, and C++ protobuf alike) reads it: field keys and
/// lengths of at most 5 bytes (a key at most `u32::MAX`, a length below 2^31), varints of at most
/// 10 bytes (bits past 64 dropped), groups (wire types 3 and 4) skipped to their matching end, a
/// known field with a wire type its kind does not take skipped as unknown, known submessages
/// parsed even when not kept, packed bodies whole. Kept fields are written canonically (minimal
/// varints), so what protobuf accepts `prost` decodes; what it refuses is [`PruneError::Corrupt`].
pub fn prune(
    source: &dyn ByteSource,
    schema: &'static Schema,
    limits: PruneLimits,
) -> Result<Vec<u8>, PruneError> {
    let mut reader = Reader::new(source);
    let mut out = Vec::new();
    let mut walk = Walk {
        reader: &mut reader,
        limits,
    };
    walk.message(0, source.len(), schema, 0, Some(&mut out))?;
    Ok(out)
}

fn corrupt(what: impl Into<String>, offset: u64) -> PruneError {
    PruneError::Corrupt {
        what: what.into(),
        offset,
    }
}

/// Longest field key and length prefix protobuf reads.
const MAX_KEY_BYTES: u64 = 5;

struct Walk<'r, 'a> {
    reader: &'r mut Reader<'a>,
    limits: PruneLimits,
}

impl Walk<'_, '_> {
    /// A field key: at most 5 bytes, a `u32`, field number not 0.
    fn key(&mut self, pos: &mut u64, end: u64) -> Result<(u32, u8, u64), PruneError> {
        let start = *pos;
        let key = self.reader.varint(pos, end)?;
        if *pos - start > MAX_KEY_BYTES || key > u64::from(u32::MAX) {
            return Err(corrupt(
                "field key longer than 5 bytes or past 32 bits",
                start,
            ));
        }
        let (number, wire) = split_key(key).ok_or_else(|| corrupt("bad field key", start))?;
        Ok((number, wire, key))
    }

    /// A length prefix: at most 5 bytes, below 2^31, the body inside `end`.
    fn body(&mut self, pos: &mut u64, end: u64, field_start: u64) -> Result<u64, PruneError> {
        let start = *pos;
        let len = self.reader.varint(pos, end)?;
        if *pos - start > MAX_KEY_BYTES || len >= i32::MAX as u64 {
            return Err(corrupt("length longer than 5 bytes or past 2^31", start));
        }
        let body = *pos;
        *pos = body
            .checked_add(len)
            .filter(|&p| p <= end)
            .ok_or_else(|| corrupt("length past the end of its message", field_start))?;
        Ok(body)
    }

    fn nest(&self, depth: usize) -> Result<usize, PruneError> {
        if depth + 1 >= self.limits.max_depth {
            return Err(PruneError::TooDeep(self.limits.max_depth));
        }
        Ok(depth + 1)
    }

    /// Room for `len` more bytes of output.
    fn room(&self, out: &[u8], len: u64) -> Result<(), PruneError> {
        usize::try_from(len)
            .ok()
            .filter(|len| out.len().saturating_add(*len) <= self.limits.max_output)
            .map(|_| ())
            .ok_or(PruneError::TooLarge(self.limits.max_output))
    }

    /// The fields of a message from `start` to `end`; kept ones are written to `out` (none
    /// when the message itself is not kept: it is only checked).
    fn message(
        &mut self,
        start: u64,
        end: u64,
        schema: &'static Schema,
        depth: usize,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<(), PruneError> {
        let mut pos = start;
        while pos < end {
            let field_start = pos;
            let (number, wire, key) = self.key(&mut pos, end)?;
            let known = schema.field(number).filter(|(kind, _)| kind.fits(wire));
            let kept = match (known, out.as_deref_mut()) {
                (Some((kind, true)), Some(out)) => Some((kind, out)),
                _ => None,
            };
            match wire {
                0 => {
                    let value = self.reader.varint(&mut pos, end)?;
                    if let Some((_, out)) = kept {
                        self.room(out, 20)?;
                        put_varint(out, key);
                        put_varint(out, value);
                    }
                }
                1 | 5 => {
                    let body = pos;
                    pos = pos
                        .checked_add(if wire == 1 { 8 } else { 4 })
                        .filter(|&p| p <= end)
                        .ok_or_else(|| corrupt("fixed-width field past the end", field_start))?;
                    if let Some((_, out)) = kept {
                        self.room(out, pos - body + 5)?;
                        put_varint(out, key);
                        self.reader.copy(body, (pos - body) as usize, out)?;
                    }
                }
                2 => {
                    let body = self.body(&mut pos, end, field_start)?;
                    match (known, kept) {
                        (Some((Kind::Message(sub), _)), kept) => {
                            let depth = self.nest(depth)?;
                            match kept {
                                Some((_, out)) => {
                                    let mut inner = Vec::new();
                                    self.message(body, pos, sub, depth, Some(&mut inner))?;
                                    self.room(out, inner.len() as u64 + 10)?;
                                    put_varint(out, key);
                                    put_varint(out, inner.len() as u64);
                                    out.extend_from_slice(&inner);
                                }
                                None => self.message(body, pos, sub, depth, None)?,
                            }
                        }
                        (Some((Kind::Varints, _)), kept) => {
                            self.packed_varints(body, pos, key, kept.map(|(_, out)| out))?;
                        }
                        (Some((Kind::Fixed32s | Kind::Fixed64s, _)), kept) => {
                            let size = if matches!(known, Some((Kind::Fixed32s, _))) {
                                4
                            } else {
                                8
                            };
                            if !(pos - body).is_multiple_of(size) {
                                return Err(corrupt(
                                    "packed field cut inside a value",
                                    field_start,
                                ));
                            }
                            if let Some((_, out)) = kept {
                                self.bytes(body, pos, key, false, out)?;
                            }
                        }
                        (_, Some((kind, out))) => {
                            let lossy = matches!(kind, Kind::LossyText | Kind::AnyText);
                            self.bytes(body, pos, key, lossy, out)?;
                        }
                        (_, None) => {}
                    }
                }
                3 => {
                    let depth = self.nest(depth)?;
                    self.group(&mut pos, end, number, depth)?;
                }
                _ => {
                    return Err(corrupt(
                        format!("unexpected wire type {wire} in {}", schema.name),
                        field_start,
                    ));
                }
            }
        }
        Ok(())
    }

    /// A length-delimited field copied with its body, invalid UTF-8 replaced when `lossy`.
    fn bytes(
        &mut self,
        body: u64,
        end: u64,
        key: u64,
        lossy: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), PruneError> {
        self.room(out, end - body + 10)?;
        let len = usize::try_from(end - body).map_err(|_| PruneError::TooLarge(usize::MAX))?;
        let mut data = Vec::with_capacity(len);
        self.reader.copy(body, len, &mut data)?;
        if lossy && let Cow::Owned(text) = String::from_utf8_lossy(&data) {
            data = text.into_bytes();
            self.room(out, data.len() as u64 + 10)?;
        }
        put_varint(out, key);
        put_varint(out, data.len() as u64);
        out.extend_from_slice(&data);
        Ok(())
    }

    /// A packed run of varints, every one whole; written out canonically when kept.
    fn packed_varints(
        &mut self,
        body: u64,
        end: u64,
        key: u64,
        out: Option<&mut Vec<u8>>,
    ) -> Result<(), PruneError> {
        let mut pos = body;
        let mut values = Vec::new();
        while pos < end {
            let value = self.reader.varint(&mut pos, end)?;
            if out.is_some() {
                self.room(&values, 10)?;
                put_varint(&mut values, value);
            }
        }
        if let Some(out) = out {
            self.room(out, values.len() as u64 + 10)?;
            put_varint(out, key);
            put_varint(out, values.len() as u64);
            out.extend_from_slice(&values);
        }
        Ok(())
    }

    /// The rest of a group opened by field `number`, up to its end-group key: unknown fields,
    /// never kept.
    fn group(
        &mut self,
        pos: &mut u64,
        end: u64,
        number: u32,
        depth: usize,
    ) -> Result<(), PruneError> {
        let start = *pos;
        while *pos < end {
            let field_start = *pos;
            let (inner, wire, _) = self.key(pos, end)?;
            match wire {
                0 => {
                    self.reader.varint(pos, end)?;
                }
                1 | 5 => {
                    *pos = pos
                        .checked_add(if wire == 1 { 8 } else { 4 })
                        .filter(|&p| p <= end)
                        .ok_or_else(|| corrupt("fixed-width field past the end", field_start))?;
                }
                2 => {
                    self.body(pos, end, field_start)?;
                }
                3 => {
                    let depth = self.nest(depth)?;
                    self.group(pos, end, inner, depth)?;
                }
                4 if inner == number => return Ok(()),
                _ => {
                    return Err(corrupt(
                        format!("unexpected wire type {wire} in a group"),
                        field_start,
                    ));
                }
            }
        }
        Err(corrupt("group without its end", start))
    }
}

fn split_key(key: u64) -> Option<(u32, u8)> {
    let number = u32::try_from(key >> 3).ok().filter(|&n| n != 0)?;
    Some((number, (key & 7) as u8))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint from `bytes` at `*pos`, advancing it; `None` when cut short or overlong.
pub fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// Buffered positioned reads over a [`ByteSource`]: structure is read in windows, skipped
/// payloads cost nothing.
struct Reader<'a> {
    source: &'a dyn ByteSource,
    window: Vec<u8>,
    window_start: u64,
}

const WINDOW: usize = 64 << 10;

impl<'a> Reader<'a> {
    fn new(source: &'a dyn ByteSource) -> Reader<'a> {
        Reader {
            source,
            window: Vec::new(),
            window_start: 0,
        }
    }

    fn byte(&mut self, pos: u64) -> io::Result<Option<u8>> {
        if let Some(all) = self.source.as_slice() {
            return Ok(usize::try_from(pos).ok().and_then(|p| all.get(p).copied()));
        }
        let in_window = pos
            .checked_sub(self.window_start)
            .and_then(|d| usize::try_from(d).ok())
            .filter(|&d| d < self.window.len());
        if let Some(at) = in_window {
            return Ok(self.window.get(at).copied());
        }
        self.window = self.source.read_vec(pos, WINDOW)?;
        self.window_start = pos;
        Ok(self.window.first().copied())
    }

    fn varint(&mut self, pos: &mut u64, end: u64) -> Result<u64, PruneError> {
        let start = *pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            if *pos >= end {
                return Err(corrupt("varint cut short", start));
            }
            let byte = self
                .byte(*pos)?
                .ok_or_else(|| corrupt("varint cut short", start))?;
            *pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(corrupt("varint longer than 10 bytes", start))
    }

    fn copy(&mut self, pos: u64, len: usize, out: &mut Vec<u8>) -> Result<(), PruneError> {
        let bytes = self.source.read_vec(pos, len)?;
        if bytes.len() != len {
            return Err(corrupt("field cut short", pos));
        }
        out.extend_from_slice(&bytes);
        Ok(())
    }
}

/// How well the start of a buffer fits a schema.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeadMatch {
    /// Fields that fit (in this message and the nested ones checked).
    pub fields: usize,
    /// Whether the walk reached the end of `bytes` exactly at a field boundary.
    pub complete: bool,
}

/// Checks that `bytes` (a head, possibly cut anywhere) is a prefix of a `schema` message: every
/// key known with a fitting wire type, text fields valid UTF-8 without control characters, and
/// nested messages (up to `depth` levels) fitting their own schemas. `None` on a contradiction.
pub fn head_matches(bytes: &[u8], schema: &Schema, depth: usize) -> Option<HeadMatch> {
    let mut pos = 0usize;
    let mut found = HeadMatch::default();
    while pos < bytes.len() {
        let Some(key) = read_varint(bytes, &mut pos) else {
            return Some(found);
        };
        let (number, wire) = split_key(key)?;
        let kind = match schema.field(number) {
            Some((kind, _)) => Some(kind),
            None if schema.open => None,
            None => return None,
        };
        let fits = match kind {
            Some(kind) => kind.fits(wire),
            None => matches!(wire, 0 | 1 | 2 | 5),
        };
        if !fits {
            return None;
        }
        match wire {
            0 => {
                if read_varint(bytes, &mut pos).is_none() {
                    return Some(found);
                }
            }
            1 | 5 => pos += if wire == 1 { 8 } else { 4 },
            _ => {
                let Some(len) = read_varint(bytes, &mut pos) else {
                    return Some(found);
                };
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| pos.checked_add(l))
                    .unwrap_or(usize::MAX);
                let body = bytes.get(pos..end.min(bytes.len())).unwrap_or_default();
                match kind {
                    Some(Kind::Text | Kind::LossyText) if !plausible_text(body) => return None,
                    Some(Kind::Message(sub)) if depth > 0 => {
                        found.fields += head_matches(body, sub, depth - 1)?.fields;
                    }
                    _ => {}
                }
                pos = end;
            }
        }
        found.fields += 1;
        found.complete = pos == bytes.len();
        if pos > bytes.len() {
            return Some(found);
        }
    }
    Some(found)
}

/// UTF-8 (possibly cut mid-character at the end) without control characters other than
/// whitespace.
fn plausible_text(bytes: &[u8]) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) if err.error_len().is_none() => {
            std::str::from_utf8(bytes.get(..err.valid_up_to()).unwrap_or_default()).unwrap_or("")
        }
        Err(_) => return false,
    };
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// The top-level fields of a message in `source` (at most `max_fields`), walked key by key as
/// [`prune`] walks them, length-delimited bodies skipped by offset, never read, groups skipped to
/// their end: (number, wire type, varint value or body length). Stops at the first field that
/// does not parse.
pub fn top_level_fields(source: &dyn ByteSource, max_fields: usize) -> Vec<(u32, u8, u64)> {
    let mut reader = Reader::new(source);
    let limits = PruneLimits {
        max_depth: 101,
        max_output: 0,
    };
    let mut walk = Walk {
        reader: &mut reader,
        limits,
    };
    let mut fields = Vec::new();
    let mut pos = 0u64;
    let end = source.len();
    while pos < end && fields.len() < max_fields {
        let field_start = pos;
        let Ok((number, wire, _)) = walk.key(&mut pos, end) else {
            break;
        };
        let value = match wire {
            0 => walk.reader.varint(&mut pos, end).ok(),
            1 | 5 => {
                pos = pos.saturating_add(if wire == 1 { 8 } else { 4 });
                Some(0)
            }
            2 => walk
                .body(&mut pos, end, field_start)
                .ok()
                .map(|body| pos - body),
            3 => walk.group(&mut pos, end, number, 1).ok().map(|()| 0),
            _ => None,
        };
        let Some(value) = value else {
            break;
        };
        fields.push((number, wire, value));
    }
    fields
}

/// The number, wire type and (for varints) value of the first field of a message.
pub fn first_field(bytes: &[u8]) -> Option<(u32, u8, u64)> {
    let mut pos = 0;
    let (number, wire) = split_key(read_varint(bytes, &mut pos)?)?;
    let value = if wire == 0 {
        read_varint(bytes, &mut pos)?
    } else {
        0
    };
    Some((number, wire, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;

    static INNER: Schema = Schema {
        name: "Inner",
        fields: &[(1, Kind::Text, true), (2, Kind::Bytes, false)],
        open: false,
    };
    static OUTER: Schema = Schema {
        name: "Outer",
        fields: &[(1, Kind::Varint, true), (2, Kind::Message(&INNER), true)],
        open: false,
    };

    fn len_field(number: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, u64::from(number) << 3 | 2);
        put_varint(&mut out, body.len() as u64);
        out.extend_from_slice(body);
        out
    }

    const LIMITS: PruneLimits = PruneLimits {
        max_depth: 8,
        max_output: 1 << 20,
    };

    #[test]
    fn prune_drops_unkept_payloads_and_keeps_structure() {
        let mut inner = len_field(1, b"name");
        inner.extend(len_field(2, &[0xAB; 10_000]));
        let mut outer = vec![0x08, 0x07];
        outer.extend(len_field(2, &inner));
        outer.extend(len_field(9, b"unknown"));
        let pruned = prune(&MemorySource::new(outer), &OUTER, LIMITS).ok();
        let mut want = vec![0x08, 0x07];
        want.extend(len_field(2, &len_field(1, b"name")));
        assert_eq!(pruned, Some(want));
    }

    #[test]
    fn prune_reports_truncation_and_depth() {
        let mut outer = vec![0x08, 0x07];
        outer.extend(len_field(2, &len_field(1, b"name")));
        outer.truncate(outer.len() - 2);
        let err = prune(&MemorySource::new(outer), &OUTER, LIMITS);
        assert!(matches!(err, Err(PruneError::Corrupt { .. })));

        static SELF: Schema = Schema {
            name: "Self",
            fields: &[(1, Kind::Message(&SELF), true)],
            open: false,
        };
        let mut nested = Vec::new();
        for _ in 0..20 {
            nested = len_field(1, &nested);
        }
        let err = prune(&MemorySource::new(nested), &SELF, LIMITS);
        assert!(matches!(err, Err(PruneError::TooDeep(8))));
    }

    /// Read as protobuf reads: groups and known fields with a wire type their kind does not take
    /// are skipped as unknown, keys and lengths longer than 5 bytes refused, kept varints
    /// written canonically.
    #[test]
    fn prune_reads_the_wire_as_protobuf_does() {
        let mut outer = vec![0x0b, 0x08, 0x01, 0x0c]; // group 1 { varint } end
        outer.extend(len_field(1, b"not a varint"));
        outer.extend([
            0x08, 0x87, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e,
        ]);
        outer.extend([0x12, 0x00]);
        let pruned = prune(&MemorySource::new(outer), &OUTER, LIMITS).ok();
        assert_eq!(pruned, Some(vec![0x08, 0x07, 0x12, 0x00]));
        for bad in [
            vec![0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00],
            vec![0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            vec![0x0b, 0x14],
            vec![0x0c],
        ] {
            let err = prune(&MemorySource::new(bad.clone()), &OUTER, LIMITS);
            assert!(matches!(err, Err(PruneError::Corrupt { .. })), "{bad:x?}");
        }
    }

    #[test]
    fn head_match_rejects_wrong_wire_types_and_control_text() {
        let mut outer = vec![0x08, 0x07];
        outer.extend(len_field(2, &len_field(1, b"name")));
        let m = head_matches(&outer, &OUTER, 2);
        assert_eq!(
            m,
            Some(HeadMatch {
                fields: 3,
                complete: true
            })
        );
        assert_eq!(head_matches(&[0x0a, 0x01, 0x00], &OUTER, 2), None);
        assert_eq!(
            head_matches(&len_field(2, &len_field(1, b"\x01\x02")), &OUTER, 2),
            None
        );
    }
}
