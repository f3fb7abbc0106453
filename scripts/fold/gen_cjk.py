#!/usr/bin/env python3
"""Generates crates/aigis-pickle/data/cjk.bin: CPython's stateless CJK codecs as tables.

Every byte sequence each codec decodes is enumerated with CPython's own decoder (one and two
bytes; the three-byte EUC sequences of JIS X 0212 and JIS X 0213 plane 2 after 0x8F; GB18030's four-byte sequences as ranges of its
linear index), and every code point is encoded with CPython's own encoder. The Rust side
(crates/aigis-pickle/src/cjk.rs) decodes with the table and encodes with its inverse (the lowest
sequence for a code point, then the four-byte ranges); the code points where that model is not
what CPython's encoder does are listed as exceptions, so the pair reproduces CPython exactly.
What is not in the table is refused, so a fold of it fails closed.

The JIS X 0213 codecs (`euc_jis_2004`, `shift_jis_2004`, `euc_jisx0213`, `shift_jisx0213`) and
`big5hkscs` have sequences that decode to two code points (e.g. euc_jis_2004 A4F7 -> U+304B
U+309A, big5hkscs 8862 -> U+00CA U+0304): those are a second table (`dec_pairs`), and their
encoders look one character ahead after a character that can start such a pair. The pairs the
encoder writes as one sequence are found and proved against CPython's encoder by `enc_pairs`
(keyed by the second code point's low 16 bits, as CPython compares it; in the JIS X 0213 codecs
a first followed by U+0000, or by any code point whose low 16 bits are 0, is written as the
first alone and the second is dropped, as CPython does); cjk.rs encodes greedily, pair first,
then single.

The ISO-2022 codecs (crates/aigis-pickle/src/iso2022.rs) get the 94x94 character sets they
designate as four more tables (after the codecs, named as in `CHARSETS`): every pair CPython's
ISO-2022 decoder reads in that set (keys are the two bytes as written, high bits clear), and as
encode exceptions the code points where CPython's ISO-2022 encoders do not write the lowest pair
(or cannot use the set at all), found by encoding every code point with each ISO-2022 codec.
The JIS X 0213 sets of `iso2022_jp_2004` and `iso2022_jp_3` (plane 1 as 2004 and as 2000, plane
2) are derived from `euc_jis_2004` and `euc_jisx0213` (plane 2 is stored whole: no source); plane 1 carries its EUC codec's pairs
(high bits cleared), which CPython's ISO-2022 encoder writes before trying any other set
(`iso2022_pairs` checks both directions against CPython).

Not in the file: the HZ codec (textcodecs.rs, on the gb2312 table) and EUC-KR's eight-byte
Hangul make-up sequences (which start with A4D4; cjk.rs reads and writes them as CPython's
`_codecs_kr.c` does).

Run with any CPython 3 (the table is CPython's; re-run when CPython changes a codec):

    python3 scripts/fold/gen_cjk.py crates/aigis-pickle/data/cjk.bin

Format (integers are unsigned LEB128 unless marked): b"AIGISCJK2", the Python version as a
string, the number of codecs, then per codec: its module name as a string; the decode runs
(count, then each as: sequence delta from the previous run's start, first code point, length);
the four-byte linear-index ranges (count, then each as: linear start, first code point, length;
GB18030 only); the encode exceptions (count, then each as: code point, sequence + 1, or 0 when
CPython cannot encode it); the two-code-point sequences (count, then each as: sequence, first
code point, second code point); the pairs encoded as one sequence (count, then each as: first
code point, second code point's low 16 bits, sequence). A string is a length and UTF-8 bytes. The entries of the ISO-2022 sets
(`CHARSETS`) have the same layout, but their decode runs hold only the pairs that differ from
the ones derived from the stateless codec's table (see `derived`), no four-byte ranges, and
pairs only in the JIS X 0213 plane 1 sets (keys with the high bits cleared).
"""

import bisect
import codecs
import functools
import sys

CODECS = ["shift_jis", "cp932", "euc_jp", "gb2312", "gbk", "gb18030", "big5", "cp950",
          "euc_kr", "cp949", "johab", "euc_jis_2004", "shift_jis_2004", "euc_jisx0213",
          "shift_jisx0213", "big5hkscs"]

