//! CPython's ISO-2022 codecs (`iso2022_jp`, `iso2022_jp_1`, `iso2022_jp_2`, `iso2022_jp_ext`,
//! `iso2022_kr`, `iso2022_jp_2004`, `iso2022_jp_3`), as `Modules/cjkcodecs/_codecs_iso2022.c`
//! computes them: stateful codecs whose escape sequences designate character sets into G0/G1
//! (and G2 for `iso2022_jp_2`).
//!
//! The double-byte sets (JIS X 0208, JIS X 0212, KS X 1001, GB2312, JIS X 0213 planes 1 (2000
//! and 2004) and 2) are tables of
//! [`crate::cjk`] (derived from the stateless EUC codecs' tables and checked against CPython's
//! ISO-2022 codecs, pair by pair and code point by code point, by `scripts/fold/gen_cjk.py`);
//! the one-byte sets (JIS X 0201 Roman and Katakana, ISO 8859-1 and 8859-7 in G2) follow
//! CPython's macros. JIS X 0213 plane 1 has two-code-point pairs: read as two characters, and
//! written as one when the second follows the first (compared in 16 bits, as CPython does),
//! before any other set is tried (CPython's `_PAIRONLY` designation). Whatever CPython refuses
//! is refused (`None`), so a fold fails closed.

use crate::cjk;

/// One of CPython's ISO-2022 codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    Jp,
    Jp1,
    Jp2,
    JpExt,
    Kr,
    Jp2004,
    Jp3,
}

const ESC: u8 = 0x1B;
const SO: u8 = 0x0E;
const SI: u8 = 0x0F;
const LF: u8 = 0x0A;

/// Character set marks as CPython spells them: the final byte of the designating escape
/// sequence, with 0x80 set for the double-byte sets.
const ASCII: u8 = b'B';
const ISO8859_1: u8 = b'A';
const ISO8859_7: u8 = b'F';
const JISX0201_K: u8 = b'I';
const JISX0201_R: u8 = b'J';
const GB2312: u8 = b'A' | 0x80;
const JISX0208: u8 = b'B' | 0x80;
const KSX1001: u8 = b'C' | 0x80;
const JISX0212: u8 = b'D' | 0x80;
const JISX0208_O: u8 = b'@' | 0x80;
const JISX0213_2000_1: u8 = b'O' | 0x80;
const JISX0213_2: u8 = b'P' | 0x80;
const JISX0213_2004_1: u8 = b'Q' | 0x80;

impl Variant {
    /// The codec of a CPython module name.
    pub(crate) fn from_module(name: &str) -> Option<Variant> {
        Some(match name {
            "iso2022_jp" => Variant::Jp,
            "iso2022_jp_1" => Variant::Jp1,
            "iso2022_jp_2" => Variant::Jp2,
            "iso2022_jp_ext" => Variant::JpExt,
            "iso2022_kr" => Variant::Kr,
            "iso2022_jp_2004" => Variant::Jp2004,
            "iso2022_jp_3" => Variant::Jp3,
            _ => return None,
        })
    }

