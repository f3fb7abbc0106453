//! Remote sources for aigis: models in object storage (S3 and S3-compatible stores, Google Cloud
//! Storage, Azure Blob), single files over HTTP(S), and Hugging Face Hub repositories.
//!
//! A remote object is just another [`aigis_scan::ByteSource`] ([`RemoteSource`]): its length
//! comes from the listing or a HEAD request and every read is a ranged GET through a small block
//! cache, so the unchanged analyzers read only the bytes they need (a zip's directory and pickle,
//! a safetensors or GGUF header) and the scan goes through the same
//! [`Scanner::scan_source`](aigis_scan::Scanner::scan_source) as a local file.
//!
//! The analyzers are synchronous; each [`RemoteScanner`] owns a tokio runtime, and scanning
//! threads (never the runtime's own) block on its handle for each request. Bucket access
//! configuration is read once per bucket and reported on every model under it
//! (`STORAGE-PUBLIC-WRITE`, `STORAGE-PUBLIC-READ`, `STORAGE-ACCESS-UNKNOWN`, …).

mod exposure;
pub mod hf;
mod source;
mod stores;
mod target;

pub use exposure::{Exposure, gcs_iam_findings, s3_acl_findings, s3_policy_findings};
pub use source::{CacheConfig, RemoteSource};
pub use target::{Cloud, Target, is_remote};

use aigis_scan::{FileResult, Scanner, Status, diagnostics};
use futures_util::StreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::runtime::Runtime;

/// Errors that stop a whole remote argument (per-object failures become `error` results).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The argument is not a usable remote location.
    #[error("{0}")]
    Target(String),
    /// The store could not be configured (missing region, bad endpoint, …).
    #[error("cannot configure the store: {0}")]
    Store(String),
    /// Listing the objects failed.
    #[error("cannot list {0}")]
    List(String),
    /// The Hugging Face Hub API failed.
    #[error("{0}")]
    Hub(String),
    /// No credentials could be found, and none can be asked for.
    #[error("{0}")]
    Credentials(String),
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(String),
}

/// Options of remote scanning.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Endpoint of an S3-compatible store (or Azure/GCS API base), e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Allow plain HTTP to non-loopback endpoints (loopback endpoints always may use HTTP).
    pub allow_http: bool,
    /// Objects scanned at once.
    pub concurrency: usize,
    /// Read every object in full to compute its SHA-256 (off by default: costs a full download).
    pub hash: bool,
    /// Block cache of each object.
    pub cache: CacheConfig,
    /// Unsigned requests (public buckets): no credentials looked for.
    pub anonymous: bool,
}

impl Default for RemoteOptions {
    fn default() -> RemoteOptions {
        RemoteOptions {
            endpoint: None,
            allow_http: false,
            concurrency: 32,
            hash: false,
            cache: CacheConfig::default(),
            anonymous: false,
        }
    }
}

impl RemoteObject {
    /// The result path (`s3://bucket/key`, `hf://org/name@rev/file`, the URL).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Size from the listing, when it gave one.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// What the result's `source` will say of this object (kind, bucket and key, repository
    /// and file, URL, ETag…), as listed.
    pub fn source(&self) -> &Map<String, Value> {
        &self.source
    }

    /// The listing's ETag, when it gave one.
    pub fn etag(&self) -> Option<&str> {
        self.source.get("etag").and_then(Value::as_str)
    }

    /// The listing's version id, when the store keeps versions.
    pub fn version(&self) -> Option<&str> {
        self.source.get("version").and_then(Value::as_str)
    }
}

/// One object to scan, as listed.
pub struct RemoteObject {
    store: Arc<dyn ObjectStore>,
    path: Path,
    /// The result's `path`.
    display: String,
    /// Size from the listing; `None` asks a HEAD first.
    size: Option<u64>,
    /// The result's `source` (kind, bucket/repo, key/file, revision, etag…).
    source: Map<String, Value>,
    /// Bucket exposure and the key it is matched with.
    exposure: Option<(Arc<Exposure>, String)>,
}

/// Scans remote locations with a scanner; owns the I/O runtime.
pub struct RemoteScanner {
    runtime: Runtime,
    client: reqwest::Client,
    options: RemoteOptions,
}

