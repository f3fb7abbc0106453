//! A bounded YAML tree for model configs (NeMo/Hydra `model_config.yaml`, MLflow `MLmodel`),
//! built from `saphyr-parser` events with an explicit stack.
//!
//! Aliases are never expanded, so "billion laughs" documents stay as small as their text: an
//! alias of a scalar resolves to that scalar (a key may be spelled through an alias), an alias
//! of a collection becomes [`Yaml::Alias`] — the anchored collection itself is in the tree once,
//! where it was defined, so nothing inside it is missed. Nesting and node count are capped.

use saphyr_parser::{Event, Parser};
use std::collections::HashMap;

/// Deepest nesting kept.
const MAX_DEPTH: usize = 64;
/// Most nodes in one document set.
const MAX_NODES: usize = 200_000;

/// A YAML node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yaml {
    /// Any scalar, as written.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A mapping, in document order.
    Map(Vec<(Yaml, Yaml)>),
    /// An alias of a collection (its content is where the anchor was defined).
    Alias,
}

impl Yaml {
    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A parsed YAML text: its documents and the tags that ask for Python objects.
#[derive(Debug, Default)]
pub struct YamlDocs {
    /// Every document.
    pub docs: Vec<Yaml>,
    /// `!!python/…` tags (unsafe-loader object construction), as written.
    pub python_tags: Vec<String>,
}

/// Why a text was not read as YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlError {
    /// The text is not YAML (the parser's message).
    Syntax(String),
    /// A cap of aigis's own (nesting, node count) was hit: a YAML loader may well read it.
    Limit(String),
}

impl YamlError {
    /// Whether only aigis's own cap stopped the reading.
    pub fn is_limit(&self) -> bool {
        matches!(self, YamlError::Limit(_))
    }
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            YamlError::Syntax(m) | YamlError::Limit(m) => f.write_str(m),
        }
    }
}

enum Frame {
    Seq(Vec<Yaml>),
    Map(Vec<(Yaml, Yaml)>, Option<Yaml>),
}

/// Parses `text`. Errors name the YAML problem or the limit hit.
pub fn parse(text: &str) -> Result<YamlDocs, YamlError> {
    let mut out = YamlDocs::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut scalars: HashMap<usize, String> = HashMap::new();
    let mut nodes = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, _span) = event.map_err(|e| {
            let message = e.to_string();
            // The parser's own cap (255 nested flow collections), not YAML's grammar: PyYAML
            // reads deeper.
            if message.contains("recursion limit exceeded") {
                YamlError::Limit(message)
            } else {
                YamlError::Syntax(message)
            }
        })?;
        let tag = match &event {
            Event::Scalar(_, _, _, Some(tag))
            | Event::SequenceStart(_, Some(tag))
            | Event::MappingStart(_, Some(tag)) => Some(format!("{}{}", tag.handle, tag.suffix)),
            _ => None,
        };
        if let Some(tag) = tag
            && tag.contains("python/")
            && out.python_tags.len() < 64
        {
            out.python_tags.push(tag);
        }
        let node = match event {
            Event::SequenceStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::Limit(format!(
                        "YAML nesting deeper than {MAX_DEPTH}"
                    )));
                }
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::Limit(format!(
                        "YAML nesting deeper than {MAX_DEPTH}"
                    )));
                }
                stack.push(Frame::Map(Vec::new(), None));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Yaml::Seq(items),
                _ => return Err(YamlError::Syntax("unbalanced YAML sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, None)) => Yaml::Map(entries),
                _ => return Err(YamlError::Syntax("unbalanced YAML mapping".into())),
            },
            Event::Scalar(value, _, anchor, _) => {
                if anchor != 0 && scalars.len() < 4096 {
                    scalars.insert(anchor, value.to_string());
                }
                Yaml::Scalar(value.into_owned())
            }
            Event::Alias(id) => match scalars.get(&id) {
                Some(s) => Yaml::Scalar(s.clone()),
                None => Yaml::Alias,
            },
            _ => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(YamlError::Limit(format!(
                "YAML has more than {MAX_NODES} nodes"
            )));
        }
        match stack.last_mut() {
            None => out.docs.push(node),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map(entries, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
    if !stack.is_empty() {
        return Err(YamlError::Syntax("YAML ends inside a collection".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_maps_and_resolves_scalar_aliases() {
        let docs = parse("a: &k _target_\nb:\n  *k : os.system\nc: [1, 2]\n");
        let docs = docs.unwrap_or_default();
        let root = &docs.docs[0];
        assert_eq!(
            root.get("b").and_then(|b| b.get("_target_")),
            Some(&Yaml::Scalar("os.system".into()))
        );
        assert_eq!(
            root.get("c"),
            Some(&Yaml::Seq(vec![
                Yaml::Scalar("1".into()),
                Yaml::Scalar("2".into())
            ]))
        );
    }

    #[test]
    fn alias_bombs_stay_small_and_depth_is_capped() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..20 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).is_ok());
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err_and(|e| e.is_limit()));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).is_err_and(|e| e.is_limit()));
        assert!(parse("a: [1, 2\n").is_err_and(|e| !e.is_limit()));
        let tags = parse("x: !!python/object/apply:os.system [ls]\n").unwrap_or_default();
        assert_eq!(tags.python_tags.len(), 1);
    }
}
