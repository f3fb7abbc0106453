#!/usr/bin/env python3
"""Test vectors for crates/aigis-pickle/src/fold.rs, computed by CPython's own functions.

Each line: `function<TAB>codec<TAB>input hex<TAB>output hex`, where text is UTF-8 hex; an output
`!` means the fold must refuse: CPython raises (or, for the codecs of `extra_codecs`, returns a
str holding a lone surrogate, which the fold cannot hold); an output `?` means the fold must
refuse although CPython has a value, because the fold does not compute that case (`idna` labels
that need nameprep or are ACE labels, see `idna_codec`).
Run: python3 scripts/fold/make_codec_vectors.py > crates/aigis-pickle/tests/data/codec_vectors.tsv
"""

import base64
import binascii
import bz2
import codecs
import gzip
import lzma
import sys
import zlib

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gen_codepages  # noqa: E402

SAMPLE = "cos\nsystem\n(S'id'\ntR.\u00e9\u00df\u20ac\U0001F600"


def line(fn, codec, data_in, data_out):
    if isinstance(data_in, str):
        data_in = data_in.encode("utf-8", "surrogatepass")
    if isinstance(data_out, str):
        data_out = data_out.encode("utf-8", "surrogatepass")
    print(f"{fn}\t{codec}\t{data_in.hex()}\t{data_out.hex()}")


def main():
    # Unicode codecs under several spellings.
    for codec in ["utf-8", "UTF8", "utf_8_sig", "utf-16", "UTF-16LE", "utf_16_be", "utf-32",
                  "utf-32-le", "UTF-32BE", "u16", "u32"]:
        enc = codecs.encode(SAMPLE, codec)
        line("encode", codec, SAMPLE, enc)
        line("decode", codec, enc, codecs.decode(enc, codec))
    # BOMs of the other byte order are honoured by the BOM-detecting codecs.
    for codec, pyc in [("utf-16", "utf-16-be"), ("utf-32", "utf-32-be")]:
        enc = codecs.BOM_UTF16_BE if codec == "utf-16" else codecs.BOM_UTF32_BE
        enc += codecs.encode(SAMPLE, pyc)
        line("decode", codec, enc, codecs.decode(enc, codec))
    latin = "".join(map(chr, range(256)))
    for codec in ["latin-1", "iso-8859-1", "L1", "latin1"]:
        line("encode", codec, latin, codecs.encode(latin, codec))
        line("decode", codec, bytes(range(256)), codecs.decode(bytes(range(256)), codec))
    line("encode", "ascii", "cos\nsystem\n", codecs.encode("cos\nsystem\n", "ascii"))
    # Every single-byte codepage: all its bytes decoded, and the text encoded back.
    import encodings
    import pkgutil
    for m in sorted(x.name for x in pkgutil.iter_modules(encodings.__path__)):
        table = gen_codepages.single_byte(m) if m not in gen_codepages.BUILTIN else None
        if table is None:
            continue
        mapped = bytes(b for b, c in enumerate(table) if c is not None)
        text = codecs.decode(mapped, m)
        line("decode", m, mapped, text)
        line("encode", m, text, codecs.encode(text, m))
    for alias in ["ebcdic-cp-us", "IBM037", "cp1252", "windows-1251", "koi8-r", "mac-roman"]:
        line("encode", alias, "cos\nsystem\n", codecs.encode("cos\nsystem\n", alias))
    # Transform codecs.
    line("encode", "rot13", SAMPLE, codecs.encode(SAMPLE, "rot13"))
    line("decode", "rot_13", SAMPLE, codecs.decode(SAMPLE, "rot_13"))
    blob = bytes(range(256)) * 3
    line("encode", "hex", blob, codecs.encode(blob, "hex"))
    line("decode", "hex_codec", codecs.encode(blob, "hex"), blob)
    line("encode", "base64", blob, codecs.encode(blob, "base64"))
    line("decode", "base64_codec", codecs.encode(blob, "base64"), blob)
    line("decode", "zlib", zlib.compress(blob), codecs.decode(zlib.compress(blob), "zlib"))
    line("decode", "bz2_codec", bz2.compress(blob), codecs.decode(bz2.compress(blob), "bz2"))
    # Module functions.
    line("b64decode", "", base64.b64encode(blob), base64.b64decode(base64.b64encode(blob)))
    line("b64decode", "", b"YWJj\nZA==", base64.b64decode(b"YWJj\nZA=="))
    line("urlsafe_b64decode", "", base64.urlsafe_b64encode(blob), blob)
    line("a2b_hex", "", binascii.b2a_hex(blob), binascii.a2b_hex(binascii.b2a_hex(blob)))
    line("fromhex", "", "80 02 63 6f", bytes.fromhex("80 02 63 6f"))
    line("zlib.decompress", "", zlib.compress(blob, 9), blob)
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = raw.compress(blob) + raw.flush()
    line("zlib.decompress-15", "", raw, zlib.decompress(raw, -15))
    line("gzip.decompress", "", gzip.compress(blob, mtime=0), blob)
    line("bz2.decompress", "", bz2.compress(blob) + bz2.compress(b"x"), blob + b"x")
    line("lzma.decompress", "", lzma.compress(blob), blob)
    line("lzma.decompress", "", lzma.compress(blob, format=lzma.FORMAT_ALONE), blob)
    escape_codecs()
    cjk_codecs()
    extra_codecs()
    iso2022_codecs()
    euc_kr_makeup()
    pair_codecs()
    idna_codec()
    named_escapes()


