//! Random-access input ([`ReadAt`]) and the windowed cursor the machine reads through.
//!
//! The cursor keeps one small window of the input in memory, so scanning a multi-gigabyte
//! file costs a fixed amount of memory, and a huge constant is *skipped* (its bytes are
//! never requested) rather than read.

use std::io;

/// Random-access input: a file (via `pread`), an in-memory buffer, a remote object via
/// range requests.
pub trait ReadAt {
    /// Total length of the input in bytes.
    fn len(&self) -> u64;

    /// Whether the input is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns the number of bytes read (0 at EOF).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadAt for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(src) = self.get(start..) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

impl ReadAt for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl<const N: usize> ReadAt for [u8; N] {
    fn len(&self) -> u64 {
        N as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

impl ReadAt for std::fs::File {
    fn len(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }

    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }

    #[cfg(windows)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(self, buf, offset)
    }
}

/// A window `[start, start + len)` of another input, seen as an input of its own.
pub(crate) struct SubRange<'a> {
    pub(crate) inner: &'a dyn ReadAt,
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl ReadAt for SubRange<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let room = usize::try_from(self.len - offset).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        let Some(abs) = self.start.checked_add(offset) else {
            return Ok(0);
        };
        self.inner.read_at(abs, &mut buf[..n])
    }
}

/// Makes any (possibly unsized) `ReadAt` usable as `&dyn ReadAt`.
pub(crate) struct DynInput<'a, R: ?Sized>(pub(crate) &'a R);

impl<R: ReadAt + ?Sized> ReadAt for DynInput<'_, R> {
    fn len(&self) -> u64 {
        self.0.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(offset, buf)
    }
}

/// Why the cursor could not deliver bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The input ended before the requested bytes.
    Truncated,
    /// The underlying input failed.
    Io(String),
    /// The machine would read more than `Limits::max_read` bytes.
    ReadLimit,
}

const WINDOW: usize = 64 * 1024;

