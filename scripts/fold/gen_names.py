#!/usr/bin/env python3
"""Generates crates/aigis-pickle/data/names.bin: the Unicode character names CPython's
`unicode_escape` decoder resolves in `\\N{name}` escapes.

CPython's decoder (Objects/unicodeobject.c) reads `\\N{` up to the first `}` and asks
unicodedata's `getcode` (with name aliases, without named sequences) for the name. `getcode`
answers three ways, and crates/aigis-pickle/src/names.rs mirrors each:

- A name starting with `HANGUL SYLLABLE ` (case-sensitively) is parsed by `find_syllable`: the
  longest leading-consonant jamo name, then the longest vowel, then the longest trailing
  consonant, case-sensitively, and the three must use up the name; nothing else is tried.
- A name starting with `CJK UNIFIED IDEOGRAPH-` (case-sensitively) must go on with exactly 4 or
  5 hex digits, `0-9A-F` (uppercase only), naming a code point in one of this Unicode version's
  unified ideograph ranges; nothing else is tried.
- Any other name is looked up in a hash of every other character name and every name alias,
  ASCII-case-insensitively (the name is uppercased byte by byte).

The file holds the jamo names, the unified ideograph ranges and the sorted name list (names and
aliases, front-coded). Names come from `unicodedata.name` over every code point. Aliases cannot
be listed from CPython, so candidates are read from NameAliases.txt files and Perl's
unicore/Name.pl (whatever of the `ALIAS_SOURCES` exist, plus `--aliases FILE`), and a candidate
is kept only where CPython's own decoder resolves `\\N{alias}` to one character; an alias no
source lists is refused by the fold (safe: the loader is then reported).

Before writing, the table (read back as names.rs reads it) is checked against CPython's
`codecs.decode(b'\\\\N{' + name + b'}', 'unicode_escape')`: every name and alias as is, in
lowercase and in title case; every Hangul syllable name, lowercased and with random jamo
strings; every 4- and 5-digit `CJK UNIFIED IDEOGRAPH-` suffix (uppercase, and lowercased where
that differs); named sequences (which `\\N` refuses); and near misses of names (spacing,
underscores, truncation, extra letters, NUL and non-ASCII bytes). Every answer, a character or
a refusal, must be CPython's.

Run with the CPython whose names the fold should know (a newer Python knows more names: a name
the table lacks is refused, never guessed):

    python3 scripts/fold/gen_names.py crates/aigis-pickle/data/names.bin

Format (integers are unsigned LEB128): b"AIGISNAMES1", `unicodedata.unidata_version` as a
string, the Python version as a string; the Hangul jamo names as three lists (leading,
vowel, trailing; each a count then strings); the unified ideograph ranges (count, then each as
first code point, last code point); the names (count, then each as: bytes shared with the
previous name, the rest as a string, the code point), sorted bytewise. A string is a length
and ASCII bytes.
"""

import argparse
import codecs
import glob
import os
import random
import sys
import unicodedata

MAGIC = b"AIGISNAMES1"
ALIAS_SOURCES = [
    "/usr/share/unicode/NameAliases.txt",
    "/usr/share/unicode-data/NameAliases.txt",
    "/usr/share/perl/*/unicore/Name.pl",
    "/usr/lib/*/perl/*/unicore/Name.pl",
    os.path.expanduser("~/.cargo/registry/src/*/unicode_names2-*/data/NameAliases.txt"),
]
SEQUENCE_SOURCES = [
    "/usr/share/unicode/NamedSequences.txt",
    "/usr/share/perl/*/unicore/NamedSequences.txt",
]

# Jamo short names (Unicode's Jamo.txt), as CPython's `hangul_syllables` table has them.
JAMO_L = ["G", "GG", "N", "D", "DD", "R", "M", "B", "BB", "S", "SS", "", "J", "JJ", "C", "K",
          "T", "P", "H"]
JAMO_V = ["A", "AE", "YA", "YAE", "EO", "E", "YEO", "YE", "O", "WA", "WAE", "OE", "YO", "U",
          "WEO", "WE", "WI", "YU", "EU", "YI", "I"]
JAMO_T = ["", "G", "GG", "GS", "N", "NJ", "NH", "D", "L", "LG", "LM", "LB", "LS", "LT", "LP",
          "LH", "M", "B", "BS", "S", "SS", "NG", "J", "C", "K", "T", "P", "H"]
HANGUL_PREFIX = b"HANGUL SYLLABLE "
CJK_PREFIX = b"CJK UNIFIED IDEOGRAPH-"
NAME_BYTES = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -")


