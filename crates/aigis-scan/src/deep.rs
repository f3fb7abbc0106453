//! `--deep`: checks of the tensor bytes themselves, in one sequential pass.
//!
//! Analyzers that know where tensors lie (safetensors, GGUF, stored PyTorch zip storages)
//! declare each tensor's byte range with [`crate::Context::declare_tensor`] (only with
//! [`crate::AnalysisOptions::deep`], only for the top-level file, whose offsets are the file's).
//! An [`Inspector`] is then fed the file's bytes in order — by the engine's hashing pass, from the
//! same buffers the hash reads, so the deep checks cost no second read — and keeps per-tensor
//! counters: NaN/Inf counts, a histogram of the lowest mantissa byte (per block), the first
//! bytes of the low-byte and lowest-bit streams, and the offsets where a
//! file signature starts at a suspicious alignment (the tensor's start or a 512-byte boundary
//! inside it). [`Inspector::finish`] validates those candidates (an ELF header with sane fields,
//! a pickle that parses to its STOP, …) with a few small reads and turns everything into
//! findings.

use crate::analyzer::{Context, Registry};
use crate::{AnalysisOptions, ByteSource, Finding, MemorySource, RuleId, Severity};

/// Signatures are looked for at offsets inside a tensor that are multiples of this.
const ALIGN: u64 = 512;
/// Elements per low-bit statistics block.
const BLOCK: u32 = 32 * 1024;
/// Candidate offsets validated after the pass, at most (each costs a small read).
const MAX_CANDIDATES: usize = 256;
/// Bytes read to validate a candidate (a pickle is parsed within this window).
const WINDOW: u64 = 1 << 20;
/// The low-byte statistic ([`flush_block`]) past which a block's low bytes are not noise.
const CHI2_LIMIT: f64 = 500.0;
/// The statistic past which low bytes that are not text are reported (low): real checkpoints
/// reach about 2,600 (position tables, weights upcast from half precision; the development
/// corpus), so only structure well past any of them is.
const CHI2_LIMIT_BINARY: f64 = 8.0 * CHI2_LIMIT;
/// Largest chi-square terms left out of the statistic.
const TRIM: usize = 16;
/// Bytes looked at to judge a signature in the pass (a tar header is 512, a PE header is
/// usually within the first KiB).
const LOOK: usize = 4096;
/// Low-bit stream bytes kept per tensor to look for a signature at its start.
const STREAM_HEAD: usize = 512;

/// The element type of a declared byte range, as far as the deep checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// Anything else (integers, quantized blocks, unknown): signatures only.
    Other,
    /// Bytes between tensors that no tensor declares: any non-zero byte is data.
    Gap,
}

/// The element type and width in bytes of a `torch.<Type>Storage` class, as `torch.save` names
/// storages (`FloatStorage`, `BFloat16Storage`, ...); an unknown class is `Other` of unknown width.
pub fn storage_kind(storage_type: &str) -> (TensorKind, Option<u64>) {
    match storage_type {
        "FloatStorage" => (TensorKind::F32, Some(4)),
        "DoubleStorage" => (TensorKind::F64, Some(8)),
        "HalfStorage" => (TensorKind::F16, Some(2)),
        "BFloat16Storage" => (TensorKind::BF16, Some(2)),
        "LongStorage" | "ComplexFloatStorage" => (TensorKind::Other, Some(8)),
        "IntStorage" | "QInt32Storage" => (TensorKind::Other, Some(4)),
        "ShortStorage" => (TensorKind::Other, Some(2)),
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QInt8Storage" | "QUInt8Storage" => {
            (TensorKind::Other, Some(1))
        }
        "ComplexDoubleStorage" => (TensorKind::Other, Some(16)),
        _ => (TensorKind::Other, None),
    }
}

impl TensorKind {
    fn width(self) -> usize {
        match self {
            TensorKind::F16 | TensorKind::BF16 => 2,
            TensorKind::F32 => 4,
            TensorKind::F64 => 8,
            TensorKind::Other | TensorKind::Gap => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TensorKind::F16 => "F16",
            TensorKind::BF16 => "BF16",
            TensorKind::F32 => "F32",
            TensorKind::F64 => "F64",
            TensorKind::Other => "other",
            TensorKind::Gap => "gap",
        }
    }
}

/// A tensor's bytes: where they are in the top-level file and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpan {
    /// The tensor's name (or a description of a gap).
    pub name: String,
    /// Absolute offset of the first byte in the file.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Element type.
    pub kind: TensorKind,
}

