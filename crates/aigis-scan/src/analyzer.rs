//! The analyzer interface and the per-file context that analyzers report into.
//!
//! A scan of one file is: read its first bytes, ask each registered [`Analyzer`] in turn whether
//! the content is its format ([`Analyzer::sniff`]), and let the first that agrees analyze it.
//! Container analyzers (zip, tar, compressed streams) hand their members back to the same registry
//! through [`Context::scan_member`], with a depth and byte budget.

use crate::archive::zip_index::{ZipIndex, read_index};
use crate::{ByteSource, Finding, Format, Limits, ModelInfo, RuleId};
use std::path::{Path, PathBuf};
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
    fn sniff_embedded(&self, _input: &Input<'_>, _limits: &Limits) -> bool {
        false
    }
}

/// What an analyzer reads: the bytes, their head, and (for archive members) the member name.
/// Views of the bytes that several analyzers need (the zip directory) are built once per input
/// and shared by every analyzer that looks at it.
pub struct Input<'a> {
    /// The bytes.
    pub source: &'a dyn ByteSource,
    /// The first up to [`HEAD_LEN`] bytes.
    pub head: &'a [u8],
    /// Member name inside the enclosing archive, if any. Never used to pick a format.
    pub name: Option<&'a str>,
    zip: std::cell::OnceCell<ZipIndex>,
}