def cpython(name):
    """What CPython's `\\N{name}` decodes to: one character's code point, or None (raises)."""
    try:
        out = codecs.decode(b"\\N{" + name + b"}", "unicode_escape")
    except UnicodeDecodeError:
        return None
    assert len(out) == 1, (name, out)
    return ord(out)


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    b = s.encode("ascii")
    return leb(len(b)) + b


def alias_candidates(extra):
    """Names from the alias sources (NameAliases.txt lines `cp;alias;type`, Name.pl entries
    `cp\\nname` of one code point)."""
    paths = list(extra)
    for pattern in ALIAS_SOURCES:
        paths += sorted(glob.glob(pattern))
    found = set()
    used = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        used.append(path)
        if path.endswith(".pl"):
            body = text.split("<<'END';\n", 1)[1].split("\nEND\n", 1)[0]
            for entry in body.strip("\n").split("\n\n"):
                cps, _, name = entry.partition("\n")
                if " " not in cps:
                    found.add(name)
        else:
            for row in text.splitlines():
                row = row.split("#", 1)[0].strip()
                if row:
                    found.add(row.split(";")[1].strip())
    return found, used


def named_sequences():
    names = set()
    for pattern in SEQUENCE_SOURCES:
        for path in sorted(glob.glob(pattern)):
            with open(path, encoding="utf-8") as f:
                for row in f:
                    row = row.split("#", 1)[0].strip()
                    if ";" in row:
                        names.add(row.split(";")[0].strip())
    # Two that every Unicode version since 4.1 has, whatever the sources.
    names |= {"LATIN CAPITAL LETTER A WITH MACRON AND GRAVE", "KEYCAP NUMBER SIGN"}
    return names


def build(alias_files):
    names = {}
    cjk = []
    for cp in range(0x110000):
        n = unicodedata.name(chr(cp), None)
        if n is None:
            continue
        if n.startswith(CJK_PREFIX.decode()):
            cjk.append(cp)
        elif not n.startswith(HANGUL_PREFIX.decode()):
            names[n] = cp
    ranges = []
    for cp in cjk:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    candidates, used = alias_candidates(alias_files)
    aliases = {}
    for a in sorted(candidates - set(names)):
        if not a.isascii() or a.encode().startswith((HANGUL_PREFIX, CJK_PREFIX)):
            continue
        cp = cpython(a.encode())
        if cp is not None:
            aliases[a] = cp
    table = dict(names)
    table.update(aliases)
    for n, cp in table.items():
        assert set(n.encode()) <= NAME_BYTES, n
        assert not n.encode().startswith((HANGUL_PREFIX, CJK_PREFIX)), n
        assert not 0xD800 <= cp <= 0xDFFF, n
    return table, ranges, len(aliases), used


def serialize(table, ranges):
    out = bytearray(MAGIC)
    out += string(unicodedata.unidata_version)
    out += string(sys.version.split()[0])
    for jamo in (JAMO_L, JAMO_V, JAMO_T):
        out += leb(len(jamo))
        for j in jamo:
            out += string(j)
    out += leb(len(ranges))
    for first, last in ranges:
        out += leb(first) + leb(last)
    items = sorted((n.encode(), cp) for n, cp in table.items())
    out += leb(len(items))
    prev = b""
    for name, cp in items:
        shared = 0
        while shared < min(len(name), len(prev)) and name[shared] == prev[shared]:
            shared += 1
        out += leb(shared) + leb(len(name) - shared) + name[shared:] + leb(cp)
        prev = name
    return bytes(out)


class Reader:
    """The file read back, and looked up, as names.rs does."""

    def __init__(self, data):
        self.data, self.at = data, 0
        assert data.startswith(MAGIC)
        self.at = len(MAGIC)
        self.version = self.text()
        self.python = self.text()
        self.jamo = [[self.text().encode() for _ in range(self.leb())] for _ in range(3)]
        self.ranges = [(self.leb(), self.leb()) for _ in range(self.leb())]
        self.names = {}
        prev = b""
        for _ in range(self.leb()):
            shared = self.leb()
            rest = self.text().encode()
            name = prev[:shared] + rest
            self.names[name] = self.leb()
            prev = name
        assert self.at == len(data)

    def leb(self):
        n, shift = 0, 0
        while True:
            b = self.data[self.at]
            self.at += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def text(self):
        n = self.leb()
        s = self.data[self.at:self.at + n].decode("ascii")
        self.at += n
        return s

    def lookup(self, name):
        if name.startswith(HANGUL_PREFIX):
            rest = name[len(HANGUL_PREFIX):]
            idx = []
            for column in self.jamo:
                best = None
                for i, j in enumerate(column):
                    if rest.startswith(j) and (best is None or len(j) > len(column[best])):
                        best = i
                if best is None:
                    return None
                idx.append(best)
                rest = rest[len(column[best]):]
            if rest:
                return None
            l, v, t = idx
            return 0xAC00 + (l * len(self.jamo[1]) + v) * len(self.jamo[2]) + t
        if name.startswith(CJK_PREFIX):
            digits = name[len(CJK_PREFIX):]
            if len(digits) not in (4, 5) or not set(digits) <= set(b"0123456789ABCDEF"):
                return None
            cp = int(digits, 16)
            return cp if any(a <= cp <= b for a, b in self.ranges) else None
        if not set(name) <= NAME_BYTES | set(b"abcdefghijklmnopqrstuvwxyz"):
            return None
        return self.names.get(name.upper())