# The codecs where one sequence may stand for two code points (JIS X 0213's combining pairs,
# Big5-HKSCS's four letters with a combining mark): their encoders look one character ahead.
PAIR_CODECS = ["euc_jis_2004", "shift_jis_2004", "euc_jisx0213", "shift_jisx0213", "big5hkscs"]

# The ISO-2022 double-byte sets: name -> (codec, escape sequence designating it in G0, the
# stateless codec whose table it is derived from, the lead byte of those sequences (0: two-byte
# sequences with both bytes from 0xA1)). cjk.rs derives each set from its codec's table (the
# sequences with the high bits cleared) and the differences stored in the file.
CHARSETS = {
    "jisx0208": ("iso2022_jp", b"\x1b$B", "euc_jp", 0),
    "jisx0212": ("iso2022_jp_1", b"\x1b$(D", "euc_jp", 0x8F),
    "ksx1001": ("iso2022_kr", b"\x1b$(C", "euc_kr", 0),
    "gb2312_iso": ("iso2022_jp_2", b"\x1b$A", "gb2312", 0),
    "jisx0213_2004_1": ("iso2022_jp_2004", b"\x1b$(Q", "euc_jis_2004", 0),
    "jisx0213_2000_1": ("iso2022_jp_3", b"\x1b$(O", "euc_jisx0213", 0),
    # Plane 2 is stored whole (EUC's 0x8F sequences also read JIS X 0212, which ISO-2022 does not).
    "jisx0213_2": ("iso2022_jp_2004", b"\x1b$(P", None, 0),
    # Plane 2 as iso2022_jp_3 writes it (it reads it as iso2022_jp_2004 does, checked, but
    # writes U+9B1D as 7D3B, which reads as U+9B1C).
    "jisx0213_2_2000": ("iso2022_jp_3", b"\x1b$(P", None, 0),
}

# The JIS X 0213 plane 1 sets hold the two-code-point pairs, written and read as their
# stateless EUC codec's (high bits cleared); `iso2022_pairs` proves it against CPython. Plane 2
# reads the same in both codecs (checked); iso2022_jp_3 writes it as `jisx0213_2_2000`.
PAIR_SETS = {"jisx0213_2004_1": "euc_jis_2004", "jisx0213_2000_1": "euc_jisx0213"}


def derived(name):
    """The pairs cjk.rs derives for an ISO-2022 set from its stateless codec's table."""
    _, _, source, lead = CHARSETS[name]
    out = {}
    if source is None:
        return out
    for k, v in tables(source)[0].items():
        if lead and k >> 16 == lead:
            k &= 0xFFFF
        elif lead or k >> 16 or k < 0x8000:
            continue
        if k >> 8 >= 0xA1 and k & 0xFF >= 0xA1:
            out[k & 0x7F7F] = v
    return out

# Each ISO-2022 codec's encoder: the sets it tries, in CPython's order (`_codecs_iso2022.c`;
# "jisx0201_r" and "jisx0201_k" are JIS X 0201 Roman and Katakana, one byte).
ISO2022 = {
    "iso2022_jp": ["jisx0208", "jisx0201_r"],
    "iso2022_jp_1": ["jisx0208", "jisx0212", "jisx0201_r"],
    "iso2022_jp_2": ["jisx0208", "jisx0212", "ksx1001", "gb2312_iso", "jisx0201_r"],
    "iso2022_jp_ext": ["jisx0208", "jisx0212", "jisx0201_r", "jisx0201_k"],
    "iso2022_kr": ["ksx1001"],
    # After the pairs (CPython's `_PAIRONLY` designation, the plane 1 set, tried first).
    "iso2022_jp_2004": ["jisx0208", "jisx0213_2004_1", "jisx0213_2"],
    "iso2022_jp_3": ["jisx0208", "jisx0213_2000_1", "jisx0213_2_2000"],
}