    /// The sets the codec may designate, in the order its encoder tries them.
    fn designations(self) -> &'static [u8] {
        match self {
            Variant::Jp => &[JISX0208, JISX0208_O, JISX0201_R],
            Variant::Jp1 => &[JISX0208, JISX0212, JISX0208_O, JISX0201_R],
            Variant::Jp2 => &[
                JISX0208, JISX0212, KSX1001, GB2312, JISX0201_R, JISX0208_O, ISO8859_1, ISO8859_7,
            ],
            Variant::JpExt => &[JISX0208, JISX0212, JISX0201_R, JISX0201_K, JISX0208_O],
            Variant::Kr => &[KSX1001],
            Variant::Jp2004 => &[JISX0208, JISX0213_2004_1, JISX0213_2],
            Variant::Jp3 => &[JISX0208, JISX0213_2000_1, JISX0213_2],
        }
    }

    /// The set whose pairs are written first (JIS X 0213 plane 1), if the codec has one.
    fn pair_set(self) -> Option<u8> {
        match self {
            Variant::Jp2004 => Some(JISX0213_2004_1),
            Variant::Jp3 => Some(JISX0213_2000_1),
            _ => None,
        }
    }

    /// SO and SI are plain bytes (every codec but `iso2022_kr`).
    fn no_shift(self) -> bool {
        self != Variant::Kr
    }

    /// G2 designations and the ESC N single shift (`iso2022_jp_2`).
    fn use_g2(self) -> bool {
        self == Variant::Jp2
    }

    /// `ESC & @` may prefix a JIS X 0208 designation (the JP codecs).
    fn jisx0208_ext(self) -> bool {
        self != Variant::Kr
    }
}

/// The [`cjk`] table name of a double-byte set.
fn dbcs_table(mark: u8) -> Option<&'static str> {
    Some(match mark {
        JISX0208 | JISX0208_O => "jisx0208",
        JISX0212 => "jisx0212",
        KSX1001 => "ksx1001",
        GB2312 => "gb2312_iso",
        JISX0213_2004_1 => "jisx0213_2004_1",
        JISX0213_2000_1 => "jisx0213_2000_1",
        JISX0213_2 => "jisx0213_2",
        _ => return None,
    })
}

/// What the set `mark`'s encoder writes for `cp` (one byte, or two as a big-endian pair);
/// `None` when the set does not have it (CPython's dummy encoders of ISO 8859-1/-7 never do).
fn encode_in(variant: Variant, mark: u8, cp: u32) -> Option<u32> {
    match mark {
        JISX0201_R => match cp {
            0xA5 => Some(0x5C),
            0x203E => Some(0x7E),
            c if c < 0x80 && c != 0x5C && c != 0x7E => Some(c),
            _ => None,
        },
        JISX0201_K => (0xFF61..=0xFF9F).contains(&cp).then(|| cp - 0xFF40),
        // iso2022_jp_3 reads plane 2 as iso2022_jp_2004 does but writes U+9B1D as 7D3B.
        JISX0213_2 if variant == Variant::Jp3 => cjk::table("jisx0213_2_2000")?.encode_cp(cp),
        _ => cjk::table(dbcs_table(mark)?)?.encode_cp(cp),
    }
}

/// The two code points the set `mark` reads from the pair `b` (JIS X 0213 plane 1), if any.
fn decode_pair_in(mark: u8, b: &[u8]) -> Option<(u32, u32)> {
    let &[a, b2] = b else { return None };
    cjk::table(dbcs_table(mark)?)?.decode_pair((u32::from(a) << 8) | u32::from(b2))
}

/// The code point the set `mark` reads from `b` (its width's worth of bytes).
fn decode_in(mark: u8, b: &[u8]) -> Option<u32> {
    match (mark, b) {
        (JISX0201_R, [0x5C]) => Some(0xA5),
        (JISX0201_R, [0x7E]) => Some(0x203E),
        (JISX0201_R, &[c]) => (c < 0x80).then_some(u32::from(c)),
        (JISX0201_K, &[c]) => {
            let c = c ^ 0x80;
            (0xA1..=0xDF).contains(&c).then(|| 0xFEC0 + u32::from(c))
        }
        (_, &[a, b2]) => {
            cjk::table(dbcs_table(mark)?)?.decode_seq((u32::from(a) << 8) | u32::from(b2))
        }
        _ => None,
    }
}

/// The bytes one character of the set `mark` takes.
fn width(mark: u8) -> usize {
    if mark & 0x80 != 0 { 2 } else { 1 }
}

