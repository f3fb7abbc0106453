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
    try:
        tf = tarfile.open(fileobj=io.BytesIO(b), mode="r:")
        members = tf.getmembers()
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "files": [], "other": [], "why": f"{type(e).__name__}: {e}"[:80]}
    files, other = [], []
    for m in members:
        if m.isreg() or m.type not in tarfile.SUPPORTED_TYPES:
            try:
                data = tf.extractfile(m).read()
            except Exception as e:  # noqa: BLE001
                data = None
            files.append([m.name, b64(data) if data is not None else None])
        else:
            other.append(m.name)
    return {"ok": True, "files": files, "other": other}


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


def yaml_cases():
    texts = list(YAML_TEXTS)
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
    write("json.jsonl.gz", json_cases())
    write("zipfile.jsonl.gz", zip_cases())
    write("tarfile.jsonl.gz", tar_cases())
    write("yaml.jsonl.gz", yaml_cases())


if __name__ == "__main__":
    main()