def cjk_codecs():
    """The stateless CJK codecs (scripts/fold/gen_cjk.py): every 37th sequence each decoder
    accepts (GB18030's four-byte ones every 997th), decoded in runs of 40 and encoded back, a
    pickle's text, and inputs CPython refuses (`!`)."""
    import gen_cjk
    for name in gen_cjk.CODECS:
        table, quads = gen_cjk.tables(name)
        seqs = []
        for k in sorted(table)[::37]:
            n = 1 if k < 0x100 else 2 if k < 0x10000 else 3
            seqs.append(k.to_bytes(n, "big"))
        for lin, _ in quads[::997]:
            d = lin % 10
            c = (lin // 10) % 126
            b = (lin // 1260) % 10
            a = lin // 12600
            seqs.append(bytes([a + 0x81, b + 0x30, c + 0x81, d + 0x30]))
        for i in range(0, len(seqs), 40):
            data = b"".join(seqs[i:i + 40])
            text = codecs.decode(data, name)
            line("decode", name, data, text)
            line("encode", name, text, codecs.encode(text, name))
        line("encode", name, "cos\nsystem\n(S'id'\ntR.", codecs.encode("cos\nsystem\n(S'id'\ntR.", name))
        for bad in [b"\xff\xff", bytes([max(k for k in table if k < 0x10000) >> 8])]:
            try:
                codecs.decode(bad, name)
            except UnicodeDecodeError:
                print(f"decode\t{name}\t{bad.hex()}\t!")
        for text in ["\U0001F600", "\u0100"]:
            try:
                codecs.encode(text, name)
            except UnicodeEncodeError:
                print(f"encode\t{name}\t{text.encode().hex()}\t!")
    for alias in ["sjis", "ms932", "EUC-JP", "936", "gb18030-2000", "big5-tw", "ks_c_5601-1987",
                  "jisx0213", "eucjis2004", "s_jis_2004", "sjisx0213", "eucjisx0213", "hkscs",
                  "big5-hkscs"]:
        line("encode", alias, "cos\nsystem\n", codecs.encode("cos\nsystem\n", alias))


def escape_codecs():
    """unicode_escape and raw_unicode_escape both ways: fixed spellings and seeded random byte
    strings over the escape alphabet; an input CPython refuses has `!` as its output. Inputs with
    `\\N{...}` (not folded) and outputs holding surrogates (a Rust string cannot) are left out."""
    import random
    import warnings
    warnings.simplefilter("ignore")
    texts = [SAMPLE, "\\", "tab\there\r\n", "'\"", "\x00\x7f\x80\xff", "\u0100\uffff",
             "\U00010000\U0010ffff", "cos\nsystem\n(S'touch /tmp/x'\ntR."]
    for codec in ["unicode_escape", "raw_unicode_escape", "Unicode-Escape"]:
        for text in texts:
            line("encode", codec, text, codecs.encode(text, codec))
    fixed = [b"\\x80\\x04\\x95", b"\\n\\t\\\\", b"\\101\\7\\777\\0", b"\\q\\z\\8",
             b"a\\\nb", b"\\u00e9\\U0001f600", b"\\u12", b"\\x1", b"\\xZZ", b"end\\",
             b"\\U00110000", b"\\\\u0041", b"\\\\\\u0041", b"\xe9\xff\\x41"]
    rng = random.Random(5)
    alphabet = [b"\\", b"\\", b"x", b"u", b"U", b"0", b"7", b"3", b"8", b"a", b"f", b"F", b"n",
                b"t", b"\n", b"'", b"\"", b"q", b"\xe9", b"\xff", b"1", b"D", b"8", b"v", b"b", b"r"]
    randoms = [b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
               for _ in range(400)]
    for codec in ["unicode_escape", "raw_unicode_escape"]:
        for data in fixed + randoms:
            if b"\\N" in data:
                continue
            try:
                out = codecs.decode(data, codec)
            except UnicodeDecodeError:
                print(f"decode\t{codec}\t{data.hex()}\t!")
                continue
            if any(0xD800 <= ord(c) <= 0xDFFF for c in out):
                continue
            line("decode", codec, data, out)


def refusing(fn, codec, data, call):
    """One vector of `call(data)`, `!` when CPython raises or returns a lone surrogate."""
    try:
        out = call(data)
    except Exception:  # noqa: BLE001 -- whatever CPython raises, the fold refuses
        print(f"{fn}\t{codec}\t{(data.encode() if isinstance(data, str) else data).hex()}\t!")
        return None
    if isinstance(out, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in out):
        print(f"{fn}\t{codec}\t{data.hex()}\t!")
        return None
    line(fn, codec, data, out)
    return out


def codec_vectors(codec):
    """`(enc, dec)`: one vector each of CPython's `codecs.encode` / `codecs.decode` with `codec`,
    returning the output (None where CPython refuses)."""
    def enc(text):
        return refusing("encode", codec, text, lambda x: codecs.encode(x, codec))

    def dec(data):
        return refusing("decode", codec, data, lambda x: codecs.decode(x, codec))

    return enc, dec


def extra_codecs():
    """UTF-7, punycode, HZ, quopri and uu (crates/aigis-pickle/src/textcodecs.rs): fixed texts and
    bytes at the edges of each format, seeded random strings both ways, and malformed input."""
    import random
    rng = random.Random(7)
    ascii_all = "".join(map(chr, range(128)))

    def rand_text(alphabet, n_max):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, n_max)))

    def rand_bytes(alphabet, n_max):
        return b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, n_max)))

    # UTF-7: every ASCII character alone, before and after a base64 run; random mixes.
    texts = ["", "abc", SAMPLE, "+", "a+b", "++", "~\\", "\u00e9", "\u00e9-", "\u00e9a", "\u00e9.",
             "\u00e9 ", "\U0001F600", "\U0001F600\U0010FFFF\uffff", "\x00", ascii_all, "\u00e9" * 7,
             "Hi Mom -\u263a-!", "\u65e5\u672c\u8a9e", "A\u2262\u0391."]
    for c in ascii_all:
        texts += [c, "\u00e9" + c, c + "\u00e9", "\u00e9\u00e9" + c + "\u00e9"]
    u7_alphabet = list("aZ09+/-. ~\\!\n\t\x00") + ["\u00e9", "\u20ac", "\U0001F600", "\uffff",
                                                   "\u0100", "\U00010000"]
    texts += [rand_text(u7_alphabet, 12) for _ in range(400)]
    encoded = []
    for i, text in enumerate(texts):
        codec = ["utf-7", "utf7", "U7", "unicode-1-1-utf-7"][i % 4]
        out = codecs.encode(text, codec)
        line("encode", codec, text, out)
        encoded.append(out)
    for data in encoded[::3]:
        refusing("decode", "utf_7", data, lambda d: codecs.decode(d, "utf-7"))
    fixed = [b"+", b"+-", b"+!", b"+-+", b"+AOk", b"+AOk-", b"+AOkA", b"+AOk.", b"+AOl-", b"+AOkA-",
             b"+2D3eAA-", b"+2D0-", b"+2D0A-", b"+3gA-", b"+2D3YPQ-", b"\x80", b"a\x80", b"+AOk\x80",
             b"+2D3eAA", b"+2D0", b"+A", b"+AA", b"+AAA", b"+AAA-", b"+AB-", b"+ZeVnLIqe-", b"~\\",
             b"+AGEAYgBj-", b"+/v8-", b"+//8-", b"+AAAAAAAA-", b"+2D3eAA2D3eAA-"]
    b64 = [bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"]
    noise = [b"+", b"+", b"-", b"-", b".", b" ", b"\x80", b"~", b"A", b"/", b"2", b"D", b"3"]
    randoms = [rand_bytes(noise + b64[:4] + b64[-4:], 14) for _ in range(300)]
    randoms += [b"+" + rand_bytes(b64, 12) + rng.choice([b"", b"-", b".", b"-a"]) for _ in range(300)]
    for data in fixed + randoms:
        refusing("decode", "utf-7", data, lambda d: codecs.decode(d, "utf-7"))

    # punycode.
    texts = ["", "abc", "-", "a-b", "\u00fc", "\u00fc-", "b\u00fccher", "\U0001F600", "\U0010FFFF",
             "\u0080", "\uffff", "\u4ed6\u4eec\u4e3a\u4ec0\u4e48\u4e0d\u8bf4\u4e2d\u6587", SAMPLE,
             "M\u00fcnchen-Ost", "\u00e9" * 40 + "a" * 40, "cos\nsystem\n"]
    p_alphabet = list("ab-Z9 \n") + ["\u00e9", "\u00fc", "\u20ac", "\u4e2d", "\U0001F600",
                                     "\U0010FFFF", "\u0080"]
    texts += [rand_text(p_alphabet, 16) for _ in range(300)]
    encoded = []
    for text in texts:
        out = codecs.encode(text, "punycode")
        line("encode", "punycode", text, out)
        encoded.append(out)
    fixed = [b"", b"-", b"--", b"abc", b"abc-", b"-abc", b"bcher-KVA", b"BCHER-kva", b"a-b-kva",
             b"!", b"abc-!", b"\x80", b"\xe9-kva", b"kva-\x80", b"99999999", b"a-99999999999",
             b"a-9", b"a-zz", b"ls8h", b"LS8H", b"a-sa", b"zzzzzzzzzzzz", b"a-" + b"9" * 40 + b"a",
             b"ihqwcrb4cv8a8dqg056pqjye", b"9gac", b"9hac", b"b-ae", b"uaa", b"nva"]
    randoms = [rand_bytes([bytes([c]) for c in b"abz09KZ-"] + [b"!", b"\xe9"], 10)
               for _ in range(300)]
    for data in encoded[::2] + fixed + randoms:
        refusing("decode", "punycode", data, lambda d: codecs.decode(d, "punycode"))

    # HZ: every GB2312 pair decoded in runs and encoded back, then edges and random mixes.
    pairs = []
    for hi in range(0x21, 0x7F):
        for lo in range(0x21, 0x7F):
            try:
                if len(codecs.decode(b"~{" + bytes([hi, lo]), "hz")) != 1:
                    continue
            except UnicodeDecodeError:
                continue
            pairs.append(bytes([hi, lo]))
    for i in range(0, len(pairs), 40):
        data = b"~{" + b"".join(pairs[i:i + 40]) + b"~}"
        text = codecs.decode(data, "hz")
        line("decode", "hz", data, text)
        line("encode", "hz", text, codecs.encode(text, "hz"))
    gb_chars = [codecs.decode(b"~{" + p, "hz") for p in pairs[::97]]
    texts = ["", "abc", "~", "~~", "~{", "\u4e2d~\u4e2d", "a\u4e2d\n", "\u4e2d", SAMPLE, "\u00b7",
             "\U0001F600", "\u00e9", "\u20ac", "~}\u4e2d~{", ascii_all]
    texts += [rand_text(gb_chars + list("a~{}\n ") + ["\u00b7", "\u20ac"], 10) for _ in range(300)]
    encoded = []
    for i, text in enumerate(texts):
        codec = ["hz", "HZ-GB-2312", "hzgb", "hz_gb"][i % 4]
        out = refusing("encode", codec, text, lambda t: codecs.encode(t, codec))
        if out is not None:
            encoded.append(out)
    fixed = [b"~{VP~}", b"~{VP", b"~{V", b"~", b"~x", b"~}", b"~{~{", b"~\nab", b"~{VP~\nVP~}",
             b"~{VP~~VP~}", b"~{\n~}", b"~{\xd6\xd0~}", b"\xd6\xd0", b"~{!!~}", b"~{!\x7f~}", b"~~",
             b"a~\n", b"~{~}", b"~{~}~{~}", b"~{VP~}~", b"~{ VP~}"]
    hz_noise = [b"~", b"~", b"{", b"}", b"\n", b"V", b"P", b"!", b"\x7f", b"\x80", b"A", b"0", b" "]
    randoms = [rand_bytes(hz_noise, 12) for _ in range(300)]
    randoms += [b"~{" + rand_bytes([rng.choice(pairs) for _ in range(8)] + [b"~}", b"~{"], 6)
                for _ in range(100)]
    for data in encoded[::2] + fixed + randoms:
        refusing("decode", "hz", data, lambda d: codecs.decode(d, "hz"))

    # quoted-printable (bytes to bytes).
    blobs = [b"", b"abc", b"=", b"a=b \t\n", b" ", b"\t", b"a \n", b"a\t\r\n", b".", b".\n", b"a\n.\n",
             b".a", b"\r", b"a\rb", b"a\r\nb\nc", b"a\nb\r\n", bytes(range(256)), b"x" * 75, b"x" * 76,
             b"x" * 77, b"x" * 200, b"x" * 75 + b"\n" + b"y" * 80, b"x" * 73 + b"=", b"x" * 74 + b"\xff",
             b"x" * 76 + b"\r\n", b"x" * 80 + b"\r\n" + b"y" * 80, b".\x00", b"\x00."]
    qp_alphabet = [b"a", b"a", b"a", b"a", b" ", b"\t", b"\r", b"\n", b"=", b".", b"\x00", b"\xff", b"~",
                   b"\x7f", b"\r\n"]
    blobs += [rand_bytes(qp_alphabet, 200) for _ in range(300)]
    encoded = []
    for i, data in enumerate(blobs):
        codec = ["quopri", "quopri_codec", "quoted-printable", "QuotedPrintable"][i % 4]
        out = codecs.encode(data, codec)
        line("encode", codec, data, out)
        encoded.append(out)
    fixed = [b"=", b"a=", b"=3d", b"=3D", b"=3", b"=g1", b"=\n", b"=\r\n", b"=\rx\ny", b"=\r", b"==",
             b"===", b"=4=", b"a_b", b"=20\n", b"=0a=0D", b"\xff=ff"]
    randoms = [rand_bytes([b"=", b"=", b"A", b"f", b"3", b"D", b"\r", b"\n", b" ", b"g", b"x", b"\xe9"], 12)
               for _ in range(300)]
    for data in encoded[::2] + fixed + randoms:
        refusing("decode", "quopri", data, lambda d: codecs.decode(d, "quopri"))

    # uuencode (bytes to bytes).
    blobs = [b"", b"a", b"ab", b"abc", b"\x00", bytes(range(256)), b"x" * 44, b"x" * 45, b"x" * 46,
             b"x" * 90, b"x" * 91, b"cos\nsystem\n"]
    blobs += [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 140))) for _ in range(150)]
    encoded = []
    for i, data in enumerate(blobs):
        codec = ["uu", "uu_codec", "UU"][i % 3]
        out = codecs.encode(data, codec)
        line("encode", codec, data, out)
        encoded.append(out)
    fixed = [b"", b"begin\n", b"begin\nend\n", b"begin\n\nend\n", b"begin\n \nend", b"xbegin\nend\n",
             b"junk\nbegin 644 f\n#86)C\n \nend\n", b"begin\n#86)C\nend\n", b"begin\n#86)\nend\n",
             b"begin\n#86)C  \r\nend\n", b"begin\n#86)C``\nend\n", b"begin\n#86)Cx\nend\n",
             b"begin\n#86)Cxyz\nend\n", b"begin\n#8~)C\nend\n", b"begin\n#86)C\nend\nmore\n",
             b"begin\n#86)C\nEND\n", b"begin\n#86)C\nend \n", b"begin\nend", b"begin\r\nend\r\n",
             b"begin\n`\nend\n", b"begin\n\x7f\nend\n", b"begin\nM" + b"a" * 60 + b"\nend\n",
             b"begin\n!" + b"\x00" + b"\nend\n"]
    uu_pieces = [b"begin\n", b"end\n", b"\n", b"#86)C", b"!", b"`", b" ", b"~", b"a", b"\r", b"M", b"x"]
    randoms = [b"begin 666 <data>\n" + rand_bytes(uu_pieces, 10) + rng.choice([b"", b"end\n"])
               for _ in range(300)]
    for data in encoded[::2] + fixed + randoms:
        refusing("decode", "uu", data, lambda d: codecs.decode(d, "uu"))


