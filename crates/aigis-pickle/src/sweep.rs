//! The rest of a stream after an emulation limit: a syntactic walk, opcode by opcode, with no
//! stack, that only collects the names the stream imports.
//!
//! A limit (opcodes, values, stack, memo) stops the machine, but CPython's unpickler has no such
//! limit: padding a pickle with millions of harmless opcodes must not hide a payload placed after
//! them. The walk costs a few bytes of state and reads each byte once. `GLOBAL`/`INST` carry their
//! names; for `STACK_GLOBAL` the two most recent pushes are used when both were string constants
//! (or memo fetches of them), which is how every pickler writes it — anything else is reported as
//! a dynamic import by the caller.

use crate::opcodes as op;
use crate::reader::{Cursor, ReadError};
use std::collections::HashMap;
use std::time::Instant;

/// Longest string kept as a possible module or attribute name.
const MAX_NAME: u64 = 512;
/// Most memoized strings remembered.
const MAX_MEMO_STRINGS: usize = 65_536;
/// Most imports collected.
const MAX_IMPORTS: usize = 4096;

/// An import found by the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SweptImport {
    /// Offset of the importing opcode.
    pub offset: u64,
    /// `Some((module, name))`, or `None` for a `STACK_GLOBAL` whose operands were not constants.
    pub name: Option<(String, String)>,
}

/// Walks from the cursor to the end of the stream (and of any pickle that follows it back to
/// back), collecting imports. Stops at an unknown opcode, truncation, the read limit, or
/// `deadline`.
pub(crate) fn sweep(cur: &mut Cursor<'_>, deadline: Option<Instant>) -> Vec<SweptImport> {
    let mut out = Vec::new();
    let _ = walk(cur, deadline, &mut out);
    out
}

/// The last two values pushed, as far as they were strings.
#[derive(Default)]
struct Recent {
    top: Option<String>,
    below: Option<String>,
}

impl Recent {
    fn push(&mut self, value: Option<String>) {
        self.below = std::mem::replace(&mut self.top, value);
    }
}

fn text(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok()
}

/// A length-prefixed string: kept when short, skipped otherwise.
fn string(cur: &mut Cursor<'_>, len: u64) -> Result<Option<String>, ReadError> {
    if len > MAX_NAME {
        cur.skip(len)?;
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| ReadError::Truncated)?;
    Ok(text(cur.bytes(n)?))
}

/// A protocol-0 quoted string argument (`'os'`), unquoted.
fn quoted(line: Option<Vec<u8>>) -> Option<String> {
    let s = text(line?)?;
    let s = s.trim_end();
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))?;
    Some(inner.to_owned())
}

