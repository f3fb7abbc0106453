//! Remote options of `aigis scan` (`s3://`, `gs://`, `az://`, `abfs://`, `https://`, `hf://`
//! targets), handed to the engine when the `remote` feature is on (the default).

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
    /// Send unsigned requests (public buckets): no credentials are looked for.
    #[arg(long)]
    pub anonymous: bool,
}

#[cfg(feature = "remote")]
impl RemoteArgs {
    /// The engine's remote options.
    pub fn options(&self) -> aigis_remote::RemoteOptions {
        aigis_remote::RemoteOptions {
            endpoint: self.endpoint.clone(),
            allow_http: self.allow_http,
            concurrency: self.remote_concurrency.max(1),
            hash: self.hash_remote,
            anonymous: self.anonymous,
            ..Default::default()
        }
    }
}