# How each set's character is written by the encoders (the escape before the bytes).
ISO2022_ESCAPES = {
    b"\x1b$B": "jisx0208", b"\x1b$(D": "jisx0212", b"\x1b$(C": "ksx1001", b"\x1b$(A": "gb2312_iso",
    b"\x1b$)C\x0e": "ksx1001", b"\x1b(J": "jisx0201_r", b"\x1b(I": "jisx0201_k",
    b"\x1b$(Q": "jisx0213_2004_1", b"\x1b$(O": "jisx0213_2000_1", b"\x1b$(P": "jisx0213_2",
}


def single_set(name, cp):
    """JIS X 0201 Roman / Katakana as CPython's macros encode them (iso2022.rs mirrors them)."""
    if name == "jisx0201_r":
        return {0xA5: 0x5C, 0x203E: 0x7E}.get(cp, cp if cp < 0x80 and cp not in (0x5C, 0x7E) else None)
    return cp - 0xFEC0 - 0x80 if 0xFF61 <= cp <= 0xFF9F else None


def escapes(codec):
    """The escape sequences `codec` writes, by the set they designate."""
    out = dict(ISO2022_ESCAPES)
    if codec == "iso2022_jp_3":
        out[b"\x1b$(P"] = "jisx0213_2_2000"
    return out


def iso2022_written(codec, cp):
    """(set, key) CPython's `codec` writes `chr(cp)` in, or None when it raises."""
    try:
        e = chr(cp).encode(codec)
    except UnicodeEncodeError:
        return None
    for esc, cs in escapes(codec).items():
        if e.startswith(esc):
            body = e[len(esc):]
            tail = b"\x0f" if esc.endswith(b"\x0e") else b"\x1b(B"
            assert body.endswith(tail) and len(body) - len(tail) in (1, 2), (codec, hex(cp), e)
            return cs, int.from_bytes(body[:-len(tail)], "big")
    raise AssertionError((codec, hex(cp), e))


def charset_tables():
    """Every ISO-2022 double-byte set's decode table (as CPython's ISO-2022 decoder reads it) and
    its encode exceptions against the lowest pair, from every ISO-2022 codec's encoder."""
    decode = {}
    for name, (codec, esc, _, _) in CHARSETS.items():
        table = {}
        for a in range(0x20, 0x80):
            for b in range(256):
                c = dec(esc + bytes([a, b]), codec)
                if c is not None:
                    table[(a << 8) | b] = ord(c)
        decode[name] = table
    for a in range(0x20, 0x80):
        for b in range(256):
            c = bytes([a, b])
            assert dec(b"\x1b$(P" + c, "iso2022_jp_3") == dec(b"\x1b$(P" + c, "iso2022_jp_2004")
    inverse = {name: {} for name in CHARSETS}
    for name, table in decode.items():
        for k, v in sorted(table.items()):
            inverse[name].setdefault(v, k)
    # What each set's encoder does with a code point, as seen through the codecs trying it.
    seen = {name: {} for name in CHARSETS}
    written = {}
    for codec, order in ISO2022.items():
        for cp in range(0x80, 0x110000):
            if 0xD800 <= cp < 0xE000:
                continue
            w = iso2022_written(codec, cp)
            written[(codec, cp)] = w
            for cs in order:
                if w is not None and cs == w[0]:
                    if cs in seen:
                        assert seen[cs].get(cp, w[1]) == w[1]
                        seen[cs][cp] = w[1]
                    break
                if cs in seen:
                    assert seen[cs].get(cp) is None
                    seen[cs][cp] = None
    exceptions = {}
    for name in CHARSETS:
        exceptions[name] = {cp: k for cp, k in sorted(seen[name].items())
                            if inverse[name].get(cp) != k}
    # The model (first set in order that encodes, by table + exceptions) is CPython's encoder.
    for (codec, cp), w in written.items():
        got = None
        for cs in ISO2022[codec]:
            if cs in CHARSETS:
                ex = exceptions[cs]
                k = ex[cp] if cp in ex else inverse[cs].get(cp)
            else:
                k = single_set(cs, cp)
            if k is not None:
                got = (cs, k)
                break
        assert got == w, (codec, hex(cp), got, w)
    return decode, exceptions, written


