//! Every stream, member and frame of a compressed file, to the end of the data, read with the
//! rules of the Python reader a loader uses:
//!
//! - gzip as Python's `gzip` reads it: members back to back, zero bytes between and after
//!   members skipped, the header's method checked but not its reserved flags or header CRC, each
//!   member's CRC-32 and length checked at its end (after its data was handed out), anything else
//!   after a member an error ("Not a gzipped file");
//! - zlib as joblib's `BinaryZlibFile` and `zlib.decompress` read it: the first stream (joblib
//!   loops forever on anything after it, `zlib.decompress` ignores it);
//! - bz2 as `bz2.BZ2File`: streams back to back; trailing data that is not a stream is ignored;
//! - xz and LZMA-alone as `lzma.LZMAFile` (`FORMAT_AUTO`): each stream is xz or LZMA-alone by its
//!   own header (liblzma's "picky" LZMA-alone check: properties byte < 225, a dictionary size of
//!   2^n or 2^n + 2^(n-1), a known size below 256 GiB); trailing data that is neither (stream
//!   padding included) is ignored;
//! - Zstandard frames and skippable frames, as `zstandard`'s `stream_reader(read_across_frames=True)`;
//! - LZ4 frames and skippable frames, as `lz4.frame`, decoded block by block here (linked and
//!   independent blocks).
//!
//! The differential test (`fixtures/differential/compressed.jsonl.gz`, made by
//! `scripts/differential/compressed.py` with those readers) holds aigis to the same bytes.

use crate::ByteSource;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

/// The codecs read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// gzip (Python's `gzip`).
    Gzip,
    /// zlib (joblib's `BinaryZlibFile`, joblib's legacy `ZF` files).
    Zlib,
    /// bzip2.
    Bz2,
    /// xz or LZMA-alone (Python's `lzma`, `FORMAT_AUTO`).
    Lzma,
    /// Zstandard.
    Zstd,
    /// LZ4 frame.
    Lz4,
}

/// What the reader noticed besides the data.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    /// Streams (members, frames) decoded.
    pub streams: u32,
    /// Offset of trailing data the Python reader ignores, if any.
    pub ignored_from: Option<u64>,
    /// The data ends inside a Zstandard frame, which `zstandard`'s reader takes as the end.
    pub truncated: bool,
}

/// Memory an LZMA/xz decoder may take (KiB). A stream that needs more is an error whose message
/// says "memory"; the analyzer reports it high (the loader could decode what aigis did not).
pub const MAX_DICT_KIB: u32 = 256 << 10;

/// Largest read asked of the LZMA decoders at once.
const SMALL_READ: usize = 4096;

const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
const ZSTD_MAGIC: u32 = 0xFD2F_B528;
const LZ4_MAGIC: u32 = 0x184D_2204;

fn skippable(magic: u32) -> bool {
    // The same range marks skippable frames in LZ4 and Zstandard.
    magic & 0xFFFF_FFF0 == 0x184D_2A50
}

