//! Random-access byte sources. Every analyzer reads through [`ByteSource`] — read N bytes at an
//! offset, know the length — so the same analyzers run over a local file (positioned reads), an
//! in-memory buffer (a decompressed archive member) or a window of another source (a stored zip
//! member), and later over object storage with range requests.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Random-access, read-only bytes of known length.
pub trait ByteSource: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `len` bytes at `offset` into a new buffer (shorter at the end of the source).
    fn read_vec(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let available = self.len().saturating_sub(offset);
        let len = len.min(usize::try_from(available).unwrap_or(usize::MAX));
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let got = self.read_at(offset + filled as u64, &mut buf[filled..])?;
            if got == 0 {
                break;
            }
            filled += got;
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// The whole content, if the source already holds it in memory (no copy, no I/O).
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }

    /// A few bytes at a far offset, read without bringing the region around them in: a remote
    /// source fetches exactly these bytes instead of a cache block (a signature looked for at
    /// every power of two must not cost a block each). Local sources read as usual.
    fn probe(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.read_vec(offset, len)
    }
}

impl aigis_pickle::ReadAt for dyn ByteSource + '_ {
    fn len(&self) -> u64 {
        ByteSource::len(self)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        ByteSource::read_at(self, offset, buf)
    }
}

/// A local file read with positioned reads (`pread`): no `unsafe`, no SIGBUS if the file shrinks.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
    bytes_read: AtomicU64,
}

impl FileSource {
    /// Wraps an open file; the length is taken once, now.
    pub fn new(file: File) -> io::Result<FileSource> {
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            bytes_read: AtomicU64::new(0),
        })
    }

    /// Bytes fetched through this source so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        let got = self.file.read_at(&mut buf[..want], offset)?;
        self.bytes_read.fetch_add(got as u64, Ordering::Relaxed);
        Ok(got)
    }
}

/// Bytes held in memory (a small file read whole, or a decompressed member).
#[derive(Debug, Clone)]
pub struct MemorySource {
    /// `Arc<Vec>` rather than `Arc<[u8]>`: taking a `Vec` then costs no copy (a decoded member of
    /// 128 MiB would otherwise exist twice at once).
    data: Arc<Vec<u8>>,
}

impl MemorySource {
    /// Takes ownership of the bytes (no copy).
    pub fn new(data: Vec<u8>) -> MemorySource {
        MemorySource {
            data: Arc::new(data),
        }
    }
}

impl ByteSource for MemorySource {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.data.get(start..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn as_slice(&self) -> Option<&[u8]> {
        Some(&self.data)
    }
}

/// A window `[offset, offset + len)` of another source, e.g. a stored archive member.
pub struct SliceSource<'a> {
    parent: &'a dyn ByteSource,
    offset: u64,
    len: u64,
}

impl<'a> SliceSource<'a> {
    /// A window of `parent`, clamped to the parent's length.
    pub fn new(parent: &'a dyn ByteSource, offset: u64, len: u64) -> SliceSource<'a> {
        let offset = offset.min(parent.len());
        let len = len.min(parent.len() - offset);
        SliceSource {
            parent,
            offset,
            len,
        }
    }
}

impl ByteSource for SliceSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.parent.read_at(self.offset + offset, &mut buf[..want])
    }

    fn probe(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.len {
            return Ok(Vec::new());
        }
        let len = len.min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        self.parent.probe(self.offset + offset, len)
    }

    fn as_slice(&self) -> Option<&[u8]> {
        let all = self.parent.as_slice()?;
        let start = usize::try_from(self.offset).ok()?;
        let end = usize::try_from(self.offset + self.len).ok()?;
        all.get(start..end)
    }
}

/// Sequential `Read + Seek` view of a source (or of a window of it), for crates that want a
/// stream (tar, decompressors).
pub struct SourceReader<'a> {
    source: &'a dyn ByteSource,
    /// Where the window starts in `source`.
    start: u64,
    /// Window length; `None` reads to the end of `source` (whose length is not asked for until a
    /// seek from the end needs it: a lazily decoded source would otherwise decode everything).
    len: Option<u64>,
    /// Position within the window.
    pos: u64,
}

impl<'a> SourceReader<'a> {
    /// A reader positioned at the start of `source`.
    pub fn new(source: &'a dyn ByteSource) -> SourceReader<'a> {
        SourceReader {
            source,
            start: 0,
            len: None,
            pos: 0,
        }
    }

    /// A reader over the window `[offset, offset + len)` of `source` (clamped to its end), e.g.
    /// the stored bytes of an archive member, without a [`SliceSource`] to keep alive.
    pub fn window(source: &'a dyn ByteSource, offset: u64, len: u64) -> SourceReader<'a> {
        let start = offset.min(source.len());
        SourceReader {
            source,
            start,
            len: Some(len.min(source.len() - start)),
            pos: 0,
        }
    }
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.len {
            Some(len) => buf
                .len()
                .min(usize::try_from(len.saturating_sub(self.pos)).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        if want == 0 {
            return Ok(0);
        }
        let n = self
            .source
            .read_at(self.start + self.pos, &mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SourceReader<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self
                .len
                .unwrap_or_else(|| self.source.len().saturating_sub(self.start))
                .checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_windows_clamp_and_read() {
        let mem = MemorySource::new(b"0123456789".to_vec());
        let win = SliceSource::new(&mem, 3, 100);
        assert_eq!(win.len(), 7);
        assert_eq!(win.read_vec(2, 3).ok(), Some(b"567".to_vec()));
        assert_eq!(win.as_slice(), Some(&b"3456789"[..]));
        assert_eq!(win.read_vec(9, 3).ok(), Some(Vec::new()));
    }

    #[test]
    fn reader_seeks_and_reads() {
        let mem = MemorySource::new(b"abcdef".to_vec());
        let mut r = SourceReader::new(&mem);
        let mut buf = [0u8; 2];
        assert_eq!(r.seek(SeekFrom::End(-2)).ok(), Some(4));
        assert_eq!(r.read(&mut buf).ok(), Some(2));
        assert_eq!(&buf, b"ef");
        assert!(r.seek(SeekFrom::Current(-10)).is_err());
        let mut w = SourceReader::window(&mem, 1, 3);
        let mut all = Vec::new();
        assert_eq!(w.read_to_end(&mut all).ok(), Some(3));
        assert_eq!(all, b"bcd");
        assert_eq!(w.seek(SeekFrom::End(-1)).ok(), Some(2));
    }
}