/// `str.encode(codec)`: ASCII in G0 as ASCII; any other character in the first set (in the
/// codec's order) that has it, designated before it when it is not already (`ESC ( F` for a
/// one-byte set, `ESC $ B` for JIS X 0208, `ESC $ ( F` for the other double-byte ones;
/// `iso2022_kr` designates KS X 1001 into G1 once with `ESC $ ) C` and shifts in and out with
/// SO/SI); the output ends shifted in and with ASCII in G0. `None` for a character no set has.
pub(crate) fn encode(variant: Variant, s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 2);
    let (mut g0, mut g1, mut shifted) = (ASCII, ASCII, false);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let cp = u32::from(c);
        if cp < 0x80 {
            if g0 != ASCII {
                out.extend([ESC, b'(', b'B']);
                g0 = ASCII;
            }
            if shifted {
                out.push(SI);
                shifted = false;
            }
            out.push(c as u8);
            continue;
        }
        let pair = variant.pair_set().and_then(|m| {
            let next = u32::from(*chars.peek()?);
            Some((m, cjk::table(dbcs_table(m)?)?.encode_pair(cp, next)?))
        });
        let (mark, code) = match pair {
            Some(found) => {
                chars.next();
                found
            }
            None => variant
                .designations()
                .iter()
                .find_map(|&m| encode_in(variant, m, cp).map(|code| (m, code)))?,
        };
        if variant == Variant::Kr {
            // KS X 1001 is iso2022_kr's G1 set.
            if g1 != mark {
                out.extend([ESC, b'$', b')', mark & 0x7F]);
                g1 = mark;
            }
            if !shifted {
                out.push(SO);
                shifted = true;
            }
        } else {
            if shifted {
                out.push(SI);
                shifted = false;
            }
            if g0 != mark {
                if width(mark) == 1 {
                    out.extend([ESC, b'(', mark]);
                } else if mark == JISX0208 {
                    out.extend([ESC, b'$', b'B']);
                } else {
                    out.extend([ESC, b'$', b'(', mark & 0x7F]);
                }
                g0 = mark;
            }
        }
        let [_, _, hi, lo] = code.to_be_bytes();
        if width(mark) == 2 {
            out.push(hi);
        }
        out.push(lo);
    }
    if shifted {
        out.push(SI);
    }
    if g0 != ASCII {
        out.extend([ESC, b'(', b'B']);
    }
    Some(out)
}

/// The final byte of an escape sequence.
fn is_escend(c: u8) -> bool {
    c.is_ascii_uppercase() || c == b'@'
}

/// The decoder's state: the sets in G0, G1 and G2, and whether SO shifted to G1.
struct State {
    g: [u8; 3],
    shifted: bool,
}

/// CPython's `iso2022processesc` on `b` (starting at ESC): the designation it makes, as the
/// escape's length, and the new state; `None` where CPython raises (an unterminated, truncated
/// or unknown escape, or a set the codec does not designate).
fn process_esc(variant: Variant, b: &[u8], state: &mut State) -> Option<usize> {
    const MAX_ESCSEQLEN: usize = 16;
    let mut esclen = 0;
    let mut i = 1;
    while i < MAX_ESCSEQLEN {
        let c = *b.get(i)?;
        if is_escend(c) {
            esclen = i + 1;
            break;
        } else if variant.jisx0208_ext() && i + 1 < b.len() && c == b'&' && b[i + 1] == b'@' {
            i += 2;
        }
        i += 1;
    }
    let at = |n: usize| b.get(n).copied();
    let (charset, designation) = match esclen {
        3 => {
            if at(1)? == b'$' {
                (at(2)? | 0x80, 0)
            } else {
                let designation = match at(1)? {
                    b'(' => 0,
                    b')' => 1,
                    b'.' if variant.use_g2() => 2,
                    _ => return None,
                };
                (at(2)?, designation)
            }
        }
        4 => {
            if at(1)? != b'$' {
                return None;
            }
            let designation = match at(2)? {
                b'(' => 0,
                b')' => 1,
                _ => return None,
            };
            (at(3)? | 0x80, designation)
        }
        6 if variant.jisx0208_ext() && b.get(3..6) == Some(&[ESC, b'$', b'B'][..]) => (JISX0208, 0),
        _ => return None,
    };
    if charset != ASCII && !variant.designations().contains(&charset) {
        return None;
    }
    state.g[designation] = charset;
    Some(esclen)
}

