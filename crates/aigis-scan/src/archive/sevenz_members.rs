//! 7-Zip archives read block by block, the way `py7zr` (the reader Python model tooling uses)
//! extracts them: every coder it decodes — LZMA, LZMA2, PPMd, BZip2, Deflate, Zstandard, Brotli,
//! Copy, and the BCJ/ARM/PPC/SPARC/IA64/Delta filters — is decoded here with `sevenz-rust2`. A
//! block this reader cannot decode (a coder outside that list such as Deflate64 or BCJ2, an
//! encrypted block, a dictionary over the decoder memory cap) does not end the walk: its members
//! are handed to [`Visitor::undecodable`] by name, so the analyzer reports them as unscannable,
//! and the next block is read. A corrupt block likewise ends only that block.
//!
//! The reader only lists and decodes; judging (member walk, caps, findings) is the visitor's job,
//! so the analyzer and the `py7zr` differential test read archives through the same code.

use crate::{ByteSource, SourceReader};
use sevenz_rust2::{Archive, ArchiveEntry, BlockDecoder, EncoderMethod, Error, Password};
use std::io::Read;

/// Most memory (KiB) a decoder may ask for: the header buffers and the LZMA/PPMd dictionary an
/// archive declares. 64 MiB covers `7z -mx9` (LZMA2, 64 MiB dictionary).
pub const DECODER_MEMORY_KIB: usize = 96 << 10;

/// `FILE_ATTRIBUTE_UNIX_EXTENSION`: the high 16 bits of the attributes hold a Unix mode.
const UNIX_EXTENSION: u32 = 0x8000;
/// `FILE_ATTRIBUTE_REPARSE_POINT` (a Windows symbolic link or junction).
const REPARSE_POINT: u32 = 0x400;

/// What the visitor wants after a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on with the next member (the reader decodes and verifies what was left unread).
    Continue,
    /// Skip the rest of this block (its members would have to be decoded to be reached).
    SkipBlock,
    /// Stop reading the archive.
    Stop,
}

/// Receives what the reader finds, in archive order.
pub trait Visitor {
    /// A member (file, folder or link) and a reader of its decoded bytes (empty for members
    /// without data).
    fn member(&mut self, entry: &ArchiveEntry, name: &str, data: &mut dyn Read) -> Step;
    /// Members of a block that cannot be decoded here (`why` says which coder and why). With
    /// an empty `names`, the archive's own header could not be decoded: nothing was listed.
    fn undecodable(&mut self, names: &[String], why: &str);
    /// The archive (or one block of it) is corrupt.
    fn malformed(&mut self, message: String);
}

/// A member's name as extraction uses it (7-Zip stores Windows separators as written).
pub fn member_name(entry: &ArchiveEntry) -> String {
    entry.name().replace('\\', "/")
}

/// Whether an entry is a link: a Unix symlink mode, or a Windows reparse point.
pub fn is_link(entry: &ArchiveEntry) -> bool {
    if !entry.has_windows_attributes {
        return false;
    }
    let attributes = entry.windows_attributes;
    let unix_link = attributes & UNIX_EXTENSION != 0 && (attributes >> 16) & 0o170_000 == 0o120_000;
    unix_link || attributes & REPARSE_POINT != 0
}

/// The name of a coder, from its method id.
fn coder_name(id: &[u8]) -> String {
    match EncoderMethod::by_id(id) {
        Some(method) => method.name().to_string(),
        None => {
            let hex: Vec<String> = id.iter().map(|b| format!("{b:02X}")).collect();
            format!("unknown coder 0x{}", hex.concat())
        }
    }
}

/// Why `err` means "this reader cannot decode it" rather than "the archive is corrupt", if it
/// does. `coders` are the block's coders (empty for the header).
fn undecodable_reason(err: &Error, coders: &[String]) -> Option<String> {
    let listed = if coders.len() < 2 {
        String::new()
    } else {
        format!(" (coders: {})", coders.join(" + "))
    };
    match err {
        Error::UnsupportedCompressionMethod(method) if method.contains("AES") => {
            Some(format!("it is encrypted (7zAES){listed}"))
        }
        Error::UnsupportedCompressionMethod(method) => Some(format!(
            "it is coded with {}, which aigis cannot decode{listed}",
            if method.is_empty() {
                "an unknown coder"
            } else {
                method
            }
        )),
        Error::PasswordRequired | Error::MaybeBadPassword(_) => {
            Some(format!("it is encrypted{listed}"))
        }
        Error::MaxMemLimited { max_kb, actaul_kb } => Some(format!(
            "its decoder asks for {actaul_kb} KiB, past the {max_kb} KiB decoder memory cap{listed}"
        )),
        Error::Unsupported(what) => Some(format!("{what}{listed}")),
        Error::ExternalUnsupported => Some("its header is stored in an external stream".into()),
        _ => None,
    }
}