fn walk(
    cur: &mut Cursor<'_>,
    deadline: Option<Instant>,
    out: &mut Vec<SweptImport>,
) -> Result<(), ReadError> {
    let mut recent = Recent::default();
    let mut memo: HashMap<u64, String> = HashMap::new();
    let mut next_memo: u64 = 0;
    let line_max = MAX_NAME as usize * 4;
    let mut count: u64 = 0;
    loop {
        count += 1;
        if count.is_multiple_of(1 << 16) && deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        if out.len() >= MAX_IMPORTS {
            return Ok(());
        }
        let at = cur.pos();
        let code = cur.u8()?;
        match code {
            op::STOP => {
                // Another pickle may follow back to back; anything else ends the walk.
                if cur.remaining() == 0 || cur.u8()? != op::PROTO {
                    return Ok(());
                }
                cur.seek(cur.pos() - 1);
                recent = Recent::default();
                memo.clear();
                next_memo = 0;
            }
            op::GLOBAL | op::INST => {
                let module = cur.line(line_max)?.and_then(text);
                let name = cur.line(line_max)?.and_then(text);
                if let (Some(module), Some(name)) = (module, name) {
                    out.push(SweptImport {
                        offset: at,
                        name: Some((module, name)),
                    });
                }
                recent.push(None);
            }
            op::STACK_GLOBAL => {
                let name = match (recent.below.take(), recent.top.take()) {
                    (Some(module), Some(name)) => Some((module, name)),
                    _ => None,
                };
                out.push(SweptImport { offset: at, name });
                recent.push(None);
            }
            op::SHORT_BINUNICODE | op::SHORT_BINSTRING | op::SHORT_BINBYTES => {
                let len = u64::from(cur.u8()?);
                let s = string(cur, len)?;
                recent.push(if code == op::SHORT_BINBYTES { None } else { s });
            }
            op::BINUNICODE | op::BINSTRING | op::BINBYTES => {
                let len = u64::from(u32::from_le_bytes(cur.array()?));
                let s = string(cur, len)?;
                recent.push(if code == op::BINBYTES { None } else { s });
            }
            op::BINUNICODE8 | op::BINBYTES8 | op::BYTEARRAY8 => {
                let len = u64::from_le_bytes(cur.array()?);
                let s = string(cur, len)?;
                recent.push(if code == op::BINUNICODE8 { s } else { None });
            }
            op::UNICODE => {
                let s = cur.line(line_max)?.and_then(text);
                recent.push(s);
            }
            op::STRING => {
                let s = quoted(cur.line(line_max)?);
                recent.push(s);
            }
            op::INT | op::LONG | op::FLOAT | op::PERSID => {
                if cur.line(line_max)?.is_none() {
                    return Ok(());
                }
                recent.push(None);
            }
            op::GET | op::BINGET | op::LONG_BINGET => {
                let index = match code {
                    op::BINGET => u64::from(cur.u8()?),
                    op::LONG_BINGET => u64::from(u32::from_le_bytes(cur.array()?)),
                    _ => match cur.line(line_max)?.and_then(text) {
                        Some(s) => s.trim().parse().unwrap_or(u64::MAX),
                        None => return Ok(()),
                    },
                };
                recent.push(memo.get(&index).cloned());
            }
            op::PUT | op::BINPUT | op::LONG_BINPUT | op::MEMOIZE => {
                let index = match code {
                    op::BINPUT => u64::from(cur.u8()?),
                    op::LONG_BINPUT => u64::from(u32::from_le_bytes(cur.array()?)),
                    op::MEMOIZE => next_memo,
                    _ => match cur.line(line_max)?.and_then(text) {
                        Some(s) => s.trim().parse().unwrap_or(u64::MAX),
                        None => return Ok(()),
                    },
                };
                next_memo = next_memo.max(index.saturating_add(1));
                match &recent.top {
                    Some(s) if memo.len() < MAX_MEMO_STRINGS => {
                        memo.insert(index, s.clone());
                    }
                    _ => {
                        memo.remove(&index);
                    }
                }
            }
            op::PROTO | op::BININT1 | op::EXT1 => {
                cur.skip(1)?;
                recent.push(None);
            }
            op::BININT2 | op::EXT2 => {
                cur.skip(2)?;
                recent.push(None);
            }
            op::BININT | op::EXT4 => {
                cur.skip(4)?;
                recent.push(None);
            }
            op::BINFLOAT => {
                cur.skip(8)?;
                recent.push(None);
            }
            op::FRAME => cur.skip(8)?,
            op::LONG1 => {
                let len = u64::from(cur.u8()?);
                cur.skip(len)?;
                recent.push(None);
            }
            op::LONG4 => {
                let len = u64::from(u32::from_le_bytes(cur.array()?));
                cur.skip(len)?;
                recent.push(None);
            }
            op::MARK
            | op::POP
            | op::POP_MARK
            | op::DUP
            | op::NONE
            | op::BINPERSID
            | op::REDUCE
            | op::APPEND
            | op::BUILD
            | op::DICT
            | op::EMPTY_DICT
            | op::APPENDS
            | op::LIST
            | op::EMPTY_LIST
            | op::OBJ
            | op::SETITEM
            | op::TUPLE
            | op::EMPTY_TUPLE
            | op::SETITEMS
            | op::NEWOBJ
            | op::TUPLE1
            | op::TUPLE2
            | op::TUPLE3
            | op::NEWTRUE
            | op::NEWFALSE
            | op::EMPTY_SET
            | op::ADDITEMS
            | op::FROZENSET
            | op::NEWOBJ_EX
            | op::NEXT_BUFFER
            | op::READONLY_BUFFER => {
                // DUP pushes a copy of the top; the rest push a non-string or nothing.
                if code == op::DUP {
                    let top = recent.top.clone();
                    recent.push(top);
                } else if code != op::MARK {
                    recent.push(None);
                }
            }
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(data: &[u8]) -> Vec<Option<(String, String)>> {
        let mut cur = Cursor::new(&data, 0, u64::MAX);
        sweep(&mut cur, None).into_iter().map(|i| i.name).collect()
    }

    fn pair(m: &str, n: &str) -> Option<(String, String)> {
        Some((m.to_owned(), n.to_owned()))
    }

    #[test]
    fn collects_every_import_spelling() {
        // protocol 0 GLOBAL, protocol 4 STACK_GLOBAL with memoized operands fetched back.
        let mut d = b"cos\nsystem\n".to_vec();
        d.extend_from_slice(b"\x8c\x02os\x94\x8c\x05popen\x94\x93");
        d.extend_from_slice(b"h\x00h\x01\x93");
        d.extend_from_slice(b"Vsubprocess\nVcall\n\x93");
        d.extend_from_slice(b"S'builtins'\nS'eval'\n\x93");
        d.extend_from_slice(b"K\x01K\x02\x93.");
        assert_eq!(
            names(&d),
            [
                pair("os", "system"),
                pair("os", "popen"),
                pair("os", "popen"),
                pair("subprocess", "call"),
                pair("builtins", "eval"),
                None,
            ]
        );
    }

    #[test]
    fn follows_back_to_back_pickles_and_stops_at_garbage() {
        let d = b"\x80\x02K\x01.\x80\x02cos\nsystem\n.\xffcos\nsystem\n";
        assert_eq!(names(d), [pair("os", "system")]);
        let d = b"K\x01.garbage cos\nsystem\n";
        assert!(names(d).is_empty());
    }

    #[test]
    fn survives_truncation_and_huge_lengths() {
        for d in [
            &b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f"[..],
            b"X\xff\xff\xff\xff",
            b"cos\nsys",
            b"\x8c",
        ] {
            assert!(names(d).is_empty());
        }
    }
}
