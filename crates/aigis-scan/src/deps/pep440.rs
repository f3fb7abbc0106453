//! PEP 440 versions and PEP 440 specifiers, as `packaging` reads them: normalised spellings
//! (`1.0-ALPHA.1` is `1.0a1`), and the order `packaging.version.Version` sorts by (dev releases
//! before pre-releases before the final release before post-releases; trailing zeros do not
//! count; local labels after their public version). No PEP 440 crate is available to this
//! build, so the subset aigis needs (parse, compare, match a specifier) is written here and
//! tested against `packaging`'s documented examples.

use std::cmp::Ordering;

/// A parsed PEP 440 version. Equality is PEP 440's (`1.0 == 1.0.0`).
#[derive(Debug, Clone)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    // Strings sort before numbers in a local label.
    Str(String),
    Num(u64),
}

fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// A separator `.`, `-` or `_`, optional.
fn sep(s: &str) -> &str {
    s.strip_prefix(['.', '-', '_']).unwrap_or(s)
}

impl Version {
    /// Parses a version as `packaging.version.Version` does (`None` when it refuses it).
    pub fn parse(text: &str) -> Option<Version> {
        let lower = text.trim().to_ascii_lowercase();
        let mut s = lower.strip_prefix('v').unwrap_or(&lower);
        let (public, local) = match s.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (s, None),
        };
        s = public;
        let mut epoch = 0;
        if let Some((e, rest)) = number(s)
            && let Some(rest) = rest.strip_prefix('!')
        {
            epoch = e;
            s = rest;
        }
        let mut release = Vec::new();
        loop {
            let (n, rest) = number(s)?;
            release.push(n);
            s = rest;
            match s.strip_prefix('.') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => s = rest,
                _ => break,
            }
        }
        let mut pre = None;
        let t = sep(s);
        for (spelling, kind) in [
            ("alpha", 0),
            ("beta", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("a", 0),
            ("b", 1),
            ("c", 2),
        ] {
            if let Some(rest) = t.strip_prefix(spelling) {
                let rest = sep(rest);
                let (n, rest) = number(rest).unwrap_or((0, rest));
                pre = Some((kind, n));
                s = rest;
                break;
            }
        }
        let mut post = None;
        if let Some(rest) = s.strip_prefix('-')
            && let Some((n, rest)) = number(rest)
        {
            post = Some(n);
            s = rest;
        } else {
            let t = sep(s);
            for spelling in ["post", "rev", "r"] {
                if let Some(rest) = t.strip_prefix(spelling) {
                    let rest = sep(rest);
                    let (n, rest) = number(rest).unwrap_or((0, rest));
                    post = Some(n);
                    s = rest;
                    break;
                }
            }
        }
        let mut dev = None;
        if let Some(rest) = sep(s).strip_prefix("dev") {
            let rest = sep(rest);
            let (n, rest) = number(rest).unwrap_or((0, rest));
            dev = Some(n);
            s = rest;
        }
        if !s.is_empty() {
            return None;
        }
        let local = match local {
            None => Vec::new(),
            Some(l) => {
                let parts: Vec<LocalPart> = l
                    .split(['.', '-', '_'])
                    .map(|p| match p.parse() {
                        Ok(n) => Some(LocalPart::Num(n)),
                        Err(_) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                            Some(LocalPart::Str(p.to_owned()))
                        }
                        Err(_) => None,
                    })
                    .collect::<Option<_>>()?;
                parts
            }
        };
        Some(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The release segments (`2.6.0` → `[2, 6, 0]`).
    pub fn release(&self) -> &[u64] {
        &self.release
    }

    /// A pre-release or dev release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn key(&self) -> impl Ord + '_ {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        // packaging's _cmpkey: a dev release without pre/post sorts before every pre-release.
        let pre: (i8, u8, u64) = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
            (Some((k, n)), _, _) => (0, k, n),
        };
        let post: (i8, u64) = self.post.map_or((-1, 0), |n| (0, n));
        let dev: (i8, u64) = self.dev.map_or((1, 0), |n| (0, n));
        let local: (i8, &[LocalPart]) = if self.local.is_empty() {
            (-1, &[])
        } else {
            (0, &self.local)
        };
        (self.epoch, release, pre, post, dev, local)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One clause of a specifier set (`>=2.6`, `==1.2.*`, `~=2.6.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    op: Op,
    version: Version,
    wildcard: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
    Compatible,
    Arbitrary,
}

/// A comma-separated specifier set (`>=2.1,<3`); empty admits every version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Specifiers(Vec<Clause>);

impl Specifiers {
    /// Parses a specifier set (`None` when a clause is not PEP 440).
    pub fn parse(text: &str) -> Option<Specifiers> {
        let mut out = Vec::new();
        for raw in text.split(',') {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let (op, rest) = [
                ("===", Op::Arbitrary),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("~=", Op::Compatible),
                ("<", Op::Lt),
                (">", Op::Gt),
            ]
            .iter()
            .find_map(|(p, op)| raw.strip_prefix(p).map(|r| (*op, r.trim())))?;
            let (text, wildcard) = match rest.strip_suffix(".*") {
                Some(t) if matches!(op, Op::Eq | Op::Ne) => (t, true),
                _ => (rest, false),
            };
            let version = Version::parse(text)?;
            out.push(Clause {
                op,
                version,
                wildcard,
            });
        }
        Some(Specifiers(out))
    }

    /// No clause: any version.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The one version an `==` (without wildcard) or `===` clause pins, if any.
    pub fn pinned(&self) -> Option<&Version> {
        self.0
            .iter()
            .find(|c| matches!(c.op, Op::Eq | Op::Arbitrary) && !c.wildcard)
            .map(|c| &c.version)
    }

    /// Whether `v` satisfies every clause.
    pub fn contains(&self, v: &Version) -> bool {
        self.0.iter().all(|c| c.contains(v))
    }

    /// Whether some version in `[low, high)` (`high` `None`: unbounded) may satisfy the set, as
    /// far as its bounds tell (exclusions by `!=` are ignored: they never make a range safe).
    pub fn admits_some(&self, low: &Version, high: Option<&Version>) -> bool {
        // The set's lower bound L and upper bound U; the interval overlaps when L < high and
        // U > low (with inclusiveness).
        for c in &self.0 {
            let v = &c.version;
            let ok = match c.op {
                Op::Eq | Op::Arbitrary if c.wildcard => {
                    let next = bump(v, v.release.len());
                    high.is_none_or(|h| *v < *h) && next > *low
                }
                Op::Eq | Op::Arbitrary => *v >= *low && high.is_none_or(|h| *v < *h),
                Op::Ne => true,
                Op::Ge => high.is_none_or(|h| *v < *h),
                Op::Gt => high.is_none_or(|h| *v < *h),
                Op::Le => *v >= *low,
                Op::Lt => *v > *low,
                Op::Compatible => {
                    let cap = bump(v, v.release.len().saturating_sub(1).max(1));
                    high.is_none_or(|h| *v < *h) && cap > *low
                }
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// The smallest version past every version that starts with the first `n` release segments of
/// `v` (`2.6.1` at 2 → `2.7.dev0`).
fn bump(v: &Version, n: usize) -> Version {
    let mut release: Vec<u64> = v.release.iter().copied().take(n.max(1)).collect();
    if let Some(last) = release.last_mut() {
        *last += 1;
    }
    Version {
        epoch: v.epoch,
        release,
        pre: None,
        post: None,
        dev: Some(0),
        local: Vec::new(),
    }
}

impl Clause {
    fn contains(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq if self.wildcard => {
                v.epoch == c.epoch
                    && c.release
                        .iter()
                        .enumerate()
                        .all(|(i, n)| v.release.get(i).copied().unwrap_or(0) == *n)
            }
            Op::Ne if self.wildcard => !Clause {
                op: Op::Eq,
                version: c.clone(),
                wildcard: true,
            }
            .contains(v),
            Op::Eq | Op::Arbitrary => {
                // A version without a local label matches any local label of it.
                if c.local.is_empty() {
                    let mut public = v.clone();
                    public.local.clear();
                    public == *c
                } else {
                    v.cmp(c) == Ordering::Equal
                }
            }
            Op::Ne => !Clause {
                op: Op::Eq,
                version: c.clone(),
                wildcard: false,
            }
            .contains(v),
            Op::Le => v <= c,
            Op::Ge => v >= c,
            Op::Lt => v < c && !(v.is_prerelease() && !c.is_prerelease() && same_release(v, c)),
            Op::Gt => v > c && !(v.post.is_some() && c.post.is_none() && same_release(v, c)),
            Op::Compatible => v >= c && *v < bump(c, c.release.len().saturating_sub(1).max(1)),
        }
    }
}

fn same_release(a: &Version, b: &Version) -> bool {
    let trim = |r: &[u64]| {
        let mut r = r.to_vec();
        while r.len() > 1 && r.last() == Some(&0) {
            r.pop();
        }
        r
    };
    trim(&a.release) == trim(&b.release)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn order_follows_packaging() {
        // The order of packaging's documentation and PEP 440's examples.
        let sorted = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
        ];
        for pair in sorted.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0").clone());
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Ordering::Equal);
        assert_eq!(v("1.0-ALPHA.1").cmp(&v("1.0a1")), Ordering::Equal);
        assert_eq!(v("1.0-1").cmp(&v("1.0.post1")), Ordering::Equal);
        assert_eq!(v("v2.6.0").cmp(&v("2.6")), Ordering::Equal);
        assert!(Version::parse("not-a-version").is_none());
        assert!(Version::parse("1.0+").is_none());
    }

    #[test]
    fn specifiers_match_as_packaging_does() {
        let s = |t: &str| Specifiers::parse(t).unwrap_or_else(|| panic!("{t}"));
        assert!(s(">=2.6,<3").contains(&v("2.6.0")));
        assert!(!s(">=2.6,<3").contains(&v("3.0")));
        assert!(s("~=2.6.0").contains(&v("2.6.9")));
        assert!(!s("~=2.6.0").contains(&v("2.7")));
        assert!(s("~=2.6").contains(&v("2.9")));
        assert!(s("==2.6.*").contains(&v("2.6.3")));
        assert!(!s("==2.6.*").contains(&v("2.7")));
        assert!(s("!=2.5.1").contains(&v("2.5.2")));
        assert!(s("==2.5.1").contains(&v("2.5.1+cu121")));
        assert!(!s("<2.6").contains(&v("2.6.0rc1")));
        assert!(!s(">2.6").contains(&v("2.6.post1")));
        assert_eq!(s("==2.5.1").pinned(), Some(&v("2.5.1")));
        assert_eq!(s(">=2.5").pinned(), None);
        // Overlap with an affected range [0, 2.6.0).
        let zero = v("0");
        let fixed = v("2.6.0");
        assert!(s(">=2.1").admits_some(&zero, Some(&fixed)));
        assert!(!s(">=2.6").admits_some(&zero, Some(&fixed)));
        assert!(s("~=2.5.0").admits_some(&zero, Some(&fixed)));
        assert!(!s("==2.6.*").admits_some(&zero, Some(&fixed)));
        assert!(s("<3").admits_some(&zero, Some(&fixed)));
        assert!(Specifiers::parse(">=two").is_none());
    }
}
