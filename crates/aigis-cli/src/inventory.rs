//! What `aigis scan` shares with `discover` and `bom`: container images found among the paths
//! (scanned layer by layer instead of as plain tars), host context added to local results, and
//! grouping scan results into models for the CycloneDX/SPDX reports.

use aigis_inventory::bom::{self, BomInput};
use aigis_inventory::{Entry, HostChecker, image, model};
use aigis_report::ScanReport;
use aigis_scan::{FileResult, Finding, Format, Scanner, Status};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Moves the container images out of `files` (docker-save tarballs among them, OCI layout
/// folders among `roots`) and returns them.
pub fn take_images(roots: &[PathBuf], files: &mut Vec<PathBuf>) -> Vec<PathBuf> {
    let mut images: Vec<PathBuf> = roots
        .iter()
        .filter(|r| r.is_dir() && image::is_oci_layout(r))
        .cloned()
        .collect();
    files.retain(|f| !images.iter().any(|dir| f.starts_with(dir)));
    let (tars, rest): (Vec<PathBuf>, Vec<PathBuf>) =
        files.drain(..).partition(|f| image::is_docker_archive(f));
    *files = rest;
    images.extend(tars);
    images
}

/// Scans images; an unreadable one becomes one `invalid` result.
pub fn scan_images(images: &[PathBuf], scanner: &Scanner) -> Vec<FileResult> {
    let mut results = Vec::new();
    for path in images {
        match image::scan_image(path, scanner) {
            Ok(Some(found)) => results.extend(found),
            Ok(None) => {}
            Err(err) => results.push(image::failed(path, &err)),
        }
    }
    results
}

/// Adds host context to local results: `HOST-WRITABLE-PATH` on files in a model format whose
/// path others can write (cached per folder), and one result per symbolic link under `roots`
/// that leads out of them (`HOST-SYMLINK-ESCAPE`; links are not followed by the scan).
pub fn add_host_context(results: &mut Vec<FileResult>, roots: &[PathBuf]) {
    let host = HostChecker::new();
    for result in results.iter_mut() {
        if result.format != Format::Unknown {
            let path = PathBuf::from(&result.path);
            host.annotate(result, &path);
        }
    }
    let dirs: Vec<PathBuf> = roots.iter().filter(|r| r.is_dir()).cloned().collect();
    for escape in aigis_inventory::host::symlink_escapes(&dirs) {
        let path = escape.link.to_string_lossy().into_owned();
        let mut result =
            FileResult::new(path, Format::Unknown, 0, Status::Ok, vec![escape.finding()]);
        result.location_dependent = true;
        results.push(result);
    }
}

/// Groups scan results into models; returns the models and the results that are in none.
pub fn models_of(results: &[FileResult]) -> (Vec<model::Model>, Vec<FileResult>) {
    let entries: Vec<Entry> = results
        .iter()
        .map(|r| Entry {
            path: PathBuf::from(&r.path),
            real: PathBuf::from(&r.path),
            result: r.clone(),
            scanned: true,
        })
        .collect();
    let models = model::group(entries);
    let claimed: HashSet<&str> = models
        .iter()
        .flat_map(|m| m.files.iter().map(|f| f.path.as_str()))
        .collect();
    let loose = results
        .iter()
        .filter(|r| !claimed.contains(r.path.as_str()))
        .cloned()
        .collect();
    (models, loose)
}

/// Which BOM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 3.0.1 JSON-LD.
    Spdx,
}

/// Renders models (and loose results) as a BOM.
pub fn render_bom(
    format: BomFormat,
    models: &[model::Model],
    loose: &[FileResult],
    escapes: &[aigis_inventory::SymlinkEscape],
) -> serde_json::Result<String> {
    let input = BomInput {
        models,
        loose,
        escapes,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    match format {
        BomFormat::Cyclonedx => bom::cyclonedx::render(&input),
        BomFormat::Spdx => bom::spdx::render(&input),
    }
}

/// A scan report as a BOM: results grouped into models, the rest as files.
pub fn report_bom(report: &ScanReport, format: BomFormat) -> serde_json::Result<String> {
    let (models, loose) = models_of(&report.results);
    render_bom(format, &models, &loose, &[])
}

/// A finding's text for one-line output.
pub fn finding_line(finding: &Finding) -> String {
    format!(
        "{} {} {}",
        finding.severity.as_str(),
        finding.rule_id,
        finding.message
    )
}

/// Whether `path` exists (a file, folder or link).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}
