//! Model cards (`README.md` of a model, Hugging Face card front-matter): credentials written
//! into them (any `README.md`), and in a card with card front-matter the network addresses it
//! names outside the provenance hosts (hub, code hosts, papers), as in other metadata: a URL is
//! info, an IP address low.
//!
//! Registered last, so a card is only judged as one when no format claimed the file; a card
//! with nothing to report stays `unknown`.

use crate::Format;
use crate::analyzer::{Analyzer, Context, Input};

/// Most bytes of a card read (a real card is a few KiB; one past this is checked to here).
const MAX_READ: usize = 4 << 20;

/// File names a model's card goes by.
const CARD_NAMES: &[&str] = &["readme.md", "model_card.md", "modelcard.md"];

/// Front-matter keys of a Hugging Face model card.
const CARD_KEYS: &[&str] = &[
    "license:",
    "library_name:",
    "pipeline_tag:",
    "base_model:",
    "datasets:",
    "model-index:",
    "tags:",
];

/// Credentials in a model card.
pub struct ModelCardAnalyzer;

impl Analyzer for ModelCardAnalyzer {
    fn id(&self) -> &'static str {
        "model-card"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        super::nemo::looks_like_text(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if cx.depth() != 0 {
            return None;
        }
        let bytes = input.source.read_vec(0, MAX_READ).ok()?;
        let base = super::remote_code::base_name(input, cx).to_ascii_lowercase();
        let named = CARD_NAMES.contains(&base.as_str());
        let card = has_card_front_matter(&bytes);
        if !named && !card {
            return None;
        }
        let text = String::from_utf8_lossy(&bytes);
        let before = cx.findings().len();
        crate::secrets::check_secrets(cx, "the model card", &text, None);
        // Addresses only in what is surely a model card: a project's README links anywhere.
        if card {
            crate::secrets::check_indicators(
                cx,
                crate::secrets::Place::Metadata,
                "the model card",
                &text,
                None,
            );
        }
        (cx.findings().len() > before).then_some(Format::ModelCard)
    }
}

/// A Markdown file opening with YAML front-matter that names a model card's keys.
fn has_card_front_matter(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let Some(rest) = bytes
        .strip_prefix(b"---\n")
        .or_else(|| bytes.strip_prefix(b"---\r\n"))
    else {
        return false;
    };
    let end = memchr::memmem::find(rest, b"\n---").unwrap_or(rest.len().min(64 << 10));
    let front = String::from_utf8_lossy(&rest[..end]);
    front
        .lines()
        .any(|line| CARD_KEYS.iter().any(|key| line.starts_with(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_of_a_card_is_recognised() {
        assert!(has_card_front_matter(
            b"---\nlicense: mit\ntags:\n- x\n---\n# Model\n"
        ));
        assert!(has_card_front_matter(
            b"---\r\nbase_model: org/m\r\n---\r\n"
        ));
        assert!(!has_card_front_matter(b"---\nname: config\n---\n"));
        assert!(!has_card_front_matter(b"# license: mit\n"));
    }
}