def iso2022_codecs():
    """The ISO-2022 codecs (crates/aigis-pickle/src/iso2022.rs): every pair of each double-byte
    set decoded in runs of 40 (in full once, every 11th pair in the other codecs designating the
    set) and encoded back, the one-byte sets and G2 single shifts byte by byte, fixed edge cases,
    seeded random strings over what each codec encodes, and random valid and invalid bytes."""
    import random
    import gen_cjk
    rng = random.Random(2022)
    esc = {"jisx0208": b"\x1b$B", "jisx0212": b"\x1b$(D", "ksx1001": b"\x1b$(C",
           "gb2312_iso": b"\x1b$A", "jisx0213_2004_1": b"\x1b$(Q",
           "jisx0213_2000_1": b"\x1b$(O", "jisx0213_2": b"\x1b$(P",
           "jisx0213_2_2000": b"\x1b$(P"}
    # JIS X 0213: plane 2 in full once (iso2022_jp_2004), plane 1 every 2nd pair there; as
    # iso2022_jp_3 reads them, every 4th pair (the sets with no codec named, at `sparse` steps).
    full = {"jisx0208": "iso2022_jp", "jisx0212": "iso2022_jp_1", "ksx1001": "iso2022_kr",
            "gb2312_iso": "iso2022_jp_2", "jisx0213_2004_1": None,
            "jisx0213_2000_1": None, "jisx0213_2": "iso2022_jp_2004", "jisx0213_2_2000": None}
    pairs = {}
    for name, (codec, prefix, _, _) in gen_cjk.CHARSETS.items():
        pairs[name] = [bytes([a, b]) for a in range(0x21, 0x7F) for b in range(0x21, 0x7F)
                       if gen_cjk.dec(prefix + bytes([a, b]), codec) is not None]
    chars = {}
    for codec, order in gen_cjk.ISO2022.items():
        pool = []
        for name in order:
            if name not in pairs:
                continue
            sparse = {"jisx0213_2004_1": 2, "jisx0213_2000_1": 4, "jisx0213_2_2000": 4}
            step = 1 if full[name] == codec else sparse.get(name, 11)
            seqs = pairs[name][::step]
            for i in range(0, len(seqs), 40):
                if codec == "iso2022_kr":
                    data = b"\x1b$)C\x0e" + b"".join(seqs[i:i + 40]) + b"\x0f"
                else:
                    data = esc[name] + b"".join(seqs[i:i + 40]) + b"\x1b(B"
                text = refusing("decode", codec, data, lambda d: codecs.decode(d, codec))
                if text is not None:
                    refusing("encode", codec, text, lambda t: codecs.encode(t, codec))
            pool += [codecs.decode(esc[name] + p, codec) for p in pairs[name][::53]]
        chars[codec] = pool
    # The one-byte sets and G2, every byte.
    for codec, prefix in [("iso2022_jp", b"\x1b(J"), ("iso2022_jp_ext", b"\x1b(I"),
                          ("iso2022_jp_ext", b"\x1b(J"), ("iso2022_jp_2", b"\x1b(J")]:
        for b in range(256):
            refusing("decode", codec, prefix + bytes([b]), lambda d: codecs.decode(d, codec))
    for prefix in [b"", b"\x1b.A", b"\x1b.F", b"\x1b.B", b"\x1b.J", b"\x1b.A\x1b.B"]:
        for b in range(256):
            data = prefix + b"\x1bN" + bytes([b])
            refusing("decode", "iso2022_jp_2", data, lambda d: codecs.decode(d, "iso2022_jp_2"))
    kana = [chr(c) for c in range(0xFF61, 0xFFA0)]
    chars["iso2022_jp_ext"] += kana
    ones = ["\u00a5", "\u203e", "\\", "~"]
    for codec in chars:
        if codec != "iso2022_kr":
            chars[codec] += ones
    extra = ["\u00e9", "\u00a0", "\u0391", "\uac00", "\u4e2d", "\uff3c", "\uff5e", "\u2225",
             "\u3164", "\u00b7", "\u2015", "\u2014", "\U0001F600", "\u20ac", "\uff61", "\u00a5",
             "\u203e", "\u00ff", "\ufffd", "\x1b", "\x0e", "\x0f", "\x80"]
    texts = ["", "abc", "cos\nsystem\n(S'id'\ntR.", "\n", "\u65e5\u672c\n\u8a9ea",
             "\uac00\n\uac00a", "a\u00a5b\u203ec\\~", "\uff71\u65e5", "\u00e9\u65e5\uac00\u4e2d",
             "\u65e5\u00e9\u65e5", "\u00a5\u65e5\u00a5", "\uac00\u00a5", SAMPLE,
             "".join(map(chr, range(128)))] + extra
    for codec in gen_cjk.ISO2022:
        alphabet = chars[codec] + list("a \n~\\\x1b\x0e\x0f") + extra[:12]
        randoms = [rand for rand in ("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
                                     for _ in range(300))]
        encoded = []
        for text in texts + randoms:
            out = refusing("encode", codec, text, lambda t: codecs.encode(t, codec))
            if out is not None:
                encoded.append(out)
        fixed = [b"", b"\x1b", b"\x1b(", b"\x1b$", b"\x1b$(", b"\x1b(B", b"\x1b(Z", b"\x1b)B",
                 b"\x1b.A", b"\x1b.F", b"\x1bN", b"\x1bNa", b"\x1b$B", b"\x1b$BF", b"\x1b$BF|",
                 b"\x1b$B\nF|", b"\x1b$BF\n", b"\x1b$B F|", b"\x1b$BF\xfc", b"\x1b$@F|",
                 b"\x1b$(BF|", b"\x1b$(@F|", b"\x1b&@\x1b$BF|", b"\x1b&@", b"\x1b&@\x1b$A",
                 b"\x1b&\x1b$B", b"\x1b$(DF|", b"\x1b$DF|", b"\x1b$)DF|", b"\x1b$AF|",
                 b"\x1b$(AF|", b"\x1b$(CF|", b"\x1b$CF|", b"\x1b$)C\x0eF|\x0fF|", b"\x0eF|",
                 b"\x1b$)C\x0eF|\nF|", b"\x1b$)C\x0e\x1b$)CF|\x0f", b"\x1b(I1", b"\x1b(J\\~",
                 b"\x1b(A1", b"\x1b)A1", b"\x1b(F1", b"\x1bx\xff\x80A\xff", b"\x1bx\xff",
                 b"\x1b\x1b$B", b"\x1bN\x1b", b"\x80", b"a\xff", b"\x1b$B\x1b(B\x80",
                 b"\x1b(ABCDEFGHIJKLMNOP", b"\x1b" + b"(" * 20 + b"B", b"\x1b" + b"(" * 14 + b"B",
                 b"\x1b" + b"(" * 15 + b"B", b"\x1b$B!!!", b"\x1b$B!\x7f", b"\x1b$B\x7f!",
                 b"\x1b$B\x0e!!", b"\x1b$B!\x0e", b"\x1b$B!\x1b(B", b"\x1b(J\x7f\x20",
                 b"\x1b(I\x7f\x20\x5f\x60", b"\x1b$B$\"\x1b$A$\"\x1b$(C$\"\x1b$(D$\""]
        pieces = [b"\x1b", b"\x1b", b"(", b")", b"$", b".", b"&", b"@", b"B", b"J", b"I", b"A",
                  b"C", b"D", b"F", b"N", b"\x0e", b"\x0f", b"\n", b"!", b"$\"", b"0!", b"F|",
                  b"a", b" ", b"\x7f", b"\x80", b"\xe1", b"~", b"\\"]
        randoms = [b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 14)))
                   for _ in range(300)]
        for data in encoded[::2] + fixed + randoms:
            refusing("decode", codec, data, lambda d: codecs.decode(d, codec))
    for alias in ["csISO2022JP", "ISO-2022-JP-1", "iso2022jp_2", "ISO2022-JP-EXT", "csISO2022KR",
                  "ISO-2022-JP-2004", "iso2022jp_3"]:
        line("encode", alias, "cos\nsystem\n", codecs.encode("cos\nsystem\n", alias))


