#!/usr/bin/env python3
"""Test vectors for crates/aigis-pickle/src/fold.rs, computed by CPython's own functions.

Each line: `function<TAB>codec<TAB>input hex<TAB>output hex`, where text is UTF-8 hex.
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
    for alias in ["sjis", "ms932", "EUC-JP", "936", "gb18030-2000", "big5-tw", "ks_c_5601-1987"]:
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


if __name__ == "__main__":
    main()
