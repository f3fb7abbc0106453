//! Remote arguments of `aigis scan` (`s3://`, `gs://`, `az://`, `abfs://`, `https://`, `hf://`):
//! routed to `aigis-remote` when the `remote` feature is on (the default).

use aigis_scan::{FileResult, Scanner};
use std::path::PathBuf;

/// Options of remote scanning.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Endpoint of an S3-compatible store (MinIO, Ceph, …) or another API base for buckets.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Allow plain HTTP to a non-loopback endpoint (loopback endpoints may always use HTTP).
    #[arg(long)]
    pub allow_http: bool,
    /// Remote objects scanned at once.
    #[arg(long, value_name = "N", default_value = "32")]
    pub remote_concurrency: usize,
    /// Download remote objects in full to compute their SHA-256 (skipped by default: the scan
    /// itself reads only headers and directories; the ETag is reported instead).
    #[arg(long)]
    pub hash_remote: bool,
}

/// Splits scan arguments into remote URLs and local paths.
pub fn split(paths: &[PathBuf]) -> (Vec<String>, Vec<PathBuf>) {
    let mut remote = Vec::new();
    let mut local = Vec::new();
    for path in paths {
        match path.to_str() {
            Some(arg) if is_remote(arg) => remote.push(arg.to_string()),
            _ => local.push(path.clone()),
        }
    }
    (remote, local)
}

#[cfg(feature = "remote")]
fn is_remote(arg: &str) -> bool {
    aigis_remote::is_remote(arg)
}

#[cfg(not(feature = "remote"))]
fn is_remote(arg: &str) -> bool {
    [
        "s3://", "gs://", "az://", "abfs://", "abfss://", "https://", "http://", "hf://",
    ]
    .iter()
    .any(|s| arg.to_ascii_lowercase().starts_with(s))
}

/// Scans every remote argument; results keep the argument order.
#[cfg(feature = "remote")]
pub fn scan(
    scanner: &Scanner,
    urls: &[String],
    args: &RemoteArgs,
    progress: &(dyn Fn(&FileResult) + Sync),
) -> anyhow::Result<Vec<FileResult>> {
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    let remote = aigis_remote::RemoteScanner::new(aigis_remote::RemoteOptions {
        endpoint: args.endpoint.clone(),
        allow_http: args.allow_http,
        concurrency: args.remote_concurrency.max(1),
        hash: args.hash_remote,
        ..Default::default()
    })?;
    let mut results = Vec::new();
    for url in urls {
        results.extend(remote.scan(scanner, url, progress)?);
    }
    Ok(results)
}

/// Without the `remote` feature, remote arguments are a usage error.
#[cfg(not(feature = "remote"))]
pub fn scan(
    _scanner: &Scanner,
    urls: &[String],
    _args: &RemoteArgs,
    _progress: &(dyn Fn(&FileResult) + Sync),
) -> anyhow::Result<Vec<FileResult>> {
    match urls.first() {
        Some(url) => anyhow::bail!("{url}: this aigis was built without the `remote` feature"),
        None => Ok(Vec::new()),
    }
}
