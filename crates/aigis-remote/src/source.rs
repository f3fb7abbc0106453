//! [`RemoteSource`]: a [`ByteSource`] over one remote object. `len` comes from the listing or a
//! HEAD request, `read_at` is served from a small cache of aligned blocks filled by ranged GETs,
//! so the (synchronous, unchanged) analyzers read a 1 GB checkpoint's zip directory and pickle
//! without downloading its tensors.

use aigis_scan::ByteSource;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::runtime::Handle;

/// Cache geometry and read-ahead of a [`RemoteSource`].
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// Block size in bytes: every GET starts and ends on a block boundary (or the object end).
    pub block_size: u64,
    /// Blocks kept per object (least recently used evicted first).
    pub max_blocks: usize,
    /// Most blocks fetched ahead once reads are seen to be sequential.
    pub max_read_ahead: u64,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            block_size: 256 << 10,
            max_blocks: 16,
            max_read_ahead: 8,
        }
    }
}

/// One remote object as random-access bytes.
pub struct RemoteSource {
    store: Arc<dyn ObjectStore>,
    path: Path,
    len: u64,
    handle: Handle,
    config: CacheConfig,
    state: Mutex<CacheState>,
    /// The whole object, when the server ignores range requests (downloaded once, bounded).
    whole: std::sync::OnceLock<Result<Bytes, String>>,
    fetched: AtomicU64,
    requests: AtomicU64,
}

#[derive(Default)]
struct CacheState {
    /// (block index, bytes, last use tick).
    blocks: Vec<(u64, Bytes, u64)>,
    tick: u64,
    /// End offset of the previous read, to detect sequential access.
    last_end: u64,
    /// Consecutive sequential reads that needed a fetch.
    streak: u32,
}

impl CacheState {
    fn get(&mut self, index: u64) -> Option<Bytes> {
        self.tick += 1;
        let tick = self.tick;
        self.blocks.iter_mut().find(|b| b.0 == index).map(|b| {
            b.2 = tick;
            b.1.clone()
        })
    }

    fn contains(&self, index: u64) -> bool {
        self.blocks.iter().any(|b| b.0 == index)
    }

    fn insert(&mut self, index: u64, data: Bytes, max_blocks: usize) {
        if self.contains(index) {
            return;
        }
        self.tick += 1;
        if self.blocks.len() >= max_blocks.max(1)
            && let Some(oldest) = self
                .blocks
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.2)
                .map(|(i, _)| i)
        {
            self.blocks.swap_remove(oldest);
        }
        self.blocks.push((index, data, self.tick));
    }
}

impl RemoteSource {
    /// A source for `path` in `store`, whose length is already known (listing or HEAD).
    /// `handle` runs the requests; `read_at` must not be called from inside that runtime.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        path: Path,
        len: u64,
        handle: Handle,
        config: CacheConfig,
    ) -> RemoteSource {
        RemoteSource {
            store,
            path,
            len,
            handle,
            config,
            state: Mutex::new(CacheState::default()),
            whole: std::sync::OnceLock::new(),
            fetched: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Bytes fetched from the store so far (what the scan cost in transfer).
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Ranged GET requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// One ranged GET, run to completion on the source's runtime.
    fn fetch(&self, start: u64, end: u64) -> io::Result<Bytes> {
        if Handle::try_current().is_ok() {
            return Err(io::Error::other(
                "remote read issued from inside the async runtime",
            ));
        }
        if let Some(whole) = self.whole.get() {
            return slice_of(whole, start, end);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let data = match self
            .handle
            .block_on(self.store.get_range(&self.path, start..end))
        {
            Ok(data) => data,
            // A server that ignores `Range`: the object is downloaded once, if small enough.
            Err(object_store::Error::NotSupported { .. }) => {
                let whole = self.whole.get_or_init(|| self.download_whole());
                return slice_of(whole, start, end);
            }
            Err(err) => return Err(io::Error::other(format!("GET bytes {start}-{end}: {err}"))),
        };
        self.fetched.fetch_add(data.len() as u64, Ordering::Relaxed);
        if data.len() as u64 != end - start {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "GET bytes {start}-{end} returned {} bytes (object changed during the scan?)",
                    data.len()
                ),
            ));
        }
        Ok(data)
    }

    /// The whole object in one GET, refused past [`MAX_WHOLE_DOWNLOAD`] bytes.
    fn download_whole(&self) -> Result<Bytes, String> {
        if self.len > MAX_WHOLE_DOWNLOAD {
            return Err(format!(
                "the server does not support range requests and the object ({} bytes) is larger \
                 than the {MAX_WHOLE_DOWNLOAD} bytes aigis downloads whole",
                self.len
            ));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let data = self
            .handle
            .block_on(async {
                let got = self.store.get(&self.path).await?;
                got.bytes().await
            })
            .map_err(|err| format!("GET (whole object, no range support): {err}"))?;
        self.fetched.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data)
    }

    fn cache_capacity(&self) -> u64 {
        self.config.block_size * self.config.max_blocks as u64
    }
}