impl TensorSpan {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// Statistics of one low-bit block.
#[derive(Clone)]
struct Block {
    /// Histogram of the lowest mantissa byte.
    low: Box<[u32; 256]>,
    /// Which values of the top 16 bits (sign, exponent, high mantissa) occurred.
    high_seen: Box<[u64; 1024]>,
    /// How many distinct top-16-bit values occurred.
    high_distinct: u32,
    elements: u32,
}

impl Block {
    fn new() -> Block {
        Block {
            low: Box::new([0; 256]),
            high_seen: Box::new([0; 1024]),
            high_distinct: 0,
            elements: 0,
        }
    }
}

/// The worst block of a tensor.
#[derive(Debug, Clone, Copy, Default)]
struct Worst {
    chi2: f64,
    /// Block index (elements from `index * BLOCK`).
    index: u64,
    /// Share of printable ASCII among the block's non-zero low bytes.
    printable: f64,
}

#[derive(Default)]
struct State {
    carry: Vec<u8>,
    elements: u64,
    nan: u64,
    inf: u64,
    nonzero: u64,
    block: Option<Block>,
    blocks: u64,
    worst: Option<Worst>,
    low_head: Vec<u8>,
    packed_head: Vec<u8>,
    head_bits: u8,
    head_nbits: u8,
}

impl State {
    /// Whether the low-byte or lowest-bit stream heads still take elements.
    fn heads_open(&self) -> bool {
        self.low_head.len() < STREAM_HEAD || self.packed_head.len() < STREAM_HEAD
    }
}

/// Collects the deep checks' evidence from the bytes of the declared tensors, fed in order.
pub struct Inspector {
    spans: Vec<TensorSpan>,
    states: Vec<State>,
    /// First span that may still receive bytes.
    cursor: usize,
    /// (span, absolute offset) of signatures to validate after the pass.
    candidates: Vec<(usize, u64)>,
    /// Payloads already validated in the pass: (span, absolute offset, what).
    found: Vec<(usize, u64, String)>,
    candidates_dropped: u64,
    /// Aligned offsets too close to the end of the last chunk to judge there.
    pending: Vec<(usize, u64)>,
    /// The last chunk's last [`LOOK`] bytes (while offsets are pending) and where they start.
    tail: Vec<u8>,
    tail_at: u64,
    /// Bytes fed so far (the next expected offset).
    fed: u64,
}

impl Inspector {
    /// An inspector for these spans (any order; empty spans are dropped).
    pub fn new(mut spans: Vec<TensorSpan>) -> Inspector {
        spans.retain(|s| s.len > 0);
        spans.sort_by_key(|s| (s.start, s.len));
        let states = spans.iter().map(|_| State::default()).collect();
        Inspector {
            spans,
            states,
            cursor: 0,
            candidates: Vec::new(),
            found: Vec::new(),
            candidates_dropped: 0,
            pending: Vec::new(),
            tail: Vec::new(),
            tail_at: 0,
            fed: 0,
        }
    }

    /// Whether there is anything to inspect.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Feeds the file's bytes at `offset` (chunks must come in order, without holes).
    pub fn feed(&mut self, offset: u64, chunk: &[u8]) {
        let chunk_end = offset + chunk.len() as u64;
        self.fed = chunk_end;
        self.resolve_pending(offset, chunk);
        while self
            .spans
            .get(self.cursor)
            .is_some_and(|s| s.end() <= offset)
        {
            self.cursor += 1;
        }
        for i in self.cursor..self.spans.len() {
            let span = &self.spans[i];
            if span.start >= chunk_end {
                break;
            }
            if span.end() <= offset {
                continue;
            }
            let from = span.start.max(offset);
            let to = span.end().min(chunk_end);
            let bytes = &chunk[(from - offset) as usize..(to - offset) as usize];
            let in_tensor = from - span.start;
            let kind = span.kind;
            self.signatures(i, in_tensor, bytes);
            let state = &mut self.states[i];
            match kind {
                TensorKind::Gap => {
                    state.nonzero += bytes.iter().filter(|b| **b != 0).count() as u64;
                }
                TensorKind::Other => {}
                _ => elements(state, kind, bytes),
            }
        }
        if !self.pending.is_empty() {
            let keep = chunk.len().min(LOOK);
            self.tail = chunk[chunk.len() - keep..].to_vec();
            self.tail_at = chunk_end - keep as u64;
        }
    }

    /// Aligned offsets near the end of the previous chunk, judged on its tail joined with the
    /// head of this one.
    fn resolve_pending(&mut self, offset: u64, chunk: &[u8]) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut joined = std::mem::take(&mut self.tail);
        let contiguous = self.tail_at + joined.len() as u64 == offset;
        if contiguous {
            joined.extend_from_slice(&chunk[..chunk.len().min(LOOK)]);
        }
        for (span, abs) in pending {
            let s = &self.spans[span];
            let Some(rel) = abs.checked_sub(self.tail_at) else {
                continue;
            };
            let end_rel = (s.end() - self.tail_at).min(joined.len() as u64) as usize;
            let window = joined.get(rel as usize..end_rel).unwrap_or(&[]);
            let room = s.end() - abs;
            let verdict = match identify(window, room) {
                Verdict::Stitch => Verdict::Later,
                other => other,
            };
            self.note(span, abs, verdict);
        }
    }