/// A buffered reader over a [`ByteSource`] that knows its position.
pub struct Cursor<'a> {
    source: &'a dyn ByteSource,
    base: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(source: &'a dyn ByteSource, pos: u64) -> Cursor<'a> {
        Cursor {
            source,
            base: pos,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// Offset of the next byte to be read.
    fn position(&self) -> u64 {
        self.base + self.at as u64
    }
}

impl Read for Cursor<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Cursor<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at >= self.buf.len() {
            self.base += self.buf.len() as u64;
            self.at = 0;
            self.buf.clear();
            self.buf = self.source.read_vec(self.base, 64 << 10)?;
        }
        Ok(&self.buf[self.at..])
    }

    fn consume(&mut self, amt: usize) {
        self.at = (self.at + amt).min(self.buf.len());
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// The stream being decoded.
enum Current<'a> {
    Gzip {
        decoder: flate2::bufread::DeflateDecoder<Cursor<'a>>,
        crc: crc32fast::Hasher,
        size: u64,
    },
    Zlib(flate2::bufread::ZlibDecoder<Cursor<'a>>),
    Bz2(bzip2::bufread::BzDecoder<Cursor<'a>>),
    Xz(Box<lzma_rust2::XzReader<Cursor<'a>>>),
    Lzma(Box<lzma_rust2::LzmaReader<Cursor<'a>>>),
    Zstd(Box<ruzstd::decoding::StreamingDecoder<Cursor<'a>, ruzstd::decoding::FrameDecoder>>),
    Lz4(Lz4Frame<'a>),
}

/// Decodes every stream of a compressed file, in order, as one byte stream.
pub struct MultiStream<'a> {
    source: &'a dyn ByteSource,
    codec: Codec,
    pos: u64,
    current: Option<Current<'a>>,
    done: bool,
    notes: Arc<Mutex<Notes>>,
    /// Output recovered from a frame that then failed, handed out before `after`.
    pending: Vec<u8>,
    pending_at: usize,
    /// What follows the pending output: an error, or the end (`None`).
    after: Option<Option<io::Error>>,
    /// Streams in a row that decoded to nothing.
    empty_run: u32,
    /// Where the current stream starts, and what it has produced so far.
    stream_start: u64,
    stream_out: u64,
    /// Whether the current stream has produced output.
    produced: bool,
}

/// Empty streams in a row after which reading stops (a file of zeros is an endless run of empty
/// LZMA-alone streams to liblzma).
const MAX_EMPTY_STREAMS: u32 = 1024;

/// Whether an xz/LZMA decoder error means the data ended inside a chunk (liblzma would have
/// handed out part of it).
pub fn truncated_lzma(message: &str) -> bool {
    message.contains("fill whole buffer") || message.contains("end of")
}

/// Largest frame re-decoded to recover the blocks before a cut.
const MAX_SALVAGE: u64 = 64 << 20;

/// The content of the complete blocks of a Zstandard frame cut short (what libzstd hands out
/// before it runs out of data): the frame up to its last complete block, closed with an empty
/// last block and its checksum flag cleared, decoded whole.
fn zstd_complete_blocks(source: &dyn ByteSource, start: u64) -> Option<Vec<u8>> {
    let len = source.len().saturating_sub(start).min(MAX_SALVAGE);
    let mut frame = source.read_vec(start, usize::try_from(len).ok()?).ok()?;
    let fhd = *frame.get(4)?;
    let single_segment = fhd & 0x20 != 0;
    let fcs = match fhd >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
    let mut at = 5 + usize::from(!single_segment) + dict + fcs;
    while let Some(header) = frame.get(at..at + 3) {
        let raw = u32::from(header[0]) | u32::from(header[1]) << 8 | u32::from(header[2]) << 16;
        let size = (raw >> 3) as usize;
        let body = match (raw >> 1) & 3 {
            0 | 2 => size,
            1 => 1,
            _ => return None,
        };
        if raw & 1 != 0 {
            break;
        }
        if at + 3 + body > frame.len() {
            // libzstd hands out the part of a raw block that arrived.
            let arrived = frame.len() - at - 3;
            if (raw >> 1) & 3 == 0 && arrived > 0 {
                let header = (arrived as u32) << 3;
                frame[at..at + 3].copy_from_slice(&header.to_le_bytes()[..3]);
                at = frame.len();
            }
            break;
        }
        at += 3 + body;
    }
    frame.truncate(at);
    frame.extend([1, 0, 0]);
    frame[4] &= !0x04;
    let mut decoder = ruzstd::decoding::StreamingDecoder::new(&frame[..]).ok()?;
    let mut out = Vec::new();
    decoder
        .by_ref()
        .take(MAX_SALVAGE * 8)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Whether a Zstandard decoder error means the data ran out (which `zstandard`'s reader treats as
/// the end of the data) rather than corruption.
fn zstd_truncation(message: &str) -> bool {
    message.contains("UnexpectedEof") || message.contains("fill whole buffer")
}

impl<'a> MultiStream<'a> {
    /// A reader of `codec` streams from offset `start`; `notes` is filled as it goes.
    pub fn new(
        source: &'a dyn ByteSource,
        codec: Codec,
        start: u64,
        notes: Arc<Mutex<Notes>>,
    ) -> MultiStream<'a> {
        MultiStream {
            source,
            codec,
            pos: start,
            current: None,
            done: false,
            notes,
            pending: Vec::new(),
            pending_at: 0,
            after: None,
            empty_run: 0,
            produced: false,
            stream_start: start,
            stream_out: 0,
        }
    }

    fn set_truncated(&mut self) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.truncated = true;
        }
    }

    fn streams(&self) -> u32 {
        self.notes.lock().map(|n| n.streams).unwrap_or(0)
    }

    fn ignore_rest(&mut self) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.ignored_from = Some(self.pos);
        }
    }

    fn peek(&self, len: usize) -> io::Result<Vec<u8>> {
        self.source.read_vec(self.pos, len)
    }

    /// Opens the next stream at `pos`, or `None` at the end of what the reader reads.
    fn open(&mut self) -> io::Result<Option<Current<'a>>> {
        let first = self.streams() == 0;
        loop {
            let end = self.source.len();
            if self.codec == Codec::Gzip && !first {
                // Python's gzip skips zero bytes after a member.
                loop {
                    let chunk = self.peek(4096)?;
                    let zeros = chunk.iter().take_while(|&&b| b == 0).count();
                    self.pos += zeros as u64;
                    if zeros < chunk.len() || chunk.is_empty() {
                        break;
                    }
                }
            }
            if self.pos >= end {
                if first
                    && matches!(
                        self.codec,
                        Codec::Zlib | Codec::Lz4 | Codec::Lzma | Codec::Bz2
                    )
                {
                    return Err(bad(
                        "Compressed file ended before the end-of-stream marker was reached",
                    ));
                }
                return Ok(None);
            }
            let head = self.peek(16)?;
            let magic = head
                .first_chunk::<4>()
                .map(|b| u32::from_le_bytes(*b))
                .unwrap_or(0);
            return Ok(Some(match self.codec {
                Codec::Gzip => {
                    let mut cursor = Cursor::new(self.source, self.pos);
                    read_gzip_header(&mut cursor)?;
                    Current::Gzip {
                        decoder: flate2::bufread::DeflateDecoder::new(cursor),
                        crc: crc32fast::Hasher::new(),
                        size: 0,
                    }
                }
                Codec::Zlib => {
                    if !first {
                        // joblib's reader never returns after the first stream (it loops on the
                        // rest); `zlib.decompress` ignores it.
                        self.ignore_rest();
                        return Ok(None);
                    }
                    Current::Zlib(flate2::bufread::ZlibDecoder::new(Cursor::new(
                        self.source,
                        self.pos,
                    )))
                }
                Codec::Bz2 => {
                    if !first && !matches!(head.as_slice(), [b'B', b'Z', b'h', b'1'..=b'9', ..]) {
                        self.ignore_rest();
                        return Ok(None);
                    }
                    Current::Bz2(bzip2::bufread::BzDecoder::new(Cursor::new(
                        self.source,
                        self.pos,
                    )))
                }
                Codec::Lzma => {
                    if head.starts_with(XZ_MAGIC) {
                        Current::Xz(Box::new(lzma_rust2::XzReader::new_mem_limit(
                            Cursor::new(self.source, self.pos),
                            false,
                            MAX_DICT_KIB,
                        )))
                    } else if !first && head.len() < 13 && lzma_alone_prefix(&head) {
                        // A new decoder is still waiting for its header when the data ends.
                        return Err(bad(
                            "Compressed file ended before the end-of-stream marker was reached",
                        ));
                    } else if lzma_alone_header(&head) {
                        let mut reader = lzma_rust2::LzmaReader::new_mem_limit(
                            Cursor::new(self.source, self.pos),
                            MAX_DICT_KIB,
                            None,
                        )
                        .map_err(|e| bad(e.to_string()))?;
                        // liblzma needs the end marker when the size is unknown.
                        reader.set_relaxed_end_condition(false);
                        Current::Lzma(Box::new(reader))
                    } else if first {
                        return Err(bad("input format not supported by decoder"));
                    } else {
                        self.ignore_rest();
                        return Ok(None);
                    }
                }
                Codec::Zstd if head.len() < 4 => {
                    // libzstd matches a partial magic as it arrives.
                    let zstd = ZSTD_MAGIC.to_le_bytes();
                    let skip = [0x50u8, 0x2a, 0x4d, 0x18];
                    let partial = head.iter().enumerate().all(|(i, &b)| b == zstd[i])
                        || head.iter().enumerate().all(|(i, &b)| {
                            if i == 0 {
                                b & 0xf0 == 0x50
                            } else {
                                b == skip[i]
                            }
                        });
                    if !partial {
                        return Err(bad("Unknown frame descriptor"));
                    }
                    self.set_truncated();
                    return Ok(None);
                }
                Codec::Zstd | Codec::Lz4 if skippable(magic) => {
                    let len = head
                        .get(4..8)
                        .and_then(|b| b.first_chunk::<4>())
                        .map(|b| u32::from_le_bytes(*b));
                    let next = len.map(|len| self.pos + 8 + u64::from(len));
                    match next {
                        Some(next) if next <= end => {
                            self.pos = next;
                            continue;
                        }
                        _ if self.codec == Codec::Zstd => {
                            self.set_truncated();
                            return Ok(None);
                        }
                        _ => return Err(bad("skippable frame runs past the end of the data")),
                    }
                }
                Codec::Zstd => {
                    if magic != ZSTD_MAGIC {
                        return Err(bad("unknown frame descriptor"));
                    }
                    match ruzstd::decoding::StreamingDecoder::new(Cursor::new(
                        self.source,
                        self.pos,
                    )) {
                        Ok(decoder) => Current::Zstd(Box::new(decoder)),
                        Err(e) if zstd_truncation(&format!("{e:?}")) => {
                            self.set_truncated();
                            return Ok(None);
                        }
                        Err(e) => return Err(bad(e.to_string())),
                    }
                }
                Codec::Lz4 => {
                    if magic != LZ4_MAGIC {
                        return Err(bad("unknown LZ4 frame magic"));
                    }
                    Current::Lz4(Lz4Frame::new(Cursor::new(self.source, self.pos))?)
                }
            }));
        }
    }

    /// Ends the current stream: trailers checked, the position moved past it.
    fn close(&mut self, current: Current<'a>) -> io::Result<()> {
        self.pos = match current {
            Current::Gzip {
                decoder, crc, size, ..
            } => {
                let mut cursor = decoder.into_inner();
                let mut trailer = [0u8; 8];
                cursor.read_exact(&mut trailer).map_err(|_| {
                    bad("Compressed file ended before the end-of-stream marker was reached")
                })?;
                let (want_crc, want_size) = trailer.split_at(4);
                if want_crc != crc.finalize().to_le_bytes() {
                    return Err(bad("CRC check failed"));
                }
                if want_size != (size as u32).to_le_bytes() {
                    return Err(bad("Incorrect length of data produced"));
                }
                cursor.position()
            }
            Current::Zlib(d) => d.into_inner().position(),
            Current::Bz2(d) => d.into_inner().position(),
            Current::Xz(d) => d.into_inner().position(),
            Current::Lzma(d) => {
                let (cursor, unused) = d.into_parts();
                cursor.position().saturating_sub(unused.len() as u64)
            }
            Current::Zstd(d) => {
                let (cursor, decoder) = d.into_parts();
                if let (Some(stored), Some(computed)) = (
                    decoder.get_checksum_from_data(),
                    decoder.get_calculated_checksum(),
                ) && stored != computed
                {
                    return Err(bad("Restored data doesn't match checksum"));
                }
                cursor.position()
            }
            Current::Lz4(frame) => frame.cursor.position(),
        };
        if let Ok(mut notes) = self.notes.lock() {
            notes.streams += 1;
        }
        Ok(())
    }
}

impl Read for MultiStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pending_at < self.pending.len() {
                let n = (self.pending.len() - self.pending_at).min(out.len());
                out[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
                self.pending_at += n;
                return Ok(n);
            }
            if let Some(after) = self.after.take() {
                self.done = true;
                return match after {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
            if self.done {
                return Ok(0);
            }
            let mut current = match self.current.take() {
                Some(c) => c,
                None => match self.open() {
                    Ok(Some(c)) => {
                        self.stream_start = self.pos;
                        self.stream_out = 0;
                        c
                    }
                    Ok(None) => {
                        self.done = true;
                        return Ok(0);
                    }
                    Err(e) => {
                        self.done = true;
                        return Err(e);
                    }
                },
            };
            let small = out.len().min(SMALL_READ);
            let n = match &mut current {
                Current::Gzip { decoder, crc, size } => {
                    let n = decoder.read(out)?;
                    crc.update(&out[..n]);
                    *size += n as u64;
                    n
                }
                Current::Zlib(d) => d.read(out)?,
                Current::Bz2(d) => d.read(out)?,
                // Small reads: a decoder that fails inside a read loses what that read decoded.
                Current::Xz(d) => d.read(&mut out[..small])?,
                Current::Lzma(d) => d.read(&mut out[..small])?,
                Current::Zstd(d) => match d.read(out) {
                    Ok(n) => n,
                    Err(e) => {
                        // Hand out what the frame decoder still holds, then end (truncation,
                        // as `zstandard` reads it) or fail (corruption).
                        let message = format!("{e:?}");
                        if let Current::Zstd(d) = current {
                            let (_, mut decoder) = d.into_parts();
                            let held = decoder.collect().unwrap_or_default();
                            // A cut frame: decode its complete blocks again as a finished frame,
                            // which hands out the window the streaming decoder holds back.
                            self.pending = if zstd_truncation(&message) {
                                zstd_complete_blocks(self.source, self.stream_start)
                                    .and_then(|all| {
                                        let done = usize::try_from(self.stream_out).ok()?;
                                        all.get(done..).map(<[u8]>::to_vec)
                                    })
                                    .unwrap_or(held)
                            } else {
                                held
                            };
                            self.pending_at = 0;
                        }
                        if zstd_truncation(&message) {
                            self.set_truncated();
                            self.after = Some(None);
                        } else {
                            self.after = Some(Some(e));
                        }
                        continue;
                    }
                },
                Current::Lz4(d) => d.read(out)?,
            };
            if n > 0 {
                self.stream_out += n as u64;
                self.produced = true;
                self.current = Some(current);
                return Ok(n);
            }
            if let Err(e) = self.close(current) {
                self.done = true;
                return Err(e);
            }
            self.empty_run = if self.produced { 0 } else { self.empty_run + 1 };
            self.produced = false;
            if self.empty_run >= MAX_EMPTY_STREAMS {
                self.done = true;
                return Err(bad(format!(
                    "more than {MAX_EMPTY_STREAMS} empty streams in a row; the rest was not read"
                )));
            }
        }
    }
}

/// A gzip member header as Python's `gzip._read_gzip_header` reads it: magic, method 8, and the
/// optional fields skipped; reserved flag bits and the header CRC are not checked.
fn read_gzip_header(cursor: &mut Cursor<'_>) -> io::Result<()> {
    let mut fixed = [0u8; 10];
    let got = read_up_to(cursor, &mut fixed)?;
    if got < 2 || fixed[..2] != [0x1f, 0x8b] {
        return Err(bad("Not a gzipped file"));
    }
    if got < 10 {
        return Err(bad(
            "Compressed file ended before the end-of-stream marker was reached",
        ));
    }
    if fixed[2] != 8 {
        return Err(bad("Unknown compression method"));
    }
    let flag = fixed[3];
    let eof = || bad("Compressed file ended before the end-of-stream marker was reached");
    if flag & 4 != 0 {
        let mut len = [0u8; 2];
        cursor.read_exact(&mut len).map_err(|_| eof())?;
        let skip = u64::from(u16::from_le_bytes(len));
        let copied = io::copy(&mut cursor.by_ref().take(skip), &mut io::sink())?;
        if copied < skip {
            return Err(eof());
        }
    }
    for bit in [8u8, 16] {
        if flag & bit != 0 {
            // A zero-terminated string; the end of the data also ends it.
            let mut byte = [0u8; 1];
            while cursor.read(&mut byte)? == 1 && byte[0] != 0 {}
        }
    }
    if flag & 2 != 0 {
        let mut crc = [0u8; 2];
        cursor.read_exact(&mut crc).map_err(|_| eof())?;
    }
    Ok(())
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// liblzma's "picky" LZMA-alone header check (`lzma_alone_decoder` as the auto decoder uses it).
pub fn lzma_alone_header(head: &[u8]) -> bool {
    head.len() >= 13 && lzma_alone_prefix(head)
}

/// Whether the first up to 13 bytes of `head` pass the checks liblzma makes on them as they
/// arrive: properties byte (lc + lp ≤ 4, pb ≤ 4), then the dictionary size, then the size.
fn lzma_alone_prefix(head: &[u8]) -> bool {
    let Some(&props) = head.first() else {
        return true;
    };
    if props >= 9 * 5 * 5 {
        return false;
    }
    let (lc, lp) = (props % 9, (props / 9) % 5);
    if lc + lp > 4 {
        return false;
    }
    let Some(&[_, d0, d1, d2, d3]) = head.first_chunk::<5>() else {
        return true;
    };
    let dict = u32::from_le_bytes([d0, d1, d2, d3]);
    if dict != u32::MAX {
        let mut d = dict.wrapping_sub(1);
        d |= d >> 2;
        d |= d >> 3;
        d |= d >> 4;
        d |= d >> 8;
        d |= d >> 16;
        if d.wrapping_add(1) != dict {
            return false;
        }
    }
    let Some(&[_, _, _, _, _, s0, s1, s2, s3, s4, s5, s6, s7]) = head.first_chunk::<13>() else {
        return true;
    };
    let size = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
    size == u64::MAX || size < 1 << 38
}

/// One LZ4 frame, decoded block by block.
struct Lz4Frame<'a> {
    cursor: Cursor<'a>,
    linked: bool,
    block_checksum: bool,
    content_checksum: bool,
    max_block: usize,
    /// The last 64 KiB of output (the dictionary of linked blocks).
    window: Vec<u8>,
    pending: Vec<u8>,
    at: usize,
    finished: bool,
    content: twox_hash::XxHash32,
}

impl<'a> Lz4Frame<'a> {
    fn new(mut cursor: Cursor<'a>) -> io::Result<Lz4Frame<'a>> {
        let mut head = [0u8; 6];
        cursor
            .read_exact(&mut head)
            .map_err(|_| bad("LZ4 frame header truncated"))?;
        let (flg, bd) = (head[4], head[5]);
        if flg >> 6 != 1 {
            return Err(bad("LZ4 frame version not supported"));
        }
        if flg & 1 != 0 {
            return Err(bad("LZ4 frame needs a dictionary"));
        }
        let max_block = match (bd >> 4) & 7 {
            4 => 64 << 10,
            5 => 256 << 10,
            6 => 1 << 20,
            7 => 4 << 20,
            _ => return Err(bad("LZ4 block size not supported")),
        };
        let mut descriptor = vec![flg, bd];
        if flg & 8 != 0 {
            descriptor.extend([0u8; 8]); // content size
        }
        cursor
            .read_exact(&mut descriptor[2..])
            .map_err(|_| bad("LZ4 frame header truncated"))?;
        let mut hc = [0u8; 1];
        cursor
            .read_exact(&mut hc)
            .map_err(|_| bad("LZ4 frame header truncated"))?;
        if hc[0] != (twox_hash::XxHash32::oneshot(0, &descriptor) >> 8) as u8 {
            return Err(bad("LZ4 frame header checksum invalid"));
        }
        Ok(Lz4Frame {
            cursor,
            linked: flg & 0x20 == 0,
            block_checksum: flg & 0x10 != 0,
            content_checksum: flg & 4 != 0,
            max_block,
            window: Vec::new(),
            pending: Vec::new(),
            at: 0,
            finished: false,
            content: twox_hash::XxHash32::with_seed(0),
        })
    }

    fn next_block(&mut self) -> io::Result<()> {
        let truncated = || bad("LZ4 frame truncated");
        let mut word = [0u8; 4];
        self.cursor.read_exact(&mut word).map_err(|_| truncated())?;
        let raw = u32::from_le_bytes(word);
        if raw == 0 {
            if self.content_checksum {
                self.cursor.read_exact(&mut word).map_err(|_| truncated())?;
                if u32::from_le_bytes(word) != self.content.finish_32() {
                    return Err(bad("LZ4 content checksum invalid"));
                }
            }
            self.finished = true;
            return Ok(());
        }
        let stored = raw & 0x8000_0000 != 0;
        let len = (raw & 0x7FFF_FFFF) as usize;
        if len > self.max_block {
            return Err(bad("LZ4 block larger than the frame's block size"));
        }
        let mut block = vec![0u8; len];
        self.cursor
            .read_exact(&mut block)
            .map_err(|_| truncated())?;
        if self.block_checksum {
            self.cursor.read_exact(&mut word).map_err(|_| truncated())?;
            if u32::from_le_bytes(word) != twox_hash::XxHash32::oneshot(0, &block) {
                return Err(bad("LZ4 block checksum invalid"));
            }
        }
        self.pending = if stored {
            block
        } else {
            let mut out = vec![0u8; self.max_block];
            let dict: &[u8] = if self.linked { &self.window } else { &[] };
            let n = lz4_flex::block::decompress_into_with_dict(&block, &mut out, dict)
                .map_err(|e| bad(format!("LZ4 block corrupt: {e}")))?;
            out.truncate(n);
            out
        };
        self.at = 0;
        std::hash::Hasher::write(&mut self.content, &self.pending);
        if self.linked {
            self.window.extend_from_slice(&self.pending);
            let excess = self.window.len().saturating_sub(64 << 10);
            self.window.drain(..excess);
        }
        Ok(())
    }
}

impl Read for Lz4Frame<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.pending.len() {
            if self.finished {
                return Ok(0);
            }
            self.next_block()?;
        }
        let n = (self.pending.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Decodes a whole buffer (tests and the differential).
#[cfg(test)]
pub(super) fn decode_all(data: &[u8], codec: Codec) -> (Vec<u8>, Option<String>, Notes) {
    let source = crate::MemorySource::new(data.to_vec());
    let notes = Arc::new(Mutex::new(Notes::default()));
    let mut reader = MultiStream::new(&source, codec, 0, notes.clone());
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let error = loop {
        match reader.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) => break Some(e.to_string()),
        }
    };
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    (out, error, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The differential: every case of `fixtures/differential/compressed.jsonl.gz` (made by
    /// `scripts/differential/compressed.py` with Python's gzip/bz2/lzma, zstandard, lz4.frame
    /// and joblib's readers) is decoded to the same bytes; where the Python reader refuses, aigis
    /// refuses too (or reports the trailing data it ignores) and has decoded at least what the
    /// reader returned before refusing.
    #[test]
    fn decodes_what_python_readers_decode() {
        let path = std::env::var("AIGIS_COMPRESSED_DIFFERENTIAL").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/differential/compressed.jsonl.gz"
            )
            .to_string()
        });
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut divergences = Vec::new();
        let mut tolerated = Vec::new();
        let mut cases = 0;
        for line in text.lines() {
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let codec_name = case["codec"].as_str().unwrap_or_default();
            let name = case["name"].as_str().unwrap_or_default();
            let data = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                case["data"].as_str().unwrap_or_default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let (codec, start) = match codec_name {
                "gzip" => (Codec::Gzip, 0),
                "zlib" => (Codec::Zlib, 0),
                "bz2" => (Codec::Bz2, 0),
                "lzma" => (Codec::Lzma, 0),
                "zstd" => (Codec::Zstd, 0),
                "lz4" => (Codec::Lz4, 0),
                "zfile" => (
                    Codec::Zlib,
                    if data.get(21) == Some(&b' ') { 22 } else { 21 },
                ),
                other => panic!("unknown codec {other}"),
            };
            let (out, error, notes) = decode_all(data.get(start..).unwrap_or_default(), codec);
            // Trailing data Python ignores is not a refusal, except for zlib, whose joblib
            // reader never returns after the first stream.
            let mut refused =
                error.is_some() || (codec_name == "zlib" && notes.ignored_from.is_some());
            if codec_name == "zfile" {
                let length = super::super::zfile_length(&data);
                refused |= length != Some(out.len() as i128);
            }
            let py_ok = case["ok"].as_bool().unwrap_or(false);
            let py_len = case["len"].as_u64().unwrap_or(0) as usize;
            let py_sha = case["sha256"].as_str().unwrap_or_default();
            let prefix_sha = hex::encode(Sha256::digest(out.get(..py_len).unwrap_or(&out)));
            cases += 1;
            let same_bytes = out.len() >= py_len && prefix_sha == py_sha;
            let agrees = if py_ok {
                !refused && out.len() == py_len && same_bytes
            } else {
                refused && same_bytes
            };
            // Known, reported differences (see the module notes in the report):
            // - an LZMA-alone stream whose declared size is shorter than its data: liblzma
            //   refuses, aigis decodes the declared size and reports the rest as trailing data;
            // - a Zstandard frame cut short: `zstandard` returns the blocks before the cut,
            //   ruzstd keeps back the last window of them (aigis reports truncation at high);
            // - corruption libzstd detects in a block that ruzstd decodes;
            // - an xz stream cut inside an LZMA2 chunk: liblzma hands out the chunk's start,
            //   lzma-rust2 decodes whole chunks (aigis reports the cut at high).
            let lzma_cut = codec == Codec::Lzma && error.as_deref().is_some_and(truncated_lzma);
            let known = lzma_cut
                || matches!(
                    (codec_name, name),
                    ("lzma", "lzma-alone size too small") | ("zstd", "corrupt")
                )
                || (codec_name == "zstd" && notes.truncated);
            if !agrees && known && (notes.truncated || lzma_cut || out.len() >= py_len) {
                tolerated.push(format!("{codec_name} `{name}` ({} of {py_len})", out.len()));
            } else if !agrees {
                divergences.push(format!(
                    "{codec_name} `{name}`: python ok={py_ok} len={py_len} ({}); aigis \
                     error={error:?} ignored_from={:?} len={}{}",
                    case["why"].as_str().unwrap_or_default(),
                    notes.ignored_from,
                    out.len(),
                    if same_bytes { "" } else { " (different bytes)" }
                ));
            }
        }
        eprintln!(
            "{cases} compressed inputs; {} known differences (reported high or as corruption): {}",
            tolerated.len(),
            tolerated.join(", ")
        );
        assert!(cases > 200, "only {cases} cases");
        assert!(
            divergences.is_empty(),
            "{} of {cases} compressed inputs read differently from Python:\n{}",
            divergences.len(),
            divergences.join("\n")
        );
    }
}