impl RemoteScanner {
    /// Starts the I/O runtime (two threads: the work is waiting, not computing).
    pub fn new(options: RemoteOptions) -> Result<RemoteScanner, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("aigis-io")
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Runtime(e.to_string()))?;
        Ok(RemoteScanner {
            runtime,
            client,
            options,
        })
    }

    /// Lists the objects `arg` (a bucket prefix, an HTTPS URL, a Hub repo) names, sorted by
    /// path. Scanning each is [`RemoteScanner::scan_object`], run by the caller's workers.
    pub fn list(&self, arg: &str) -> Result<Vec<RemoteObject>, Error> {
        let mut objects = self.collect(&Target::parse(arg)?)?;
        objects.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(objects)
    }

    /// The objects `uris` name exactly (bucket objects by their full key, as a listing gave
    /// them: a fleet worker's shard), without listing anything: each bucket's store is built
    /// and its access configuration read once, and each object's size and ETag come from one
    /// HEAD, made concurrently. Objects that no longer exist are left out. Other URLs (HTTPS,
    /// the Hub) are listed as [`RemoteScanner::list`] lists them.
    pub fn objects(&self, uris: &[String]) -> Result<Vec<RemoteObject>, Error> {
        type Group<'a> = (Cloud, &'a str, Vec<String>);
        let mut buckets: Vec<(String, Group<'_>)> = Vec::new();
        let mut out = Vec::new();
        for uri in uris {
            match Target::parse(uri)? {
                Target::Bucket {
                    cloud,
                    bucket,
                    prefix,
                    ..
                } if !prefix.is_empty() => {
                    let scheme = uri.split("://").next().unwrap_or("s3").to_ascii_lowercase();
                    let group = format!("{scheme}://{bucket}");
                    match buckets.iter_mut().find(|(g, _)| *g == group) {
                        Some((_, (_, _, keys))) => keys.push(prefix),
                        None => buckets.push((group, (cloud, uri.as_str(), vec![prefix]))),
                    }
                }
                target => out.extend(self.collect(&target)?),
            }
        }
        let limit = self.concurrency();
        for (group, (cloud, url, keys)) in buckets {
            let (scheme, bucket) = group.split_once("://").unwrap_or(("s3", &group));
            let built = match cloud {
                Cloud::S3 => stores::s3(bucket, &self.options)?,
                Cloud::Gcs => stores::gcs(bucket, &self.options)?,
                Cloud::Azure => stores::azure(url, bucket, &self.options)?,
            };
            let store = built.store.clone();
            let (heads, exposure) = self.runtime.block_on(async {
                let heads: Vec<(
                    String,
                    Result<object_store::ObjectMeta, object_store::Error>,
                )> = futures_util::stream::iter(keys)
                    .map(|key| {
                        let store = store.clone();
                        async move {
                            let head = store.head(&Path::from(key.as_str())).await;
                            (key, head)
                        }
                    })
                    .buffer_unordered(limit)
                    .collect()
                    .await;
                let exposure = built.access.read(&self.client).await;
                (heads, exposure)
            });
            let exposure = Arc::new(exposure);
            for (key, head) in heads {
                let mut source = Map::new();
                source.insert("kind".into(), json!(cloud.kind()));
                source.insert("bucket".into(), json!(bucket));
                source.insert("key".into(), json!(key));
                let size = match head {
                    Ok(meta) => {
                        if let Some(etag) = &meta.e_tag {
                            source.insert("etag".into(), json!(etag));
                        }
                        if let Some(version) = &meta.version {
                            source.insert("version".into(), json!(version));
                        }
                        Some(meta.size)
                    }
                    Err(object_store::Error::NotFound { .. }) => continue,
                    // Read when scanned, where the failure becomes the object's result.
                    Err(_) => None,
                };
                out.push(RemoteObject {
                    store: store.clone(),
                    path: Path::from(key.as_str()),
                    display: format!("{scheme}://{bucket}/{key}"),
                    size,
                    source,
                    exposure: Some((exposure.clone(), key)),
                });
            }
        }
        out.sort_by(|a, b| a.display.cmp(&b.display));
        Ok(out)
    }

    /// Objects scanned at once (the caller's worker count for remote objects).
    pub fn concurrency(&self) -> usize {
        self.options.concurrency.clamp(1, 256)
    }

    /// Lists the objects a target names.
    fn collect(&self, target: &Target) -> Result<Vec<RemoteObject>, Error> {
        match target {
            Target::Bucket {
                cloud,
                url,
                bucket,
                prefix,
            } => {
                let built = match cloud {
                    Cloud::S3 => stores::s3(bucket, &self.options)?,
                    Cloud::Gcs => stores::gcs(bucket, &self.options)?,
                    Cloud::Azure => stores::azure(url, bucket, &self.options)?,
                };
                let store = built.store.clone();
                let (listed, exposure) = self.runtime.block_on(async {
                    let listed = list_prefix(store.as_ref(), prefix).await;
                    let exposure = built.access.read(&self.client).await;
                    (listed, exposure)
                });
                let listed = listed.map_err(|e| Error::List(listing_error(url, bucket, &e)))?;
                let exposure = Arc::new(exposure);
                let scheme = url.split("://").next().unwrap_or("s3");
                Ok(listed
                    .into_iter()
                    .map(|meta| {
                        let key = meta.location.to_string();
                        let mut source = Map::new();
                        source.insert("kind".into(), json!(cloud.kind()));
                        source.insert("bucket".into(), json!(bucket));
                        source.insert("key".into(), json!(key));
                        if let Some(etag) = &meta.e_tag {
                            source.insert("etag".into(), json!(etag));
                        }
                        if let Some(version) = &meta.version {
                            source.insert("version".into(), json!(version));
                        }
                        RemoteObject {
                            store: store.clone(),
                            display: format!("{scheme}://{bucket}/{key}"),
                            path: meta.location,
                            size: Some(meta.size),
                            source,
                            exposure: Some((exposure.clone(), key)),
                        }
                    })
                    .collect())
            }
            Target::Http { url } => {
                let parsed = url::Url::parse(url).map_err(|e| Error::Target(e.to_string()))?;
                let origin = parsed.origin().ascii_serialization();
                let path = Path::from_url_path(parsed.path())
                    .map_err(|e| Error::Target(format!("{url}: {e}")))?;
                let store = object_store::http::HttpBuilder::new()
                    .with_url(&origin)
                    .with_retry(stores::retry_config())
                    .with_client_options(stores::client_options(&self.options, Some(&origin)))
                    .build()
                    .map_err(|e| Error::Store(e.to_string()))?;
                let mut source = Map::new();
                source.insert("kind".into(), json!("http"));
                source.insert("url".into(), json!(url));
                Ok(vec![RemoteObject {
                    store: Arc::new(store),
                    path,
                    display: url.clone(),
                    size: None,
                    source,
                    exposure: None,
                }])
            }
            Target::HuggingFace { repo, revision } => {
                let endpoint = hf::endpoint();
                let token = hf::token();
                let listing = self.runtime.block_on(hf::list(
                    &self.client,
                    &endpoint,
                    repo,
                    revision,
                    token.as_deref(),
                ))?;
                let mut client_options = stores::client_options(&self.options, Some(&endpoint));
                if let Some(token) = &token {
                    let mut headers = http::HeaderMap::new();
                    let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
                        .map_err(|_| Error::Hub("HF_TOKEN is not a valid header value".into()))?;
                    value.set_sensitive(true);
                    headers.insert(http::header::AUTHORIZATION, value);
                    client_options = client_options.with_default_headers(headers);
                }
                let store: Arc<dyn ObjectStore> = Arc::new(
                    object_store::http::HttpBuilder::new()
                        .with_url(&endpoint)
                        .with_retry(stores::retry_config())
                        .with_client_options(client_options)
                        .build()
                        .map_err(|e| Error::Store(e.to_string()))?,
                );
                let at = listing.commit.as_deref().unwrap_or(revision);
                Ok(listing
                    .files
                    .iter()
                    .map(|file| {
                        let mut source = Map::new();
                        source.insert("kind".into(), json!("huggingface"));
                        source.insert("repo".into(), json!(repo));
                        source.insert("revision".into(), json!(revision));
                        if let Some(commit) = &listing.commit {
                            source.insert("commit".into(), json!(commit));
                        }
                        source.insert("file".into(), json!(file));
                        RemoteObject {
                            store: store.clone(),
                            path: Path::from(hf::resolve_path(repo, at, file)),
                            display: format!("hf://{repo}@{revision}/{file}"),
                            size: None,
                            source,
                            exposure: None,
                        }
                    })
                    .collect())
            }
        }
    }

    /// Scans one object; any failure becomes an `error` result with a `READ-ERROR` finding.
    /// Called from plain threads, never from inside the I/O runtime.
    pub fn scan_object(&self, scanner: &Scanner, object: &RemoteObject) -> FileResult {
        let handle = self.runtime.handle().clone();
        let mut source_meta = object.source.clone();
        let size = match object.size {
            Some(size) => size,
            None => match handle.block_on(object.store.head(&object.path)) {
                Ok(meta) => {
                    if let Some(etag) = meta.e_tag {
                        source_meta.insert("etag".into(), json!(etag));
                    }
                    meta.size
                }
                Err(err) => {
                    let mut result = FileResult::failed(
                        object.display.clone(),
                        0,
                        diagnostics::read_failed(format!("HEAD failed: {}", short(&err))),
                    );
                    result.source = Some(Value::Object(source_meta));
                    return result;
                }
            },
        };
        let source = RemoteSource::new(
            object.store.clone(),
            object.path.clone(),
            size,
            handle.clone(),
            self.options.cache,
        );
        let mut result = scanner.scan_source(object.display.clone(), &source);
        result.bytes_read = source.bytes_fetched();
        if self.options.hash && result.status != Status::Error {
            match handle.block_on(hash_object(object.store.as_ref(), &object.path)) {
                Ok(sha) => result.sha256 = Some(sha),
                Err(err) => {
                    result.status = Status::Error;
                    result.findings.push(diagnostics::read_failed(format!(
                        "hashing: {}",
                        short(&err)
                    )));
                }
            }
        }
        if let Some((exposure, key)) = &object.exposure
            && result.status != Status::Unsupported
        {
            result.findings.extend(exposure.findings_for(key));
        }
        result.source = Some(Value::Object(source_meta));
        result.normalize();
        result
    }
}