    /// Looks for signatures at the aligned offsets of `bytes` (tensor-relative `in_tensor`).
    fn signatures(&mut self, span: usize, in_tensor: u64, bytes: &[u8]) {
        let s = &self.spans[span];
        if s.kind == TensorKind::Gap {
            return;
        }
        let (start, end) = (s.start, s.end());
        let mut at = in_tensor.div_ceil(ALIGN) * ALIGN;
        while at < in_tensor + bytes.len() as u64 {
            let rel = (at - in_tensor) as usize;
            let abs = start + at;
            let verdict = identify(&bytes[rel..], end - abs);
            match verdict {
                Verdict::Stitch => self.pending.push((span, abs)),
                other => self.note(span, abs, other),
            }
            at += ALIGN;
        }
    }

    fn note(&mut self, span: usize, abs: u64, verdict: Verdict) {
        match verdict {
            Verdict::No | Verdict::Stitch => {}
            Verdict::Found(what) => {
                if self.found.len() < MAX_CANDIDATES {
                    self.found.push((span, abs, what));
                }
            }
            Verdict::Later => {
                if self.candidates.len() < MAX_CANDIDATES {
                    self.candidates.push((span, abs));
                } else {
                    self.candidates_dropped += 1;
                }
            }
        }
    }

    /// Bytes fed so far.
    pub fn fed(&self) -> u64 {
        self.fed
    }

    /// Validates the candidates (small reads of `source`), analyses embedded pickles through
    /// `registry`, and returns the findings.
    pub fn finish(
        self,
        source: &dyn ByteSource,
        registry: &Registry,
        options: &AnalysisOptions,
    ) -> Vec<Finding> {
        let mut cx = Context::new(registry, options);
        let mut found = self.found;
        let mut candidates = self.candidates;
        candidates.extend(self.pending.iter().take(MAX_CANDIDATES));
        for &(span, abs) in &candidates {
            let s = &self.spans[span];
            let want = (s.end() - abs).min(WINDOW) as usize;
            let Ok(window) = source.read_vec(abs, want) else {
                continue;
            };
            if let Some(what) = validate(&window) {
                found.push((span, abs, what));
            }
        }
        found.sort_by_key(|f| f.1);
        found.dedup_by_key(|f| f.1);
        for (span, abs, what) in found {
            let s = &self.spans[span];
            let msg = format!(
                "tensor `{}`: {what} at byte {} of the tensor",
                s.name,
                abs - s.start
            );
            cx.record(Finding::new(RuleId::WeightsEmbeddedPayload, msg), Some(abs));
            if what.starts_with("a pickle") {
                let want = (s.end() - abs).min(WINDOW) as usize;
                if let Ok(window) = source.read_vec(abs, want) {
                    let end = pickle_end(&window).unwrap_or(window.len());
                    let bytes = window.get(..end).unwrap_or(&window).to_vec();
                    let label = format!("tensor {} @ byte {abs}", s.name);
                    cx.scan_member(&label, &MemorySource::new(bytes));
                }
            }
        }
        if self.candidates_dropped > 0 {
            let msg = format!(
                "{} more signature candidates in tensor data were not validated (cap {MAX_CANDIDATES})",
                self.candidates_dropped
            );
            cx.record(
                Finding::new(RuleId::WeightsLowBitAnomaly, msg).with_severity(Severity::Info),
                None,
            );
        }
        for (span, mut state) in self.spans.iter().zip(self.states) {
            flush_block(&mut state);
            report_tensor(span, &state, &mut cx);
        }
        let (findings, _, _) = cx.finish();
        findings
    }
}

/// What a look at an aligned offset says.
enum Verdict {
    No,
    Found(String),
    /// Needs more bytes than the window holds: validated after the pass with a read.
    Later,
    /// The window ends with the chunk: judged again with the next chunk's head.
    Stitch,
}

/// Whether `window` (bytes at an aligned offset, `room` bytes to the tensor's end) starts with a
/// validated signature. A first-byte test first: this runs at every 512th byte of every tensor.
fn identify(window: &[u8], room: u64) -> Verdict {
    let Some(&first) = window.first() else {
        return Verdict::No;
    };
    // All there is to see: the window reaches the tensor's end or holds a whole look.
    let complete = window.len() as u64 >= room.min(WINDOW);
    if window.len() < LOOK && !complete {
        return Verdict::Stitch;
    }
    let tarish = window.get(257..262) == Some(b"ustar");
    if !tarish
        && !matches!(
            first,
            0x7f | b'M'
                | 0xfe
                | 0xce
                | 0xcf
                | b'P'
                | 0x1f
                | b'7'
                | 0xfd
                | 0x80
                | b'#'
                | b'i'
                | b'<'
        )
    {
        return Verdict::No;
    }
    // A pickle is parsed to its STOP, which may lie past the window.
    if is_pickle_start(window) && !complete {
        return Verdict::Later;
    }
    if window.starts_with(b"MZ")
        && !complete
        && u32le(window, 0x3c).is_some_and(|at| at as usize + 6 > window.len() && at < 0x10000)
    {
        return Verdict::Later;
    }
    match validate(window) {
        Some(what) => Verdict::Found(what),
        None => Verdict::No,
    }
}

