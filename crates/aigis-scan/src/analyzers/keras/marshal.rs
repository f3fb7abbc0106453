//! A small, bounded reader of CPython `marshal` data, enough to say what a marshalled function
//! (a Keras `Lambda` layer) would use: the names its bytecode loads (`co_names`), its string
//! constants, and the same for nested code objects. Nothing is executed or disassembled.
//!
//! Code objects of CPython 3.8–3.10 and 3.11–3.13 differ in their field list; marshal data does
//! not say which version wrote it, so both layouts are tried. Every length is checked against the
//! bytes left, nesting is capped, and references (`FLAG_REF` / `r`) are shared, never copied.

use std::rc::Rc;

/// Deepest nesting of marshalled containers followed.
const MAX_DEPTH: usize = 64;
/// Most objects decoded from one blob (references included).
const MAX_OBJECTS: usize = 100_000;
/// Most names or strings kept in a summary.
const MAX_ITEMS: usize = 256;

/// What a marshalled code object uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CodeSummary {
    /// Names loaded by the bytecode (`co_names`) of every code object, in order, deduplicated.
    pub names: Vec<String>,
    /// String and bytes constants (`co_consts`), deduplicated.
    pub strings: Vec<String>,
    /// Number of code objects (the function and the ones nested in it).
    pub code_objects: usize,
}

/// Why marshal data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// The data ends inside an object.
    #[error("marshal data ends early")]
    Truncated,
    /// A type code marshal does not have, or one no code object contains.
    #[error("unknown marshal type code 0x{0:02x}")]
    BadType(u8),
    /// A reference to an object not yet read.
    #[error("marshal reference {0} is out of range")]
    BadRef(u32),
    /// Too deep or too many objects.
    #[error("marshal data exceeds the nesting or size limit")]
    Limit,
    /// Neither code-object layout fits.
    #[error("not a CPython 3.8-3.13 code object")]
    NotCode,
}

#[derive(Debug)]
enum Obj {
    Str(String),
    Tuple(Vec<Rc<Obj>>),
    Code(Box<Code>),
    Other,
}

#[derive(Debug)]
struct Code {
    consts: Rc<Obj>,
    names: Rc<Obj>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// CPython 3.11–3.13: argcount, posonly, kwonly, stacksize, flags, then objects.
    Py311,
    /// CPython 3.8–3.10: argcount, posonly, kwonly, nlocals, stacksize, flags, then objects.
    Py38,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    refs: Vec<Option<Rc<Obj>>>,
    objects: usize,
    layout: Layout,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MarshalError> {
        let end = self.pos.checked_add(n).ok_or(MarshalError::Truncated)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or(MarshalError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, MarshalError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u32(&mut self) -> Result<u32, MarshalError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn len32(&mut self) -> Result<usize, MarshalError> {
        let n = self.u32()? as usize;
        if n > self.data.len().saturating_sub(self.pos) {
            return Err(MarshalError::Truncated);
        }
        Ok(n)
    }

    fn text(&mut self, n: usize) -> Result<Obj, MarshalError> {
        let bytes = self.take(n)?;
        Ok(Obj::Str(String::from_utf8_lossy(bytes).into_owned()))
    }

    fn object(&mut self, depth: usize) -> Result<Rc<Obj>, MarshalError> {
        self.objects += 1;
        if depth > MAX_DEPTH || self.objects > MAX_OBJECTS {
            return Err(MarshalError::Limit);
        }
        let byte = self.u8()?;
        let (flag, code) = (byte & 0x80 != 0, byte & 0x7f);
        if code == b'r' {
            let idx = self.u32()?;
            return self
                .refs
                .get(idx as usize)
                .and_then(Clone::clone)
                .ok_or(MarshalError::BadRef(idx));
        }
        let slot = flag.then(|| {
            self.refs.push(None);
            self.refs.len() - 1
        });
        let obj = Rc::new(self.value(code, depth)?);
        if let Some(slot) = slot
            && let Some(entry) = self.refs.get_mut(slot)
        {
            *entry = Some(Rc::clone(&obj));
        }
        Ok(obj)
    }

    fn value(&mut self, code: u8, depth: usize) -> Result<Obj, MarshalError> {
        Ok(match code {
            b'0' | b'N' | b'F' | b'T' | b'S' | b'.' => Obj::Other,
            b'i' => {
                self.take(4)?;
                Obj::Other
            }
            b'I' | b'g' => {
                self.take(8)?;
                Obj::Other
            }
            b'y' => {
                self.take(16)?;
                Obj::Other
            }
            b'l' => {
                let digits = self.u32()? as i32;
                let n = (digits.unsigned_abs() as usize)
                    .checked_mul(2)
                    .ok_or(MarshalError::Truncated)?;
                self.take(n)?;
                Obj::Other
            }
            b'f' => {
                let n = self.u8()? as usize;
                self.take(n)?;
                Obj::Other
            }
            b'x' => {
                for _ in 0..2 {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                }
                Obj::Other
            }
            b's' | b't' | b'u' | b'a' | b'A' => {
                let n = self.len32()?;
                self.text(n)?
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                self.text(n)?
            }
            b'(' | b'[' | b'<' | b'>' => {
                let n = self.len32()?;
                self.items(n, depth)?
            }
            b')' => {
                let n = self.u8()? as usize;
                self.items(n, depth)?
            }
            b'{' => {
                let mut items = Vec::new();
                loop {
                    if self.data.get(self.pos) == Some(&b'0') {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.object(depth + 1)?);
                    items.push(self.object(depth + 1)?);
                }
                Obj::Tuple(items)
            }
            b'c' => Obj::Code(Box::new(self.code(depth)?)),
            other => return Err(MarshalError::BadType(other)),
        })
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Obj, MarshalError> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.object(depth + 1)?);
        }
        Ok(Obj::Tuple(items))
    }

