//! GGUF (llama.cpp / ggml): magic `GGUF`, a version (1–3), a tensor count and a key/value count,
//! the metadata key/values, the tensor infos, then tensor data at an aligned offset.
//!
//! Only the header is read (key/values and tensor infos, with a windowed reader), never tensor
//! data, so cost does not grow with weight size. Every count and length is checked against the
//! bytes left before anything is allocated; values sized to overflow a loader's arithmetic (the
//! shape of the 2024 llama.cpp GGUF CVEs) are reported as exploits.
//!
//! The file is read as the two real readers read it, and is valid only when both load it (the
//! loader differential `loaders::tests_gguf` checks this against gguf-py and llama.cpp's rules):
//! either byte order (a version whose low 16 bits are zero is byte-swapped); versions 2 and 3;
//! keys non-empty, UTF-8 and unique; no arrays of arrays; `general.alignment` a u32 power of two;
//! tensor names UTF-8 and unique as C strings; data inside the file, laid out back to back in the
//! order of the infos, each tensor padded to the alignment (llama.cpp refuses any other layout).
//! Where one reader refuses what the other accepts (duplicate keys, v1, nested arrays, empty or
//! non-UTF-8 keys), reading goes on after the finding so that everything a more lenient reader
//! sees is still analysed.
//!
//! `tokenizer.chat_template*` values are Jinja templates that some Python loaders render
//! unsandboxed; [`super::chat_template`] checks every one any reader could render: each copy of
//! a duplicated key; keys that are template keys up to a NUL (llama.cpp keys its metadata by C
//! string); every string of an array stored under a template key (transformers renders a
//! one-element array); and the part of a template that the end of the file cuts (gguf-py reads
//! it).

use super::chat_template;
use crate::analyzer::{Analyzer, Context, Input};
use crate::deep::{TensorKind, TensorSpan};
use crate::{ByteSource, Finding, Format, RuleId};
use std::collections::HashSet;

/// The file magic.
pub(crate) const MAGIC: &[u8; 4] = b"GGUF";
/// Default `general.alignment`.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// llama.cpp's `GGML_MAX_NAME` (a tensor name must be shorter).
const MAX_TENSOR_NAME: u64 = 64;
/// Nesting of arrays inside arrays read (gguf-py's recursion gives out before 1000 levels).
const MAX_ARRAY_NESTING: usize = 1024;
/// The chat template key (`tokenizer.chat_template.<name>` for named ones).
const TEMPLATE_KEY: &str = "tokenizer.chat_template";
/// The key that sets the data alignment.
const ALIGNMENT_KEY: &str = "general.alignment";
/// Longest key or ordinary string value read into memory.
const MAX_KEY_LEN: u64 = 1 << 16;
/// Longest chat template read and analysed.
const MAX_TEMPLATE_LEN: u64 = 64 << 20;
/// Counts, lengths and dimensions at or beyond this are sized to overflow `n * size` in a loader.
const EXPLOIT_SIZED: u64 = 1 << 60;
/// Bytes fetched per read of the windowed reader.
const WINDOW: usize = 1 << 16;

/// Analyzer for GGUF files.
pub struct GgufAnalyzer;

impl Analyzer for GgufAnalyzer {
    fn id(&self) -> &'static str {
        "gguf"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        analyze_source(input.source, 0, cx);
        Some(Format::Gguf)
    }
}

/// Value types of GGUF metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    fn from_u32(code: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match code {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Size of a fixed-size value.
    fn size(self) -> Option<u64> {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => Some(1),
            U16 | I16 => Some(2),
            U32 | I32 | F32 => Some(4),
            U64 | I64 | F64 => Some(8),
            String | Array => None,
        }
    }
}

/// A metadata value, as far as the analysis needs it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i128),
    Str(String),
    /// The strings of a string array outside the tokenizer's keys that could hold a credential
    /// or an address (`secrets::worth_checking`; at most [`MAX_ARRAY_STRINGS`]).
    Strings(Vec<String>),
    /// A string too long to keep, or any other value not kept.
    Other,
}

/// Strings kept per metadata array (`general.tags`, `general.datasets`…) for the secret check:
/// every string is looked at, only those that could hold a credential or an address are kept,
/// and beyond this many the file is not fully analysed (a limit is no hiding place).
/// Vocabularies under `tokenizer.` are never kept. A longer array is still read to its end.
const MAX_ARRAY_STRINGS: usize = 4096;

/// ggml tensor types: (id, name, elements per block, bytes per block).
const GGML_TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
];