fn is_pickle_start(w: &[u8]) -> bool {
    match w {
        [0x80, 2..=5, op, ..] => matches!(
            op,
            0x95 | b'c'
                | b'}'
                | b']'
                | b'('
                | b')'
                | b'X'
                | b'K'
                | b'J'
                | b'M'
                | b'N'
                | b'U'
                | b'T'
                | b'B'
                | b'C'
                | b'G'
                | 0x8c
                | 0x8d
                | 0x8e
                | 0x88
                | 0x89
                | 0x8a
                | b'\x93'
        ),
        _ => false,
    }
}

/// Offset just after the first complete pickle in `window`, when it parses to its STOP.
fn pickle_end(window: &[u8]) -> Option<usize> {
    let opts = aigis_pickle::Options::default();
    let scan = aigis_pickle::scan(window, 0, &opts);
    if scan.streams.is_empty() || scan.problem.is_some() {
        return None;
    }
    usize::try_from(scan.end).ok().filter(|e| *e > 2)
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// The validated file signature `window` starts with, described.
fn validate(w: &[u8]) -> Option<String> {
    if w.starts_with(b"\x7fELF") {
        return elf(w);
    }
    if w.starts_with(b"MZ") {
        return pe(w);
    }
    if let Some(what) = macho(w) {
        return Some(what);
    }
    if w.starts_with(b"PK\x03\x04") {
        return zip_local(w);
    }
    if w.starts_with(b"\x1f\x8b\x08") {
        let flags = *w.get(3)?;
        let xfl = *w.get(8)?;
        let os = *w.get(9)?;
        return (flags & 0xe0 == 0 && matches!(xfl, 0 | 2 | 4) && (os <= 13 || os == 255))
            .then(|| "a gzip stream (valid header)".to_string());
    }
    if w.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return (*w.get(6)? == 0).then(|| "a 7z archive".to_string());
    }
    if w.starts_with(b"\xfd7zXZ\x00") {
        let flags = w.get(6..8)?;
        let crc = u32le(w, 8)?;
        return (flags[0] == 0 && crc32fast::hash(flags) == crc)
            .then(|| "an xz stream (header CRC valid)".to_string());
    }
    if is_pickle_start(w) {
        return pickle_end(w).map(|end| format!("a pickle ({end} bytes, parses to its STOP)"));
    }
    if w.get(257..262) == Some(b"ustar") {
        return tar(w);
    }
    script(w)
}