    fn code(&mut self, depth: usize) -> Result<Code, MarshalError> {
        let ints = match self.layout {
            Layout::Py311 => 5,
            Layout::Py38 => 6,
        };
        self.take(4 * ints)?;
        let bytecode = self.object(depth + 1)?;
        if !matches!(*bytecode, Obj::Str(_)) {
            return Err(MarshalError::NotCode);
        }
        let consts = self.object(depth + 1)?;
        let names = self.object(depth + 1)?;
        if !matches!(*consts, Obj::Tuple(_)) || !matches!(*names, Obj::Tuple(_)) {
            return Err(MarshalError::NotCode);
        }
        match self.layout {
            // localsplusnames, localspluskinds, filename, name, qualname, firstlineno,
            // linetable, exceptiontable
            Layout::Py311 => {
                for _ in 0..5 {
                    self.object(depth + 1)?;
                }
                self.take(4)?;
                self.object(depth + 1)?;
                self.object(depth + 1)?;
            }
            // varnames, freevars, cellvars, filename, name, firstlineno, lnotab/linetable
            Layout::Py38 => {
                for _ in 0..5 {
                    self.object(depth + 1)?;
                }
                self.take(4)?;
                self.object(depth + 1)?;
            }
        }
        Ok(Code { consts, names })
    }
}

/// Reads marshalled code and summarises what it uses. The data must start with a code object.
pub fn summarize_code(data: &[u8]) -> Result<CodeSummary, MarshalError> {
    if data.first().map(|b| b & 0x7f) != Some(b'c') {
        return Err(match data.first() {
            None => MarshalError::Truncated,
            Some(b) => MarshalError::BadType(*b),
        });
    }
    let mut last = MarshalError::NotCode;
    for layout in [Layout::Py311, Layout::Py38] {
        let mut reader = Reader {
            data,
            pos: 0,
            refs: Vec::new(),
            objects: 0,
            layout,
        };
        match reader.object(0) {
            Ok(obj) => {
                let mut summary = CodeSummary::default();
                let mut budget = MAX_OBJECTS;
                collect(&obj, &mut summary, &mut budget, 0);
                return Ok(summary);
            }
            Err(MarshalError::Limit) => return Err(MarshalError::Limit),
            Err(err) => last = err,
        }
    }
    Err(last)
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if list.len() < MAX_ITEMS && !list.iter().any(|s| s == item) {
        list.push(item.to_string());
    }
}

