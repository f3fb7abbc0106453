//! NeMo model configs: the `model_config.yaml` of a `.nemo` archive (a tar, scanned member by
//! member by the tar analyzer) or a Hydra/OmegaConf config on its own. Restoring the model calls
//! `hydra.utils.instantiate` on every mapping with a `_target_` key, and imports the class named
//! by the top-level `target`: each is an import-and-call of whatever the config says.
//!
//! Recognised by content: a YAML mapping with at least one `_target_` key (or NeMo's `target` +
//! `nemo_version`). Targets inside NeMo, PyTorch, Lightning, OmegaConf/Hydra and the libraries
//! NeMo builds on are clean; a command/code/file primitive is critical; anything else needs trust.

use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::callables::{Trust, clip, judge, report_with, split_dotted};
use crate::analyzers::yaml::{self, Yaml};
use crate::{Format, RuleId, Severity};

/// Largest config read.
const MAX_YAML_BYTES: usize = 16 << 20;

/// Packages whose classes NeMo configs instantiate.
const TRUSTED: &[&str] = &[
    "nemo",
    "nemo_text_processing",
    "torch",
    "torchaudio",
    "torchvision",
    "pytorch_lightning",
    "lightning",
    "omegaconf",
    "hydra",
    "megatron",
    "apex",
    "transformer_engine",
    "transformers",
    "sentencepiece",
    "lhotse",
    "numpy",
];

/// Analyzer for Hydra/NeMo model configs.
pub struct HydraConfigAnalyzer;

/// Whether the head looks like text (YAML/JSON): no NUL, valid UTF-8 apart from a cut tail.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= head.len(),
    }
}

/// Reads a small text source whole (`None` when too large or not UTF-8).
pub(crate) fn read_text(input: &Input<'_>, max: usize) -> Option<String> {
    if input.source.len() > max as u64 {
        return None;
    }
    let bytes = input.source.read_vec(0, max).ok()?;
    String::from_utf8(bytes).ok()
}

fn has_target_key(node: &Yaml, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match node {
        Yaml::Map(entries) => entries
            .iter()
            .any(|(k, v)| k.as_str() == Some("_target_") || has_target_key(v, depth + 1)),
        Yaml::Seq(items) => items.iter().any(|v| has_target_key(v, depth + 1)),
        _ => false,
    }
}

fn check_target(target: &str, path: &str, cx: &mut Context<'_>) {
    let (module, name) = split_dotted(target.trim());
    match judge(module, name, TRUSTED) {
        Trust::Trusted => {}
        Trust::Dangerous(label) => {
            let msg = format!(
                "`{path}` instantiates `{}` ({label}) when the model is restored",
                clip(target, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::Critical, msg);
        }
        Trust::Unknown => {
            let msg = format!(
                "`{path}` instantiates `{}`, code from outside NeMo/PyTorch that must be trusted",
                clip(target, 200)
            );
            cx.report(RuleId::HydraTarget, msg, None);
        }
    }
}

fn walk(node: &Yaml, path: &str, cx: &mut Context<'_>, depth: usize) {
    if depth > 64 {
        return;
    }
    match node {
        Yaml::Map(entries) => {
            for (key, value) in entries {
                let key = key.as_str().unwrap_or("?");
                let here = if path.is_empty() {
                    clip(key, 60)
                } else {
                    format!("{path}.{}", clip(key, 60))
                };
                let is_target = key == "_target_" || (depth == 0 && key == "target");
                match value {
                    Yaml::Scalar(target) if is_target => check_target(target, &here, cx),
                    _ => walk(value, &here, cx, depth + 1),
                }
            }
        }
        Yaml::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), cx, depth + 1);
            }
        }
        _ => {}
    }
}

/// Every `_target_` value written in `text`, with its 1-based line: block (`_target_: x`), flow
/// (`{_target_: x}`) and JSON (`"_target_": "x"`) spellings.
fn textual_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("_target_") {
            rest = &rest[at + "_target_".len()..];
            let after = rest.trim_start_matches(['"', '\'']).trim_start();
            let Some(value) = after.strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start().trim_start_matches(['"', '\'']);
            let end = value
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ']' | '#')
                })
                .unwrap_or(value.len());
            if end > 0 && out.len() < 1024 {
                out.push((i + 1, value[..end].to_owned()));
            }
        }
    }
    out
}

