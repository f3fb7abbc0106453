//! Formats that are recognised for the inventory and normally clean: their loaders build models
//! from data, not code. Each check is small and decided from content:
//! - Core ML `.mlmodel` (protobuf `Model`): custom models and custom neural-network layers need
//!   code outside Core ML.
//! - OpenVINO IR (`<net>` XML): layers outside the `opsetN` sets need an extension library.
//! - XGBoost JSON / UBJSON, LightGBM text, CatBoost binary (`CBM1`).
//! - PMML XML: `<Extension>` elements that carry script-like content.

use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::callables::clip;
use crate::analyzers::nemo::looks_like_text;
use crate::{ByteSource, Format, RuleId};
use std::collections::BTreeSet;

/// Largest XML or text model read whole for the checks.
const MAX_TEXT: usize = 64 << 20;

/// Analyzer for the tree-ensemble and exchange formats: XGBoost, LightGBM, CatBoost, PMML,
/// OpenVINO IR.
pub struct InventoryAnalyzer;

/// Analyzer for Core ML protobuf models.
pub struct CoremlAnalyzer;

fn trimmed(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn kind(head: &[u8]) -> Option<Format> {
    let t = trimmed(head);
    if head.starts_with(b"CBM1") {
        return Some(Format::Catboost);
    }
    if t.starts_with(b"tree\nversion=v") || t.starts_with(b"tree\r\nversion=v") {
        return Some(Format::Lightgbm);
    }
    // XGBoost JSON: {"learner": {...}, "version": [...]}; UBJSON: `{` then a length-prefixed
    // "learner" key.
    if t.starts_with(b"{")
        && contains(&t[..t.len().min(32)], b"learner")
        && (contains(t, b"gradient_booster")
            || contains(t, b"learner_model_param")
            || !looks_like_text(head))
    {
        return Some(Format::Xgboost);
    }
    if looks_like_text(head) && t.starts_with(b"<") {
        if contains(head, b"<PMML") {
            return Some(Format::Pmml);
        }
        if contains(head, b"<net ") && (contains(head, b"<layers") || contains(head, b"<layer ")) {
            return Some(Format::Openvino);
        }
    }
    None
}

/// Values of `attr="…"` inside `<tag …>` elements (a light scan, no XML entities).
fn attribute_values(text: &str, tag: &str, attr: &str, out: &mut BTreeSet<String>, cap: usize) {
    let open = format!("<{tag} ");
    let needle = format!(" {attr}=\"");
    for (at, _) in text.match_indices(&open) {
        let rest = &text[at..];
        let end = rest.find('>').unwrap_or(rest.len());
        let element = &rest[..end];
        if let Some(v) = element.find(&needle) {
            let value = &element[v + needle.len()..];
            let value = &value[..value.find('"').unwrap_or(value.len())];
            out.insert(clip(value, 60));
            if out.len() >= cap {
                return;
            }
        }
    }
}

fn check_openvino(text: &str, cx: &mut Context<'_>) {
    let mut types = BTreeSet::new();
    attribute_values(text, "layer", "type", &mut types, 1024);
    let mut versions = BTreeSet::new();
    attribute_values(text, "layer", "version", &mut versions, 64);
    for version in versions {
        if !version.starts_with("opset") && version != "experimental" {
            let msg = format!(
                "layers of operation set `{version}` need an OpenVINO extension library (custom code)"
            );
            cx.report(RuleId::ModelExtension, msg, None);
        }
    }
    cx.model().operators.extend(types);
}

fn check_pmml(text: &str, cx: &mut Context<'_>) {
    const SCRIPT_HINTS: &[&str] = &[
        "<script",
        "import ",
        "def ",
        "lambda",
        "eval(",
        "exec(",
        "os.system",
        "Runtime.getRuntime",
        "function(",
        "subprocess",
    ];
    for (at, _) in text.match_indices("<Extension").take(10_000) {
        let rest = &text[at..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        if rest[..open_end].ends_with('/') {
            continue;
        }
        let body_end = rest.find("</Extension>").unwrap_or(rest.len());
        let body = &rest[open_end.min(body_end)..body_end];
        if let Some(hint) = SCRIPT_HINTS.iter().find(|h| body.contains(*h)) {
            let msg = format!(
                "PMML <Extension> element carries script-like content (`{}`) a vendor runtime may execute",
                clip(hint.trim(), 40)
            );
            cx.report(RuleId::ModelExtension, msg, None);
        }
    }
}

impl Analyzer for InventoryAnalyzer {
    fn id(&self) -> &'static str {
        "inventory"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        kind(head).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let format = kind(input.head)?;
        let framework = match format {
            Format::Catboost => "catboost",
            Format::Lightgbm => "lightgbm",
            Format::Xgboost => "xgboost",
            Format::Pmml => "pmml",
            _ => "openvino",
        };
        cx.model().set_framework(framework);
        if matches!(format, Format::Pmml | Format::Openvino) {
            let text = read_capped(input.source);
            if format == Format::Pmml {
                check_pmml(&text, cx);
            } else {
                check_openvino(&text, cx);
            }
        }
        Some(format)
    }
}

fn read_capped(source: &dyn ByteSource) -> String {
    let bytes = source.read_vec(0, MAX_TEXT).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One top-level protobuf field: (number, wire type, payload range for length-delimited).
fn proto_fields(data: &[u8], max: usize) -> Option<Vec<(u64, u8, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let varint = |pos: &mut usize| -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *data.get(*pos)?;
            *pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    };
    while pos < data.len() {
        if out.len() >= max {
            return None;
        }
        let key = varint(&mut pos)?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        let start = pos;
        match wire {
            0 => {
                varint(&mut pos)?;
            }
            1 => pos = pos.checked_add(8)?,
            5 => pos = pos.checked_add(4)?,
            2 => {
                let len = usize::try_from(varint(&mut pos)?).ok()?;
                let start = pos;
                pos = pos.checked_add(len)?;
                if pos > data.len() {
                    return None;
                }
                out.push((number, wire, start..pos));
                continue;
            }
            _ => return None,
        }
        if pos > data.len() {
            return None;
        }
        out.push((number, wire, start..pos));
    }
    Some(out)
}

/// Core ML `Model` fields: specificationVersion (1), description (2), isUpdatable (10), and the
/// model-type oneof (200 and up).
fn is_coreml_field(number: u64) -> bool {
    matches!(number, 1 | 2 | 10) || (200..=3000).contains(&number)
}

impl Analyzer for CoremlAnalyzer {
    fn id(&self) -> &'static str {
        "coreml"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        // specificationVersion (small varint), then the description message, which starts
        // with its first FeatureDescription.
        matches!(head, [0x08, 1..=20, 0x12, ..])
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let cap = usize::try_from(cx.limits().max_member_bytes).unwrap_or(usize::MAX);
        if input.source.len() > cap as u64 {
            return None;
        }
        let data = input.source.read_vec(0, cap).ok()?;
        let fields = proto_fields(&data, 100_000)?;
        if !fields.iter().all(|(n, _, _)| is_coreml_field(*n))
            || !fields.iter().any(|(n, _, _)| *n >= 200)
        {
            return None;
        }
        let description_ok = fields
            .iter()
            .find(|(n, _, _)| *n == 2)
            .and_then(|(_, _, r)| data.get(r.clone()))
            .is_some_and(|d| d.is_empty() || d.first() == Some(&0x0a));
        if !description_ok {
            return None;
        }
        cx.model().set_framework("coreml");
        for (number, _, range) in &fields {
            match number {
                555 => cx.report(
                    RuleId::ModelExtension,
                    "Core ML custom model: its implementation is app-provided code",
                    None,
                ),
                // neuralNetworkClassifier / Regressor / neuralNetwork: layers are field 1.
                403 | 404 | 500 => {
                    let body = data.get(range.clone()).unwrap_or_default();
                    check_coreml_layers(body, cx);
                }
                _ => {}
            }
        }
        Some(Format::Coreml)
    }
}

