#!/usr/bin/env python3
"""Differential cases for the config loaders: how Python's readers read generated variants.

Writes, under fixtures/differential/ (gzip, mtime 0, one JSON case per line):
  json.jsonl.gz     {"b": base64 bytes, "ok": bool, "v": canonical value | null}
                    -- json.loads(bytes) (the reading of Keras config.json, skops schema.json)
  zipfile.jsonl.gz  {"b": base64 zip, "ok": bool, "names": [...], "reads": {name: base64 | "!error"}}
                    -- zipfile.ZipFile(...).namelist() and .read(name) (Keras, skops, npz)
  tarfile.jsonl.gz  {"b": base64 tar, "ok": bool, "files": [[name, base64 data]], "other": [name]}
                    -- tarfile.open(...).getmembers(); a member is a file when tarfile extracts it
                       as one (isreg() or a type it does not know), with extractfile().read()
  yaml.jsonl.gz     {"t": text, "ok": bool, "targets": [[path, value]], "omegaconf": bool}
                    -- yaml.safe_load and OmegaConf.create(yaml.load(SafeLoader-based)) (NeMo)

Nothing is executed: the readers only parse. The variants are generated from a fixed seed:
valid inputs as the libraries write them, odd spellings the readers still accept (encodings,
escapes, NUL-cut and CP437 names, duplicates, prefixed and trailing data, unknown tar types) and
broken ones.

Pins: scripts/differential/requirements-config.txt (Python 3.11.7).
Run: /work/venvs/config/bin/python scripts/differential/config_loaders.py
"""
import argparse
import base64
import codecs
import gzip
import io
import json
import math
import os
import random
import struct
import tarfile
import zipfile
import zlib

import yaml

from tarbytes import pad, pax, raw_header, sparse_struct

try:
    from omegaconf import OmegaConf
    from omegaconf._utils import get_yaml_loader
except ImportError:  # pragma: no cover
    OmegaConf = None

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--scale", type=int, default=1)
ARGS.add_argument("--seed", type=int, default=20)
ARGS.add_argument("--out", default=OUT)
ARGS.add_argument("--only", help="write one file (json, zipfile, tarfile, yaml)")
OPTS = ARGS.parse_args()
rng = random.Random(OPTS.seed)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def write(name, cases):
    path = os.path.join(OPTS.out, name)
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for case in cases:
            gz.write((json.dumps(case, sort_keys=True) + "\n").encode())
    with open(path, "wb") as f:
        f.write(raw.getvalue())
    print(f"{path}: {len(cases)} cases")


# ---------------------------------------------------------------- json.loads(bytes)