/// Largest object downloaded whole from a server that ignores range requests.
pub const MAX_WHOLE_DOWNLOAD: u64 = 256 << 20;

/// Bytes `start..end` of a whole-object download (or why there is none).
fn slice_of(whole: &Result<Bytes, String>, start: u64, end: u64) -> io::Result<Bytes> {
    let data = whole.as_ref().map_err(|e| io::Error::other(e.clone()))?;
    let (start, end) = (
        usize::try_from(start).unwrap_or(usize::MAX),
        usize::try_from(end).unwrap_or(usize::MAX),
    );
    data.get(start..end.min(data.len()))
        .map(|_| data.slice(start..end.min(data.len())))
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "object shorter than listed"))
}

impl ByteSource for RemoteSource {
    fn len(&self) -> u64 {
        self.len
    }

    /// From the cache when its block is there; otherwise exactly these bytes, in one small GET
    /// that is not cached (a probe says nothing about what is read next).
    fn probe(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.len || len == 0 {
            return Ok(Vec::new());
        }
        let end = offset.saturating_add(len as u64).min(self.len);
        let block = self.config.block_size.max(1);
        let cached = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            (offset / block..=(end - 1) / block).all(|i| state.contains(i))
        };
        if cached {
            return self.read_vec(offset, len);
        }
        Ok(self.fetch(offset, end)?.to_vec())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.len - offset);
        let end = offset + want;
        let block = self.config.block_size.max(1);
        // A read bigger than half the cache would only evict it: fetch exactly what is asked.
        if want > self.cache_capacity() / 2 {
            let data = self.fetch(offset, end)?;
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            return Ok(n);
        }
        let first = offset / block;
        let last = (end - 1) / block;
        let last_block = (self.len - 1) / block;

        let missing: Vec<u64> = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let sequential = offset == state.last_end && offset != 0;
            state.last_end = end;
            let missing: Vec<u64> = (first..=last).filter(|i| !state.contains(*i)).collect();
            if !missing.is_empty() {
                state.streak = if sequential { state.streak + 1 } else { 0 };
            }
            let ahead = if state.streak >= 2 {
                (1u64 << state.streak.min(8)).min(self.config.max_read_ahead)
            } else {
                0
            };
            match (missing.first(), missing.last()) {
                (Some(&lo), Some(&hi)) => {
                    let hi = (hi + ahead).min(last_block);
                    (lo..=hi).filter(|i| !state.contains(*i)).collect()
                }
                _ => Vec::new(),
            }
        };
        if let (Some(&lo), Some(&hi)) = (missing.first(), missing.last()) {
            let start = lo * block;
            let stop = ((hi + 1) * block).min(self.len);
            let data = self.fetch(start, stop)?;
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for index in lo..=hi {
                let from = ((index - lo) * block) as usize;
                let to = (((index - lo + 1) * block) as usize).min(data.len());
                if from < to {
                    state.insert(index, data.slice(from..to), self.config.max_blocks);
                }
            }
            // Blocks of this read that were fetched now are copied from `data` directly, in
            // case the cache is too small to hold them all.
            return copy_out(offset, end, block, buf, |index| {
                if (lo..=hi).contains(&index) {
                    let from = ((index - lo) * block) as usize;
                    let to = (((index - lo + 1) * block) as usize).min(data.len());
                    data.get(from..to).map(|s| data.slice_ref(s))
                } else {
                    state.get(index)
                }
            });
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        copy_out(offset, end, block, buf, |index| state.get(index))
    }
}

