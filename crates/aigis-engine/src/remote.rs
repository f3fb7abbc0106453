//! Remote artifacts (`s3://`, `gs://`, `az://`, `abfs(s)://`, `https://`, `hf://`): listed by
//! `aigis-remote`, then each object is one job on the run's pool, read through range requests.

use crate::file::RunCx;
use crate::pool::{Job, JobCx};
use aigis_remote::{RemoteObject, RemoteScanner};
use std::sync::Arc;

/// One remote object.
pub(crate) struct RemoteJob {
    pub cx: Arc<RunCx>,
    pub client: Arc<RemoteScanner>,
    pub object: RemoteObject,
}

impl Job for RemoteJob {
    fn label(&self) -> (String, u64) {
        (
            self.object.display().to_string(),
            self.object.size().unwrap_or(0),
        )
    }

    fn run(self: Box<Self>, job: &JobCx) {
        job.start(self.object.display(), self.object.size().unwrap_or(0));
        let result = self.client.scan_object(&self.cx.scanner, &self.object);
        job.stop();
        job.emit(result);
    }
}
