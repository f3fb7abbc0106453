//! Findings about the run rather than the content — a file that could not be read, a time
//! limit, an internal error, an image that does not unpack — built here, beside the rule
//! catalogue, so each has one rule, one severity and one wording wherever it is raised (the
//! engine, the pool, the image reader, remote sources, the analyzers' context). Findings about
//! content are raised by the analyzers through [`crate::Context::record`].

use crate::{Finding, RuleId};
use std::fmt::Display;
use std::time::Duration;

/// The bytes could not be read (`READ-ERROR`).
pub fn read_failed(err: impl Display) -> Finding {
    Finding::new(RuleId::ReadError, format!("read failed: {err}"))
}

/// A path that is not a regular file: never opened for analysis (`READ-ERROR`).
pub fn not_regular_file(kind: &str) -> Finding {
    Finding::new(
        RuleId::ReadError,
        format!("not a regular file ({kind}); not scanned"),
    )
}

/// A folder or entry the walk could not read (`READ-ERROR`).
pub fn unreadable_path(reason: impl Display) -> Finding {
    Finding::new(RuleId::ReadError, format!("could not be read: {reason}"))
}

/// Analysis stopped itself at the time limit (`TIME-LIMIT`).
pub fn time_limit_stopped(limit: Duration) -> Finding {
    Finding::new(
        RuleId::TimeLimit,
        format!(
            "time limit of {} s exceeded; analysis stopped",
            limit.as_secs_f64()
        ),
    )
}

/// Analysis never came back and was abandoned (`TIME-LIMIT`).
pub fn time_limit_abandoned(limit: Duration) -> Finding {
    Finding::new(
        RuleId::TimeLimit,
        format!(
            "time limit of {} s exceeded; analysis abandoned",
            limit.as_secs_f64()
        ),
    )
}

/// aigis failed while analysing (`ANALYSIS-CRASHED`).
pub fn analysis_crashed(message: &str) -> Finding {
    Finding::new(
        RuleId::AnalysisCrashed,
        format!("analysis stopped by an internal error: {message}"),
    )
}

/// An `aigis.toml` or `.aigisignore` inside a scanned target that was not applied
/// (`CONFIG-NOT-APPLIED`).
pub fn config_not_applied(name: &str) -> Finding {
    Finding::new(
        RuleId::ConfigNotApplied,
        format!(
            "`{name}` inside the scanned files was not applied: aigis takes its policy and ignore \
             rules from the operator, never from the content it judges"
        ),
    )
}

/// A container image whose manifest or layout cannot be read (`ARCHIVE-MALFORMED`).
pub fn image_unreadable(err: impl Display) -> Finding {
    Finding::new(RuleId::ArchiveMalformed, format!("container image: {err}"))
}

/// One layer of an image that cannot be read; the others still are (`ARCHIVE-MALFORMED`).
pub fn image_layer_unreadable(err: impl Display) -> Finding {
    Finding::new(RuleId::ArchiveMalformed, format!("image layer: {err}"))
}