fn elf(w: &[u8]) -> Option<String> {
    let class = *w.get(4)?;
    let data = *w.get(5)?;
    if !matches!(class, 1 | 2) || !matches!(data, 1 | 2) || *w.get(6)? != 1 {
        return None;
    }
    let read16 = |at: usize| -> Option<u16> {
        let b = [*w.get(at)?, *w.get(at + 1)?];
        Some(if data == 1 {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let kind = read16(16)?;
    let machine = read16(18)?;
    let ehsize = read16(if class == 2 { 52 } else { 40 })?;
    let want = if class == 2 { 64 } else { 52 };
    if !(1..=4).contains(&kind) || machine == 0 || ehsize != want {
        return None;
    }
    let kinds = ["", "relocatable", "executable", "shared object", "core"];
    Some(format!(
        "an ELF{} {} (machine {machine:#x})",
        if class == 2 { "64" } else { "32" },
        kinds[kind as usize]
    ))
}

fn pe(w: &[u8]) -> Option<String> {
    let at = u32le(w, 0x3c)? as usize;
    if at < 0x40 || w.get(at..at + 4)? != b"PE\0\0" {
        return None;
    }
    let machine = u16le(w, at + 4)?;
    matches!(machine, 0x14c | 0x8664 | 0xaa64 | 0x1c0 | 0x1c4 | 0x200)
        .then(|| format!("a PE executable (machine {machine:#x})"))
}

fn macho(w: &[u8]) -> Option<String> {
    let magic = u32le(w, 0)?;
    let (le, bits) = match magic {
        0xfeed_face => (true, 32),
        0xfeed_facf => (true, 64),
        0xcefa_edfe => (false, 32),
        0xcffa_edfe => (false, 64),
        _ => return None,
    };
    let read = |at: usize| -> Option<u32> {
        let v = u32le(w, at)?;
        Some(if le { v } else { v.swap_bytes() })
    };
    let cpu = read(4)?;
    let filetype = read(12)?;
    let ncmds = read(16)?;
    let sizeofcmds = read(20)?;
    (matches!(cpu, 7 | 0x0100_0007 | 12 | 0x0100_000c | 18 | 0x0100_0012)
        && (1..=12).contains(&filetype)
        && ncmds > 0
        && ncmds < 4096
        && sizeofcmds < 1 << 24)
        .then(|| format!("a Mach-O {bits}-bit binary (cpu {cpu:#x}, file type {filetype})"))
}

fn zip_local(w: &[u8]) -> Option<String> {
    let version = u16le(w, 4)?;
    let method = u16le(w, 8)?;
    let name_len = u16le(w, 26)? as usize;
    let name = w.get(30..30 + name_len)?;
    let printable = name.iter().all(|b| (0x20..0x7f).contains(b));
    (version <= 63
        && matches!(method, 0 | 8 | 9 | 12 | 14 | 93 | 95)
        && (1..=1024).contains(&name_len)
        && printable)
        .then(|| {
            format!(
                "a zip archive (first member `{}`)",
                String::from_utf8_lossy(name)
            )
        })
}

fn tar(w: &[u8]) -> Option<String> {
    let header = w.get(..512)?;
    let field = header.get(148..156)?;
    let text = std::str::from_utf8(field).ok()?;
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '\0')).collect();
    let stored = u32::from_str_radix(&digits, 8).ok()?;
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    let name_end = header.iter().position(|b| *b == 0).unwrap_or(100).min(100);
    (stored == sum).then(|| {
        format!(
            "a tar archive (first member `{}`)",
            String::from_utf8_lossy(&header[..name_end])
        )
    })
}

fn script(w: &[u8]) -> Option<String> {
    const STARTS: &[&[u8]] = &[
        b"#!/",
        b"import os",
        b"import subprocess",
        b"import socket",
        b"import sys",
        b"<?php",
        b"<script",
    ];
    if !STARTS.iter().any(|s| w.starts_with(s)) {
        return None;
    }
    // Real text, not a lucky prefix: the first 64 bytes (or all of a shorter window, at least
    // 16) are printable ASCII or whitespace.
    let text = &w[..w.len().min(64)];
    let ok = text.len() >= 16
        && text
            .iter()
            .all(|b| (0x20..0x7f).contains(b) || matches!(b, b'\n' | b'\r' | b'\t'));
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or(text);
    ok.then(|| {
        format!(
            "a script (`{}`)",
            String::from_utf8_lossy(first_line)
                .chars()
                .take(48)
                .collect::<String>()
        )
    })
}

/// Counts NaN/Inf and the low-bit statistics of whole elements in `bytes` (carrying a partial
/// element to the next call).
fn elements(state: &mut State, kind: TensorKind, mut bytes: &[u8]) {
    let width = kind.width();
    if !state.carry.is_empty() {
        let need = width - state.carry.len();
        let take = need.min(bytes.len());
        state.carry.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if state.carry.len() == width {
            let carry = std::mem::take(&mut state.carry);
            element_run(state, kind, &carry);
        }
    }
    let whole = bytes.len() / width * width;
    element_run(state, kind, &bytes[..whole]);
    state.carry.extend_from_slice(&bytes[whole..]);
}

fn element_run(state: &mut State, kind: TensorKind, bytes: &[u8]) {
    match kind {
        TensorKind::F32 => {
            let mut rest = bytes;
            // The stream heads fill from the first elements, one at a time.
            while rest.len() >= 4 && state.heads_open() {
                let x = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
                f32_special(state, x);
                low_bits(state, rest[0], (x >> 16) as u16);
                rest = &rest[4..];
            }
            // Then whole runs up to each block's end, in a tight loop.
            while rest.len() >= 4 {
                let block = state.block.get_or_insert_with(Block::new);
                let room = (BLOCK - block.elements) as usize;
                let n = room.min(rest.len() / 4);
                let (run, tail) = rest.split_at(n * 4);
                let (mut nan, mut inf) = (0u64, 0u64);
                for c in run.chunks_exact(4) {
                    let x = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    if x & 0x7f80_0000 == 0x7f80_0000 {
                        if x & 0x007f_ffff == 0 {
                            inf += 1;
                        } else {
                            nan += 1;
                        }
                    }
                    block.low[(x & 0xff) as usize] += 1;
                    let high = x >> 16;
                    block.high_seen[(high >> 6) as usize] |= 1u64 << (high & 63);
                }
                block.elements += n as u32;
                let full = block.elements == BLOCK;
                state.nan += nan;
                state.inf += inf;
                if full {
                    flush_block(state);
                }
                rest = tail;
            }
            state.elements += (bytes.len() / 4) as u64;
        }
        TensorKind::F64 => {
            for c in bytes.chunks_exact(8) {
                let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                if x & 0x7ff0_0000_0000_0000 == 0x7ff0_0000_0000_0000 {
                    if x & 0x000f_ffff_ffff_ffff == 0 {
                        state.inf += 1;
                    } else {
                        state.nan += 1;
                    }
                }
                low_bits(state, c[0], (x >> 48) as u16);
            }
            state.elements += (bytes.len() / 8) as u64;
        }
        TensorKind::F16 | TensorKind::BF16 => {
            let (exp, mant) = if kind == TensorKind::F16 {
                (0x7c00u16, 0x03ffu16)
            } else {
                (0x7f80, 0x007f)
            };
            for c in bytes.chunks_exact(2) {
                let x = u16::from_le_bytes([c[0], c[1]]);
                if x & exp == exp {
                    if x & mant == 0 {
                        state.inf += 1;
                    } else {
                        state.nan += 1;
                    }
                }
            }
            state.elements += (bytes.len() / 2) as u64;
        }
        TensorKind::Other | TensorKind::Gap => {}
    }
}

/// NaN or infinity in one F32 element's bits, counted.
#[inline]
fn f32_special(state: &mut State, x: u32) {
    if x & 0x7f80_0000 == 0x7f80_0000 {
        if x & 0x007f_ffff == 0 {
            state.inf += 1;
        } else {
            state.nan += 1;
        }
    }
}

/// One element's lowest mantissa byte (and its top 16 bits) into the current block and the
/// stream heads.
#[inline]
fn low_bits(state: &mut State, low: u8, high: u16) {
    if state.low_head.len() < STREAM_HEAD {
        state.low_head.push(low);
    }
    if state.packed_head.len() < STREAM_HEAD {
        state.head_bits |= (low & 1) << state.head_nbits;
        state.head_nbits += 1;
        if state.head_nbits == 8 {
            state.packed_head.push(state.head_bits);
            state.head_bits = 0;
            state.head_nbits = 0;
        }
    }
    let block = state.block.get_or_insert_with(Block::new);
    block.low[low as usize] += 1;
    block.high_seen[(high >> 6) as usize] |= 1u64 << (high & 63);
    block.elements += 1;
    if block.elements == BLOCK {
        flush_block(state);
    }
}

/// Closes the current low-bit block: its statistic against the tensor's worst so far.
///
/// The statistic: a chi-square of the non-zero lowest mantissa bytes against eight independent
/// bits with the block's own bit frequencies (round-to-nearest-even leaves trained weights with
/// more even than odd mantissas, which is no payload), leaving out the 16 largest terms (a few
/// values repeated in a tensor spike a few bins; data written into the low bytes skews most of
/// them). Calibrated on real trained weights (PP-OCR detection, recognition and classification
/// networks, numpy-trained MLPs, normal initialisation): at most about 230; text in a tenth of
/// a block's low bytes is past 700.
fn flush_block(state: &mut State) {
    let Some(mut block) = state.block.take() else {
        return;
    };
    block.high_distinct = block.high_seen.iter().map(|w| w.count_ones()).sum();
    let index = state.blocks;
    state.blocks += 1;
    // Zero low bytes are what widening from a lower precision and round values leave: out.
    let hist = &block.low;
    let n: u64 = hist[1..].iter().map(|c| *c as u64).sum();
    let top = hist[1..].iter().copied().max().unwrap_or(0) as u64;
    // Too few samples, one value dominating (a constant, a mask of finfo.min) or few distinct
    // values (a constant or a coarse grid): structure, not hidden data.
    if n < 2048 || top * 4 > n || block.high_distinct < 256 {
        return;
    }
    let mut ones = [0f64; 8];
    for (b, c) in hist.iter().enumerate().skip(1) {
        for (j, one) in ones.iter_mut().enumerate() {
            if b >> j & 1 == 1 {
                *one += *c as f64;
            }
        }
    }
    let p: Vec<f64> = ones.iter().map(|o| o / n as f64).collect();
    let prob = |b: usize| -> f64 {
        (0..8)
            .map(|j| if b >> j & 1 == 1 { p[j] } else { 1.0 - p[j] })
            .product()
    };
    let nonzero = 1.0 - prob(0);
    if nonzero <= 0.0 {
        return;
    }
    let mut terms: Vec<f64> = (1..256)
        .filter_map(|b| {
            let e = n as f64 * prob(b) / nonzero;
            (e > 0.0).then(|| {
                let d = hist[b] as f64 - e;
                d * d / e
            })
        })
        .collect();
    terms.sort_by(f64::total_cmp);
    let kept = terms.len().saturating_sub(TRIM);
    let chi2: f64 = terms[..kept].iter().sum();
    let printable: u64 = hist
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(b, _)| (0x20..0x7f).contains(b) || matches!(b, 9 | 10 | 13))
        .map(|(_, c)| *c as u64)
        .sum();
    if chi2 > CHI2_LIMIT && state.worst.is_none_or(|w| chi2 > w.chi2) {
        state.worst = Some(Worst {
            chi2,
            index,
            printable: printable as f64 / n as f64,
        });
    }
}