def euc_kr_makeup():
    """EUC-KR's eight-byte make-up sequences (cjk.rs): every Hangul syllable encoded in runs of
    40 and decoded back, each jamo byte of a sequence tried with all 256 values, and truncated or
    broken sequences."""
    syllables = "".join(chr(c) for c in range(0xAC00, 0xD7A4))
    for i in range(0, len(syllables), 40):
        text = syllables[i:i + 40]
        data = codecs.encode(text, "euc_kr")
        line("encode", "euc_kr", text, data)
        line("decode", "euc_kr", data, codecs.decode(data, "euc_kr"))
    base = bytearray(codecs.encode("\ub620", "euc_kr"))
    assert len(base) == 8
    for at in range(8):
        for b in range(256):
            data = bytearray(base)
            data[at] = b
            refusing("decode", "euc_kr", bytes(data), lambda d: codecs.decode(d, "euc_kr"))
    for n in range(8):
        refusing("decode", "euc_kr", bytes(base[:n]), lambda d: codecs.decode(d, "euc_kr"))
        refusing("decode", "euc_kr", b"a" + bytes(base[:n]) + b"\xb0\xa1",
                 lambda d: codecs.decode(d, "euc_kr"))
    for data in [b"\xa4\xd4\xa4\xd4\xa4\xd4\xa4\xd4", b"\xa4\xd4\xa4\xa1\xa4\xbf\xa4\xd4" * 2,
                 b"\xa4\xd4\xb0\xa1\xb0\xa1\xb0\xa1", b"\xa4\xd3\xa4\xd4"]:
        refusing("decode", "euc_kr", data, lambda d: codecs.decode(d, "euc_kr"))
    for text in ["\u3164", "\u3164a", "a\ub620b\uac00", "\u1100", "\u3131\u314f"]:
        refusing("encode", "euc_kr", text, lambda t: codecs.encode(t, "euc_kr"))


