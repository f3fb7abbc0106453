//! The analyzer interface and the per-file context that analyzers report into.
//!
//! A scan of one file is: read its first bytes, ask each registered [`Analyzer`] in turn whether
//! the content is its format ([`Analyzer::sniff`]), and let the first that agrees analyze it.
//! Container analyzers (zip, tar, compressed streams) hand their members back to the same registry
//! through [`Context::scan_member`], with a depth and byte budget.

use crate::{ByteSource, Finding, Format, Limits, ModelInfo, RuleId};
use std::time::Instant;

/// Bytes of the head passed to [`Analyzer::sniff`].
pub const HEAD_LEN: usize = 4096;

/// One format analyzer. Implementations register in [`crate::analyzers::registry`].
pub trait Analyzer: Send + Sync {
    /// Stable id, e.g. `pickle`.
    fn id(&self) -> &'static str;

    /// Bumped whenever the analyzer's output for the same bytes changes (cache invalidation).
    fn version(&self) -> u32;

    /// Cheap check of the first bytes (`head`, up to [`HEAD_LEN`]) and total length.
    fn sniff(&self, head: &[u8], len: u64) -> bool;

    /// Analyzes the input, reporting into `cx`. Returns the detected format, or `None` when the
    /// content turns out not to be this analyzer's format after all (the next analyzer is tried).
    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format>;

    /// Whether this format is also embedded in content another analyzer claimed (a polyglot,
    /// e.g. a pickle with a zip appended, which `zipfile` and `torch.load` read differently).
    fn sniff_embedded(&self, _source: &dyn ByteSource) -> bool {
        false
    }
}

/// What an analyzer reads: the bytes, their head, and (for archive members) the member name.
pub struct Input<'a> {
    /// The bytes.
    pub source: &'a dyn ByteSource,
    /// The first up to [`HEAD_LEN`] bytes.
    pub head: &'a [u8],
    /// Member name inside the enclosing archive, if any. Never used to pick a format.
    pub name: Option<&'a str>,
}

/// Options that shape every analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Extra globals (`module.Qualname` or `prefix.*`) the user trusts in pickles.
    pub allow_globals: Vec<String>,
    /// Globals (`module.Qualname` or `prefix.*`) the user forbids in pickles: any use is
    /// reported as dangerous, even of a name the built-in allow-list trusts.
    pub deny_globals: Vec<String>,
}

/// The ordered set of analyzers.
pub struct Registry {
    analyzers: Vec<Box<dyn Analyzer>>,
}

impl Registry {
    /// A registry trying `analyzers` in order.
    pub fn new(analyzers: Vec<Box<dyn Analyzer>>) -> Registry {
        Registry { analyzers }
    }

    /// The analyzers, in the order they are tried.
    pub fn analyzers(&self) -> impl Iterator<Item = &dyn Analyzer> {
        self.analyzers.iter().map(|a| a.as_ref())
    }

    /// Sniffs `source` and runs the first analyzer that claims it.
    pub fn analyze(
        &self,
        source: &dyn ByteSource,
        name: Option<&str>,
        cx: &mut Context<'_>,
    ) -> Format {
        let head = match source.read_vec(0, HEAD_LEN) {
            Ok(head) => head,
            Err(err) => {
                cx.read_error(&err);
                return Format::Unknown;
            }
        };
        let input = Input {
            source,
            head: &head,
            name,
        };
        let mut primary = None;
        for (i, analyzer) in self.analyzers.iter().enumerate() {
            if analyzer.sniff(&head, source.len())
                && let Some(format) = analyzer.analyze(&input, cx)
            {
                primary = Some((i, format));
                break;
            }
        }
        for (i, analyzer) in self.analyzers.iter().enumerate() {
            if primary.is_some_and(|(p, _)| p == i) || !analyzer.sniff_embedded(source) {
                continue;
            }
            let what = primary.map_or(Format::Unknown, |(_, f)| f);
            let msg = format!(
                "file is both {what} and an embedded {} (polyglot): different loaders see different content",
                analyzer.id()
            );
            cx.report(RuleId::Polyglot, msg, None);
            if let Some(format) = analyzer.analyze(&input, cx)
                && primary.is_none()
            {
                primary = Some((i, format));
            }
        }
        primary.map_or(Format::Unknown, |(_, f)| f)
    }
}

/// Per-file state: findings, validity, budgets, and where in nested archives we are.
pub struct Context<'a> {
    registry: &'a Registry,
    options: &'a AnalysisOptions,
    members: Vec<String>,
    findings: Vec<Finding>,
    invalid: bool,
    read_failed: bool,
    decompressed: u64,
    started: Instant,
    model: ModelInfo,
}