/// A member's decoded bytes, ending cleanly once its declared size has been produced even when
/// the decoder then fails for want of input. `py7zr` stops decoding at the declared size, so a
/// stream without its end marker (py7zr's own Brotli writer flushes and never finishes the
/// stream) is complete for it, and must be for us. A checksum mismatch is never swallowed.
struct UntilDeclaredSize<'r> {
    inner: &'r mut dyn Read,
    left: u64,
    /// Whether a decoder error past the declared size was turned into the end of the member.
    swallowed: bool,
}

impl Read for UntilDeclaredSize<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.left = self.left.saturating_sub(n as u64);
                Ok(n)
            }
            Err(err) if self.left == 0 && !is_checksum_mismatch(&err) => {
                self.swallowed = true;
                Ok(0)
            }
            Err(err) => Err(err),
        }
    }
}

/// Whether an I/O error from the reader is its CRC check failing.
fn is_checksum_mismatch(err: &std::io::Error) -> bool {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .is_some_and(|inner| matches!(inner, Error::ChecksumVerificationFailed))
}

/// Reads the archive in `source`, block by block, into `visitor`.
pub fn read(source: &dyn ByteSource, visitor: &mut dyn Visitor) {
    let password = Password::empty();
    let mut reader = SourceReader::new(source);
    let archive = match Archive::read_with_memory_limit(&mut reader, &password, DECODER_MEMORY_KIB)
    {
        Ok(archive) => archive,
        Err(err) => {
            match undecodable_reason(&err, &[]) {
                Some(why) => visitor.undecodable(&[], &format!("the archive header: {why}")),
                None => visitor.malformed(format!("7z: {err}")),
            }
            return;
        }
    };
    let block_of = |file: usize| {
        archive
            .stream_map
            .file_block_index
            .get(file)
            .copied()
            .flatten()
    };
    for block in 0..archive.blocks.len() {
        let mut stop = false;
        let mut reached = 0usize;
        // Whether the last member handed over ended on a decoder error past its declared size:
        // the reader's own drain then meets the same error, which is not corruption.
        let mut ended_past_size = false;
        // One decoding thread: files are already scanned in parallel, and the multi-threaded
        // LZMA2 decoder buffers whole chunks per thread.
        let decoder = BlockDecoder::new_with_memory_limit(
            1,
            DECODER_MEMORY_KIB,
            block,
            &archive,
            &password,
            &mut reader,
        );
        let result = decoder.for_each_entries(&mut |entry, data| {
            reached += 1;
            let name = member_name(entry);
            let mut data = UntilDeclaredSize {
                inner: data,
                left: entry.size,
                swallowed: false,
            };
            let step = visitor.member(entry, &name, &mut data);
            ended_past_size = data.swallowed;
            Ok(match step {
                Step::Continue => true,
                Step::SkipBlock => false,
                Step::Stop => {
                    stop = true;
                    false
                }
            })
        });
        if let Err(err) = result {
            let past_size =
                ended_past_size && matches!(&err, Error::Io(io, _) if !is_checksum_mismatch(io));
            if past_size {
                continue;
            }
            if reached == 0 && archive.blocks[block].get_unpack_size() == 0 {
                // Nothing to decode: an extractor writes the block's members empty, whatever
                // its decoder makes of the few bytes a compressor writes for no input (the
                // Brotli decoder here wants four).
                for index in (0..archive.files.len()).filter(|&i| block_of(i) == Some(block)) {
                    let entry = &archive.files[index];
                    let name = member_name(entry);
                    if visitor.member(entry, &name, &mut std::io::empty()) == Step::Stop {
                        return;
                    }
                }
                continue;
            }
            let coders: Vec<String> = archive.blocks[block]
                .coders
                .iter()
                .map(|coder| coder_name(coder.encoder_method_id()))
                .collect();
            match undecodable_reason(&err, &coders) {
                Some(why) if reached == 0 => {
                    let names: Vec<String> = (0..archive.files.len())
                        .filter(|&i| block_of(i) == Some(block))
                        .map(|i| member_name(&archive.files[i]))
                        .collect();
                    visitor.undecodable(&names, &why);
                }
                _ => visitor.malformed(format!("7z: block {block}: {err}")),
            }
        }
        if stop {
            return;
        }
    }
    // Members without data (folders, empty files, links without a target stream).
    for (index, entry) in archive.files.iter().enumerate() {
        if block_of(index).is_none() {
            let name = member_name(entry);
            if visitor.member(entry, &name, &mut std::io::empty()) == Step::Stop {
                return;
            }
        }
    }
}