def iso2022_model(codec, text, written, pairs, pair_set):
    """What iso2022.rs writes for `text` (`written`: (codec, code point) -> (set, key) of
    `charset_tables`; `pairs`: the pair set's (first, second's low 16 bits) -> key)."""
    escape = {cs: esc for esc, cs in escapes(codec).items() if not esc.endswith(b"\x0e")}
    out, g0, i = b"", None, 0
    while i < len(text):
        cp = ord(text[i])
        if cp < 0x80:
            if g0 is not None:
                out += b"\x1b(B"
                g0 = None
            out += bytes([cp])
            i += 1
            continue
        if i + 1 < len(text) and (cp, ord(text[i + 1]) & 0xFFFF) in pairs:
            cs, k, n = pair_set, pairs[(cp, ord(text[i + 1]) & 0xFFFF)], 2
        else:
            w = written.get((codec, cp))
            if w is None:
                return None
            (cs, k), n = w, 1
        if g0 != cs:
            out += escape[cs]
            g0 = cs
        out += k.to_bytes(2 if cs in CHARSETS else 1, "big")
        i += n
    return out + (b"\x1b(B" if g0 is not None else b"")


def iso2022_pairs(written):
    """The pairs of each JIS X 0213 plane 1 set: decoded (every key CPython's ISO-2022 decoder
    reads as two code points) and encoded (the stateless EUC codec's, high bits cleared). The
    encoding is proved against CPython's ISO-2022 encoder: every code point before every second
    (and U+0000), and every first before every BMP code point and every plane's seconds, encode
    as `iso2022_model` says."""
    out = {}
    for name, source in PAIR_SETS.items():
        codec, esc = CHARSETS[name][0], CHARSETS[name][1]
        decp = {}
        for a in range(0x20, 0x80):
            for b in range(256):
                try:
                    t = (esc + bytes([a, b])).decode(codec)
                except UnicodeDecodeError:
                    continue
                if len(t) == 2:
                    decp[(a << 8) | b] = (ord(t[0]), ord(t[1]))
        assert decp == {k & 0x7F7F: v for k, v in dec_pairs(source).items()}, name
        encp = {k: v & 0x7F7F for k, v in enc_pairs(source).items()}
        mods = sorted({m for _, m in encp})
        for cp in range(0x80, 0x110000):
            if 0xD800 <= cp < 0xE000:
                continue
            for m in mods:
                t = chr(cp) + chr(m)
                assert enc(t, codec) == iso2022_model(codec, t, written, encp, name), (codec, t)
        seconds = [c for c in range(0x10000) if not 0xD800 <= c < 0xE000]
        seconds += [p << 16 | m for p in range(1, 17) for m in mods]
        for cp in sorted({cp for cp, _ in encp}):
            for c2 in seconds:
                t = chr(cp) + chr(c2)
                assert enc(t, codec) == iso2022_model(codec, t, written, encp, name), (codec, t)
        out[name] = (decp, encp)
    return out


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


def text(s):
    b = s.encode()
    return leb(len(b)) + b


def dec(seq, name):
    try:
        s = seq.decode(name)
    except UnicodeDecodeError:
        return None
    return s if len(s) == 1 else None


@functools.lru_cache(maxsize=None)
def dec_pairs(name):
    """Every sequence CPython's `name` decodes to two code points: sequence -> (first, second).
    Together with `tables(name)` the sequences are prefix-free (checked)."""
    if name not in PAIR_CODECS:
        return {}
    single, _ = tables(name)
    out = {}
    leads = [(a,) for a in range(0x80, 256) if a not in single]
    if name.startswith("euc"):
        leads += [(0x8F, a) for a in range(256)]
    for lead in leads:
        for b in range(256):
            seq = bytes(lead) + bytes([b])
            try:
                s = seq.decode(name)
            except UnicodeDecodeError:
                continue
            if len(s) == 2:
                out[int.from_bytes(seq, "big")] = (ord(s[0]), ord(s[1]))
    keys = set(single) | set(out)
    for k in out:
        n = 2 if k < 0x10000 else 3
        for m in range(1, n):
            assert (k >> (8 * (n - m))) not in keys, (name, hex(k))
    return out


def enc(s, name):
    try:
        return s.encode(name)
    except UnicodeEncodeError:
        return None