/// The objects under `prefix` (as a folder), or the one object `prefix` names.
async fn list_prefix(
    store: &dyn ObjectStore,
    prefix: &str,
) -> Result<Vec<object_store::ObjectMeta>, String> {
    let path = Path::from(prefix);
    let mut listed = Vec::new();
    let mut stream = store.list(if prefix.is_empty() { None } else { Some(&path) });
    while let Some(item) = stream.next().await {
        listed.push(item.map_err(|e| short(&e))?);
    }
    if listed.is_empty() && !prefix.is_empty() {
        match store.head(&path).await {
            Ok(meta) => listed.push(meta),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(err) => return Err(short(&err)),
        }
    }
    listed.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(listed)
}

/// A listing failure in words a person can act on.
fn listing_error(url: &str, bucket: &str, err: &str) -> String {
    let lower = err.to_ascii_lowercase();
    if [
        "nosuchbucket",
        "containernotfound",
        "not found",
        "notfound",
        "404",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        format!(
            "{url}: bucket or container `{bucket}` does not exist (or these credentials cannot see it)"
        )
    } else if [
        "accessdenied",
        "authorizationfailure",
        "permission",
        "forbidden",
        "403",
        "401",
        "unauthenticated",
        "invalidaccesskeyid",
        "signaturedoesnotmatch",
    ]
    .iter()
    .any(|m| lower.contains(m))
    {
        format!(
            "{url}: access denied listing `{bucket}` ({err}); check the credentials and their list permission"
        )
    } else {
        format!("{url}: {err}")
    }
}

/// SHA-256 of a whole object, streamed (only with `--hash-remote`).
async fn hash_object(store: &dyn ObjectStore, path: &Path) -> Result<String, object_store::Error> {
    let mut stream = store.get(path).await?.into_stream();
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// An object_store error in one line, without credentials (object_store never puts secrets in
/// its messages; URLs of SAS-signed requests are not used here).
fn short(err: &object_store::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