def self_check(reader, seed=11):
    """Every case's answer from the table against CPython's; returns the number of cases."""
    rng = random.Random(seed)
    cases = []
    for n in reader.names:
        cases += [n, n.lower(), n.title()]
    for cp in range(0xAC00, 0xD7A4):
        n = unicodedata.name(chr(cp)).encode()
        cases += [n, n.lower(), n[:len(HANGUL_PREFIX)] + n[len(HANGUL_PREFIX):].lower(),
                  n.lower()[:len(HANGUL_PREFIX)] + n[len(HANGUL_PREFIX):]]
    jamo = [j for column in reader.jamo for j in column if j] + [b"X", b"Q", b" ", b"-"]
    for _ in range(60000):
        k = rng.randrange(0, 5)
        cases.append(HANGUL_PREFIX + b"".join(rng.choice(jamo) for _ in range(k)))
    for n in range(0x10000):
        cases.append(CJK_PREFIX + b"%04X" % n)
    for n in range(0x100000):
        cases.append(CJK_PREFIX + b"%05X" % n)
    for n in list(range(0x3400, 0xA000, 7)) + list(range(0x20000, 0x32000, 97)):
        cases += [CJK_PREFIX + b"%x" % n, CJK_PREFIX.lower() + b"%X" % n,
                  CJK_PREFIX + b"%06X" % n, CJK_PREFIX + b"%X " % n, CJK_PREFIX + b"+%X" % n]
    for s in named_sequences():
        cases += [s.encode(), s.lower().encode()]
    sample = rng.sample(sorted(reader.names), 3000)
    for n in sample:
        cases += [n + b" ", b" " + n, n.replace(b" ", b"  ", 1), n.replace(b" ", b"_"),
                  n[:-1], n + b"S", n + b"\x00", n[:1] + b"\x00" + n[1:], n + b"\xc3\xa9",
                  n.replace(b"-", b" "), n.replace(b" ", b"-", 1), n[:-1] + b"\xff"]
    cases += [b"", b" ", b"-", b"NOPE", b"HANGUL SYLLABLE", b"CJK UNIFIED IDEOGRAPH",
              b"<noncharacter-FFFE>", b"<control>", b"<private-use-E000>", b"TANGUT IDEOGRAPH-17000",
              b"\\N{SPACE", b"SPACE\\", b"{SPACE"]
    bad = 0
    for name in cases:
        if b"}" in name:
            continue
        want = cpython(name) if name else None
        got = reader.lookup(name) if name else None
        if want != got:
            bad += 1
            if bad < 20:
                print(f"mismatch {name!r}: CPython {want}, table {got}", file=sys.stderr)
    assert bad == 0, f"{bad} mismatches"
    # Every named code point's name resolves (computed or in the table).
    for cp in range(0x110000):
        n = unicodedata.name(chr(cp), None)
        if n is not None:
            assert reader.lookup(n.encode()) == cp, n
    return len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--aliases", action="append", default=[],
                    help="a NameAliases.txt (or Perl unicore/Name.pl) to read aliases from")
    args = ap.parse_args()
    table, ranges, n_aliases, used = build(args.aliases)
    data = serialize(table, ranges)
    reader = Reader(data)
    assert len(reader.names) == len(table)
    n_cases = self_check(reader)
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"Unicode {unicodedata.unidata_version}: {len(table)} names ({n_aliases} aliases, "
          f"from {', '.join(used) or 'no source'}), {len(ranges)} ideograph ranges, "
          f"{len(data)} bytes; {n_cases} cases agree with CPython", file=sys.stderr)


if __name__ == "__main__":
    main()