def pair_codecs():
    """The codecs where a sequence may stand for two code points (JIS X 0213, Big5-HKSCS;
    cjk.rs): every two-code-point sequence decoded, its text encoded alone, before and after
    other characters, with its second doubled or taken from another plane (CPython's encoders
    compare the character after a first in 16 bits); every first alone, at the end, before an
    ASCII letter, twice; truncated sequences at the end of input; seeded random strings of
    firsts, seconds and other characters encoded (and decoded back); seeded random bytes from
    pieces of sequences decoded. The same for the pairs of `iso2022_jp_2004` and `iso2022_jp_3`
    (in context of escapes and JIS X 0208)."""
    import random
    import gen_cjk
    rng = random.Random(213)
    for name in gen_cjk.PAIR_CODECS:
        table, _ = gen_cjk.tables(name)
        dp = gen_cjk.dec_pairs(name)

        def seq(k):
            return k.to_bytes(1 if k < 0x100 else 2 if k < 0x10000 else 3, "big")

        enc, dec = codec_vectors(name)

        firsts = sorted({a for a, _ in dp.values()})
        seconds = sorted({b for _, b in dp.values()})
        for k, (a, b) in sorted(dp.items()):
            dec(seq(k))
            dec(b"a" + seq(k) + seq(k))
            pair = chr(a) + chr(b)
            for t in [pair, pair + "a", "a" + pair, pair + chr(b), chr(a) + pair,
                      chr(a) + chr(b | 0x10000), chr(a) + chr(b | 0x20000), pair + chr(a)]:
                enc(t)
        for a in firsts:
            for t in [chr(a), chr(a) + "a", "a" + chr(a), chr(a) * 2, chr(a) + "\u3042",
                      chr(a) + "\x00", chr(a) + "\x00a", chr(a) + "\U00010000"]:
                enc(t)
        for b in seconds:
            for t in [chr(b), "a" + chr(b), chr(b | 0x10000)]:
                enc(t)
        multi = [seq(k) for k in sorted(table)[::97] if k >= 0x100] + [seq(k) for k in sorted(dp)]
        for s in multi[::3]:
            for n in range(1, len(s)):
                dec(s[:n])
                dec(b"a" + s[:n])
                dec(s[:n] + b"a")
        others = [table[k] for k in sorted(table)[::211]]
        alphabet = ([chr(c) for c in firsts] * 3 + [chr(c) for c in seconds] * 3
                    + [chr(c | 0x10000) for c in seconds] + [chr(c) for c in others]
                    + list("a \n\x00") + ["\U0001F600", "\U00010000", "\u0100", "\u00ca", "\u00ea", "\u304b",
                                      "\u0304", "\u030c", "\u309a", "\u02e5", "\u02e9"])
        for _ in range(300):
            t = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            out = enc(t)
            if out is not None:
                dec(out)
        pieces = ([seq(k) for k in dp] + multi[::5] + [m[:1] for m in multi[::7]]
                  + [b"a", b"\n", b"\x80", b"\xff", b"\x8f", b"\xa1"])
        for _ in range(300):
            dec(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 10))))
    # The ISO-2022 codecs on JIS X 0213: plane 1's pairs (ESC $ ( Q in iso2022_jp_2004, O in
    # iso2022_jp_3), as the stateless EUC codecs' with the high bits cleared.
    for codec, source, esc in [("iso2022_jp_2004", "euc_jis_2004", b"\x1b$(Q"),
                               ("iso2022_jp_3", "euc_jisx0213", b"\x1b$(O")]:
        dp = gen_cjk.dec_pairs(source)

        enc, dec = codec_vectors(codec)

        firsts = sorted({a for a, _ in dp.values()})
        seconds = sorted({b for _, b in dp.values()})
        keys = [(k & 0x7F7F).to_bytes(2, "big") for k in sorted(dp)]
        for key, (a, b) in zip(keys, (dp[k] for k in sorted(dp))):
            dec(esc + key + b"\x1b(B")
            dec(b"a" + esc + key + key + b"\x1b$B$+" + esc + key)
            dec(esc + key[:1])
            pair = chr(a) + chr(b)
            for t in [pair, pair + "a", "a" + pair, pair + chr(b), chr(a) + pair,
                      chr(a) + chr(b | 0x10000), pair + chr(a), pair + "\u3042", "\u3042" + pair]:
                enc(t)
        for a in firsts:
            for t in [chr(a), chr(a) + "a", "a" + chr(a), chr(a) * 2, chr(a) + "\u3042",
                      chr(a) + "\x00", chr(a) + "\x00a", chr(a) + "\U00010000"]:
                enc(t)
        for b in seconds:
            enc(chr(b))
        alphabet = ([chr(c) for c in firsts] * 3 + [chr(c) for c in seconds] * 3
                    + [chr(c | 0x10000) for c in seconds]
                    + list("a \n\x00\x1b") + ["\u3042", "\u4e02", "\u4ff1", "\U00020089",
                                            "\U00020b9f", "\uff5e", "\u00a5", "\U0001F600"])
        for _ in range(300):
            t = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            out = enc(t)
            if out is not None:
                dec(out)
        pieces = keys + [esc, esc, b"\x1b$B", b"\x1b$(P", b"\x1b(B", b"$+", b"!!", b".!", b"a",
                         b"\n", b"\x1b$(O", b"\x1b$(Q", b"\x7f", b"\x80"]
        for _ in range(300):
            dec(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 10))))