fn report_tensor(span: &TensorSpan, state: &State, cx: &mut Context<'_>) {
    let name = &span.name;
    if span.kind == TensorKind::Gap {
        if state.nonzero > 0 {
            let msg = format!(
                "{name}: {} bytes at file offsets [{}, {}) belong to no tensor and {} of them are \
                 not zero",
                span.len,
                span.start,
                span.end(),
                state.nonzero
            );
            cx.record(
                Finding::new(RuleId::WeightsLayoutMismatch, msg),
                Some(span.start),
            );
        }
        return;
    }
    let bad = state.nan + state.inf;
    if bad > 0 && state.elements > 0 {
        let all = bad == state.elements;
        let msg = format!(
            "tensor `{name}` ({}): {} of {} elements are NaN or infinite ({} NaN, {} Inf){}",
            span.kind.name(),
            bad,
            state.elements,
            state.nan,
            state.inf,
            if all { ": the whole tensor" } else { "" }
        );
        let severity = if all {
            Severity::High
        } else {
            Severity::Medium
        };
        cx.record(
            Finding::new(RuleId::WeightsNanInf, msg).with_severity(severity),
            Some(span.start),
        );
    }
    // A signature at the start of a low-bit stream is a payload, whatever the statistic says.
    for (stream, what) in [
        (&state.low_head, "lowest mantissa bytes"),
        (&state.packed_head, "lowest mantissa bits"),
    ] {
        if stream.len() >= 64
            && let Some(found) = validate(stream)
        {
            let msg = format!(
                "tensor `{name}`: {found} in the {what} of its first elements (steganography)"
            );
            cx.record(
                Finding::new(RuleId::WeightsEmbeddedPayload, msg),
                Some(span.start),
            );
        }
    }
    if let Some(worst) = state.worst
        && (worst.printable > 0.85 || worst.chi2 > CHI2_LIMIT_BINARY)
    {
        let width = span.kind.width() as u64;
        let at = span.start + worst.index * BLOCK as u64 * width;
        let text = worst.printable > 0.85;
        let msg = format!(
            "tensor `{name}` ({}): the lowest mantissa bytes of elements {}..{} are not noise \
             (chi-square {:.0}, trimmed, over independent bits; {:.0}% printable text, where \
             trained weights show about 37%)",
            span.kind.name(),
            worst.index * BLOCK as u64,
            (worst.index + 1) * BLOCK as u64,
            worst.chi2,
            worst.printable * 100.0
        );
        let severity = if text {
            Severity::Medium
        } else {
            Severity::Low
        };
        cx.record(
            Finding::new(RuleId::WeightsLowBitAnomaly, msg).with_severity(severity),
            Some(at),
        );
    }
}