/// A config with Hydra keys that the YAML reader refuses (nesting past its cap, syntax it does
/// not take): invalid, and every `_target_` written in the text is still judged, so a config
/// cannot hide a target behind a construct only Python's YAML loader accepts.
fn unparsed(text: &str, err: &str, cx: &mut Context<'_>) -> Option<Format> {
    let targets = textual_targets(text);
    if targets.is_empty() {
        return None;
    }
    cx.malformed(
        RuleId::FormatMalformed,
        format!(
            "config could not be parsed ({}); its `_target_` values were read from the text",
            clip(err, 120)
        ),
        None,
    );
    for (line, target) in targets {
        check_target(&target, &format!("line {line}: _target_"), cx);
    }
    Some(Format::Nemo)
}

impl Analyzer for HydraConfigAnalyzer {
    fn id(&self) -> &'static str {
        "nemo"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        looks_like_text(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let text = read_text(input, MAX_YAML_BYTES)?;
        // Cheap pre-check before parsing: Hydra keys or NeMo's version stamp.
        if !text.contains("_target_") && !text.contains("nemo_version") {
            return None;
        }
        let docs = match yaml::parse(&text) {
            Ok(docs) => docs,
            Err(err) => return unparsed(&text, &err, cx),
        };
        let root = docs.docs.first()?;
        let nemo_top = root.get("target").is_some() && root.get("nemo_version").is_some();
        if !nemo_top && !has_target_key(root, 0) {
            return None;
        }
        for tag in &docs.python_tags {
            let msg = format!(
                "config uses the YAML tag `{}`, which builds Python objects under an unsafe loader",
                clip(tag, 100)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
        }
        walk(root, "", cx, 0);
        let model = cx.model();
        if let Some(target) = root.get("target").and_then(Yaml::as_str) {
            model.set_framework("nemo");
            let class = target.rsplit('.').next().unwrap_or(target);
            model.architecture.get_or_insert_with(|| clip(class, 100));
        }
        if let Some(version) = root.get("nemo_version").and_then(Yaml::as_str) {
            model.set_framework("nemo");
            model
                .metadata
                .insert("nemo_version".into(), clip(version, 40));
        }
        Some(Format::Nemo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_from_text_in_every_spelling() {
        let text = "a:\n  _target_: os.system  # x\nb: {_target_: 'subprocess.Popen', c: 1}\n\
                    \"_target_\": \"builtins.eval\"\nno_target_here: 1\n";
        let found: Vec<String> = textual_targets(text).into_iter().map(|t| t.1).collect();
        assert_eq!(found, ["os.system", "subprocess.Popen", "builtins.eval"]);
    }

    #[test]
    fn a_config_past_the_yaml_limits_still_has_its_targets_judged() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let text = format!("model:\n  _target_: os.system\npad: {deep}\n");
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        let result = scanner.scan_source("c.yaml".into(), &crate::MemorySource::new(text.into()));
        assert_eq!(result.format, Format::Nemo);
        assert_eq!(result.status, crate::Status::Invalid);
        assert_eq!(result.max_severity, Some(Severity::Critical));
        let text = serde_json::to_string(&result.findings).unwrap_or_default();
        assert!(text.contains("os.system"), "{text}");
    }

    #[test]
    fn text_heads() {
        assert!(looks_like_text(b"a: 1\n"));
        assert!(!looks_like_text(b"a\0b"));
        assert!(!looks_like_text(b"\xff\xfe\xfd\xfc\xfb\xfa"));
        // A UTF-8 sequence cut by the head boundary is still text.
        assert!(looks_like_text(
            "abc\u{e9}"
                .as_bytes()
                .split_last()
                .map_or(&[][..], |(_, r)| r)
        ));
    }
}