@functools.lru_cache(maxsize=None)
def enc_pairs(name):
    """The pairs CPython's `name` encoder writes as one sequence: (first, second & 0xFFFF) ->
    sequence. The encoder looks ahead after a character that can start a pair and compares
    the next one in 16 bits (`_codecs_jp.c` passes it to `find_pairencmap` as a `ucs2_t`;
    `_codecs_hk.c` tests `(c2 & 0xfff7) == 0x0304`), so U+1309A completes か as U+309A does.
    Found by encoding every code point followed by every second code point of a decoded pair;
    proved by encoding each first code point followed by every BMP code point and by every
    code point of every plane with those low 16 bits: greedy (pair, else single) is CPython."""
    if name not in PAIR_CODECS:
        return {}
    # 0 too: `_codecs_jp.c` looks a first up with the next character as modifier, and its
    # entry for the first alone has modifier 0, so 'æ\0' is written as 'æ' (the NUL is lost).
    mods = sorted({m for _, m in dec_pairs(name).values()} | {0})
    single = {}

    def one(cp):
        if cp not in single:
            single[cp] = enc(chr(cp), name)
        return single[cp]

    out = {}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        for m in mods:
            got = enc(chr(cp) + chr(m), name)
            a, b = one(cp), one(m)
            if got != (None if a is None or b is None else a + b):
                assert got is not None and len(got) in (2, 3), (name, hex(cp), hex(m), got)
                out[(cp, m)] = int.from_bytes(got, "big")
    firsts = sorted({cp for cp, _ in out})
    seconds = [c for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    seconds += [p << 16 | m for p in range(1, 17) for m in mods]
    for cp in firsts:
        for c2 in seconds:
            got = enc(chr(cp) + chr(c2), name)
            seq = out.get((cp, c2 & 0xFFFF))
            if seq is not None:
                want = seq.to_bytes(2 if seq < 0x10000 else 3, "big")
            else:
                a, b = one(cp), one(c2)
                want = None if a is None or b is None else a + b
            assert got == want, (name, hex(cp), hex(c2), got, want)
    return out


def linear(b):
    return (((b[0] - 0x81) * 10 + (b[1] - 0x30)) * 126 + (b[2] - 0x81)) * 10 + (b[3] - 0x30)


@functools.lru_cache(maxsize=None)
def tables(name):
    singles = {}
    for b in range(256):
        c = dec(bytes([b]), name)
        if c is not None:
            singles[b] = ord(c)
    table = dict(singles)
    for a in range(0x80, 256):
        if a in singles:
            continue  # a two-byte input from a valid single byte is two characters
        for b in range(256):
            c = dec(bytes([a, b]), name)
            if c is not None:
                table[(a << 8) | b] = ord(c)
    if name in ("euc_jp", "euc_jis_2004", "euc_jisx0213"):
        for a in range(256):
            for b in range(256):
                c = dec(bytes([0x8F, a, b]), name)
                if c is not None:
                    table[(0x8F << 16) | (a << 8) | b] = ord(c)
    if name == "euc_kr":
        table.pop(0xA4D4, None)  # the make-up sequence lead: context-dependent, refused
    quads = []
    if name == "gb18030":
        for a in range(0x81, 0xFF):
            for b in range(0x30, 0x3A):
                for c in range(0x81, 0xFF):
                    for d in range(0x30, 0x3A):
                        seq = bytes([a, b, c, d])
                        ch = dec(seq, name)
                        if ch is not None:
                            quads.append((linear(seq), ord(ch)))
        # The two-byte table never takes a digit as its second byte: four bytes are apart.
        assert not any(0x8000 <= k <= 0xFFFF and 0x30 <= (k & 0xFF) <= 0x39 for k in table)
    # Multibyte sequences start at 0x80 or above, so a value tells its length; prefix-free.
    keys = set(table)
    for k in keys:
        n = 1 if k < 0x100 else 2 if k < 0x10000 else 3
        if n > 1:
            assert (k >> (8 * (n - 1))) >= 0x80, (name, hex(k))
        for m in range(1, n):
            assert (k >> (8 * (n - m))) not in keys, (name, hex(k))
    return table, quads


def runs(pairs):
    out = []
    for k, v in pairs:
        if out and k == out[-1][0] + out[-1][2] and v == out[-1][1] + out[-1][2]:
            out[-1][2] += 1
        else:
            out.append([k, v, 1])
    return out


def model_encode(table_inverse, by_cp, cp):
    """What cjk.rs encodes `cp` to without exceptions; `by_cp`: the four-byte ranges as
    (first code point, linear start, length), sorted."""
    if cp in table_inverse:
        return table_inverse[cp]
    i = bisect.bisect_right(by_cp, (cp, 1 << 32, 0)) - 1
    if i >= 0:
        first, lin, n = by_cp[i]
        if first <= cp < first + n:
            v = lin + cp - first
            d = v % 10
            v //= 10
            c = v % 126
            v //= 126
            b = v % 10
            a = v // 10
            return int.from_bytes(bytes([a + 0x81, b + 0x30, c + 0x81, d + 0x30]), "big")
    return None


def main():
    out = bytearray(b"AIGISCJK2")
    out += text(sys.version.split()[0])
    out += leb(len(CODECS) + len(CHARSETS))
    for name in CODECS:
        table, quads = tables(name)
        out += text(name)
        dr = runs(sorted(table.items()))
        out += leb(len(dr))
        prev = 0
        for k, v, n in dr:
            out += leb(k - prev) + leb(v) + leb(n)
            prev = k
        qr = runs(sorted(quads))
        out += leb(len(qr))
        for k, v, n in qr:
            out += leb(k) + leb(v) + leb(n)
        by_cp = sorted((v, k, n) for k, v, n in qr)
        inverse = {}
        for k, v in sorted(table.items()):
            inverse.setdefault(v, k)
        exceptions = []
        for cp in range(0x110000):
            if 0xD800 <= cp < 0xE000:
                continue
            try:
                e = chr(cp).encode(name)
                want = int.from_bytes(e, "big") if len(e) <= 4 else -1
            except UnicodeEncodeError:
                want = None
            got = model_encode(inverse, by_cp, cp)
            if want == -1:
                want = None  # longer than four bytes (EUC-KR make-up): refused
            if want != got:
                exceptions.append((cp, 0 if want is None else want + 1))
        out += leb(len(exceptions))
        for cp, v in exceptions:
            out += leb(cp) + leb(v)
        dp = dec_pairs(name)
        out += leb(len(dp))
        for k, (a, b) in sorted(dp.items()):
            out += leb(k) + leb(a) + leb(b)
        ep = enc_pairs(name)
        out += leb(len(ep))
        for (a, b), k in sorted(ep.items()):
            out += leb(a) + leb(b) + leb(k)
        print(f"{name}: {len(table)} sequences in {len(dr)} runs, {len(qr)} four-byte ranges, "
              f"{len(exceptions)} encode exceptions, {len(dp)} two-code-point sequences, "
              f"{len(ep)} encoded pairs", file=sys.stderr)
    decode, exceptions, written = charset_tables()
    set_pairs = iso2022_pairs(written)
    for name in CHARSETS:
        out += text(name)
        base = derived(name)
        assert set(base) <= set(decode[name]), name
        diff = {k: v for k, v in decode[name].items() if base.get(k) != v}
        dr = runs(sorted(diff.items()))
        out += leb(len(dr))
        prev = 0
        for k, v, n in dr:
            out += leb(k - prev) + leb(v) + leb(n)
            prev = k
        out += leb(0)
        out += leb(len(exceptions[name]))
        for cp, k in exceptions[name].items():
            out += leb(cp) + leb(0 if k is None else k + 1)
        decp, encp = set_pairs.get(name, ({}, {}))
        out += leb(len(decp))
        for k, (a, b) in sorted(decp.items()):
            out += leb(k) + leb(a) + leb(b)
        out += leb(len(encp))
        for (a, b), k in sorted(encp.items()):
            out += leb(a) + leb(b) + leb(k)
        print(f"{name}: {len(decode[name])} pairs, {len(diff)} apart from {CHARSETS[name][2]}, "
              f"{len(exceptions[name])} encode exceptions", file=sys.stderr)
    with open(sys.argv[1], "wb") as f:
        f.write(out)
    print(f"{len(out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