/// CPython's `iso2022processg2`: the character `ESC N c` makes from the set in G2 (ISO 8859-1
/// and -7 read `c` with its high bit set, ASCII as itself); `None` where CPython raises.
fn single_shift(g2: u8, c: u8) -> Option<u32> {
    let c = u32::from(c);
    match g2 {
        ISO8859_1 => (c < 0x80).then_some(c + 0x80),
        ASCII => (c < 0x80).then_some(c),
        ISO8859_7 => {
            let c = c ^ 0x80;
            if c < 0xA0 || (c < 0xC0 && (0x288F_3BC9u32 >> (c - 0xA0)) & 1 != 0) {
                Some(c)
            } else if (0xB4..=0xFE).contains(&c)
                && (c >= 0xD4 || (0xBFFF_FD77u32 >> (c - 0xB4)) & 1 != 0)
            {
                Some(0x02D0 + c)
            } else {
                match c {
                    0xA1 => Some(0x2018),
                    0xA2 => Some(0x2019),
                    0xAF => Some(0x2015),
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// `bytes.decode(codec)`: escape sequences designate sets into G0/G1/G2; bytes below 0x20
/// (and SO/SI in the JP codecs) pass as themselves, LF also shifts back to G0; other bytes
/// below 0x80 are read in the set in G0 (G1 after SO), ASCII passing through; `ESC N c` reads
/// `c` in G2 (`iso2022_jp_2`); an ESC that starts no ISO-2022 escape passes through with the
/// bytes after it (as Latin-1) up to the next capital letter or `@`. `None` where CPython raises
/// (bytes from 0x80 outside such a run, a bad or truncated escape, a sequence the set in use
/// does not have, input ending inside a character).
pub(crate) fn decode(variant: Variant, b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len());
    let mut state = State {
        g: [ASCII; 3],
        shifted: false,
    };
    let mut through = false;
    let mut i = 0;
    let push = |out: &mut String, cp: u32| -> Option<()> {
        out.push(char::from_u32(cp)?);
        Some(())
    };
    while let Some(&c) = b.get(i) {
        if through {
            out.push(char::from(c));
            i += 1;
            through = !is_escend(c);
            continue;
        }
        match c {
            ESC => {
                let c2 = *b.get(i + 1)?;
                if matches!(c2, b'(' | b')' | b'$' | b'.' | b'&') {
                    i += process_esc(variant, b.get(i..)?, &mut state)?;
                } else if variant.use_g2() && c2 == b'N' {
                    let c3 = *b.get(i + 2)?;
                    push(&mut out, single_shift(state.g[2], c3)?)?;
                    i += 3;
                } else {
                    out.push(char::from(ESC));
                    through = true;
                    i += 1;
                }
            }
            SI | SO if !variant.no_shift() => {
                state.shifted = c == SO;
                i += 1;
            }
            LF => {
                state.shifted = false;
                out.push('\n');
                i += 1;
            }
            0x80.. => return None,
            _ => {
                let mark = if state.shifted {
                    state.g[1]
                } else {
                    state.g[0]
                };
                if c < 0x20 || mark == ASCII {
                    out.push(char::from(c));
                    i += 1;
                    continue;
                }
                let n = width(mark);
                let seq = b.get(i..i + n)?;
                match decode_in(mark, seq) {
                    Some(cp) => push(&mut out, cp)?,
                    None => {
                        let (first, second) = decode_pair_in(mark, seq)?;
                        push(&mut out, first)?;
                        push(&mut out, second)?;
                    }
                }
                i += n;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_values_are_cpythons() {
        // '日本\n語a'.encode('iso2022_jp') == b'\x1b$BF|K\\\x1b(B\n\x1b$B8l\x1b(Ba'
        assert_eq!(
            encode(Variant::Jp, "日本\n語a").as_deref(),
            Some(&b"\x1b$BF|K\\\x1b(B\n\x1b$B8l\x1b(Ba"[..])
        );
        // '가\n가a'.encode('iso2022_kr') == b'\x1b$)C\x0e0!\x0f\n\x0e0!\x0fa'
        assert_eq!(
            encode(Variant::Kr, "가\n가a").as_deref(),
            Some(&b"\x1b$)C\x0e0!\x0f\n\x0e0!\x0fa"[..])
        );
        assert_eq!(encode(Variant::Jp, "é"), None);
        // b'\x1b$)C\x0e0!\n0!'.decode('iso2022_kr') == '가\n0!'
        assert_eq!(
            decode(Variant::Kr, b"\x1b$)C\x0e0!\n0!").as_deref(),
            Some("가\n0!")
        );
        // b'\x1bx\xff\x80A'.decode('iso2022_jp') == '\x1bx\xff\x80A'
        assert_eq!(
            decode(Variant::Jp, b"\x1bx\xff\x80A").as_deref(),
            Some("\u{1b}x\u{ff}\u{80}A")
        );
        assert_eq!(decode(Variant::Jp, b"\x1b"), None);
    }

    #[test]
    fn jis_x_0213_pairs_are_cpythons() {
        // 'か\u309a'.encode('iso2022_jp_2004') == b'\x1b$(Q$w\x1b(B', 'か'.encode(...) ==
        // b'\x1b$B$+\x1b(B', 'か\x00'.encode(...) == b'\x1b$(Q$+\x1b(B' (the NUL is dropped),
        // b'\x1b$(Q$w'.decode(...) == 'か\u309a'; iso2022_jp_3 writes ESC $ ( O instead.
        for (v, esc) in [
            (Variant::Jp2004, &b"\x1b$(Q"[..]),
            (Variant::Jp3, b"\x1b$(O"),
        ] {
            let pair = [esc, b"$w\x1b(B"].concat();
            assert_eq!(encode(v, "か\u{309a}").as_deref(), Some(&pair[..]));
            assert_eq!(encode(v, "か\u{1309a}").as_deref(), Some(&pair[..]));
            assert_eq!(decode(v, &pair).as_deref(), Some("か\u{309a}"));
            assert_eq!(encode(v, "か").as_deref(), Some(&b"\x1b$B$+\x1b(B"[..]));
            let nul = [esc, b"$+\x1b(B"].concat();
            assert_eq!(encode(v, "か\u{0}").as_deref(), Some(&nul[..]));
            // '\xe6\u0300'.encode(...) == ESC $ ( Q/O + b'+D\x1b(B'
            let ae = [esc, b"+D\x1b(B"].concat();
            assert_eq!(encode(v, "\u{e6}\u{300}").as_deref(), Some(&ae[..]));
            assert_eq!(decode(v, &ae).as_deref(), Some("\u{e6}\u{300}"));
        }
        // b'\x1b$(O$w'.decode('iso2022_jp_2004') raises, as b'\x1b$(Q$w' in iso2022_jp_3.
        assert_eq!(decode(Variant::Jp2004, b"\x1b$(O$w"), None);
        assert_eq!(decode(Variant::Jp3, b"\x1b$(Q$w"), None);
        // '\u4ff1'.encode('iso2022_jp_2004') == b'\x1b$(Q.!\x1b(B'; iso2022_jp_3 raises.
        assert_eq!(
            encode(Variant::Jp2004, "\u{4ff1}").as_deref(),
            Some(&b"\x1b$(Q.!\x1b(B"[..])
        );
        assert_eq!(encode(Variant::Jp3, "\u{4ff1}"), None);
    }
}