/// llama.cpp `llama_ftype` values (`general.file_type`) and their usual names.
const FILE_TYPES: &[(i128, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (4, "Q4_1_SOME_F16"),
    (7, "Q8_0"),
    (8, "Q5_0"),
    (9, "Q5_1"),
    (10, "Q2_K"),
    (11, "Q3_K_S"),
    (12, "Q3_K_M"),
    (13, "Q3_K_L"),
    (14, "Q4_K_S"),
    (15, "Q4_K_M"),
    (16, "Q5_K_S"),
    (17, "Q5_K_M"),
    (18, "Q6_K"),
    (19, "IQ2_XXS"),
    (20, "IQ2_XS"),
    (21, "Q2_K_S"),
    (22, "IQ3_XS"),
    (23, "IQ3_XXS"),
    (24, "IQ1_S"),
    (25, "IQ4_NL"),
    (26, "IQ3_S"),
    (27, "IQ3_M"),
    (28, "IQ2_S"),
    (29, "IQ2_M"),
    (30, "IQ4_XS"),
    (31, "IQ1_M"),
    (32, "BF16"),
    (36, "TQ1_0"),
    (37, "TQ2_0"),
    (38, "MXFP4_MOE"),
    (39, "NVFP4"),
    (40, "Q1_0"),
];

/// Why reading stopped.
#[derive(Debug)]
enum Stop {
    /// Structural problem (truncation, bad value): the file is invalid.
    Malformed(String, u64),
    /// A value sized to overflow a loader: invalid, and reported as an exploit.
    Exploit(String, u64),
    /// I/O error.
    Io(std::io::Error),
}

type Result<T> = std::result::Result<T, Stop>;

/// A forward reader over a byte source with a small window.
struct Reader<'a> {
    source: &'a dyn ByteSource,
    pos: u64,
    window: Vec<u8>,
    window_start: u64,
    /// Numbers are big-endian (GGUF v3 files written for big-endian hosts).
    big: bool,
}

impl<'a> Reader<'a> {
    fn new(source: &'a dyn ByteSource, pos: u64) -> Reader<'a> {
        Reader {
            source,
            pos,
            window: Vec::new(),
            window_start: 0,
            big: false,
        }
    }

    fn remaining(&self) -> u64 {
        self.source.len().saturating_sub(self.pos)
    }

    /// Bytes `[pos, pos + n)`, refilling the window when needed (`n` ≤ [`WINDOW`] or the source
    /// is in memory).
    fn take(&mut self, n: u64, what: &str) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(Stop::Malformed(
                format!(
                    "truncated {what}: needs {n} bytes, {} left",
                    self.remaining()
                ),
                self.pos,
            ));
        }
        let len = usize::try_from(n)
            .map_err(|_| Stop::Malformed(format!("{what} too long"), self.pos))?;
        let start = self.pos;
        self.pos += n;
        if let Some(all) = self.source.as_slice() {
            return all
                .get(start as usize..start as usize + len)
                .ok_or_else(|| Stop::Malformed(format!("truncated {what}"), start));
        }
        let offset = start.checked_sub(self.window_start);
        let fits = offset.is_some_and(|o| o as usize + len <= self.window.len());
        if !fits {
            self.window = self
                .source
                .read_vec(start, len.max(WINDOW))
                .map_err(Stop::Io)?;
            self.window_start = start;
            if self.window.len() < len {
                return Err(Stop::Malformed(format!("truncated {what}"), start));
            }
        }
        let at = (start - self.window_start) as usize;
        self.window
            .get(at..at + len)
            .ok_or_else(|| Stop::Malformed(format!("truncated {what}"), start))
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        if n > self.remaining() {
            return Err(Stop::Malformed(
                format!(
                    "truncated {what}: needs {n} bytes, {} left",
                    self.remaining()
                ),
                self.pos,
            ));
        }
        self.pos += n;
        Ok(())
    }

    /// An unsigned number of `size` (1, 2, 4 or 8) bytes in the file's byte order.
    fn uint(&mut self, size: u64, what: &str) -> Result<u64> {
        let big = self.big;
        let b = self.take(size, what)?;
        let digit = |acc: u64, &x: &u8| (acc << 8) | u64::from(x);
        Ok(if big {
            b.iter().fold(0, digit)
        } else {
            b.iter().rev().fold(0, digit)
        })
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(self.uint(4, what)? as u32)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.uint(8, what)
    }
}

/// A metadata key/value as the analysis keeps it.
#[derive(Debug)]
struct Kv {
    /// The key (invalid UTF-8 replaced, NULs kept).
    key: String,
    kind: ValueType,
    value: Value,
}

/// What the header says.
#[derive(Debug, Default)]
struct Header {
    version: u32,
    /// Metadata in file order, duplicates included.
    values: Vec<Kv>,
    tensors: Vec<TensorInfo>,
    /// Offset of the first byte after the tensor infos.
    infos_end: u64,
}

#[derive(Debug)]
struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ggml_type: u32,
    offset: u64,
    /// Where the info starts in the file.
    at: u64,
}

impl Header {
    fn get(&self, key: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// The part of a key llama.cpp compares: its metadata map and `gguf_find_key` use C strings, so
/// a key ends at its first NUL.
fn c_key(key: &str) -> &str {
    key.split('\0').next().unwrap_or(key)
}

struct Parser<'a> {
    r: Reader<'a>,
    version: u32,
    templates: Vec<(String, String, u64)>,
    /// What one of the readers refuses the file for while the rest stays readable: the file is
    /// invalid, but reading goes on so that every template a more lenient reader sees is
    /// analysed.
    refused: Vec<(String, u64)>,
    /// Keys seen (raw bytes).
    keys: HashSet<Vec<u8>>,
    /// Strings worth a secret check past [`MAX_ARRAY_STRINGS`] in an array: not checked.
    unchecked: u64,
}

impl Parser<'_> {
    /// A count or length field as stored (u32 in version 1, u64 later).
    fn raw_count(&mut self, what: &str) -> Result<u64> {
        if self.version == 1 {
            Ok(u64::from(self.r.u32(what)?))
        } else {
            self.r.u64(what)
        }
    }