impl<'a> Context<'a> {
    /// A fresh context for one top-level file.
    pub fn new(registry: &'a Registry, options: &'a AnalysisOptions) -> Context<'a> {
        Context {
            registry,
            options,
            members: Vec::new(),
            findings: Vec::new(),
            invalid: false,
            read_failed: false,
            decompressed: 0,
            started: Instant::now(),
            model: ModelInfo::default(),
        }
    }

    /// The analysis options.
    pub fn options(&self) -> &'a AnalysisOptions {
        self.options
    }

    /// The resource limits.
    pub fn limits(&self) -> &'a Limits {
        &self.options.limits
    }

    /// Archive nesting depth of the input being analyzed (0 = the file itself).
    pub fn depth(&self) -> usize {
        self.members.len()
    }

    /// Scans an archive member through the registry, one level deeper. Returns its format, or
    /// `None` when the nesting limit stops it (a finding says so).
    pub fn scan_member(&mut self, name: &str, source: &dyn ByteSource) -> Option<Format> {
        if self.members.len() >= self.limits().max_depth {
            let msg = format!(
                "archive nesting deeper than {} levels; `{name}` not analysed",
                self.limits().max_depth
            );
            self.malformed(RuleId::ResourceLimit, msg, None);
            return None;
        }
        if self.out_of_time() {
            return None;
        }
        self.members.push(name.to_string());
        let format = self.registry.analyze(source, Some(name), self);
        self.members.pop();
        Some(format)
    }

    /// Location string for the current member and an optional byte offset inside it.
    pub fn location(&self, offset: Option<u64>) -> Option<String> {
        let path = self.members.join("!/");
        match (path.is_empty(), offset) {
            (true, None) => None,
            (true, Some(at)) => Some(format!("byte {at}")),
            (false, None) => Some(path),
            (false, Some(at)) => Some(format!("{path} @ byte {at}")),
        }
    }

    /// Records a finding with the rule's default severity at the current location.
    pub fn report(&mut self, rule: RuleId, message: impl Into<String>, offset: Option<u64>) {
        let mut finding = Finding::new(rule, message);
        finding.location = self.location(offset);
        self.push(finding);
    }

    /// Records a prepared finding (its location is prefixed with the current member path).
    pub fn push(&mut self, finding: Finding) {
        if !self.findings.contains(&finding) {
            self.findings.push(finding);
        }
    }

    /// Records a structural problem: a finding, and the file's status becomes `invalid`.
    pub fn malformed(&mut self, rule: RuleId, message: impl Into<String>, offset: Option<u64>) {
        self.invalid = true;
        self.report(rule, message, offset);
    }

    /// Records an I/O error; the file's status becomes `error`.
    pub fn read_error(&mut self, err: &std::io::Error) {
        self.read_failed = true;
        self.report(RuleId::ReadError, format!("read failed: {err}"), None);
    }

    /// Charges `bytes` of decompressed output against the per-file budget. Returns false (and
    /// reports once) when the budget is exhausted.
    pub fn charge_decompressed(&mut self, bytes: u64) -> bool {
        self.decompressed = self.decompressed.saturating_add(bytes);
        if self.decompressed > self.limits().max_total_decompressed {
            let msg = format!(
                "more than {} bytes decompressed in total; the rest was not analysed",
                self.limits().max_total_decompressed
            );
            self.malformed(RuleId::ResourceLimit, msg, None);
            return false;
        }
        true
    }

    /// True (and reported once) when the per-file time limit has passed.
    pub fn out_of_time(&mut self) -> bool {
        let limit = self.limits().time_limit;
        if self.started.elapsed() <= limit {
            return false;
        }
        if !self
            .findings
            .iter()
            .any(|f| f.rule_id == RuleId::ResourceLimit && f.message.contains("time limit"))
        {
            let msg = format!(
                "time limit of {} s exceeded; analysis stopped",
                limit.as_secs_f64()
            );
            self.malformed(RuleId::ResourceLimit, msg, None);
        }
        true
    }

    /// Whether a structural problem made the file invalid.
    pub fn is_invalid(&self) -> bool {
        self.invalid
    }

    /// Whether reading the file failed.
    pub fn read_failed(&self) -> bool {
        self.read_failed
    }

    /// The findings so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// What is known about the model so far; analyzers add to it.
    pub fn model(&mut self) -> &mut ModelInfo {
        &mut self.model
    }

    /// Consumes the context, returning its findings and model facts.
    pub fn finish(self) -> (Vec<Finding>, ModelInfo) {
        (self.findings, self.model)
    }
}
