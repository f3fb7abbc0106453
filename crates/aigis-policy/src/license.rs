//! License conditions of a policy: `deny_licenses`, `allow_licenses` (globs over the SPDX ids of
//! a model's license expression, case-insensitive) and `require_license` (every model, or the
//! models under some paths).

use crate::{PathGlob, Policy};
use aigis_scan::RuleId;
use globset::{GlobBuilder, GlobMatcher};
use std::path::Path;

/// A glob over SPDX license ids (`CC-BY-NC-*`), matched case-insensitively.
#[derive(Debug, Clone)]
pub struct LicenseGlob {
    /// The pattern as written.
    pub pattern: String,
    matcher: GlobMatcher,
}

impl LicenseGlob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Result<LicenseGlob, globset::Error> {
        let matcher = GlobBuilder::new(pattern)
            .case_insensitive(true)
            .build()?
            .compile_matcher();
        Ok(LicenseGlob {
            pattern: pattern.to_string(),
            matcher,
        })
    }

    /// Whether the glob matches the license id.
    pub fn matches(&self, id: &str) -> bool {
        self.matcher.is_match(id)
    }
}

/// Which models must declare a license.
#[derive(Debug, Clone, Default)]
pub enum RequireLicense {
    /// None (the default).
    #[default]
    Off,
    /// Every model.
    All,
    /// Models whose path matches one of these globs.
    Paths(Vec<PathGlob>),
}

/// The license conditions.
#[derive(Debug, Clone, Default)]
pub struct LicensePolicy {
    /// A model whose license names one of these ids is denied.
    pub deny: Vec<LicenseGlob>,
    /// When not empty, a model whose license names an id none of these matches is denied.
    pub allow: Vec<LicenseGlob>,
    /// Which models must declare a license.
    pub require: RequireLicense,
}

impl LicensePolicy {
    /// Whether the policy says anything about licenses.
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty() && matches!(self.require, RequireLicense::Off)
    }
}

/// The ids of one alternative of an expression.
fn ids(alternative: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut after_with = false;
    for word in alternative.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        match word {
            "" | "AND" | "OR" => {}
            "WITH" => after_with = true,
            _ if after_with => after_with = false,
            id => out.push(id),
        }
    }
    out
}

impl Policy {
    /// What the license conditions say about a model at `path` whose license is the SPDX
    /// `expression` (`None`: none declared): the rule and the reason, or `None` when it passes.
    /// An expression with `OR` at its top level passes when one alternative passes (the user
    /// may choose it).
    pub fn license_violation(
        &self,
        path: &Path,
        expression: Option<&str>,
    ) -> Option<(RuleId, String)> {
        let rules = &self.licenses;
        let declared = expression.filter(|e| *e != "NOASSERTION" && !e.trim().is_empty());
        let Some(expr) = declared else {
            let required = match &rules.require {
                RequireLicense::Off => false,
                RequireLicense::All => true,
                RequireLicense::Paths(globs) => {
                    let paths = self.path_candidates(path);
                    globs.iter().any(|g| g.matches(&paths))
                }
            };
            return required.then(|| {
                (
                    RuleId::LicenseUnknown,
                    match expression {
                        Some(e) => format!("the model declares no usable license (`{e}`) and the policy requires one"),
                        None => "the model declares no license and the policy requires one".to_string(),
                    },
                )
            });
        };
        let alternatives: Vec<&str> = if expr.contains('(') {
            vec![expr]
        } else {
            expr.split(" OR ").collect()
        };
        let mut reasons = Vec::new();
        for alternative in &alternatives {
            let mut why = None;
            for id in ids(alternative) {
                if let Some(glob) = rules.deny.iter().find(|g| g.matches(id)) {
                    why = Some(format!("`{id}` matches deny_licenses `{}`", glob.pattern));
                    break;
                }
                if !rules.allow.is_empty() && !rules.allow.iter().any(|g| g.matches(id)) {
                    why = Some(format!("`{id}` is not in allow_licenses"));
                    break;
                }
            }
            match why {
                None => return None,
                Some(why) => reasons.push(why),
            }
        }
        Some((
            RuleId::LicenseDenied,
            format!(
                "license `{expr}` denied by the policy: {}",
                reasons.join("; ")
            ),
        ))
    }
}
