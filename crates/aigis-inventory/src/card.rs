//! Model cards: the YAML front-matter of a Hugging Face `README.md` (`license`, `base_model`,
//! `datasets`, `pipeline_tag`, `tags`, `language`), parsed with the scanner's bounded YAML reader.

use aigis_scan::analyzers::yaml::{self, Yaml};
use serde::Serialize;

/// Most bytes of a model card read for its front-matter.
pub const MAX_CARD_BYTES: usize = 256 << 10;

/// What a model card's front-matter declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelCard {
    /// SPDX-like license id (`apache-2.0`, `mit`, `other`, …) as the card spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Models this one was fine-tuned, quantised or merged from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base_model: Vec<String>,
    /// Datasets the card names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// Task (`text-generation`, `fill-mask`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    /// Free tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Languages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub language: Vec<String>,
}

impl ModelCard {
    /// True when the card declared nothing we read.
    pub fn is_empty(&self) -> bool {
        *self == ModelCard::default()
    }

    /// Parses the front-matter of a model card (`---\n…\n---`). Text without one, or whose
    /// YAML does not parse, yields an empty card.
    pub fn parse(text: &str) -> ModelCard {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let Some(rest) = text
            .strip_prefix("---\n")
            .or_else(|| text.strip_prefix("---\r\n"))
        else {
            return ModelCard::default();
        };
        let end = rest.match_indices("\n---").map(|(i, _)| i).find(|&i| {
            rest.get(i + 4..)
                .is_some_and(|after| after.is_empty() || after.starts_with(['\n', '\r']))
        });
        let Some(yaml_text) = end.and_then(|i| rest.get(..i)) else {
            return ModelCard::default();
        };
        let Ok(docs) = yaml::parse(yaml_text) else {
            return ModelCard::default();
        };
        let Some(doc) = docs.docs.first() else {
            return ModelCard::default();
        };
        ModelCard {
            license: doc.get("license").and_then(scalar),
            base_model: strings(doc.get("base_model")),
            datasets: strings(doc.get("datasets")),
            pipeline_tag: doc.get("pipeline_tag").and_then(scalar),
            tags: strings(doc.get("tags")),
            language: strings(doc.get("language")),
        }
    }
}

fn scalar(node: &Yaml) -> Option<String> {
    node.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A scalar or a sequence of scalars, as a list.
fn strings(node: Option<&Yaml>) -> Vec<String> {
    match node {
        Some(Yaml::Seq(items)) => items.iter().filter_map(scalar).take(256).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_lists() {
        let card = ModelCard::parse(
            "---\nlicense: apache-2.0\nbase_model: org/base\ndatasets:\n- a\n- b\npipeline_tag: text-generation\ntags: [x, y]\n---\n# Title\n",
        );
        assert_eq!(card.license.as_deref(), Some("apache-2.0"));
        assert_eq!(card.base_model, ["org/base"]);
        assert_eq!(card.datasets, ["a", "b"]);
        assert_eq!(card.pipeline_tag.as_deref(), Some("text-generation"));
        assert_eq!(card.tags, ["x", "y"]);
    }

    #[test]
    fn no_or_broken_front_matter_is_empty() {
        assert!(ModelCard::parse("# just a readme\n").is_empty());
        assert!(ModelCard::parse("---\nlicense: [unclosed\n---\n").is_empty());
        assert!(ModelCard::parse("---\nlicense: mit\n").is_empty());
    }
}