    /// A count or length field; one sized to overflow a loader is an exploit.
    fn count(&mut self, what: &str) -> Result<u64> {
        let at = self.r.pos;
        let n = self.raw_count(what)?;
        if n >= EXPLOIT_SIZED {
            return Err(Stop::Exploit(
                format!("{what} is {n:#x}, sized to overflow a loader's size arithmetic"),
                at,
            ));
        }
        Ok(n)
    }

    /// Checks that `count` items of at least `min_size` bytes each can fit in what is left.
    fn fits(&self, count: u64, min_size: u64, what: &str, at: u64) -> Result<()> {
        let need = count.saturating_mul(min_size);
        if need > self.r.remaining() {
            return Err(Stop::Malformed(
                format!(
                    "{what} of {count} needs at least {need} bytes, {} left",
                    self.r.remaining()
                ),
                at,
            ));
        }
        Ok(())
    }

    /// Reads a string of at most `keep` bytes into memory; longer ones are skipped (`None`).
    fn bytes(&mut self, what: &str, keep: u64) -> Result<Option<Vec<u8>>> {
        let len = self.count(&format!("{what} length"))?;
        if len > keep {
            self.r.skip(len, what)?;
            return Ok(None);
        }
        Ok(Some(self.r.take(len, what)?.to_vec()))
    }