def idna_codec():
    """`idna` (textcodecs.rs): folded where no label needs nameprep. Encoding: text of ASCII and
    the IDNA dots (U+3002, U+FF0E, U+FF61), labels of 0, 1, 63 and 64 characters; decoding:
    ASCII without an ACE label. Text with any other non-ASCII character, or bytes with a label
    starting with `xn--` in any case (CPython 3.13 compares lowercased), are `?` where CPython
    has a value: the fold refuses them."""
    import random
    rng = random.Random(9)
    dots = "\u3002\uff0e\uff61"

    def needs_nameprep(text):
        return any(ord(c) > 127 and c not in dots for c in text)

    def ace(data):
        return any(label.lower().startswith(b"xn--") for label in data.split(b"."))

    def vector(fn, codec, data, call, refused):
        try:
            out = call(data)
        except UnicodeError:
            print(f"{fn}\t{codec}\t{(data.encode() if isinstance(data, str) else data).hex()}\t!")
            return
        if refused(data):
            print(f"{fn}\t{codec}\t{(data.encode() if isinstance(data, str) else data).hex()}\t?")
            return
        line(fn, codec, data, out)

    def enc(text, codec="idna"):
        vector("encode", codec, text, lambda t: codecs.encode(t, codec), needs_nameprep)

    def dec(data, codec="idna"):
        vector("decode", codec, data, lambda d: codecs.decode(d, codec), ace)

    a63, a64 = "a" * 63, "a" * 64
    texts = ["", "a", ".", "..", "a.", ".a", "a..b", "Example.COM", "example.com.",
             "cos\nsystem\n(S'id'\ntR.", a63, a64, a63 + ".", a64 + ".", a63 + "." + a63,
             a63 + "." + a64, a64 + ".b", "a\u3002b", "a\uff0eb\uff61", "\u3002", "a\u3002\u3002b",
             a63 + "\u3002", a64 + "\uff61", "xn--abc", "XN--abc.de", "b\u00fccher.de",
             "\u00fc", "m\u00fcnchen\u3002de", "\u00ad", "a\u00adb", "\u0627\u0644", "xn--\u00fc",
             "\U0001F600", "\u00c0.\u00e9.", "\u200b", "a\u200bb"]
    for text in texts:
        enc(text)
    for codec in ["IDNA", " idna "]:
        enc("cos\nsystem\n", codec)
        dec(b"cos\nsystem\n", codec)
    alphabet = ["a", "Z", "0", "-", ".", ".", " ", "\n", "xn--", "\u3002", "\uff0e", "\uff61",
                "\u00fc", "\u00df", "\u00ad", "a" * 30, "a" * 63]
    for _ in range(120):
        enc("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 7))))
    b63, b64 = b"a" * 63, b"a" * 64
    datas = [b"", b"a", b".", b"..", b"a..b.", b"Example..COM.", b"cos\nsystem\n(S'id'\ntR.",
             b64 + b"." + b64, b"a" * 1100, b"xn--" + b"a" * 1100, b"axn--b", b"a.bxn--c.",
             b"xn--bcher-kva.de", b"XN--BCHER-KVA", b"Xn--bcher-kva", b"xn--abc-", b"xn--",
             b"xn--.a", b"xn--mnchen-3ya.de.", b"xn--zz", b"xn--a-\xfc", b"b\xfccher", b"\xff",
             b"a.xn--tda", b"xn--tda.xn--tda", b"xn--ls8h", b"xn--" + b"a" * 70]
    for data in datas:
        dec(data)
    pieces = [b"a", b"B", b"0", b"-", b".", b".", b" ", b"\n", b"xn--", b"XN--", b"xN--",
              b"tda", b"kva", b"\xfc", b"\x80", b63]
    for _ in range(120):
        dec(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 7))))


