//! A [`ByteSource`] over a compressed stream, decoded lazily and only as far as analyzers read,
//! with a cap on output (decompression bombs stop at the cap). An expansion beyond the ratio limit
//! is recorded but does not stop decoding: the cap already bounds time and memory, and stopping
//! early would let padding push a payload out of the analyzers' sight.

use crate::ByteSource;
use std::io::{self, Read};
use std::sync::Mutex;

/// Why decoding stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeStop {
    /// The output cap was reached.
    Cap(u64),
    /// The compressed data is corrupt or truncated.
    Corrupt(String),
}

struct State<'a> {
    reader: Box<dyn Read + Send + 'a>,
    decoded: Vec<u8>,
    done: bool,
    stop: Option<DecodeStop>,
    past_ratio: bool,
}

/// Lazily decoded stream. `len()` is the declared size when the container states one, else the
/// cap; reads past what the stream really holds return 0.
pub struct DecodedSource<'a> {
    state: Mutex<State<'a>>,
    declared_len: Option<u64>,
    compressed_len: u64,
    cap: u64,
    max_ratio: u64,
}

impl<'a> DecodedSource<'a> {
    /// Wraps a decoder. `compressed_len` feeds the ratio check; `declared_len` is the container's
    /// word for the decoded size, if any.
    pub fn new(
        reader: Box<dyn Read + Send + 'a>,
        compressed_len: u64,
        declared_len: Option<u64>,
        cap: u64,
        max_ratio: u64,
    ) -> DecodedSource<'a> {
        DecodedSource {
            state: Mutex::new(State {
                reader,
                decoded: Vec::new(),
                done: false,
                stop: None,
                past_ratio: false,
            }),
            declared_len,
            compressed_len,
            cap,
            max_ratio,
        }
    }

    /// Decodes everything (up to the cap) and returns the bytes decoded.
    pub fn decode_all(&self) -> u64 {
        self.fill(u64::MAX);
        self.decoded_len()
    }

    /// Bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.state
            .lock()
            .map(|s| s.decoded.len() as u64)
            .unwrap_or(0)
    }

    /// Why decoding stopped early, if it did.
    pub fn stop(&self) -> Option<DecodeStop> {
        self.state.lock().ok().and_then(|s| s.stop.clone())
    }

    /// The ratio limit, when the output has grown past it (a decompression bomb's signature).
    pub fn past_ratio(&self) -> Option<u64> {
        let past = self.state.lock().map(|s| s.past_ratio).unwrap_or(false);
        past.then_some(self.max_ratio)
    }

    /// True when the stream was decoded to its natural end.
    pub fn finished(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.done && s.stop.is_none())
            .unwrap_or(false)
    }

    fn fill(&self, upto: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut chunk = vec![0u8; 64 << 10];
        while !state.done && (state.decoded.len() as u64) < upto {
            let room = self.cap.saturating_sub(state.decoded.len() as u64);
            if room == 0 {
                state.stop = Some(DecodeStop::Cap(self.cap));
                state.done = true;
                break;
            }
            let want = chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            match state.reader.read(&mut chunk[..want]) {
                Ok(0) => state.done = true,
                Ok(n) => {
                    state.decoded.extend_from_slice(&chunk[..n]);
                    let out = state.decoded.len() as u64;
                    if out > 1 << 20 && out / self.compressed_len.max(1) > self.max_ratio {
                        state.past_ratio = true;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    state.stop = Some(DecodeStop::Corrupt(err.to_string()));
                    state.done = true;
                }
            }
        }
    }
}

impl ByteSource for DecodedSource<'_> {
    fn len(&self) -> u64 {
        match self.declared_len {
            Some(n) => n,
            None => {
                self.fill(u64::MAX);
                self.decoded_len()
            }
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.fill(offset.saturating_add(buf.len() as u64));
        let state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("decoder state poisoned"))?;
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = state.decoded.get(start..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(data);
        enc.finish().unwrap_or_default()
    }

    #[test]
    fn decodes_lazily_and_stops_bombs() {
        let small = gz(b"hello world");
        let src = DecodedSource::new(
            Box::new(flate2::read::GzDecoder::new(&small[..])),
            small.len() as u64,
            None,
            1 << 20,
            100,
        );
        assert_eq!(src.read_vec(6, 5).ok(), Some(b"world".to_vec()));
        assert!(src.finished());

        let bomb = gz(&vec![0u8; 8 << 20]);
        let src = DecodedSource::new(
            Box::new(flate2::read::GzDecoder::new(&bomb[..])),
            bomb.len() as u64,
            None,
            64 << 20,
            100,
        );
        // Past the ratio: flagged, but decoded on to the end (a payload after padding is seen).
        src.decode_all();
        assert_eq!(src.past_ratio(), Some(100));
        assert_eq!(src.stop(), None);
        assert_eq!(src.decoded_len(), 8 << 20);

        // The cap is what stops a bomb.
        let src = DecodedSource::new(
            Box::new(flate2::read::GzDecoder::new(&bomb[..])),
            bomb.len() as u64,
            None,
            2 << 20,
            100,
        );
        src.decode_all();
        assert_eq!(src.stop(), Some(DecodeStop::Cap(2 << 20)));
        assert_eq!(src.decoded_len(), 2 << 20);
    }
}