    fn string(&mut self, what: &str, keep: u64) -> Result<Option<String>> {
        Ok(self
            .bytes(what, keep)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// A string stored under a chat template key, analysed as far as the file holds it: gguf-py
    /// reads a string that runs past the end of the file as the bytes that are there (llama.cpp
    /// refuses it, and so does aigis, after the analysis).
    fn template(&mut self, key: &str) -> Result<String> {
        let at = self.r.pos;
        let len = self.raw_count(&format!("`{key}` length"))?;
        let here = len.min(self.r.remaining());
        if here > MAX_TEMPLATE_LEN {
            return Err(Stop::Malformed(
                format!("`{key}` is longer than {MAX_TEMPLATE_LEN} bytes; not analysed"),
                at,
            ));
        }
        let text = String::from_utf8_lossy(self.r.take(here, key)?).into_owned();
        self.templates.push((key.to_string(), text.clone(), at));
        if len > here {
            return Err(if len >= EXPLOIT_SIZED {
                Stop::Exploit(
                    format!(
                        "`{key}` length is {len:#x}, sized to overflow a loader's size arithmetic"
                    ),
                    at,
                )
            } else {
                Stop::Malformed(
                    format!("truncated `{key}`: needs {len} bytes, {here} left"),
                    at,
                )
            });
        }
        Ok(text)
    }

    fn kv(&mut self) -> Result<Kv> {
        let at = self.r.pos;
        let raw = self
            .bytes("metadata key", MAX_KEY_LEN)?
            .ok_or_else(|| Stop::Malformed("metadata key longer than 64 KiB".into(), at))?;
        let key = String::from_utf8_lossy(&raw).into_owned();
        if raw.is_empty() {
            self.refused
                .push(("empty metadata key (llama.cpp refuses it)".into(), at));
        } else if std::str::from_utf8(&raw).is_err() {
            self.refused.push((
                format!("metadata key `{key}` is not UTF-8 (gguf-py refuses it)"),
                at,
            ));
        }
        if !self.keys.insert(raw) {
            self.refused.push((
                format!(
                    "metadata key `{key}` appears twice (llama.cpp and gguf-py refuse the file; \
                     readers that take it keep the first or the last copy: both are analysed)"
                ),
                at,
            ));
        }
        let code = self.r.u32("value type")?;
        let kind = ValueType::from_u32(code).ok_or_else(|| {
            Stop::Malformed(
                format!("metadata `{key}` has unknown value type {code}"),
                at,
            )
        })?;
        let ckey = c_key(&key);
        let is_template = ckey == TEMPLATE_KEY
            || ckey
                .strip_prefix(TEMPLATE_KEY)
                .is_some_and(|rest| rest.starts_with('.'));
        let value = match kind {
            ValueType::String if is_template => Value::Str(self.template(&key)?),
            ValueType::Array => {
                let keep = !is_template && !key.starts_with("tokenizer.");
                let kept = self.array(&key, is_template, keep)?;
                if kept.is_empty() {
                    Value::Other
                } else {
                    Value::Strings(kept)
                }
            }
            _ => self.value(kind, &key)?,
        };
        Ok(Kv { key, kind, value })
    }

    /// A value that is not an array.
    fn value(&mut self, kind: ValueType, key: &str) -> Result<Value> {
        Ok(match kind {
            ValueType::String => match self.string(&format!("`{key}` value"), MAX_KEY_LEN)? {
                Some(s) => Value::Str(s),
                None => Value::Other,
            },
            ValueType::Array => {
                self.array(key, false, false)?;
                Value::Other
            }
            fixed => {
                let size = fixed.size().unwrap_or(0);
                let raw = self.r.uint(size, &format!("`{key}` value"))?;
                match fixed {
                    ValueType::I8 => Value::Int(i128::from(raw as u8 as i8)),
                    ValueType::I16 => Value::Int(i128::from(raw as u16 as i16)),
                    ValueType::I32 => Value::Int(i128::from(raw as u32 as i32)),
                    ValueType::I64 => Value::Int(i128::from(raw as i64)),
                    ValueType::F32 | ValueType::F64 => Value::Other,
                    _ => Value::Int(i128::from(raw)),
                }
            }
        })
    }

    /// Reads past an array value, arrays of arrays included (without recursion). Under a chat
    /// template key every string in it is analysed: gguf-py hands them to transformers, which
    /// renders a one-element array as the template. With `keep`, the strings in it (up to
    /// [`MAX_ARRAY_STRINGS`] of them, each up to `MAX_KEY_LEN` bytes) are returned.
    fn array(&mut self, key: &str, is_template: bool, keep: bool) -> Result<Vec<String>> {
        let mut kept = Vec::new();
        // Arrays of arrays being read: how many of their elements are still to come.
        let mut open: Vec<u64> = Vec::new();
        loop {
            let at = self.r.pos;
            let code = self.r.u32("array type")?;
            let count = self.count(&format!("array `{key}` length"))?;
            let elem = match ValueType::from_u32(code) {
                Some(elem) => elem,
                None if count == 0 => {
                    self.refused.push((
                        format!(
                            "array `{key}` has unknown element type {code} (llama.cpp refuses \
                             it; gguf-py reads it as empty)"
                        ),
                        at,
                    ));
                    ValueType::U8
                }
                None => {
                    return Err(Stop::Malformed(
                        format!("array `{key}` has unknown element type {code}"),
                        at,
                    ));
                }
            };
            match elem.size() {
                Some(size) => {
                    let bytes = count.checked_mul(size).ok_or_else(|| {
                        Stop::Exploit(format!("array `{key}` byte size overflows"), at)
                    })?;
                    self.r.skip(bytes, &format!("array `{key}`"))?;
                }
                None => {
                    let min = if self.version == 1 { 4 } else { 8 };
                    self.fits(count, min, &format!("array `{key}`"), at)?;
                    if elem == ValueType::Array {
                        if open.is_empty() {
                            self.refused.push((
                                format!(
                                    "`{key}` is an array of arrays (llama.cpp refuses them; \
                                     gguf-py reads them)"
                                ),
                                at,
                            ));
                        }
                        if open.len() >= MAX_ARRAY_NESTING {
                            return Err(Stop::Malformed(
                                format!(
                                    "`{key}` nests arrays deeper than {MAX_ARRAY_NESTING} \
                                     (beyond what gguf-py can read)"
                                ),
                                at,
                            ));
                        }
                        open.push(count);
                    } else {
                        for _ in 0..count {
                            if is_template {
                                self.template(key)?;
                            } else if keep {
                                if let Some(text) =
                                    self.string("string array element", MAX_KEY_LEN)?
                                    && crate::secrets::worth_checking(&text)
                                {
                                    if kept.len() < MAX_ARRAY_STRINGS {
                                        kept.push(text);
                                    } else {
                                        self.unchecked += 1;
                                    }
                                }
                            } else {
                                // Hot loop (vocabularies hold 100k+ strings): no allocation.
                                let len = self.count("string array element length")?;
                                self.r.skip(len, "string array element")?;
                            }
                        }
                    }
                }
            }
            // The next array to read is the next element of the innermost unfinished one.
            loop {
                match open.last_mut() {
                    None => return Ok(kept),
                    Some(0) => {
                        open.pop();
                    }
                    Some(left) => {
                        *left -= 1;
                        break;
                    }
                }
            }
        }
    }

    fn tensor_info(&mut self) -> Result<TensorInfo> {
        let at = self.r.pos;
        let raw = self
            .bytes("tensor name", MAX_TENSOR_NAME - 1)?
            .ok_or_else(|| {
                Stop::Malformed(
                    format!("tensor name longer than {} bytes", MAX_TENSOR_NAME - 1),
                    at,
                )
            })?;
        let name = String::from_utf8_lossy(&raw).into_owned();
        if std::str::from_utf8(&raw).is_err() {
            self.refused.push((
                format!("tensor name `{name}` is not UTF-8 (gguf-py refuses it)"),
                at,
            ));
        }
        let n_dims = self.r.u32("tensor dimension count")?;
        if n_dims > MAX_DIMS {
            let msg = format!("tensor `{name}` has {n_dims} dimensions (ggml allows {MAX_DIMS})");
            return Err(if u64::from(n_dims) >= u64::from(u32::MAX >> 1) {
                Stop::Exploit(msg, at)
            } else {
                Stop::Malformed(msg, at)
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let dim_at = self.r.pos;
            let dim = if self.version == 1 {
                u64::from(self.r.u32("tensor dimension")?)
            } else {
                self.r.u64("tensor dimension")?
            };
            if dim > i64::MAX as u64 {
                return Err(Stop::Exploit(
                    format!("tensor `{name}` dimension {dim:#x} overflows ggml's int64 sizes"),
                    dim_at,
                ));
            }
            dims.push(dim);
        }
        let ggml_type = self.r.u32("tensor type")?;
        let offset = self.r.u64("tensor offset")?;
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            at,
        })
    }
}

fn parse(
    source: &dyn ByteSource,
    templates: &mut Vec<(String, String, u64)>,
    refused: &mut Vec<(String, u64)>,
    unchecked: &mut u64,
) -> (Header, Option<Stop>) {
    let mut header = Header::default();
    let mut p = Parser {
        r: Reader::new(source, 0),
        version: 0,
        templates: Vec::new(),
        refused: Vec::new(),
        keys: HashSet::new(),
        unchecked: 0,
    };
    let stop = (|| -> Result<()> {
        p.r.take(4, "magic")?;
        let mut version = p.r.u32("version")?;
        // gguf-py, and llama.cpp on a host of the other byte order, take a version whose low 16
        // bits are zero for a file written in the other byte order.
        if version != 0 && version & 0xFFFF == 0 {
            p.r.big = true;
            version = version.swap_bytes();
        }
        if !(1..=3).contains(&version) {
            return Err(Stop::Malformed(
                format!("unsupported GGUF version {version}"),
                4,
            ));
        }
        if version == 1 {
            p.refused.push((
                "GGUF version 1 (llama.cpp and gguf-py no longer read it)".into(),
                4,
            ));
        }
        p.version = version;
        header.version = version;
        let at = p.r.pos;
        let tensor_count = p.count("tensor count")?;
        let kv_count = p.count("metadata count")?;
        // A key/value takes at least 13 bytes (v1: 9), a tensor info at least 24 (v1: 16).
        p.fits(
            kv_count,
            if version == 1 { 9 } else { 13 },
            "metadata count",
            at,
        )?;
        p.fits(
            tensor_count,
            if version == 1 { 16 } else { 24 },
            "tensor count",
            at,
        )?;
        for _ in 0..kv_count {
            let kv = p.kv()?;
            header.values.push(kv);
        }
        for _ in 0..tensor_count {
            let info = p.tensor_info()?;
            header.tensors.push(info);
        }
        header.infos_end = p.r.pos;
        Ok(())
    })()
    .err();
    templates.append(&mut p.templates);
    refused.append(&mut p.refused);
    *unchecked = p.unchecked;
    (header, stop)
}

/// Analyzes a GGUF file (or an embedded GGUF window starting at byte `base` of the file) and
/// reports into `cx`.
pub(crate) fn analyze_source(source: &dyn ByteSource, base: u64, cx: &mut Context<'_>) {
    let mut templates = Vec::new();
    let mut refused = Vec::new();
    let mut unchecked = 0;
    let (header, stop) = parse(source, &mut templates, &mut refused, &mut unchecked);
    for (key, text, at) in &templates {
        for issue in chat_template::analyze(text) {
            let finding = Finding::new(issue.rule, format!("`{key}`: {}", issue.message));
            cx.record(finding.with_severity(issue.severity), Some(base + at));
        }
    }
    record_model(&header, cx);
    metadata_strings(&header, cx);
    if unchecked > 0 {
        cx.not_analysed(format!(
            "gguf: {unchecked} metadata strings that could hold a credential or an address were \
             not checked (more than {MAX_ARRAY_STRINGS} in one array)"
        ));
    }
    for (msg, at) in refused {
        cx.malformed(
            RuleId::FormatMalformed,
            format!("gguf: {msg}"),
            Some(base + at),
        );
    }
    match stop {
        Some(Stop::Malformed(msg, at)) => {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("gguf: {msg}"),
                Some(base + at),
            );
            return;
        }
        Some(Stop::Exploit(msg, at)) => {
            cx.malformed(
                RuleId::GgufOverflow,
                format!("gguf: {msg}"),
                Some(base + at),
            );
            return;
        }
        Some(Stop::Io(err)) => {
            cx.read_error(&err);
            return;
        }
        None => {}
    }
    check_tensors(&header, source.len(), base, cx);
}

/// Secrets and network indicators in the string metadata (the tokenizer's vocabulary and
/// templates excepted: templates are judged as templates, vocabularies are not metadata).
fn metadata_strings(header: &Header, cx: &mut Context<'_>) {
    for kv in &header.values {
        if kv.key.starts_with("tokenizer.") {
            continue;
        }
        let texts: &[String] = match &kv.value {
            Value::Str(text) => std::slice::from_ref(text),
            Value::Strings(texts) => texts,
            _ => &[],
        };
        let field = format!("GGUF `{}`", kv.key);
        for text in texts {
            crate::secrets::check_value(cx, crate::secrets::Place::Metadata, &field, text, None);
        }
        if crate::secrets::worth_checking(&kv.key) {
            let field = "a GGUF metadata key";
            crate::secrets::check_value(cx, crate::secrets::Place::Metadata, field, &kv.key, None);
        }
    }
}

fn record_model(header: &Header, cx: &mut Context<'_>) {
    if header.version == 0 {
        return;
    }
    let model = cx.model();
    model.set_framework("gguf");
    model
        .metadata
        .insert("gguf_version".into(), header.version.to_string());
    if let Some(arch) = header.get_str("general.architecture") {
        model.architecture.get_or_insert_with(|| arch.to_string());
    }
    for (key, field) in [
        ("general.name", "name"),
        ("general.license", "license"),
        ("general.basename", "basename"),
        ("general.size_label", "size_label"),
    ] {
        if let Some(value) = header.get_str(key) {
            model.metadata.insert(field.into(), value.to_string());
        }
    }
    if let Some(Value::Int(ftype)) = header.get("general.file_type") {
        let name = FILE_TYPES
            .iter()
            .find(|(id, _)| id == ftype)
            .map_or_else(|| format!("file_type {ftype}"), |(_, n)| (*n).to_string());
        model.quantization.get_or_insert(name);
    }
    let mut params: u64 = 0;
    for tensor in &header.tensors {
        if let Some((_, name, _, _)) = GGML_TYPES.iter().find(|t| t.0 == tensor.ggml_type) {
            model.dtypes.insert((*name).to_string());
        }
        let n = tensor
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        params = params.saturating_add(n.unwrap_or(0));
    }
    if !header.tensors.is_empty() {
        model.add_parameters(params);
    }
}

/// `general.alignment` as each reader finds it: llama.cpp takes the first key equal to it as a
/// C string, gguf-py the exact key. Both require a u32 power of two. Returns (llama.cpp's,
/// gguf-py's), or `None` after reporting a bad one.
fn alignments(header: &Header, cx: &mut Context<'_>) -> Option<(u64, u64)> {
    let cpp = header
        .values
        .iter()
        .find(|kv| c_key(&kv.key) == ALIGNMENT_KEY);
    let py = header.values.iter().find(|kv| kv.key == ALIGNMENT_KEY);
    let mut out = [DEFAULT_ALIGNMENT; 2];
    for (slot, kv) in [cpp, py].into_iter().enumerate() {
        let Some(kv) = kv else { continue };
        match (kv.kind, &kv.value) {
            (ValueType::U32, Value::Int(a)) if *a > 0 && (*a as u64).is_power_of_two() => {
                out[slot] = *a as u64;
            }
            (kind, value) => {
                cx.malformed(
                    RuleId::FormatMalformed,
                    format!(
                        "gguf: general.alignment must be a u32 power of two, not {kind:?} {value:?}"
                    ),
                    None,
                );
                return None;
            }
        }
    }
    Some((out[0], out[1]))
}

/// Alignment, types, bounds, overlap and layout of tensor data.
fn check_tensors(header: &Header, file_len: u64, base: u64, cx: &mut Context<'_>) {
    let Some((alignment, py_alignment)) = alignments(header, cx) else {
        return;
    };
    let pad = |n: u64, a: u64| n.div_ceil(a).saturating_mul(a);
    let data_start = pad(header.infos_end, alignment);
    // Data must lie inside the file for both readers, wherever each puts the data section.
    let bound_start = data_start.max(pad(header.infos_end, py_alignment));
    let mut names = HashSet::new();
    let mut spans = Vec::with_capacity(header.tensors.len());
    // Where llama.cpp expects the next tensor: back to back in the order of the infos, each
    // padded to the alignment (`gguf_init_from_file` refuses any other layout).
    let mut expected = Some(0u64);
    for t in &header.tensors {
        // llama.cpp compares names as C strings; equal names are also equal there.
        if !names.insert(c_key(&t.name)) {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("gguf: duplicate tensor name `{}`", t.name),
                Some(base + t.at),
            );
        }
        let Some(&(_, type_name, block, type_size)) =
            GGML_TYPES.iter().find(|g| g.0 == t.ggml_type)
        else {
            cx.malformed(
                RuleId::FormatMalformed,
                format!(
                    "gguf: tensor `{}` has unknown ggml type {}",
                    t.name, t.ggml_type
                ),
                Some(base + t.at),
            );
            expected = None;
            continue;
        };
        // A tensor without dimensions holds one element.
        if t.dims.first().unwrap_or(&1) % block != 0 {
            cx.layout_mismatch(
                format!(
                    "gguf: tensor `{}` row of {} elements is not a whole number of {type_name} blocks ({block})",
                    t.name,
                    t.dims.first().unwrap_or(&1)
                ),
                Some(base + t.at),
            );
            cx.malformed(
                RuleId::FormatMalformed,
                format!("gguf: tensor `{}` row size is not a multiple of the {type_name} block ({block})", t.name),
                Some(base + t.at),
            );
            expected = None;
            continue;
        }
        let size = t
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .map(|n| n / block)
            .and_then(|blocks| blocks.checked_mul(type_size));
        let Some(size) = size.filter(|s| *s <= i64::MAX as u64) else {
            cx.malformed(
                RuleId::GgufOverflow,
                format!(
                    "gguf: tensor `{}` byte size overflows (dims {:?})",
                    t.name, t.dims
                ),
                Some(base + t.at),
            );
            expected = None;
            continue;
        };
        if t.offset % alignment != 0 {
            cx.malformed(
                RuleId::FormatMalformed,
                format!(
                    "gguf: tensor `{}` offset {} is not aligned to {alignment}",
                    t.name, t.offset
                ),
                Some(base + t.at),
            );
        } else if let Some(want) = expected.filter(|want| *want != t.offset) {
            cx.malformed(
                RuleId::FormatMalformed,
                format!(
                    "gguf: tensor `{}` data is at offset {}, llama.cpp expects {want} (tensors \
                     follow each other in the order of their infos, each padded to {alignment})",
                    t.name, t.offset
                ),
                Some(base + t.at),
            );
            expected = None;
        }
        expected = expected.and_then(|e| e.checked_add(pad(size, alignment)));
        let end = bound_start
            .checked_add(t.offset)
            .and_then(|s| s.checked_add(size));
        match end {
            Some(end) if end <= file_len => {
                cx.declare_tensor(TensorSpan {
                    name: t.name.clone(),
                    start: base + data_start + t.offset,
                    len: size,
                    kind: match t.ggml_type {
                        0 => TensorKind::F32,
                        1 => TensorKind::F16,
                        28 => TensorKind::F64,
                        30 => TensorKind::BF16,
                        _ => TensorKind::Other,
                    },
                });
                spans.push((t.offset, t.offset + size, t))
            }
            _ => {
                cx.layout_mismatch(
                    format!(
                        "gguf: tensor `{}` ({type_name}, dims {:?}) needs {size} bytes at data offset {}, past the end of the file",
                        t.name, t.dims, t.offset
                    ),
                    Some(base + t.at),
                );
                let rule = if t.offset >= EXPLOIT_SIZED {
                    RuleId::GgufOverflow
                } else {
                    RuleId::FormatMalformed
                };
                cx.malformed(
                    rule,
                    format!(
                        "gguf: tensor `{}` data (offset {}, {size} bytes) lies outside the file",
                        t.name, t.offset
                    ),
                    Some(base + t.at),
                );
            }
        }
    }
    spans.sort_by_key(|s| (s.0, s.1));
    for pair in spans.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if b.0 < a.1 {
            cx.layout_mismatch(
                format!(
                    "gguf: tensors `{}` and `{}` overlap ({} bytes)",
                    a.2.name,
                    b.2.name,
                    a.1.min(b.1) - b.0
                ),
                Some(base + b.2.at),
            );
            cx.malformed(
                RuleId::FormatMalformed,
                format!("gguf: tensors `{}` and `{}` overlap", a.2.name, b.2.name),
                Some(base + b.2.at),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::registry;
    use crate::{AnalysisOptions, MemorySource, Severity};

    /// A minimal v3 GGUF builder for unit tests (fixtures come from the real `gguf` writer).
    fn gguf(
        kvs: &[(&str, u32, Vec<u8>)],
        tensors: &[(&str, &[u64], u32, u64)],
        data: usize,
    ) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((tensors.len() as u64).to_le_bytes());
        out.extend((kvs.len() as u64).to_le_bytes());
        for (key, kind, value) in kvs {
            out.extend((key.len() as u64).to_le_bytes());
            out.extend(key.as_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(value);
        }
        for (name, dims, kind, offset) in tensors {
            out.extend((name.len() as u64).to_le_bytes());
            out.extend(name.as_bytes());
            out.extend((dims.len() as u32).to_le_bytes());
            for d in *dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(kind.to_le_bytes());
            out.extend(offset.to_le_bytes());
        }
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
        out.extend(vec![0u8; data]);
        out
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    }

    fn scan(bytes: Vec<u8>) -> (bool, Vec<Finding>, crate::ModelInfo) {
        let reg = registry();
        let opts = AnalysisOptions::default();
        let mut cx = Context::new(&reg, &opts);
        let src = MemorySource::new(bytes);
        analyze_source(&src, 0, &mut cx);
        let invalid = cx.is_invalid();
        let (findings, model, _) = cx.finish();
        (invalid, findings, model)
    }

    #[test]
    fn clean_file_records_model_facts() {
        let bytes = gguf(
            &[
                ("general.architecture", 8, string("llama")),
                ("general.file_type", 4, 15u32.to_le_bytes().to_vec()),
                (
                    "tokenizer.ggml.tokens",
                    9,
                    [
                        8u32.to_le_bytes().to_vec(),
                        2u64.to_le_bytes().to_vec(),
                        string("a"),
                        string("b"),
                    ]
                    .concat(),
                ),
            ],
            &[("w", &[8, 2], 0, 0), ("b", &[8], 1, 64)],
            96,
        );
        let (invalid, findings, model) = scan(bytes);
        assert!(!invalid, "{findings:?}");
        assert!(findings.is_empty());
        assert_eq!(model.architecture.as_deref(), Some("llama"));
        assert_eq!(model.quantization.as_deref(), Some("Q4_K_M"));
        assert_eq!(model.parameters, Some(24));
    }

    #[test]
    fn secrets_in_string_arrays_are_found_outside_the_vocabulary() {
        let array = |items: &[&str]| {
            let mut v = 8u32.to_le_bytes().to_vec();
            v.extend((items.len() as u64).to_le_bytes());
            for item in items {
                v.extend(string(item));
            }
            v
        };
        // A Hugging Face token shape: `hf_` and 34 letters of both cases.
        let token = "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh";
        let bytes = gguf(
            &[
                ("general.architecture", 8, string("llama")),
                ("general.tags", 9, array(&["text-generation", token])),
                ("tokenizer.ggml.tokens", 9, array(&["a", token])),
            ],
            &[("w", &[8], 0, 0)],
            32,
        );
        let (invalid, findings, _) = scan(bytes);
        assert!(!invalid);
        let secrets: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.rule_id == RuleId::MetadataSecret)
            .collect();
        assert_eq!(secrets.len(), 1, "{findings:?}");
        assert!(
            secrets[0].message.contains("general.tags"),
            "{}",
            secrets[0].message
        );
        assert!(
            !secrets[0].message.contains(token),
            "unredacted: {}",
            secrets[0].message
        );
    }

    #[test]
    fn a_secret_past_thousands_of_tags_is_found_and_no_cap_hides_one() {
        let array = |items: &[String]| {
            let mut v = 8u32.to_le_bytes().to_vec();
            v.extend((items.len() as u64).to_le_bytes());
            for item in items {
                v.extend(string(item));
            }
            v
        };
        let token = "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh".to_owned();
        // Ten thousand plain tags, then the token: plain tags are not kept, so it is checked.
        let mut tags: Vec<String> = (0..10_000).map(|i| format!("tag-{i}")).collect();
        tags.push(token.clone());
        let bytes = gguf(
            &[
                ("general.architecture", 8, string("llama")),
                ("general.tags", 9, array(&tags)),
            ],
            &[("w", &[8], 0, 0)],
            32,
        );
        let reg = registry();
        let opts = AnalysisOptions::default();
        let mut cx = Context::new(&reg, &opts);
        analyze_source(&MemorySource::new(bytes), 0, &mut cx);
        assert!(cx.incomplete().is_none(), "{:?}", cx.incomplete());
        let (findings, _, _) = cx.finish();
        assert!(
            findings.iter().any(|f| f.rule_id == RuleId::MetadataSecret),
            "{findings:?}"
        );
        // More strings worth a check than are kept: the file is not fully analysed.
        let urls: Vec<String> = (0..=MAX_ARRAY_STRINGS)
            .map(|i| format!("https://example.org/{i}"))
            .collect();
        let bytes = gguf(
            &[
                ("general.architecture", 8, string("llama")),
                ("general.source.urls", 9, array(&urls)),
            ],
            &[("w", &[8], 0, 0)],
            32,
        );
        let mut cx = Context::new(&reg, &opts);
        analyze_source(&MemorySource::new(bytes), 0, &mut cx);
        let why = cx.incomplete().unwrap_or_default().to_owned();
        assert!(why.contains("1 metadata strings"), "{why}");
    }

    #[test]
    fn huge_string_length_is_an_exploit() {
        let mut bytes = gguf(&[], &[], 0);
        bytes.truncate(24);
        bytes[16..24].copy_from_slice(&1u64.to_le_bytes());
        bytes.extend(u64::MAX.to_le_bytes());
        bytes.extend(b"general.name");
        let (invalid, findings, _) = scan(bytes);
        assert!(invalid);
        assert!(
            findings
                .iter()
                .any(|f| f.rule_id == RuleId::GgufOverflow && f.severity == Severity::High)
        );
    }

    #[test]
    fn overlap_misalignment_and_bounds_are_invalid() {
        for tensors in [
            vec![("a", &[8u64][..], 0u32, 0u64), ("b", &[8][..], 0, 0)],
            vec![("a", &[8][..], 0, 4)],
            vec![("a", &[8][..], 0, 4096)],
            vec![("a", &[8][..], 99, 0)],
            vec![("a", &[1, 1, 1, 1, 1][..], 0, 0)],
        ] {
            let (invalid, findings, _) = scan(gguf(&[], &tensors, 64));
            assert!(invalid, "{tensors:?}: {findings:?}");
        }
    }

    #[test]
    fn template_payload_is_critical() {
        let bytes = gguf(
            &[(
                "tokenizer.chat_template",
                8,
                string("{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
            )],
            &[],
            0,
        );
        let (_, findings, _) = scan(bytes);
        assert!(findings.iter().any(|f| f.severity == Severity::Critical));
    }

    proptest::proptest! {
        #[test]
        fn corrupted_headers_never_panic(flips in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 1..8)) {
            let mut bytes = gguf(
                &[("general.architecture", 8, string("llama")), ("tokenizer.chat_template", 8, string("{{ x }}"))],
                &[("w", &[8, 2], 0, 0), ("b", &[8], 1, 64)],
                96,
            );
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            scan(bytes);
        }
    }

    #[test]
    fn every_truncation_is_handled() {
        let bytes = gguf(
            &[
                ("general.architecture", 8, string("llama")),
                ("tokenizer.chat_template", 8, string("{{ x }}")),
            ],
            &[("w", &[8, 2], 0, 0)],
            64,
        );
        for cut in 0..bytes.len() - 64 {
            let (invalid, _, _) = scan(bytes[..cut].to_vec());
            assert!(invalid || cut < 4, "cut at {cut}");
        }
    }
}