/// Inspects `source` alone, reading the spans in order with large reads: for callers that did
/// not feed an [`Inspector`] from their own pass (in-memory sources read no bytes here).
pub fn inspect_source(
    source: &dyn ByteSource,
    spans: Vec<TensorSpan>,
    registry: &Registry,
    options: &AnalysisOptions,
) -> Vec<Finding> {
    let mut inspector = Inspector::new(spans);
    if inspector.is_empty() {
        return Vec::new();
    }
    if let Some(all) = source.as_slice() {
        inspector.feed(0, all);
    } else {
        let mut buf = vec![0u8; 4 << 20];
        let mut offset = 0u64;
        while let Ok(n) = source.read_at(offset, &mut buf) {
            if n == 0 {
                break;
            }
            inspector.feed(offset, &buf[..n]);
            offset += n as u64;
        }
    }
    inspector.finish(source, registry, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::registry;

    fn normal(n: usize, seed: u64) -> Vec<f32> {
        // Box–Muller over a xorshift generator: random-normal initialisation.
        let mut s = seed | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next().max(1e-12), next());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * 0.02) as f32
            })
            .collect()
    }

    fn bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    fn run(data: Vec<u8>, kind: TensorKind) -> Vec<Finding> {
        let span = TensorSpan {
            name: "t".into(),
            start: 0,
            len: data.len() as u64,
            kind,
        };
        let reg = registry();
        let source = MemorySource::new(data);
        inspect_source(&source, vec![span], &reg, &AnalysisOptions::default())
    }

    /// Feeding in small odd chunks gives the findings of one whole feed.
    #[test]
    fn chunking_does_not_change_findings() {
        let mut data = bytes(&normal(100_000, 7));
        data[4 * 500..4 * 500 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let whole = run(data.clone(), TensorKind::F32);
        let span = TensorSpan {
            name: "t".into(),
            start: 0,
            len: data.len() as u64,
            kind: TensorKind::F32,
        };
        let mut inspector = Inspector::new(vec![span]);
        for (i, c) in data.chunks(4093).enumerate() {
            inspector.feed(i as u64 * 4093, c);
        }
        let reg = registry();
        let source = MemorySource::new(data);
        let parts = inspector.finish(&source, &reg, &AnalysisOptions::default());
        assert_eq!(whole, parts);
        assert_eq!(whole.len(), 1);
        assert!(whole[0].message.contains("1 of 100000"), "{:?}", whole[0]);
    }

    #[test]
    fn random_normal_weights_are_clean() {
        for seed in 1..6 {
            let f = run(bytes(&normal(300_000, seed)), TensorKind::F32);
            assert!(f.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn widened_bf16_and_constants_are_clean() {
        let widened: Vec<f32> = normal(200_000, 3)
            .iter()
            .map(|f| f32::from_bits(f.to_bits() & 0xffff_0000))
            .collect();
        assert!(run(bytes(&widened), TensorKind::F32).is_empty());
        let constant = vec![f32::MIN; 100_000];
        assert!(run(bytes(&constant), TensorKind::F32).is_empty());
        let third = vec![1.0f32 / 3.0; 100_000];
        assert!(run(bytes(&third), TensorKind::F32).is_empty());
    }

    #[test]
    fn nan_and_inf_are_counted() {
        let all = run(bytes(&vec![f32::NAN; 64]), TensorKind::F32);
        assert_eq!(all[0].rule_id, RuleId::WeightsNanInf);
        assert_eq!(all[0].severity, Severity::High);
        let mut some = normal(1000, 2);
        some[10] = f32::INFINITY;
        some[20] = f32::NEG_INFINITY;
        let f = run(bytes(&some), TensorKind::F32);
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].message.contains("0 NaN, 2 Inf"), "{}", f[0].message);
        // bf16 and f16 infinities.
        let bf: Vec<u8> = [0x7f80u16, 0x3f80, 0xff80, 0x7fc0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let f = run(bf, TensorKind::BF16);
        assert!(f[0].message.contains("3 of 4"), "{}", f[0].message);
        let h: Vec<u8> = [0x7c00u16, 0x3c00]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert!(run(h, TensorKind::F16)[0].message.contains("1 of 2"));
    }

    fn elf_header() -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&2u16.to_le_bytes());
        h[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[52..54].copy_from_slice(&64u16.to_le_bytes());
        h
    }

    #[test]
    fn elf_at_an_aligned_offset_is_found_and_misaligned_is_not() {
        let mut data = bytes(&normal(10_000, 4));
        data[4096..4160].copy_from_slice(&elf_header());
        let f = run(data.clone(), TensorKind::F32);
        assert!(
            f.iter().any(|f| f.rule_id == RuleId::WeightsEmbeddedPayload
                && f.message.contains("ELF64 executable")
                && f.message.contains("byte 4096")),
            "{f:?}"
        );
        let mut off = bytes(&normal(10_000, 4));
        off[4100..4164].copy_from_slice(&elf_header());
        let f = run(off, TensorKind::F32);
        assert!(
            !f.iter()
                .any(|f| f.rule_id == RuleId::WeightsEmbeddedPayload),
            "{f:?}"
        );
        // The magic alone with nonsense fields is not an ELF.
        let mut fake = bytes(&normal(10_000, 4));
        fake[0..4].copy_from_slice(b"\x7fELF");
        assert!(run(fake, TensorKind::F32).is_empty());
    }

    #[test]
    fn pickle_in_a_tensor_is_found_and_analysed() {
        let evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
        let mut data = bytes(&normal(4096, 5));
        data[512..512 + evil.len()].copy_from_slice(evil);
        let f = run(data, TensorKind::F32);
        assert!(
            f.iter()
                .any(|f| f.rule_id == RuleId::WeightsEmbeddedPayload
                    && f.message.contains("a pickle")),
            "{f:?}"
        );
        assert!(
            f.iter().any(|f| f.severity == Severity::Critical
                && f.location
                    .as_deref()
                    .is_some_and(|l| l.contains("tensor t"))),
            "{f:?}"
        );
    }

    #[test]
    fn text_in_low_bytes_is_flagged_not_high() {
        let text = b"the quick brown fox jumps over the lazy dog; import os; os.system(cmd) ";
        let mut v = normal(100_000, 6);
        for (i, f) in v.iter_mut().enumerate() {
            let b = text[i % text.len()];
            *f = f32::from_bits((f.to_bits() & !0xff) | b as u32);
        }
        let f = run(bytes(&v), TensorKind::F32);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule_id, RuleId::WeightsLowBitAnomaly);
        assert_eq!(f[0].severity, Severity::Medium);
    }

    #[test]
    fn elf_in_low_bits_is_a_payload() {
        let mut payload = elf_header();
        payload.extend((0..4000u32).map(|i| (i * 7 % 13) as u8));
        let mut v = normal(payload.len() * 8 + 1000, 8);
        for (i, f) in v.iter_mut().enumerate().take(payload.len() * 8) {
            let bit = (payload[i / 8] >> (i % 8)) & 1;
            *f = f32::from_bits((f.to_bits() & !1) | bit as u32);
        }
        let f = run(bytes(&v), TensorKind::F32);
        assert!(
            f.iter().any(|f| f.rule_id == RuleId::WeightsEmbeddedPayload
                && f.message.contains("lowest mantissa bits")),
            "{f:?}"
        );
    }

    #[test]
    fn gap_with_data_is_a_layout_mismatch() {
        let span = TensorSpan {
            name: "gap".into(),
            start: 0,
            len: 8,
            kind: TensorKind::Gap,
        };
        let reg = registry();
        let f = inspect_source(
            &MemorySource::new(vec![0, 0, 1, 0, 0, 0, 2, 0]),
            vec![span.clone()],
            &reg,
            &AnalysisOptions::default(),
        );
        assert_eq!(f[0].rule_id, RuleId::WeightsLayoutMismatch);
        let f = inspect_source(
            &MemorySource::new(vec![0; 8]),
            vec![span],
            &reg,
            &AnalysisOptions::default(),
        );
        assert!(f.is_empty());
    }
}