/// Reports NeuralNetworkLayer entries whose layer is `custom` (field 500).
fn check_coreml_layers(network: &[u8], cx: &mut Context<'_>) {
    let Some(fields) = proto_fields(network, 100_000) else {
        return;
    };
    for (_, _, layer) in fields.iter().filter(|(n, w, _)| *n == 1 && *w == 2) {
        let Some(layer) = network.get(layer.clone()) else {
            continue;
        };
        let Some(layer_fields) = proto_fields(layer, 10_000) else {
            continue;
        };
        for (_, _, params) in layer_fields.iter().filter(|(n, w, _)| *n == 500 && *w == 2) {
            let class = network_string(layer.get(params.clone()).unwrap_or_default(), 10);
            let msg = format!(
                "Core ML custom layer `{}` needs an app-provided implementation",
                clip(&class.unwrap_or_else(|| "?".into()), 100)
            );
            cx.report(RuleId::ModelExtension, msg, None);
        }
    }
}

fn network_string(message: &[u8], field: u64) -> Option<String> {
    let fields = proto_fields(message, 10_000)?;
    let (_, _, r) = fields.iter().find(|(n, w, _)| *n == field && *w == 2)?;
    Some(String::from_utf8_lossy(message.get(r.clone())?).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_content() {
        assert_eq!(kind(b"CBM1\x00\x00"), Some(Format::Catboost));
        assert_eq!(
            kind(b"tree\nversion=v4\nnum_class=1\n"),
            Some(Format::Lightgbm)
        );
        assert_eq!(
            kind(br#"{"learner":{"attributes":{},"gradient_booster":{}},"version":[2,1,0]}"#),
            Some(Format::Xgboost)
        );
        assert_eq!(
            kind(b"{L\x00\x00\x00\x00\x00\x00\x00\x07learner{"),
            Some(Format::Xgboost)
        );
        assert_eq!(
            kind(b"<?xml version=\"1.0\"?>\n<PMML xmlns=\"http://www.dmg.org/PMML-4_4\">"),
            Some(Format::Pmml)
        );
        assert_eq!(
            kind(b"<?xml version=\"1.0\"?>\n<net name=\"m\" version=\"11\">\n<layers>\n"),
            Some(Format::Openvino)
        );
        assert_eq!(kind(br#"{"name": "x"}"#), None);
    }

    #[test]
    fn protobuf_fields_are_bounded() {
        assert_eq!(proto_fields(b"\x08\x01", 10).map(|f| f.len()), Some(1));
        assert!(proto_fields(b"\x12\xff\xff\xff\xff\x0f", 10).is_none());
        assert!(proto_fields(b"\x08", 10).is_none());
    }
}