/// A forward cursor over a [`ReadAt`] input through a fixed-size window.
pub(crate) struct Cursor<'a> {
    input: &'a dyn ReadAt,
    len: u64,
    pos: u64,
    window: Vec<u8>,
    window_start: u64,
    window_len: usize,
    /// Bytes fetched from the input so far.
    pub(crate) fetched: u64,
    max_read: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at `start` that will fetch at most `max_read` bytes.
    pub(crate) fn new(input: &'a dyn ReadAt, start: u64, max_read: u64) -> Self {
        Self {
            len: input.len(),
            input,
            pos: start,
            window: Vec::new(),
            window_start: 0,
            window_len: 0,
            fetched: 0,
            max_read,
        }
    }

    /// Current offset.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Moves to `pos` (only used to rewind to a known opcode boundary).
    pub(crate) fn seek(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// Bytes left between the cursor and the end of the input.
    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// The input itself (for sub-range scans of large constants).
    pub(crate) fn input(&self) -> &'a dyn ReadAt {
        self.input
    }

    #[inline]
    fn in_window(&self) -> Option<usize> {
        let rel = self.pos.checked_sub(self.window_start)?;
        let rel = usize::try_from(rel).ok()?;
        (rel < self.window_len).then_some(rel)
    }

    fn fill(&mut self) -> Result<usize, ReadError> {
        if self.pos >= self.len {
            return Err(ReadError::Truncated);
        }
        let want = usize::try_from(self.len - self.pos)
            .unwrap_or(WINDOW)
            .min(WINDOW);
        let budget = usize::try_from(self.max_read.saturating_sub(self.fetched)).unwrap_or(WINDOW);
        let want = want.min(budget);
        if want == 0 {
            return Err(ReadError::ReadLimit);
        }
        // Small inputs get a small window: most pickles are a few KiB.
        if self.window.len() < want {
            self.window.resize(want, 0);
        }
        let mut got = 0;
        while got < want {
            let off = self.pos + got as u64;
            match self.input.read_at(off, &mut self.window[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e.to_string())),
            }
        }
        self.fetched += got as u64;
        self.window_start = self.pos;
        self.window_len = got;
        if got == 0 {
            return Err(ReadError::Truncated);
        }
        Ok(0)
    }

    /// Reads one byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, ReadError> {
        let rel = match self.in_window() {
            Some(r) => r,
            None => self.fill()?,
        };
        let b = self.window.get(rel).copied().ok_or(ReadError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads exactly `N` bytes.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut out = [0u8; N];
        // Within the window (nearly always): a fixed-size copy, no call to `memcpy`.
        if let Some(rel) = self.in_window()
            && let Some(bytes) = self.window.get(rel..rel + N)
            && rel + N <= self.window_len
        {
            out.copy_from_slice(bytes);
            self.pos += N as u64;
            return Ok(out);
        }
        self.fill_exact(&mut out)?;
        Ok(out)
    }

    fn fill_exact(&mut self, out: &mut [u8]) -> Result<(), ReadError> {
        if (out.len() as u64) > self.remaining() {
            return Err(ReadError::Truncated);
        }
        let mut done = 0;
        while done < out.len() {
            let rel = match self.in_window() {
                Some(r) => r,
                None => self.fill()?,
            };
            let avail = self.window_len - rel;
            let n = avail.min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.window[rel..rel + n]);
            done += n;
            self.pos += n as u64;
        }
        Ok(())
    }

    /// Reads exactly `n` bytes; the caller has checked `n` against its limits.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        if (n as u64) > self.remaining() {
            return Err(ReadError::Truncated);
        }
        // Most arguments lie within the window: copied once, never zeroed first.
        if let Some(rel) = self.in_window()
            && self.window_len - rel >= n
        {
            let out = self.window[rel..rel + n].to_vec();
            self.pos += n as u64;
            return Ok(out);
        }
        let mut out = vec![0u8; n];
        self.fill_exact(&mut out)?;
        Ok(out)
    }

    /// Reads exactly `n` bytes and hands them to `f`: borrowed from the window when they lie
    /// within it, else copied once. The caller has checked `n` against its limits.
    pub(crate) fn with_bytes<R>(
        &mut self,
        n: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, ReadError> {
        if (n as u64) > self.remaining() {
            return Err(ReadError::Truncated);
        }
        if let Some(rel) = self.in_window()
            && self.window_len - rel >= n
        {
            let out = f(&self.window[rel..rel + n]);
            self.pos += n as u64;
            return Ok(out);
        }
        let mut out = vec![0u8; n];
        self.fill_exact(&mut out)?;
        Ok(f(&out))
    }

    /// Skips `n` bytes without reading them.
    pub(crate) fn skip(&mut self, n: u64) -> Result<(), ReadError> {
        if n > self.remaining() {
            return Err(ReadError::Truncated);
        }
        self.pos += n;
        Ok(())
    }

    /// Reads up to the next `\n` (consumed, not returned) or, when there is none, to the end of
    /// the input; the flag says the input ended first. At most `max` bytes: `Ok(None)` when the
    /// line is longer.
    pub(crate) fn line_or_eof(&mut self, max: usize) -> Result<Option<(Vec<u8>, bool)>, ReadError> {
        let mut out = Vec::new();
        loop {
            let rel = match self.in_window() {
                Some(r) => r,
                None => match self.fill() {
                    Ok(r) => r,
                    Err(ReadError::Truncated) => return Ok(Some((out, true))),
                    Err(e) => return Err(e),
                },
            };
            let chunk = &self.window[rel..self.window_len];
            if let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
                if out.len() + nl > max {
                    return Ok(None);
                }
                out.extend_from_slice(&chunk[..nl]);
                self.pos += nl as u64 + 1;
                return Ok(Some((out, false)));
            }
            if out.len() + chunk.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(chunk);
            self.pos += chunk.len() as u64;
        }
    }

    /// Reads a `\n`-terminated line (without the newline), at most `max` bytes long.
    /// Returns `Ok(None)` when the line is longer than `max`.
    pub(crate) fn line(&mut self, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        let mut out = Vec::new();
        loop {
            let rel = match self.in_window() {
                Some(r) => r,
                None => self.fill()?,
            };
            let chunk = &self.window[rel..self.window_len];
            if let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
                if out.len() + nl > max {
                    return Ok(None);
                }
                out.extend_from_slice(&chunk[..nl]);
                self.pos += nl as u64 + 1;
                return Ok(Some(out));
            }
            if out.len() + chunk.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(chunk);
            self.pos += chunk.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_windows() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut c = Cursor::new(&data, 65_530, u64::MAX);
        let b = c.bytes(20).expect("bytes");
        assert_eq!(b[0], (65_530 % 251) as u8);
        assert_eq!(c.pos(), 65_550);
        c.skip(100_000).expect("skip");
        assert_eq!(c.u8().expect("u8"), (165_550 % 251) as u8);
        assert_eq!(c.skip(1 << 40), Err(ReadError::Truncated));
    }

    #[test]
    fn line_limits() {
        let data = b"abc\ndefgh\n".to_vec();
        let mut c = Cursor::new(&data, 0, u64::MAX);
        assert_eq!(c.line(10).expect("line"), Some(b"abc".to_vec()));
        assert_eq!(c.line(3).expect("line"), None);
    }

    #[test]
    fn read_limit() {
        let data = vec![0u8; 100];
        let mut c = Cursor::new(&data, 0, 10);
        assert_eq!(c.bytes(10).map(|b| b.len()), Ok(10));
        assert_eq!(c.u8(), Err(ReadError::ReadLimit));
    }
}