def canon(v):
    """The value as aigis keeps it: lone surrogates as U+FFFD, non-finite floats as null, floats
    as the hex of their bits, ints beyond 64 bits as floats."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if -(2**63) <= v < 2**64:
            return v
        try:
            v = float(v)
        except OverflowError:
            return None
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return None
        return {"$f": struct.pack("<d", v).hex()}
    if isinstance(v, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in v)
    if isinstance(v, list):
        return [canon(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            out[canon(k)] = canon(x)
        return out
    raise TypeError(type(v))


JSON_TEXTS = [
    '{"class_name": "Sequential", "config": {"name": "m", "layers": []}}',
    '{"module": "keras.layers", "class_name": "Dense", "config": {"units": 4, "x": NaN, "y": [-Infinity, Infinity]}}',
    '{"a": 1, "a": 2}', '{"a": "x", "a": {"b": null}}',
    '{"k": "\\ud800"}', '{"k": "\\ud83d\\ude00"}', '{"k": "\\udc00\\ud800"}', '"\\u005f\\u0074arget_"',
    '{"class\\u005fname": "Lambda"}', '{"k": "\\/\\b\\f\\n\\r\\t\\"\\\\"}',
    '[1, 2.5, -0, -0.0, 1e5, 1E-5, 1.5e+3, 12345678901234567890, 123456789012345678901234567890]',
    '[1e400, -1e400, 0.1, 5e-324, 2.2250738585072014e-308]',
    ' \t\n\r{"a" \t: \r\n1 }\n', '{}', '[]', '[[[[[]]]]]', 'null', 'true', 'false', '"s"', '0', '-1',
    '{"a": 1,}', '[1,]', '[01]', '[1.]', '[.5]', '[+1]', '[1e]', '[-]', '{"a" 1}', "{'a': 1}",
    '{"a": 1} x', '{"a": 1}{"b": 2}', '', ' ', '[nan]', '[NaN1]', '[Infinityx]', '[-Infinity]',
    '"unterminated', '"\\x41"', '"\\u12"', '"\\u12G4"', '"a\tb"', '"a\x01b"', '"\x7f"', '[1 2]',
    '{"a":1 "b":2}', '{"a"}', '{1: 2}', '[true, false, null, TRUE]', '\x0c[]', '[]\x0b', '\u00a0[]',
    '{"\u00e9": "\u4e2d\u6587"}', '"\U0001f600"', '[' + '9' * 4300 + ']', '[' + '9' * 4301 + ']',
    '[-' + '9' * 4300 + ']', '[' + '1' * 5000 + '.5]', '[' + '1' * 400 + ']',
]

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


def json_cases():
    cases = []
    texts = list(JSON_TEXTS)
    for depth in (50, 99, 100, 101, 150, 500):
        texts.append("[" * depth + "1" + "]" * depth)
        texts.append('{"k": ' * depth + "1" + "}" * depth)
    for _ in range(60 * OPTS.scale):
        # Random documents from a small grammar.
        texts.append(json.dumps(random_value(4), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1, "\t"])))
    blobs = []
    for t in texts:
        for enc in ENCODINGS:
            try:
                blobs.append(t.encode(enc, "surrogatepass"))
            except UnicodeEncodeError:
                continue
    # Byte-level oddities: raw surrogates in UTF-8, invalid UTF-8, odd lengths, BOM mixes.
    blobs += [b'{"k": "\xed\xa0\x80"}', b'{"k": "\xed\xb0\x80\xed\xa0\x80"}', b'{"k": "\xff"}',
              b'{"k": "\xc0\xaf"}', b'"\xf4\x90\x80\x80"', b'\xef\xbb\xbf\xef\xbb\xbf{}',
              b'\xff\xfe{\x00}\x00\x00', b'{\x00}', b'\x00{', b'{}\x00', b'\xfe\xff\x00{\x00}',
              b'\x00\x00\x00[\x00\x00\x00]', b'[\x00\x00\x00]\x00\x00\x00', b'\xff\xfe\x00\x00[\x00\x00\x00]\x00\x00\x00',
              b'\x00\x00\xfe\xff\x00\x00\x00{\x00\x00\x00}', '{"a":"\u20ac"}'.encode("utf-16-le")[:-1],
              b'[\x00\x00\x00\x00\x00\x11\x00', b'"\x80"', b'\xef\xbb\xbf', b'[1]\xef\xbb\xbf']
    for _ in range(40 * OPTS.scale):
        base = bytearray(rng.choice(blobs))
        for _ in range(rng.randint(1, 3)):
            if not base:
                break
            op = rng.random()
            at = rng.randrange(len(base))
            if op < 0.4:
                base[at] = rng.randrange(256)
            elif op < 0.7:
                del base[at]
            else:
                base.insert(at, rng.choice(b'{}[]",:\\ 0nN-\x00\xed'))
        blobs.append(bytes(base))
    seen = set()
    for b in blobs:
        if b in seen:
            continue
        seen.add(b)
        try:
            v = json.loads(b)
            cases.append({"b": b64(b), "ok": True, "v": json.dumps(canon(v), sort_keys=True)})
        except RecursionError:
            continue
        except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
            cases.append({"b": b64(b), "ok": False, "v": None, "why": f"{type(e).__name__}: {e}"[:80]})
    return cases


def random_value(depth):
    r = rng.random()
    if depth == 0 or r < 0.3:
        return rng.choice([None, True, False, rng.randint(-10**20, 10**20), rng.random() * 1e10,
                           float("nan"), float("inf"), "", "class_name", "\u00e9\u4e2d", "\ud800x", "a\"b\\c\n",
                           "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randint(0, 8)))])
    if r < 0.65:
        return [random_value(depth - 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["module", "class_name", "config", "\u005f", "k\ud800", str(rng.random())]): random_value(depth - 1)
            for _ in range(rng.randint(0, 4))}


# ---------------------------------------------------------------- zipfile

def raw_zip(members, prefix=b"", trailing=b"", comment=b"", cd_extra=None):
    """A zip written record by record: members are dicts with name (bytes), local_name, data,
    method, flags, crc, local_flags."""
    out = bytearray(prefix)
    central = bytearray()
    base = len(prefix)
    for m in members:
        data = m["data"]
        method = m.get("method", 0)
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            stored = c.compress(data) + c.flush()
        else:
            stored = data
        crc = m.get("crc", zlib.crc32(data))
        flags = m.get("flags", 0)
        local_name = m.get("local_name", m["name"])
        offset = len(out) - base
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, m.get("local_flags", flags), method, 0, 0x21,
                           crc, len(stored), len(data), len(local_name), 0)
        out += local_name + stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, flags, method, 0, 0x21,
                               crc, len(stored), len(data), len(m["name"]), 0, 0, 0, 0, 0o100644 << 16, offset)
        central += m["name"]
    cd_offset = len(out) - base
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, len(comment))
    out += comment + trailing
    return bytes(out)


def zip_view(b):
    try:
        zf = zipfile.ZipFile(io.BytesIO(b))
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "names": [], "reads": {}, "why": f"{type(e).__name__}: {e}"[:80]}
    names = zf.namelist()
    reads = {}
    for n in dict.fromkeys(names):
        try:
            reads[n] = b64(zf.read(n))
        except Exception as e:  # noqa: BLE001
            reads[n] = "!" + f"{type(e).__name__}: {e}"[:60]
    return {"ok": True, "names": names, "reads": reads}


def zip_cases():
    cfg = b'{"class_name": "Sequential", "config": {}}'
    evil = b'{"class_name": "Lambda", "config": {}}'
    variants = []
    plain = [{"name": b"config.json", "data": cfg}, {"name": b"metadata.json", "data": b'{"keras_version": "3.15.1"}'}]
    variants.append(raw_zip(plain))
    variants.append(raw_zip([dict(m, method=8) for m in plain]))
    for prefix in (b"JUNK", b"\x80\x02N." * 10, b"\x00" * 1000, b"PK\x03\x04junk"):
        variants.append(raw_zip(plain, prefix=prefix))
    for trailing in (b"x", b"\x00" * 100, b"PK\x05\x06", b"PK\x05\x06" + b"\x00" * 18, b"junk" * 1000):
        variants.append(raw_zip(plain, trailing=trailing))
    variants.append(raw_zip(plain, comment=b"a comment"))
    # A second zip appended: zipfile reads the last end record.
    variants.append(raw_zip(plain) + raw_zip([{"name": b"config.json", "data": evil}]))
    # A fake end record after the real one, its comment running past the end of the file.
    real = raw_zip(plain)
    fake = raw_zip([{"name": b"config.json", "data": evil}])
    variants.append(real + fake[:-2] + b"\xff\xff")
    for name in (b"config.json\x00", b"config.json\x00.txt", b"config.json\x00\x00evil", b"\x00config.json",
                 b"con\x00fig.json", b"./config.json", b"/config.json", b"config.json/", b"CONFIG.JSON",
                 b"config.json ", b"\xe9config.json", b"dir\\config.json"):
        variants.append(raw_zip([{"name": name, "data": evil}] + plain[1:]))
        variants.append(raw_zip(plain + [{"name": name, "data": evil}]))
    for name, flags in ((b"\x80\x81\x82.json", 0), ("caf\u00e9.json".encode(), 0x800), (b"\xff.json", 0x800),
                        ("\u00e9".encode("cp437") + b".json", 0), (b"\x9b\xe0\xfe.json", 0)):
        variants.append(raw_zip([{"name": name, "data": cfg, "flags": flags}]))
    # Duplicates: zipfile's NameToInfo keeps the last.
    variants.append(raw_zip([{"name": b"config.json", "data": cfg}, {"name": b"config.json", "data": evil}]))
    variants.append(raw_zip([{"name": b"config.json", "data": evil}, {"name": b"config.json", "data": cfg}]))
    variants.append(raw_zip([{"name": b"config.json\x00a", "data": evil}, {"name": b"config.json", "data": cfg}]))
    variants.append(raw_zip([{"name": b"config.json", "data": cfg}, {"name": b"config.json\x00a", "data": evil}]))
    # Rejections on read: bad CRC, header name differs, encryption flag, unknown method.
    variants.append(raw_zip([{"name": b"config.json", "data": cfg, "crc": 1}]))
    variants.append(raw_zip([{"name": b"config.json", "data": cfg, "local_name": b"other.json"}]))
    variants.append(raw_zip([{"name": b"config.json\x00x", "data": cfg, "local_name": b"config.json"}]))
    variants.append(raw_zip([{"name": b"config.json", "data": cfg, "flags": 1}]))
    variants.append(raw_zip([{"name": b"config.json", "data": cfg, "flags": 0x20}]))
    variants.append(raw_zip([{"name": b"config.json", "data": cfg, "flags": 0, "local_flags": 0x800}]))
    variants.append(raw_zip([{"name": "\u00e9.json".encode(), "data": cfg, "flags": 0x800, "local_flags": 0}]))
    for _ in range(30 * OPTS.scale):
        members = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice([b"config.json", b"metadata.json", b"schema.json", b"a\x00b", b"\x8e.json",
                               b"model.weights.h5", b"config.json\x00" + bytes([rng.randrange(256)])])
            members.append({"name": name, "data": rng.choice([cfg, evil, b""]), "method": rng.choice([0, 8])})
        variants.append(raw_zip(members, prefix=rng.choice([b"", b"xx"]), trailing=rng.choice([b"", b"tail"])))
    # Zips Python itself writes.
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression) as zf:
            zf.writestr(zipfile.ZipInfo("config.json", (1980, 1, 1, 0, 0, 0)), cfg)
            zf.writestr(zipfile.ZipInfo("caf\u00e9.json", (1980, 1, 1, 0, 0, 0)), b"{}")
        variants.append(buf.getvalue())
    cases = []
    for b in variants:
        cases.append(dict(zip_view(b), b=b64(b)))
    return cases


# ---------------------------------------------------------------- tarfile

def tar_header(name: bytes, size: int, typ: bytes, link=b"", magic=b"ustar\x0000", prefix=b""):
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = b"%011o\x00" % size
    h[136:148] = b"00000000000\x00"
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157:157 + len(link[:100])] = link[:100]
    h[257:265] = magic
    h[345:345 + len(prefix[:155])] = prefix[:155]
    chk = sum(h)
    h[148:156] = b"%06o\x00 " % chk
    return bytes(h)


def tar_member(name, data, typ=b"0", **kw):
    pad = (-len(data)) % 512
    return tar_header(name, len(data), typ, **kw) + data + b"\x00" * pad


def tar_view(b):
    """What a loader iterating the archive gets: the members `tarfile` lists before it stops or
    raises (`for m in tar` extracts each as it is read), each file's `extractfile().read()` (None
    when that raises), and whether the listing raised."""
    try:
        tf = tarfile.open(fileobj=io.BytesIO(b), mode="r:")
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "files": [], "other": [], "why": f"{type(e).__name__}: {e}"[:80]}
    files, other, why = [], [], None
    try:
        for m in tf:
            if m.isreg() or m.type not in tarfile.SUPPORTED_TYPES:
                try:
                    data = tf.extractfile(m).read()
                except Exception:  # noqa: BLE001
                    data = None
                files.append([m.name, b64(data) if data is not None else None])
            else:
                other.append(m.name)
    except Exception as e:  # noqa: BLE001
        why = f"{type(e).__name__}: {e}"[:80]
    out = {"ok": why is None, "files": files, "other": other}
    if why:
        out["why"] = why
    return out


def tar_header_cases():
    """Header spellings `tarfile` accepts or refuses: checksums, number fields, old-style
    headers, where the listing ends, extended headers and the GNU sparse encodings."""
    payload = b"_target_: os.system\n"
    end = b"\x00" * 1024
    v = []
    # Checksums: the signed sum (a byte above 127 in the header), spaces, prefixes.
    v.append(raw_header(size=len(payload), fields={265: b"\xe9\xe9\xe9"}, checksum="signed") + pad(payload) + end)
    v.append(raw_header(size=len(payload), fields={265: b"\xe9\xe9\xe9"}) + pad(payload) + end)
    base = raw_header(size=len(payload), checksum=b"0")
    chk = sum(base[:148]) + 256 + sum(base[156:])
    for spelling in (b"%o" % chk, b" %o " % chk, b"0o%o\x00" % chk, b"+%o" % chk, b"%o\t" % chk,
                     b"%o_" % chk, b"-%o" % chk, b"0x%x" % chk, b"%08o" % chk):
        v.append(raw_header(size=len(payload), checksum=spelling[:8]) + pad(payload) + end)
    # The size field in every spelling int(s, 8) reads (and some it does not).
    n = len(payload)
    for spelling in (b" %o" % n, b"%o " % n, b"0o%o" % n, b"0O%o" % n, b"+%o" % n, b"%012o" % n,
                     b"0o_%o" % n, (b"%o" % n)[:1] + b"_" + (b"%o" % n)[1:],
                     b"\x80" + n.to_bytes(11, "big"), b"\x80" + (n + 512).to_bytes(11, "big"),
                     b"%o\x00junk" % n, b"\x0b%o\x1c" % n, b"%o__" % n, b"9", b"\xe9", b"  \x00"):
        v.append(raw_header(size=spelling[:12]) + pad(payload) + end)
    # Other number fields: invalid ones make the header invalid.
    for at in (100, 108, 116, 136, 329, 337):
        v.append(raw_header(size=n, fields={at: b"8"}) + pad(payload) + end)
        v.append(tar_member(b"first", b"x") + raw_header(size=n, fields={at: b"zz"}) + pad(payload) + end)
        v.append(raw_header(size=n, fields={at: b"\xff\xff"}) + pad(payload) + end)
    # Old-style (v7) headers: no magic; a NUL-type name ending in / is a folder.
    v.append(raw_header(size=n, magic=b"") + pad(payload) + end)
    v.append(raw_header(size=n, typ=b"\x00", magic=b"") + pad(payload) + end)
    v.append(raw_header(name=b"d/", size=0, typ=b"\x00", magic=b"") + raw_header(size=n, magic=b"") + pad(payload) + end)
    # Where the listing ends: an invalid header, a zero block, short or absent trailers.
    first = tar_member(b"first", b"data")
    v.append(first + b"\x01" * 512 + tar_member(b"model_config.yaml", payload) + end)
    v.append(first + b"\x00" * 512 + tar_member(b"model_config.yaml", payload) + end)
    v.append(first + tar_member(b"model_config.yaml", payload))
    v.append(first + tar_member(b"model_config.yaml", payload) + b"junk" * 25)
    v.append(first + raw_header(size=4096) + payload)
    v.append(b"\x01" * 512 + tar_member(b"model_config.yaml", payload) + end)
    # A negative size moves the next header back into an earlier member's data.
    hidden = raw_header(name=b"hidden.yaml", size=1024) + pad(payload)
    a = raw_header(name=b"a", size=1024) + hidden
    v.append(a + raw_header(name=b"b", size=b"-3000\x00") + b"\x00" * 512 + end)
    v.append(a + raw_header(name=b"b", size=b"\xff" + (2 ** 88 - 1536).to_bytes(11, "big")) + b"\x00" * 512 + end)
    v.append(raw_header(name=b"loop", size=b"-1000\x00") + end)
    # GNU long names and links, and an invalid header after one.
    v.append(raw_header(b"././@LongLink", 18, b"L") + pad(b"model_config.yaml\x00") + raw_header(name=b"short", size=n) + pad(payload) + end)
    v.append(first + raw_header(b"././@LongLink", 18, b"L") + pad(b"model_config.yaml\x00") + b"\x01" * 512 + end)
    v.append(raw_header(b"././@LongLink", 4, b"K") + pad(b"tgt\x00") + raw_header(name=b"l", typ=b"2") + end)
    # pax: path and size replace the header's; a global header renames every later member.
    v.append(pax([(b"path", b"model_config.yaml")]) + raw_header(name=b"innocent.txt", size=n) + pad(payload) + end)
    v.append(pax([(b"path", b"model_config.yaml"), (b"size", b"%d" % n)]) + raw_header(name=b"x", size=0) + pad(payload) + end)
    v.append(pax([(b"size", b" 1_0 ")]) + raw_header(name=b"x", size=n) + pad(payload) + end)
    v.append(pax([(b"size", b"zz")]) + raw_header(name=b"x", size=n) + pad(payload) + end)
    v.append(pax([(b"path", b"model_config.yaml")], b"g") + raw_header(name=b"a", size=n) + pad(payload) + raw_header(name=b"b", size=4) + pad(b"bbbb") + end)
    v.append(pax([(b"size", b"%d" % n)], b"g") + raw_header(name=b"a", size=0) + pad(payload) + end)
    v.append(pax([(b"path", b"model_config.yaml")], b"X") + raw_header(name=b"a", size=n) + pad(payload) + end)
    v.append(pax([(b"path", b"model_config.yaml/")]) + raw_header(name=b"a", size=n) + pad(payload) + end)
    zero_len = raw_header(b"././@PaxHeader", 8, b"x") + pad(b"0 path=\n")
    v.append(zero_len + raw_header(size=n) + pad(payload) + end)
    v.append(first + zero_len + raw_header(size=n) + pad(payload) + end)
    odd = b"30 path=model_config.yaml\n" + b"9 a=bcd\n"
    v.append(raw_header(b"././@PaxHeader", len(odd), b"x") + pad(odd) + raw_header(name=b"a", size=n) + pad(payload) + end)
    v.append(pax([(b"path", b"model_config.yaml")]) + b"\x01" * 512 + end)
    # Old GNU sparse: runs in the header, in extension blocks, holes laid out as zeros.
    parts = [b"_target_: ", b"os.system\n"]
    runs = [(1024, len(parts[0])), (4096, len(parts[1]))]
    stored = b"".join(parts)
    hdr = raw_header(name=b"sparse.bin", size=len(stored), typ=b"S", magic=b"ustar  \x00",
                     fields={386: sparse_struct(runs, 4), 483: b"%011o\x00" % 8192})
    v.append(hdr + pad(stored) + end)
    many = [(512 * (i + 1), 3) for i in range(9)]
    ext = sparse_struct(many[4:], 21) + b"\x00" * (512 - 21 * 24)
    hdr = raw_header(name=b"sparse.bin", size=27, typ=b"S", magic=b"ustar  \x00",
                     fields={386: sparse_struct(many, 4), 482: b"\x01", 483: b"%011o\x00" % 6000})
    v.append(hdr + ext + pad(b"abc" * 9) + end)
    hdr = raw_header(name=b"empty.bin", size=0, typ=b"S", magic=b"ustar  \x00",
                     fields={483: b"%011o\x00" % 100})
    v.append(hdr + end)
    hdr = raw_header(name=b"bad.bin", size=0, typ=b"S", magic=b"ustar  \x00",
                     fields={386: b"zz", 483: b"%011o\x00" % 100})
    v.append(first + hdr + end)
    # pax sparse 0.0, 0.1 and 1.0.
    recs = [(b"GNU.sparse.size", b"8192"), (b"GNU.sparse.numblocks", b"2"),
            (b"GNU.sparse.offset", b"1024"), (b"GNU.sparse.numbytes", b"%d" % len(parts[0])),
            (b"GNU.sparse.offset", b"4096"), (b"GNU.sparse.numbytes", b"%d" % len(parts[1]))]
    v.append(pax(recs) + raw_header(name=b"s00", size=len(stored)) + pad(stored) + end)
    recs = [(b"GNU.sparse.size", b"8192"), (b"GNU.sparse.map", b"1024,%d,4096,%d" % (len(parts[0]), len(parts[1])))]
    v.append(pax(recs) + raw_header(name=b"s01", size=len(stored)) + pad(stored) + end)
    recs = [(b"GNU.sparse.map", b"1024,x")]
    v.append(first + pax(recs) + raw_header(name=b"s01bad", size=len(stored)) + pad(stored) + end)
    mapping = b"2\n1024\n%d\n4096\n%d\n" % (len(parts[0]), len(parts[1]))
    body = pad(mapping) + stored
    recs = [(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"), (b"GNU.sparse.name", b"model_config.yaml"),
            (b"GNU.sparse.realsize", b"8192")]
    v.append(pax(recs) + raw_header(name=b"GNUSparseFile.0/x", size=len(body)) + pad(body) + end)
    # tarfile's own writer in each format.
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
            info = tarfile.TarInfo("d" * 120 + "/model_config.yaml")
            info.size, info.mtime = n, 0
            tf.addfile(info, io.BytesIO(payload))
            info = tarfile.TarInfo("ü.yaml")
            info.size, info.mtime = n, 0
            if fmt != tarfile.USTAR_FORMAT:
                tf.addfile(info, io.BytesIO(payload))
        v.append(buf.getvalue())
    return v


def tar_cases():
    payload = b"_target_: os.system\n"
    variants = []
    types = [bytes([c]) for c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"] + [b"\x00", b"a", b"z"]
    for typ in types:
        if typ in (b"L", b"K", b"x", b"g", b"X"):
            continue
        variants.append(tar_member(b"model_config.yaml", payload, typ) + b"\x00" * 1024)
    for name in (b"model_config.yaml\x00junk", b"./model_config.yaml", b"a/../model_config.yaml", b"dir/", b"x" * 100):
        variants.append(tar_member(name, payload) + b"\x00" * 1024)
    variants.append(tar_member(b"model_config.yaml", payload, prefix=b"sub") + b"\x00" * 1024)
    variants.append(tar_member(b"model_config.yaml", payload, magic=b"ustar  \x00", prefix=b"sub") + b"\x00" * 1024)
    variants.append(tar_member(b"d/", b"", b"\x00") + b"\x00" * 1024)
    variants.append(tar_member(b"a", payload) + tar_member(b"a", b"second") + b"\x00" * 1024)
    # GNU long name with a NUL inside.
    long = b"model_config.yaml\x00" + b"x" * 200 + b"\x00"
    variants.append(tar_member(b"././@LongLink", long, b"L", magic=b"ustar  \x00") + tar_member(b"short", payload, magic=b"ustar  \x00") + b"\x00" * 1024)
    cases = []
    for b in variants:
        cases.append(dict(tar_view(b), b=b64(b)))
    # tarfile's own writer, every member type it writes.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, typ in (("f", tarfile.REGTYPE), ("c", tarfile.CONTTYPE), ("d", tarfile.DIRTYPE),
                          ("l", tarfile.SYMTYPE), ("h", tarfile.LNKTYPE), ("p", tarfile.FIFOTYPE),
                          ("x" * 150 + "/model_config.yaml", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type = typ
            info.mtime = 0
            data = payload if typ in (tarfile.REGTYPE, tarfile.CONTTYPE) else b""
            info.size = len(data)
            if typ in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "f"
            tf.addfile(info, io.BytesIO(data))
    cases.append(dict(tar_view(buf.getvalue()), b=b64(buf.getvalue())))
    for b in tar_header_cases():
        cases.append(dict(tar_view(b), b=b64(b)))
    return cases


# ---------------------------------------------------------------- YAML

YAML_TEXTS = [
    "model:\n  _target_: os.system\n",
    'model:\n  "_\\x74arget_": os.system\n',
    'model:\n  "\\u005ftarget_": os.system\n',
    'model:\n  "\\U0000005ftarget_": subprocess.Popen\n',
    "model:\n  '_target_': os.system\n",
    'model: {"_target_": "os.system"}\n',
    "model: {_target_: os.system}\n",
    "model:\n  ? _target_\n  : os.system\n",
    'model:\n  ? "_tar\\\n    get_"\n  : os.system\n',
    "model:\n  !!str _target_: os.system\n",
    "k: &k _target_\nmodel:\n  *k : os.system\n",
    "base: &b {_target_: os.system}\nmodel:\n  <<: *b\n",
    "model:\n  _target_: >-\n    os.system\n",
    "model:\n  _target_: |\n    os.system\n",
    "model:\n  _target_: \"os.\\\n    system\"\n",
    "model:\n  _target_: os.\n    system\n",
    "\ufeffmodel:\n  _target_: os.system\n",
    "model:\r\n  _target_: os.system\r\n",
    "---\nmodel:\n  _target_: os.system\n...\n",
    "%YAML 1.1\n---\nmodel:\n  _target_: os.system\n",
    "model:\n  _target_: os.system # comment\n",
    "model:\n  _target_: 'os.system'\n",
    "model:\n  _target_: \"\\x6fs.system\"\n",
    "model:\n  _target_: !!str os.system\n",
    "model:\n  - _target_: os.system\n",
    "model: [{_target_: os.system}]\n",
    "model:\n\t_target_: os.system\n",
    "model:\n  _target_ : os.system\n",
    "model:\n  _target_:os.system\n",
    "model:\n  \"_target_\" : os.system\n",
    "model:\n  _target_: os.system\n  _target_: torch.nn.Linear\n",
    "model:\n  _target_: ${oc.env:X,os.system}\n",
    "a: 1\nb: [1, 2\n",
    "a: b: c\n",
    "- a\n- b\n",
    "plain text\n",
    "model:\n  \"_\\N\\x74arget_\": os.system\n",
    "model:\n  \"_\\ttarget_\": os.system\n",
    "model:\n  _target_: \"os.system\\0\"\n",
    "x: !!python/object/apply:os.system [id]\n",
]


def targets_of(v, path=""):
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            here = f"{path}.{k}" if path else str(k)
            if k == "_target_" and isinstance(x, str):
                out.append([here, x])
            out += targets_of(x, here)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += targets_of(x, f"{path}[{i}]")
    return out


def deep_yaml(levels, body):
    """`body` nested `levels` mappings deep, in block style."""
    text = "".join("  " * i + f"k{i}:\n" for i in range(levels))
    return text + "".join("  " * levels + line + "\n" for line in body)


def yaml_cases():
    texts = list(YAML_TEXTS)
    # Deeper than aigis's YAML reader goes (64 levels): the targets must still be seen, escapes
    # and aliases decoded, from the text.
    for levels in (66, 90):
        texts.append(deep_yaml(levels, ['"_\\x74arget_": os.system']))
        texts.append(deep_yaml(levels, ["'_target_': subprocess.Popen"]))
        texts.append(deep_yaml(levels, ['x: &t "_\\u0074arget_"', "*t : builtins.exec"]))
        texts.append(deep_yaml(levels, ['"_target_": "os.sys\\x74em"']))
    texts.append("{a: " * 70 + '{"_\\x74arget_": os.system}' + "}" * 70 + "\n")
    keys = ["_target_", '"_\\x74arget_"', "'_target_'", '"\\x5ftarget_"', "target", "_target"]
    for _ in range(40 * OPTS.scale):
        key = rng.choice(keys)
        value = rng.choice(["os.system", "torch.nn.Linear", '"os.system"', "'subprocess.Popen'"])
        indent = rng.choice(["  ", "    ", "\t"])
        nl = rng.choice(["\n", "\r\n"])
        texts.append(f"model:{nl}{indent}{key}: {value}{nl}{indent}x: {rng.randint(0, 9)}{nl}")
    cases = []
    for t in dict.fromkeys(texts):
        case = {"t": t}
        try:
            docs = list(yaml.safe_load_all(t))
            case["ok"] = True
            case["targets"] = sorted(sum((targets_of(d) for d in docs), []))
        except Exception as e:  # noqa: BLE001
            case["ok"] = False
            case["targets"] = []
            case["why"] = f"{type(e).__name__}: {e}"[:80]
        if OmegaConf is not None:
            try:
                obj = yaml.load(io.StringIO(t), Loader=get_yaml_loader())
                OmegaConf.create(obj)
                case["omegaconf"] = True
            except Exception:  # noqa: BLE001
                case["omegaconf"] = False
        cases.append(case)
    return cases


def main():
    os.makedirs(OPTS.out, exist_ok=True)
    for name, make in (("json", json_cases), ("zipfile", zip_cases), ("tarfile", tar_cases),
                       ("yaml", yaml_cases)):
        if OPTS.only in (None, name):
            write(f"{name}.jsonl.gz", make())


if __name__ == "__main__":
    main()