/// Copies `[offset, end)` into `buf` from blocks handed out by `block_of`.
fn copy_out(
    offset: u64,
    end: u64,
    block: u64,
    buf: &mut [u8],
    mut block_of: impl FnMut(u64) -> Option<Bytes>,
) -> io::Result<usize> {
    let mut pos = offset;
    let mut filled = 0usize;
    while pos < end {
        let index = pos / block;
        let data = block_of(index).ok_or_else(|| io::Error::other("block missing from cache"))?;
        let within = (pos - index * block) as usize;
        let take = ((end - pos) as usize).min(data.len().saturating_sub(within));
        if take == 0 {
            break;
        }
        buf[filled..filled + take].copy_from_slice(&data[within..within + take]);
        filled += take;
        pos += take as u64;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    fn source_over(data: Vec<u8>, config: CacheConfig) -> (tokio::runtime::Runtime, RemoteSource) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("obj");
        let len = data.len() as u64;
        runtime
            .block_on(store.put(&path, PutPayload::from(data)))
            .unwrap_or_else(|e| panic!("put: {e}"));
        let handle = runtime.handle().clone();
        (runtime, RemoteSource::new(store, path, len, handle, config))
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn reads_match_the_object_at_every_offset_and_size() {
        let data = pattern(10_000);
        let config = CacheConfig {
            block_size: 64,
            max_blocks: 4,
            max_read_ahead: 4,
        };
        let (_rt, source) = source_over(data.clone(), config);
        for (offset, len) in [
            (0, 10),
            (60, 10),
            (63, 200),
            (9_990, 50),
            (5_000, 1),
            (0, 128),
        ] {
            let got = source.read_vec(offset, len).unwrap_or_default();
            let want = &data[offset as usize..(offset as usize + len).min(data.len())];
            assert_eq!(got, want, "offset {offset} len {len}");
        }
        assert_eq!(source.read_vec(10_000, 5).map(|v| v.len()).ok(), Some(0));
    }

    #[test]
    fn random_reads_fetch_whole_blocks_only_once() {
        let data = pattern(1 << 20);
        let (_rt, source) = source_over(data, CacheConfig::default());
        let _ = source.read_vec(1000, 10);
        let _ = source.read_vec(2000, 10);
        assert_eq!(source.requests(), 1);
        assert_eq!(source.bytes_fetched(), 256 << 10);
        let _ = source.read_vec((1 << 20) - 22, 22);
        assert_eq!(source.requests(), 2);
        assert_eq!(source.bytes_fetched(), 512 << 10);
    }

    #[test]
    fn probes_fetch_only_their_bytes_unless_cached() {
        let data = pattern(1 << 22);
        let (_rt, source) = source_over(data.clone(), CacheConfig::default());
        let _ = source.read_vec(0, 10);
        assert_eq!(source.bytes_fetched(), 256 << 10);
        // Inside a cached block: no request.
        assert_eq!(
            source.probe(4096, 8).ok().as_deref(),
            Some(&data[4096..4104])
        );
        assert_eq!(source.requests(), 1);
        // Far away: exactly the 8 bytes, at every power of two up to the end.
        let mut at = 512 << 10;
        let mut probes = 0;
        while at + 8 <= data.len() {
            assert_eq!(
                source.probe(at as u64, 8).ok().as_deref(),
                Some(&data[at..at + 8])
            );
            probes += 1;
            at *= 2;
        }
        assert_eq!(source.requests(), 1 + probes);
        assert_eq!(source.bytes_fetched(), (256 << 10) + 8 * probes);
        assert_eq!(
            source.probe(data.len() as u64 - 3, 8).map(|v| v.len()).ok(),
            Some(3)
        );
    }

    #[test]
    fn sequential_reads_read_ahead() {
        let data = pattern(4 << 20);
        let config = CacheConfig {
            block_size: 4096,
            max_blocks: 64,
            max_read_ahead: 8,
        };
        let (_rt, source) = source_over(data.clone(), config);
        let mut offset = 0u64;
        let mut all = Vec::new();
        while offset < 200_000 {
            let chunk = source.read_vec(offset, 4096).unwrap_or_default();
            offset += chunk.len() as u64;
            all.extend(chunk);
        }
        assert_eq!(&all[..], &data[..all.len()]);
        // Without read-ahead this would be one request per block (49).
        assert!(source.requests() < 15, "{} requests", source.requests());
    }

    #[test]
    fn refuses_to_block_inside_the_runtime() {
        let (rt, source) = source_over(pattern(100), CacheConfig::default());
        let source = Arc::new(source);
        let inner = Arc::clone(&source);
        let result = rt.block_on(async move { inner.read_vec(0, 10) });
        assert!(result.is_err());
    }
}