def named_escapes():
    """`\\N{name}` in unicode_escape (names.rs, table by scripts/fold/gen_names.py): names,
    aliases, Hangul syllables and unified ideographs as given, lowercased and mangled, the
    malformed escapes, and random strings of escape pieces; raw_unicode_escape (every third fixed one)
    leaves `\\N` as it is."""
    import random
    import unicodedata
    rng = random.Random(13)
    named = [cp for cp in range(0x110000) if unicodedata.name(chr(cp), None)]
    names = [unicodedata.name(chr(cp)) for cp in named[::1999]]
    names += ["BOM", "ZWNBSP", "LF", "NEL", "BYTE ORDER MARK", "LINE FEED", "NULL", "DELETE",
              "REVERSE SOLIDUS", "RIGHT CURLY BRACKET", "HANGUL SYLLABLE GA",
              "HANGUL SYLLABLE HIH", "HANGUL SYLLABLE A", "HANGUL SYLLABLE GGAG",
              "CJK UNIFIED IDEOGRAPH-4E00", "CJK UNIFIED IDEOGRAPH-04E00",
              "CJK UNIFIED IDEOGRAPH-3134A", "CJK COMPATIBILITY IDEOGRAPH-F900",
              "LATIN SMALL LETTER A", "latin small letter a", "Latin Small Letter A"]
    bad = ["", "NOPE", "LATIN SMALL LETTER A ", " LATIN SMALL LETTER A", "LATIN_SMALL_LETTER_A",
           "LATIN  SMALL LETTER A", "LATIN SMALL LETTER", "hangul syllable ga",
           "HANGUL SYLLABLE ga", "HANGUL SYLLABLE ", "HANGUL SYLLABLE GAX", "HANGUL SYLLABLE",
           "CJK UNIFIED IDEOGRAPH-4e00", "cjk unified ideograph-4E00",
           "CJK UNIFIED IDEOGRAPH-004E00", "CJK UNIFIED IDEOGRAPH-4DC0",
           "CJK UNIFIED IDEOGRAPH-31350", "CJK UNIFIED IDEOGRAPH-2EBF0",
           "LATIN CAPITAL LETTER A WITH MACRON AND GRAVE", "KEYCAP NUMBER SIGN",
           "TANGUT IDEOGRAPH-17000", "<noncharacter-FFFE>", "<control>", "\\N{SPACE"]
    inputs = []
    for n in names:
        inputs += [b"\\N{" + n.encode() + b"}", b"x\\N{" + n.lower().encode() + b"}y"]
    for n in bad:
        inputs.append(b"\\N{" + n.encode() + b"}")
    inputs += [b"\\N", b"\\Nx", b"\\N{", b"\\N{SPACE", b"\\N{}", b"\\N }", b"\\\\N{SPACE}",
               b"\\N{SPACE}}", b"\\N{LATIN SMALL LETTER A\x00}", b"\\N{LATIN SMALL LETTER \xc1}",
               b"\\N{SPACE}\\N{SPACE}\\x41\\u00e9\\N{bom}"]
    pieces = [b"\\N{", b"\\N{", b"}", b"}", b"SPACE", b"space", b"LATIN SMALL LETTER A", b"\\",
              b"N", b"{", b"x", b"HANGUL SYLLABLE ", b"GA", b"G", b"CJK UNIFIED IDEOGRAPH-",
              b"4E00", b"4e00", b"bom", b"\\x41", b"\\u00e9", b" ", b"\xe9"]
    fixed = list(inputs)
    for _ in range(100):
        inputs.append(b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8))))
    for codec, datas in [("unicode_escape", inputs), ("raw_unicode_escape", fixed[::3])]:
        for data in datas:
            try:
                out = codecs.decode(data, codec)
            except UnicodeDecodeError:
                print(f"decode\t{codec}\t{data.hex()}\t!")
                continue
            line("decode", codec, data, out)


if __name__ == "__main__":
    main()