impl<'a> Input<'a> {
    /// An input over `source`, whose first bytes are `head`.
    pub fn new(source: &'a dyn ByteSource, head: &'a [u8], name: Option<&'a str>) -> Input<'a> {
        Input {
            source,
            head,
            name,
            zip: std::cell::OnceCell::new(),
        }
    }

    /// The zip directory of this input (the lenient union of central directory and local
    /// headers), read on first use and shared by every analyzer of a zip-based format.
    pub fn zip_index(&self, limits: &Limits) -> &ZipIndex {
        self.zip
            .get_or_init(|| read_index(self.source, limits.max_members))
    }
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
    /// Record what loading would run ([`crate::Program`]: pickle programs, objects configs
    /// instantiate) into [`crate::FileResult::programs`], for `aigis inspect`. Off in scans.
    pub trace: bool,
    /// `--deep`: analyzers declare where tensor data lies ([`Context::declare_tensor`]) and the
    /// tensor bytes are checked ([`crate::deep`]).
    pub deep: bool,
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

    /// The analyzers, taken out (to build a registry of one's own around them).
    pub fn into_analyzers(self) -> Vec<Box<dyn Analyzer>> {
        self.analyzers
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
        let input = Input::new(source, &head, name);
        let said = cx.findings().len();
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
            // An analyzer that accepts the head is not looking at an *embedded* format: a
            // zip-based model (`.keras`, `.skops`) is a zip from its first byte.
            if primary.is_some_and(|(p, _)| p == i)
                || analyzer.sniff(&head, source.len())
                || !analyzer.sniff_embedded(&input, cx.limits())
            {
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
        if primary.is_none()
            && cx.findings().len() == said
            && let Some(name) = name
        {
            crate::claimed::judge_unrecognised(name, &head, source.len(), cx);
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
    timed_out: bool,
    decompressed: u64,
    started: Instant,
    model: ModelInfo,
    incomplete: Option<String>,
    consulted: Vec<PathBuf>,
    file_path: Option<PathBuf>,
    used_file_path: std::cell::Cell<bool>,
    programs: Vec<crate::Program>,
    tensors: Vec<crate::deep::TensorSpan>,
    /// With `deep`: the PyTorch storages the archive's `data.pkl` references, by record name.
    storages: Vec<(String, aigis_pickle::Storage)>,
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
            timed_out: false,
            decompressed: 0,
            started: Instant::now(),
            model: ModelInfo::default(),
            incomplete: None,
            consulted: Vec::new(),
            file_path: None,
            used_file_path: std::cell::Cell::new(false),
            programs: Vec::new(),
            tensors: Vec::new(),
            storages: Vec::new(),
        }
    }

    /// Records where the top-level file lives on disk. Only analyzers of formats that span a
    /// folder (an MLflow model: `MLmodel` beside `code/*.py`) look at it; formats are still
    /// decided from content.
    pub fn set_file_path(&mut self, path: &Path) {
        self.file_path = Some(path.to_path_buf());
    }

    /// On-disk path of the top-level file, when it was scanned from a local file system.
    /// Asking for it makes the result depend on where the file is, not only on its bytes.
    pub fn file_path(&self) -> Option<&Path> {
        if self.file_path.is_some() {
            self.used_file_path.set(true);
        }
        self.file_path.as_deref()
    }

    /// Records that the analysis looked at another file (whether it exists or not): the result
    /// depends on it, and a cached copy is reused only while it is unchanged.
    pub fn consult(&mut self, path: &Path) {
        if !self.consulted.iter().any(|p| p == path) {
            self.consulted.push(path.to_path_buf());
        }
    }

    /// Whether an analyzer looked at the file's location (so its result cannot be reused for
    /// the same bytes elsewhere).
    pub fn depends_on_location(&self) -> bool {
        self.used_file_path.get()
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
            self.not_analysed(format!("`{name}` nested past the depth limit"));
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

    /// Runs `f` with findings located inside `name`, a part of the current input analysed in
    /// place (e.g. the `config.json` of a `.keras` zip) rather than through the registry.
    pub fn with_member<T>(&mut self, name: &str, f: impl FnOnce(&mut Context<'a>) -> T) -> T {
        self.members.push(name.to_string());
        let out = f(self);
        self.members.pop();
        out
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
        self.record(Finding::new(rule, message), offset);
    }

    /// Records a finding built with [`Finding`]'s constructors, placed at the current member
    /// (and `offset` within it): the one way analyzers record findings, so every finding has
    /// its rule, its severity and its location. The same finding twice is recorded once.
    pub fn record(&mut self, mut finding: Finding, offset: Option<u64>) {
        finding.location = self.location(offset);
        let finding = redacted(finding);
        if !self.findings.contains(&finding) {
            self.findings.push(finding);
        }
    }

    /// Records a finding whose location is already set (the same finding twice is recorded
    /// once).
    pub fn record_at(&mut self, finding: Finding) {
        let finding = redacted(finding);
        if !self.findings.contains(&finding) {
            self.findings.push(finding);
        }
    }

    /// Records a finding about source text at a 1-based `line` and `column` of the current
    /// member (`line 12, column 5`, or `member @ line 12, column 5`); SARIF turns it into the
    /// region of that line.
    pub fn record_at_line(&mut self, mut finding: Finding, line: usize, column: usize) {
        let at = format!("line {line}, column {column}");
        let path = self.members.join("!/");
        finding.location = Some(if path.is_empty() {
            at
        } else {
            format!("{path} @ {at}")
        });
        let finding = redacted(finding);
        if !self.findings.contains(&finding) {
            self.findings.push(finding);
        }
    }

    /// Records that part of the input was not analysed (a limit stopped the analysis before the
    /// end): the result is incomplete, which fails a run unless the operator allows it. The
    /// first reason is kept.
    pub fn not_analysed(&mut self, reason: impl Into<String>) {
        if self.incomplete.is_none() {
            let place = self.location(None);
            let reason = reason.into();
            self.incomplete = Some(match place {
                Some(place) => format!("{place}: {reason}"),
                None => reason,
            });
        }
    }

    /// Why the input was not analysed to its end, if it was not.
    pub fn incomplete(&self) -> Option<&str> {
        self.incomplete.as_deref()
    }

    /// Records a structural problem: a finding, and the file's status becomes `invalid`.
    pub fn malformed(&mut self, rule: RuleId, message: impl Into<String>, offset: Option<u64>) {
        self.invalid = true;
        self.report(rule, message, offset);
    }

    /// Records an I/O error; the file's status becomes `error`.
    pub fn read_error(&mut self, err: &std::io::Error) {
        self.read_failed = true;
        self.record(crate::diagnostics::read_failed(err), None);
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
            self.not_analysed("total decompression budget exhausted");
            return false;
        }
        true
    }

    /// The instant the per-file time limit runs out.
    pub fn deadline(&self) -> Instant {
        self.started + self.limits().time_limit
    }

    /// True (and reported once) when the per-file time limit has passed.
    pub fn out_of_time(&mut self) -> bool {
        if Instant::now() < self.deadline() {
            return false;
        }
        self.time_limit_hit();
        true
    }

    /// Records that analysis stopped at the time limit: a finding, and status `error`.
    pub fn time_limit_hit(&mut self) {
        if self.timed_out {
            return;
        }
        self.timed_out = true;
        let finding = crate::diagnostics::time_limit_stopped(self.limits().time_limit);
        self.record(finding, None);
    }

    /// Whether the time limit stopped the analysis.
    pub fn timed_out(&self) -> bool {
        self.timed_out
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

    /// Other files the analysis looked at.
    pub fn consulted(&self) -> &[PathBuf] {
        &self.consulted
    }

    /// With [`AnalysisOptions::trace`]: records a traced pickle program read at the current
    /// member.
    pub fn record_program(&mut self, scan: &aigis_pickle::PickleScan) {
        if !self.options.trace {
            return;
        }
        let steps = scan
            .program
            .iter()
            .map(|s| crate::ProgramStep {
                offset: s.offset,
                depth: s.depth,
                kind: s.kind.id().to_owned(),
                text: s.text.clone(),
            })
            .collect();
        let location = self.location(None);
        self.programs.push(crate::Program {
            location,
            language: "pickle".to_owned(),
            steps,
            truncated: scan.program_truncated,
        });
    }

    /// With [`AnalysisOptions::trace`]: records that loading the config at the current member
    /// imports or instantiates something (`what`, Python-like text: `model.encoder =
    /// torch.nn.Linear(...)`), in the config's program.
    pub fn record_instantiation(&mut self, what: impl FnOnce() -> String) {
        if !self.options.trace {
            return;
        }
        let location = self.location(None);
        let step = crate::ProgramStep {
            offset: 0,
            depth: 0,
            kind: "instantiate".to_owned(),
            text: what(),
        };
        match self.programs.last_mut() {
            Some(p) if p.language == "config" && p.location == location => {
                if p.steps.len() < aigis_pickle::MAX_STEPS {
                    p.steps.push(step);
                } else {
                    p.truncated = true;
                }
            }
            _ => self.programs.push(crate::Program {
                location,
                language: "config".to_owned(),
                steps: vec![step],
                truncated: false,
            }),
        }
    }

    /// With [`AnalysisOptions::deep`]: declares the bytes of a tensor of the top-level file
    /// (offsets are the file's; nested inputs are not inspected) for the deep checks.
    pub fn declare_tensor(&mut self, span: crate::deep::TensorSpan) {
        if self.options.deep && self.members.is_empty() {
            self.tensors.push(span);
        }
    }

    /// With [`AnalysisOptions::deep`]: the storages a PyTorch archive's `data.pkl` references
    /// (a member of the top-level file only), for [`Context::type_storages`].
    ///
    /// Only `data.pkl` names the records under `data/` (TorchScript's `constants.pkl` numbers its
    /// own storages from 0 too, kept under `constants/`): each storage is kept under its record's
    /// name, `<prefix>/data/<key>`.
    pub fn note_storages(&mut self, storages: &[aigis_pickle::Storage]) {
        if !self.options.deep || self.members.len() != 1 || storages.is_empty() {
            return;
        }
        let Some(prefix) = self.members.last().and_then(|m| m.strip_suffix("data.pkl")) else {
            return;
        };
        if !(prefix.is_empty() || prefix.ends_with('/')) {
            return;
        }
        let prefix = prefix.to_owned();
        self.storages.extend(
            storages
                .iter()
                .map(|s| (format!("{prefix}data/{}", s.key), s.clone())),
        );
    }

    /// With [`AnalysisOptions::deep`]: gives each declared PyTorch storage (`<prefix>/data/<key>`)
    /// the element type its pickle declares, and reports a storage whose size is not its declared
    /// element count times the element width.
    pub fn type_storages(&mut self) {
        if !self.options.deep || self.storages.is_empty() {
            return;
        }
        let by_name: std::collections::HashMap<&str, &aigis_pickle::Storage> = self
            .storages
            .iter()
            .map(|(name, s)| (name.as_str(), s))
            .collect();
        let mut mismatches = Vec::new();
        for span in &mut self.tensors {
            let Some(storage) = by_name.get(span.name.as_str()) else {
                continue;
            };
            let (kind, width) = crate::deep::storage_kind(&storage.storage_type);
            if span.kind == crate::deep::TensorKind::Other {
                span.kind = kind;
            }
            if let (Some(numel), Some(width)) = (storage.numel, width)
                && numel.checked_mul(width) != Some(span.len)
            {
                mismatches.push((
                    format!(
                        "storage `{}`: data.pkl declares {numel} elements of torch.{} ({} bytes), \
                         the archive holds {} bytes",
                        span.name,
                        storage.storage_type,
                        numel.saturating_mul(width),
                        span.len
                    ),
                    span.start,
                ));
            }
        }
        for (message, at) in mismatches {
            self.report(RuleId::WeightsLayoutMismatch, message, Some(at));
        }
    }

    /// With [`AnalysisOptions::deep`]: a tensor's declared layout does not match its bytes
    /// (`WEIGHTS-LAYOUT-MISMATCH`, beside the structural finding the analyzer records).
    pub fn layout_mismatch(&mut self, message: impl Into<String>, offset: Option<u64>) {
        if self.options.deep {
            self.report(RuleId::WeightsLayoutMismatch, message, offset);
        }
    }

    /// The tensors declared so far, taken out.
    pub fn take_tensors(&mut self) -> Vec<crate::deep::TensorSpan> {
        std::mem::take(&mut self.tensors)
    }

    /// The programs recorded so far (see [`Context::record_program`]), taken out.
    pub fn take_programs(&mut self) -> Vec<crate::Program> {
        std::mem::take(&mut self.programs)
    }

    /// Consumes the context, returning its findings, model facts and why it is incomplete.
    pub fn finish(mut self) -> (Vec<Finding>, ModelInfo, Option<String>) {
        for value in self.model.metadata.values_mut() {
            if !crate::secrets::secrets_in(value).is_empty() {
                *value = crate::secrets::redact_text(value);
            }
        }
        (self.findings, self.model, self.incomplete)
    }
}

/// A finding with every secret in its message and indicators redacted: model content quoted in
/// a report never carries a credential in full.
fn redacted(mut finding: Finding) -> Finding {
    finding.message = crate::secrets::redact_text(&finding.message);
    for indicator in &mut finding.indicators {
        *indicator = crate::secrets::redact_text(indicator);
    }
    finding
}