fn collect(obj: &Obj, out: &mut CodeSummary, budget: &mut usize, depth: usize) {
    if *budget == 0 || depth > MAX_DEPTH {
        return;
    }
    *budget -= 1;
    let Obj::Code(code) = obj else {
        return;
    };
    out.code_objects += 1;
    if let Obj::Tuple(names) = &*code.names {
        for name in names {
            if let Obj::Str(s) = &**name {
                push_unique(&mut out.names, s);
            }
        }
    }
    if let Obj::Tuple(consts) = &*code.consts {
        for item in consts {
            consts_of(item, out, budget, depth + 1);
        }
    }
}

fn consts_of(obj: &Obj, out: &mut CodeSummary, budget: &mut usize, depth: usize) {
    if *budget == 0 || depth > MAX_DEPTH {
        return;
    }
    match obj {
        Obj::Str(s) => {
            *budget -= 1;
            push_unique(&mut out.strings, s);
        }
        Obj::Tuple(items) => {
            *budget -= 1;
            for item in items {
                consts_of(item, out, budget, depth + 1);
            }
        }
        Obj::Code(_) => collect(obj, out, budget, depth + 1),
        Obj::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `marshal.dumps((lambda x: os.system('touch /tmp/x') or x).__code__)` on CPython 3.11.7.
    const PY311_LAMBDA: &str = "4wEAAAAAAAAAAAAAAAUAAAATAAAA80gAAACXAHQBAAAAAAAAAAAAAGoBAAAAAAAAAAB0BQAAAAAAAAAAAABkAaYBAACrAQAAAAAAAAAApgEAAKsBAAAAAAAAAABwAXwAUwApAk76DGtlcmFzLWxhbWJkYSkD2gJvc9oGc3lzdGVt2gNjbWSpAdoBeHMBAAAAIPo6L3dvcmsvd3QvZm10LWtlcmFzL3NjcmlwdHMvZml4dHVyZXMvbWFrZV9rZXJhc19maXh0dXJlcy5wefoIPGxhbWJkYT76IGtlcmFzX2ZpeHR1cmVzLjxsb2NhbHM+LjxsYW1iZGE+mQAAAHMdAAAAgACVUpRZnXOgPtEfMtQfMtEVM9QVM9AVOLBxgADzAAAAAA==";

    fn decode(b64: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default()
    }

    #[test]
    fn reads_a_python_311_lambda() {
        let summary = summarize_code(&decode(PY311_LAMBDA));
        let summary = summary.unwrap_or_default();
        assert_eq!(summary.names, ["os", "system", "cmd"]);
        assert_eq!(summary.strings, ["keras-lambda"]);
        assert_eq!(summary.code_objects, 1);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let data = decode(PY311_LAMBDA);
        for cut in 0..data.len() {
            assert!(summarize_code(&data[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn hostile_lengths_and_refs_are_rejected() {
        assert_eq!(summarize_code(b"x"), Err(MarshalError::BadType(b'x')));
        // A code object whose bytecode claims 4 GiB.
        let mut data = vec![0xe3];
        data.extend([0u8; 20]);
        data.extend(b"s\xff\xff\xff\xff");
        assert!(summarize_code(&data).is_err());
        // A reference to an object that was never read.
        let mut data = vec![0xe3];
        data.extend([0u8; 20]);
        data.extend(b"r\x05\x00\x00\x00");
        assert!(summarize_code(&data).is_err());
    }

    #[test]
    fn deep_nesting_stops_at_the_limit() {
        let mut data = vec![0xe3];
        data.extend([0u8; 20]);
        data.extend(b"z\x00");
        data.extend(std::iter::repeat_n(b")\x01", 10_000).flatten());
        assert_eq!(summarize_code(&data), Err(MarshalError::Limit));
    }
}
