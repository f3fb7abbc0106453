//! Protobuf wire-format helpers shared by the ONNX and TensorFlow analyzers.
//!
//! Protobuf has no magic number, and ONNX models or frozen graphs can be gigabytes of tensor
//! data. So instead of handing the whole file to `prost`, [`prune`] walks the wire format through
//! a [`ByteSource`] and copies out only the fields a [`Schema`] marks as kept — graph structure,
//! names, shapes, external-data locations. Tensor payloads are skipped by advancing an offset:
//! they are never read, let alone copied. `prost` then decodes the small pruned buffer into the
//! generated structs of `aigis-proto`. [`head_matches`] checks the first bytes against the same
//! schemas to recognise a format by content.

use crate::ByteSource;
use std::io;

/// What a known field holds; decides the wire types accepted and how the field is handled.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A varint (wire type 0).
    Varint,
    /// Any scalar or packed repeated scalar (wire types 0, 1, 2, 5).
    Scalar,
    /// Length-delimited bytes, not checked.
    Bytes,
    /// Length-delimited UTF-8 text (checked when sniffing).
    Text,
    /// A nested message with its own schema.
    Message(&'static Schema),
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
    /// Maximum message nesting depth (prost refuses more than 100).
    pub max_depth: usize,
    /// Maximum size of the pruned output.
    pub max_output: usize,
}

/// Copies the kept fields of the message spanning all of `source` into a new buffer that
/// decodes as the same message with every other field absent.
pub fn prune(
    source: &dyn ByteSource,
    schema: &'static Schema,
    limits: PruneLimits,
) -> Result<Vec<u8>, PruneError> {
    let mut reader = Reader::new(source);
    let mut out = Vec::new();
    prune_message(&mut reader, 0, source.len(), schema, 0, limits, &mut out)?;
    Ok(out)
}

fn corrupt(what: impl Into<String>, offset: u64) -> PruneError {
    PruneError::Corrupt {
        what: what.into(),
        offset,
    }
}

fn prune_message(
    reader: &mut Reader<'_>,
    start: u64,
    end: u64,
    schema: &'static Schema,
    depth: usize,
    limits: PruneLimits,
    out: &mut Vec<u8>,
) -> Result<(), PruneError> {
    let mut pos = start;
    while pos < end {
        let field_start = pos;
        let key = reader.varint(&mut pos, end)?;
        let (number, wire) = split_key(key).ok_or_else(|| corrupt("bad field key", field_start))?;
        let mut body = pos;
        match wire {
            0 => {
                reader.varint(&mut pos, end)?;
            }
            1 | 5 => {
                pos = pos
                    .checked_add(if wire == 1 { 8 } else { 4 })
                    .filter(|&p| p <= end)
                    .ok_or_else(|| corrupt("fixed-width field past the end", field_start))?;
            }
            2 => {
                let len = reader.varint(&mut pos, end)?;
                body = pos;
                pos = pos
                    .checked_add(len)
                    .filter(|&p| p <= end)
                    .ok_or_else(|| corrupt("length past the end of its message", field_start))?;
            }
            _ => {
                return Err(corrupt(
                    format!("unsupported wire type {wire} in {}", schema.name),
                    field_start,
                ));
            }
        }
        let Some((kind, true)) = schema.field(number) else {
            continue;
        };
        match kind {
            Kind::Message(sub) if wire == 2 => {
                if depth + 1 >= limits.max_depth {
                    return Err(PruneError::TooDeep(limits.max_depth));
                }
                let mut inner = Vec::new();
                prune_message(reader, body, pos, sub, depth + 1, limits, &mut inner)?;
                put_varint(out, key);
                put_varint(out, inner.len() as u64);
                out.extend_from_slice(&inner);
            }
            Kind::Message(_) => {
                return Err(corrupt(
                    format!("field {number} of {} is not a message", schema.name),
                    field_start,
                ));
            }
            _ => {
                let len = usize::try_from(pos - field_start)
                    .ok()
                    .filter(|len| out.len().saturating_add(*len) <= limits.max_output)
                    .ok_or(PruneError::TooLarge(limits.max_output))?;
                reader.copy(field_start, len, out)?;
            }
        }
        if out.len() > limits.max_output {
            return Err(PruneError::TooLarge(limits.max_output));
        }
    }
    Ok(())
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
        let fits = matches!(
            (kind, wire),
            (None | Some(Kind::Scalar), 0 | 1 | 2 | 5)
                | (Some(Kind::Varint), 0)
                | (Some(Kind::Bytes | Kind::Text | Kind::Message(_)), 2)
        );
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
                    Some(Kind::Text) if !plausible_text(body) => return None,
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

/// Reads the first field of a message in `bytes`: its number, wire type and, for varints, value.
/// The top-level fields of a message in `source` (at most `max_fields`), walked key by key with
/// length-delimited bodies skipped by offset, never read: (number, wire type, varint value or
/// body length). Stops at the first key that does not parse.
pub fn top_level_fields(source: &dyn ByteSource, max_fields: usize) -> Vec<(u32, u8, u64)> {
    let mut fields = Vec::new();
    let mut pos = 0u64;
    let len = source.len();
    while pos < len && fields.len() < max_fields {
        let Ok(head) = source.read_vec(pos, 20) else {
            break;
        };
        let mut at = 0usize;
        let Some((number, wire)) = read_varint(&head, &mut at).and_then(split_key) else {
            break;
        };
        let value = match wire {
            0 => match read_varint(&head, &mut at) {
                Some(v) => v,
                None => break,
            },
            1 => {
                at += 8;
                0
            }
            5 => {
                at += 4;
                0
            }
            2 => match read_varint(&head, &mut at) {
                Some(body) => {
                    pos = pos.saturating_add(at as u64).saturating_add(body);
                    fields.push((number, wire, body));
                    continue;
                }
                None => break,
            },
            _ => break,
        };
        pos = pos.saturating_add(at as u64);
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
