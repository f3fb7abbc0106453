#!/usr/bin/env python3
"""Differential cases for GGUF: which files the real readers accept, and the chat templates they see.

Writes fixtures/differential/gguf.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"b": base64 file, "why": how it was made,
   "ok": bool, "error": message | null, "templates": {key: [text, ...]},   -- gguf.GGUFReader
   "cpp_ok": bool, "cpp_error": message | null, "cpp_templates": {...},   -- llama.cpp's rules
   "dup_templates": {key: [text, ...]}}                                   -- duplicates kept

`ok`/`error`/`templates` are the real reading of `gguf.GGUFReader(path)` (gguf-py, what
transformers' `load_gguf_checkpoint` and the llama.cpp Python tools read GGUF with), run in a
forked child with its address space capped and a time limit (a reader that does not finish has not
loaded the file). Accepted means the constructor returned. `templates` are the fields named
`tokenizer.chat_template` or `tokenizer.chat_template.<name>` as gguf-py holds them: a string
value, or every string of an array value (transformers unwraps a one-element array into the
string it renders). gguf-py refuses a duplicate key (KeyError), decodes keys and tensor names as
strict UTF-8 but never the values, reads short at the end of the file without complaint (a string
or array running past the end is cut, not refused), accepts nested arrays, misaligned,
overlapping or out-of-order tensor data, more than 4 dimensions and long tensor names, and reads
big-endian files (version & 0xFFFF == 0 means the other byte order). Text is decoded with
errors="replace".

`cpp_*` is llama.cpp's C reader (`ggml/src/gguf.cpp`, `gguf_init_from_file_impl`, as of 2026)
ported rule for rule below, plus the bound `llama_model_loader` puts on every tensor (data inside
the file), on a host of the file's byte order (a big-endian file is read as s390x reads it).
Rules: versions 2 and 3 only; no empty and no duplicate keys; no nested arrays; strings up to
1 GiB and arrays up to 2^30 elements, each no longer than what is left; `general.alignment` a u32
power of two; tensor names shorter than 64 bytes and unique as C strings; at most 4 dimensions,
none negative, element count and byte size representable; a known ggml type whose block divides
the row; tensors stored back to back in the order of their infos, each padded to the alignment;
every tensor inside the file. The templates it sees are what `llama_model_chat_template` returns:
string values under keys that equal `tokenizer.chat_template[.<name>]` up to their first NUL (the
`gguf_kv` map is keyed by C string; the first such key wins), cut at their first NUL (`c_str()`).
`dup_templates` is the same port with the duplicate-key refusal switched off (older llama.cpp
kept the first, map-based readers such as candle's or ollama's keep the last): every copy.

Variants from a fixed seed: files `gguf.GGUFWriter` writes (every value type, arrays, nested
arrays, non-ASCII strings, chat templates default and named, tensors of several ggml types,
little- and big-endian, `general.alignment` values), then hand-built variants: versions, lying
string lengths, truncations, huge counts, duplicate keys (a duplicated `tokenizer.chat_template`
with different values among them), templates as arrays and as other types, invalid UTF-8 and NULs,
misaligned, overlapping, out-of-order and out-of-bounds tensor data, zero tensors, bit flips. Some
templates carry a dunder walk (`{{ ''.__class__.__mro__ }}`).

Pins: gguf==0.19.0, numpy (scripts/differential/requirements-gguf.txt).
Run: /work/venvs/gguf/bin/python scripts/differential/gguf_files.py
"""
import argparse
import base64
import json
import logging
import os
import random
import resource
import signal
import struct
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

from casefile import write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")

logging.disable(logging.CRITICAL)

TEMPLATE = "tokenizer.chat_template"
BENIGN = [
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n'"
    " }}{% endif %}",
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content']"
    " + ' [/INST]' }}{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}",
    "{% for m in messages %}{{ m.role }}: {{ m.content | trim }}\n{% endfor %}",
    "{{ '你好, Grüße — ' }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
    "plain text, no tags",
]
# Kept verbatim in the test (loaders/tests_gguf.rs): a template holding one is a payload.
PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
]

# ggml types gguf-py knows: (block, bytes per block)
SIZES = {int(k): v for k, v in gguf.GGML_QUANT_SIZES.items()}
GGML_TYPE_COUNT = 42  # ggml.h at the same time (Q1_0 = 41 is the last)


def template_text(rng, payload=None):
    """A benign template, or (payload=True) one with a dunder walk inside."""
    if payload is None:
        payload = rng.random() < 0.4
    text = rng.choice(BENIGN)
    if payload:
        p = rng.choice(PAYLOADS)
        at = rng.choice([0, len(text)])
        text = text[:at] + p + text[at:]
    return text


# ---------------------------------------------------------------------------------------------
# The readings
# ---------------------------------------------------------------------------------------------

def is_template_key(name):
    return name == TEMPLATE or name.startswith(TEMPLATE + ".")


def text(b):
    return bytes(b).decode("utf-8", "replace")


def py_read_child(path):
    """gguf.GGUFReader(path): (accepted, error, templates)."""
    try:
        reader = gguf.GGUFReader(path)
    except BaseException as e:  # noqa: BLE001 -- RecursionError, MemoryError, KeyError alike
        return False, f"{type(e).__name__}: {e}"[:200], {}
    templates = {}
    for name, field in reader.fields.items():
        if not is_template_key(name) or not field.types:
            continue
        if field.types[-1] == VT.STRING:
            templates[name] = [text(field.parts[i]) for i in field.data]
    return True, None, templates


# Which of the two limits a runaway reading hits first depends on the machine.
GAVE_UP = "reader did not finish within its memory and time limits"


def py_read(b, seconds=20):
    """The real reading, in a forked child (address space 768 MiB, `seconds` of CPU)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.gguf")
        with open(path, "wb") as f:
            f.write(b)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))
                resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
                out = json.dumps(py_read_child(path)).encode()
            except BaseException as e:  # noqa: BLE001
                out = json.dumps([False, f"{type(e).__name__}: {e}"[:200], {}]).encode()
            with os.fdopen(w, "wb") as f:
                f.write(out)
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read()
        _, status = os.waitpid(pid, 0)
        if not out:
            # CPU limit, or memory gone while raising (an abort, or an exit with no output)
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            if sig in (None, signal.SIGXCPU, signal.SIGKILL, signal.SIGABRT):
                return False, GAVE_UP, {}
            return False, f"reader died ({signal.Signals(sig).name})", {}
        ok, error, templates = json.loads(out)
        if error and error.startswith("MemoryError"):
            return False, GAVE_UP, {}
        return ok, error, templates


class Refused(Exception):
    pass


class CppReader:
    """llama.cpp's `gguf_reader`: reads of what is left, nothing past the end."""

    def __init__(self, b, order):
        self.b, self.pos, self.o = b, 0, order

    def remain(self):
        return len(self.b) - self.pos

    def raw(self, n, what):
        if n > self.remain():
            raise Refused(f"{what}: {n} bytes, {self.remain()} left")
        out = self.b[self.pos:self.pos + n]
        self.pos += n
        return out

    def fmt(self, f, what):
        size = struct.calcsize(f)
        return struct.unpack(self.o + f, self.raw(size, what))[0]

    def string(self, what):
        n = self.fmt("Q", what + " length")
        if n > 1 << 30:
            raise Refused(f"{what}: string length {n} exceeds maximum")
        return self.raw(n, what)


SCALAR = {VT.UINT8: "B", VT.INT8: "b", VT.UINT16: "H", VT.INT16: "h", VT.UINT32: "I",
          VT.INT32: "i", VT.FLOAT32: "f", VT.BOOL: "b", VT.UINT64: "Q", VT.INT64: "q",
          VT.FLOAT64: "d"}


def cpp_read(b, duplicates_refused=True):
    """llama.cpp's reading (see the module doc): (accepted, error, templates)."""
    try:
        return (True, None) + (cpp_parse(b, duplicates_refused),)
    except Refused as e:
        return False, str(e)[:200], {}


def cpp_parse(b, duplicates_refused):
    r = CppReader(b, "<")
    if r.raw(4, "magic") != b"GGUF":
        raise Refused("invalid magic")
    version = r.fmt("I", "version")
    if version != 0 and version & 0xFFFF == 0:
        # a host of the file's byte order reads it natively
        r.o = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version == 0 or version == 1 or version > 3 or version & 0xFFFF == 0:
        raise Refused(f"version {version}")
    n_tensors = r.fmt("q", "tensor count")
    if n_tensors < 0 or n_tensors > (1 << 64) // 344:
        raise Refused(f"tensor count {n_tensors}")
    n_kv = r.fmt("q", "kv count")
    if n_kv < 0 or n_kv > (1 << 64) // 88:
        raise Refused(f"kv count {n_kv}")
    kvs = []  # (key, is_array, type, value)
    for _ in range(n_kv):
        key = r.string("key")
        if not key:
            raise Refused("empty key")
        if duplicates_refused and any(k == key for k, *_ in kvs):
            raise Refused(f"duplicate key {key!r}")
        t = r.fmt("i", "type")
        is_array, n = False, 1
        if t == VT.ARRAY:
            is_array = True
            t = r.fmt("i", "array type")
            n = r.fmt("Q", "array length")
        if t not in SCALAR and t != VT.STRING:
            raise Refused(f"key {key!r} has invalid GGUF type {t}")
        if is_array:
            if n > 1 << 30:
                raise Refused("array too long")
            size = 8 if t == VT.STRING else struct.calcsize(SCALAR[t])
            if r.remain() < n * size:
                raise Refused("array longer than the file")
            value = [r.string("array string") if t == VT.STRING else r.fmt(SCALAR[t], "array item")
                     for _ in range(n)]
        else:
            value = r.string("value") if t == VT.STRING else r.fmt(SCALAR[t], "value")
        kvs.append((key, is_array, t, value))

    def cstr(k):
        return k.split(b"\0")[0]

    alignment = 32
    found = [kv for kv in kvs if cstr(kv[0]) == b"general.alignment"]  # gguf_find_key: strcmp
    if found:
        _, is_array, t, value = found[0]
        if is_array or t != VT.UINT32:
            raise Refused("general.alignment must be of type u32")
        alignment = value
    if alignment == 0 or alignment & (alignment - 1):
        raise Refused(f"alignment {alignment} is not a power of 2")

    infos = []
    for _ in range(n_tensors):
        name = r.string("tensor name")
        if len(name) >= 64:
            raise Refused("tensor name too long")
        if any(cstr(name[:63]) == cstr(other[:63]) for other, *_ in infos):
            raise Refused(f"duplicate tensor name {name!r}")
        n_dims = r.fmt("I", "n_dims")
        if n_dims > 4:
            raise Refused(f"{n_dims} dimensions")
        ne = [1, 1, 1, 1]
        for j in range(n_dims):
            ne[j] = r.fmt("q", "dimension")
            if ne[j] < 0:
                raise Refused("negative dimension")
        nel = ne[0] * ne[1] * ne[2] * ne[3]
        i64 = (1 << 63) - 1
        if nel > 0 and (i64 // ne[1] <= ne[0] or i64 // ne[2] <= ne[0] * ne[1]
                        or i64 // ne[3] <= ne[0] * ne[1] * ne[2]):
            raise Refused("element count overflows")
        t = r.fmt("i", "tensor type")
        if t < 0 or t >= GGML_TYPE_COUNT:
            raise Refused(f"ggml type {t}")
        if t not in SIZES:
            raise Refused(f"ggml type {t} has block size 0")
        block, tsize = SIZES[t]
        if ne[0] % block:
            raise Refused("row not a multiple of the block")
        if nel // block > ((1 << 64) - 1) // tsize:
            raise Refused("byte size overflows")
        offset = r.fmt("Q", "tensor offset")
        nbytes = 0 if nel == 0 else nel // block * tsize
        infos.append((name, nbytes, offset))

    data = r.pos
    if n_tensors > 0:
        data = -(-r.pos // alignment) * alignment
        if data > len(b):
            raise Refused("data section past the end")
    expected = 0
    for name, nbytes, offset in infos:
        if offset != expected:
            raise Refused(f"tensor {name!r} has offset {offset}, expected {expected}")
        expected += -(-nbytes // alignment) * alignment
    for name, nbytes, offset in infos:
        if data + offset + nbytes > len(b):
            raise Refused(f"tensor {name!r} data is not within the file bounds")

    templates = {}
    for key, is_array, t, value in kvs:
        k = cstr(key)
        if (k == TEMPLATE.encode() or k.startswith(TEMPLATE.encode() + b".")) \
                and not is_array and t == VT.STRING:
            if duplicates_refused and text(k) in templates:
                continue  # the map keeps the first
            templates.setdefault(text(k), []).append(text(value.split(b"\0")[0]))
    return templates


# ---------------------------------------------------------------------------------------------
# Files the real writer writes
# ---------------------------------------------------------------------------------------------

def random_string(rng):
    return rng.choice(["", "a", "llama", "Grüße", "日本語のテキスト", "emoji 🦙", "tab\tnew\nline",
                       "x" * rng.randrange(1, 80)])


def random_value(rng, depth=0):
    """(value, type, sub_type) for GGUFWriter.add_key_value."""
    kinds = [VT.UINT8, VT.INT8, VT.UINT16, VT.INT16, VT.UINT32, VT.INT32, VT.FLOAT32, VT.BOOL,
             VT.STRING, VT.UINT64, VT.INT64, VT.FLOAT64] + ([VT.ARRAY] * 2 if depth < 2 else [])
    t = rng.choice(kinds)
    bits = {VT.UINT8: 8, VT.UINT16: 16, VT.UINT32: 32, VT.UINT64: 64}
    sbits = {VT.INT8: 8, VT.INT16: 16, VT.INT32: 32, VT.INT64: 64}
    if t in bits:
        return rng.choice([0, 1, (1 << bits[t]) - 1, rng.randrange(1 << bits[t])]), t, None
    if t in sbits:
        return rng.choice([0, -1, -(1 << (sbits[t] - 1)), rng.randrange(1 << (sbits[t] - 1))]), t, None
    if t in (VT.FLOAT32, VT.FLOAT64):
        return rng.choice([0.0, -1.5, 1e-6, 3.25]), t, None
    if t == VT.BOOL:
        return rng.random() < 0.5, t, None
    if t == VT.STRING:
        return random_string(rng), t, None
    sub = rng.choice([VT.UINT8, VT.INT32, VT.FLOAT32, VT.STRING, VT.BOOL, VT.UINT64]
                     + ([VT.ARRAY] if depth < 1 else []))
    n = rng.randrange(1, 5)
    if sub == VT.ARRAY:
        inner = rng.choice([VT.UINT8, VT.STRING, VT.INT32])
        items = [[random_leaf(rng, inner) for _ in range(rng.randrange(1, 3))] for _ in range(n)]
    else:
        items = [random_leaf(rng, sub) for _ in range(n)]
    return items, VT.ARRAY, sub


def random_leaf(rng, t):
    if t == VT.STRING:
        return random_string(rng) or "s"
    if t == VT.FLOAT32:
        return rng.choice([0.5, -2.0])
    if t == VT.BOOL:
        return rng.random() < 0.5
    return rng.randrange(0, 100)


TENSOR_TYPES = [QT.F32, QT.F16, QT.F64, QT.I8, QT.I16, QT.I32, QT.I64, QT.BF16, QT.Q4_0, QT.Q8_0,
                QT.Q4_K, QT.Q6_K, QT.IQ4_NL, QT.MXFP4, QT.TQ2_0]
NUMPY = {QT.F32: np.float32, QT.F16: np.float16, QT.F64: np.float64, QT.I8: np.int8,
         QT.I16: np.int16, QT.I32: np.int32, QT.I64: np.int64}


def add_tensors(rng, writer, count):
    for i in range(count):
        t = rng.choice(TENSOR_TYPES)
        block, tsize = SIZES[int(t)]
        rows = rng.randrange(1, 3)
        cols = block * rng.randrange(1, 3) if block > 1 else rng.randrange(1, 9)
        name = f"blk.{i}.{rng.choice(['attn_q', 'ffn_up', 'output'])}.weight"
        if t in NUMPY:
            arr = (np.arange(rows * cols) % 7).astype(NUMPY[t]).reshape(rows, cols)
            writer.add_tensor(name, arr)
        else:
            raw = np.zeros((rows, cols // block * tsize), dtype=np.uint8)
            writer.add_tensor(name, raw, raw_dtype=t)


def written(rng, endian=None):
    """(why, bytes) from gguf.GGUFWriter."""
    big = rng.random() < 0.25 if endian is None else endian
    why = ["GGUFWriter", "big-endian" if big else "little-endian"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.gguf")
        w = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG if big else gguf.GGUFEndian.LITTLE)
        w.add_name(random_string(rng) or "model")
        w.add_file_type(rng.choice([0, 1, 7, 15]))
        if rng.random() < 0.4:
            a = rng.choice([1, 8, 16, 64, 128, 256, 4096])
            w.add_custom_alignment(a)
            why.append(f"alignment {a}")
        for i in range(rng.randrange(0, 8)):
            value, t, sub = random_value(rng)
            w.add_key_value(f"test.k{i}.{t.name.lower()}", value, t, sub_type=sub)
        choice = rng.random()
        if choice < 0.45:
            w.add_chat_template(template_text(rng))
            why.append("chat template")
        elif choice < 0.75:
            names = rng.sample(["default", "tool_use", "rag", "nl"], rng.randrange(1, 4))
            w.add_chat_template([{"name": n, "template": template_text(rng)} for n in names])
            why.append("named chat templates " + ",".join(sorted(names)))
        if rng.random() < 0.3:
            w.add_key_value("general.description", rng.choice(PAYLOADS), VT.STRING)
            why.append("payload outside a template")
        n = rng.choice([0, 0, 1, 2, 3, 5])
        add_tensors(rng, w, n)
        why.append(f"{n} tensors")
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        with open(path, "rb") as f:
            return ", ".join(why), f.read()


# ---------------------------------------------------------------------------------------------
# Files built by hand
# ---------------------------------------------------------------------------------------------

class Enc:
    def __init__(self, big=False, version=3):
        self.o = ">" if big else "<"
        self.version = version

    def p(self, f, v):
        return struct.pack(self.o + f, v)

    def n(self, v):
        """A count or length (u32 in version 1)."""
        return self.p("I", v) if self.version == 1 else self.p("Q", v)

    def s(self, v, length=None):
        v = v.encode() if isinstance(v, str) else v
        return self.n(len(v) if length is None else length) + v

    def val(self, t, v):
        """A value without its type; arrays are (sub_type, items[, count])."""
        if t == VT.STRING:
            return self.s(v)
        if t == VT.ARRAY:
            sub, items = v[0], v[1]
            count = v[2] if len(v) > 2 else len(items)
            return self.p("I", sub) + self.n(count) + b"".join(self.val(sub, i) for i in items)
        if t == VT.BOOL:
            return bytes([v])
        return self.p(SCALAR[t], v)

    def kv(self, key, t, v):
        return self.s(key) + self.p("I", t) + self.val(t, v)

    def info(self, name, dims, t, offset):
        return (self.s(name) + self.p("I", len(dims)) + b"".join(self.n(d) if self.version == 1
                else self.p("Q", d) for d in dims) + self.p("I", t) + self.p("Q", offset))


def nbytes(dims, t):
    block, tsize = SIZES.get(t, (1, 1))
    nel = 1
    for d in dims:
        nel *= d
    return nel // block * tsize


def build(kvs, tensors=(), big=False, version=3, alignment=32, n_tensors=None, n_kv=None,
          offsets=None, data_extra=b""):
    """A file: `kvs` are (key, type, value), `tensors` (name, dims, ggml type); offsets laid out
    back to back unless given."""
    e = Enc(big, version)
    head = b"GGUF" + e.p("I", version)
    head += e.n(len(tensors) if n_tensors is None else n_tensors)
    head += e.n(len(kvs) if n_kv is None else n_kv)
    body = b"".join(e.kv(*kv) if isinstance(kv, tuple) else kv for kv in kvs)
    laid, at = [], 0
    for name, dims, t in tensors:
        laid.append(at)
        at += -(-nbytes(dims, t) // alignment) * alignment
    if offsets is not None:
        laid = offsets
    infos = b"".join(e.info(name, dims, t, off) for (name, dims, t), off in zip(tensors, laid))
    out = head + body + infos
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        end = max((off + nbytes(d, t) for (_, d, t), off in zip(tensors, laid)), default=0)
        out += b"\0" * min(end, 4096)
    return out + data_extra


def base_kvs(rng):
    kvs = [("general.architecture", VT.STRING, "llama"), ("general.name", VT.STRING, "tiny")]
    if rng.random() < 0.5:
        kvs.append(("llama.context_length", VT.UINT32, 2048))
    return kvs


def base_tensors(rng):
    out = []
    for i in range(rng.randrange(1, 3)):
        t = rng.choice([QT.F32, QT.F16, QT.Q4_0, QT.Q8_0, QT.I8])
        block = SIZES[int(t)][0]
        out.append((f"t{i}", [block * rng.randrange(1, 3), rng.randrange(1, 3)], int(t)))
    return out


def hand_built(rng):
    """(why, bytes) variants built field by field."""
    out = []
    kvs = base_kvs(rng)
    ten = base_tensors(rng)
    big = rng.random() < 0.2
    tb, tp = template_text(rng, False), template_text(rng, True)
    T = TEMPLATE
    add = out.append
    add(("hand-built, as laid out", build(kvs + [(T, VT.STRING, tp)], ten, big=big)))
    add(("hand-built, zero tensors, template", build(kvs + [(T, VT.STRING, tp)], big=big)))
    add(("hand-built, zero tensors, zero keys", build([], big=big)))
    for v in [1, 2, 4, 0, 0xFFFF, 0x10003]:
        add((f"version {v}", build(kvs + [(T, VT.STRING, tp)], ten if v != 1 else (), big=big,
                                   version=v)))
    add(("version 1 layout (u32 counts), template",
         build(kvs + [(T, VT.STRING, tp)], version=1, big=big)))
    # both byte orders in one file
    f = build(kvs + [(T, VT.STRING, tp)], ten, big=False)
    add(("big-endian version, little-endian rest", f[:4] + struct.pack(">I", 3) + f[8:]))
    # duplicated keys
    add(("duplicate tokenizer.chat_template, payload last",
         build(kvs + [(T, VT.STRING, tb), (T, VT.STRING, tp)], ten, big=big)))
    add(("duplicate tokenizer.chat_template, payload first",
         build(kvs + [(T, VT.STRING, tp), (T, VT.STRING, tb)], ten, big=big)))
    add(("duplicate tokenizer.chat_template, identical",
         build(kvs + [(T, VT.STRING, tp), (T, VT.STRING, tp)], big=big)))
    add(("duplicate named template", build(kvs + [(T + ".tool_use", VT.STRING, tb),
                                                  (T + ".tool_use", VT.STRING, tp)], big=big)))
    add(("duplicate general.name", build(kvs + [("general.name", VT.STRING, "other")], ten, big=big)))
    add(("duplicate key, another type", build(kvs + [("general.name", VT.UINT32, 7)], big=big)))
    # templates of other shapes
    add(("template as a one-element string array", build(kvs + [(T, VT.ARRAY, (VT.STRING, [tp]))], ten, big=big)))
    add(("template as a two-element string array", build(kvs + [(T, VT.ARRAY, (VT.STRING, [tb, tp]))], big=big)))
    add(("template as a nested string array",
         build(kvs + [(T, VT.ARRAY, (VT.ARRAY, [(VT.STRING, [tp])]))], big=big)))
    add(("template as u32", build(kvs + [(T, VT.UINT32, 7)], ten, big=big)))
    add(("template as bool", build(kvs + [(T, VT.BOOL, 1)], big=big)))
    add(("template as f64", build(kvs + [(T, VT.FLOAT64, 1.5)], big=big)))
    add(("template as u8 array of its bytes",
         build(kvs + [(T, VT.ARRAY, (VT.UINT8, list(tp.encode())))], big=big)))
    add(("template with invalid UTF-8", build(kvs + [(T, VT.STRING, tp.encode() + b"\xff\xfe")], ten, big=big)))
    add(("template with invalid UTF-8 before the payload",
         build(kvs + [(T, VT.STRING, b"\xc3(" + tp.encode())], big=big)))
    add(("template with a NUL before the payload",
         build(kvs + [(T, VT.STRING, tb.encode() + b"\0" + PAYLOADS[0].encode())], big=big)))
    add(("template with a NUL after the payload",
         build(kvs + [(T, VT.STRING, PAYLOADS[0].encode() + b"\0" + tb.encode())], big=big)))
    add(("template key with a NUL and a suffix",
         build(kvs + [(T.encode() + b"\0x", VT.STRING, tp)], ten, big=big)))
    add(("template key with a trailing NUL",
         build(kvs + [(T.encode() + b"\0", VT.STRING, tp)], big=big)))
    add(("template key with a trailing NUL after the real one",
         build(kvs + [(T, VT.STRING, tb), (T.encode() + b"\0", VT.STRING, tp)], big=big)))
    add(("named template key with a NUL",
         build(kvs + [(T.encode() + b".rag\0zz", VT.STRING, tp)], big=big)))
    add(("template-like key, different case", build(kvs + [("Tokenizer.Chat_Template", VT.STRING, tp)], big=big)))
    add(("template-like key without the dot", build(kvs + [(T + "s", VT.ARRAY, (VT.STRING, ["rag"])),
                                                           (T + "x", VT.STRING, tp)], big=big)))
    add(("empty named template key", build(kvs + [(T + ".", VT.STRING, tp)], big=big)))
    add(("empty template", build(kvs + [(T, VT.STRING, "")], ten, big=big)))
    add(("payload in a non-template key", build(kvs + [("general.description", VT.STRING, PAYLOADS[1])], ten, big=big)))
    add(("payload in a string array", build(kvs + [("tokenizer.ggml.tokens", VT.ARRAY, (VT.STRING, ["a", PAYLOADS[0]]))], big=big)))
    # keys
    add(("empty key", build(kvs + [("", VT.UINT8, 1), (T, VT.STRING, tp)], big=big)))
    add(("key with invalid UTF-8", build(kvs + [(b"general.\xff", VT.UINT8, 1), (T, VT.STRING, tp)], big=big)))
    add(("non-ASCII key", build(kvs + [("général.nom", VT.STRING, "x"), (T, VT.STRING, tp)], ten, big=big)))
    add(("long key (70000 bytes)", build(kvs + [("k" * 70000, VT.UINT8, 1)], big=big)))
    add(("unknown value type 13",
         build(kvs + [Enc(big).s("x") + Enc(big).p("I", 13) + b"\0" * 8], big=big)))
    add(("unknown value type 0xffffffff",
         build(kvs + [Enc(big).s("x") + Enc(big).p("I", 0xFFFFFFFF) + b"\0" * 8], big=big)))
    add(("empty array of an unknown type", build(kvs + [("x", VT.ARRAY, (99, [])), (T, VT.STRING, tp)], big=big)))
    add(("empty array", build(kvs + [("x", VT.ARRAY, (VT.UINT32, [])), (T, VT.STRING, tp)], ten, big=big)))
    add(("bool value 2", build(kvs + [("x", VT.BOOL, 2)], ten, big=big)))
    for depth in [2, 3, 5, 40]:
        v = (VT.UINT8, [1])
        for _ in range(depth - 1):
            v = (VT.ARRAY, [v])
        add((f"arrays nested {depth} deep, then a template", build(kvs + [("x", VT.ARRAY, v), (T, VT.STRING, tp)], big=big)))
    add(("nested arrays of different element types",
         build(kvs + [("x", VT.ARRAY, (VT.ARRAY, [(VT.UINT8, [1]), (VT.STRING, ["a", "b"])]))], big=big)))
    # alignment
    for t, v in [(VT.UINT32, 1), (VT.UINT32, 8), (VT.UINT32, 64), (VT.UINT32, 0), (VT.UINT32, 3),
                 (VT.UINT32, 48), (VT.UINT32, 1 << 31), (VT.UINT64, 32), (VT.INT32, 32),
                 (VT.UINT8, 32), (VT.STRING, "32"), (VT.ARRAY, (VT.UINT32, [32]))]:
        a = v if t == VT.UINT32 and v and not v & (v - 1) else 32
        a = a if a <= 4096 else 32
        add((f"general.alignment {t.name} {v!r}"[:60],
             build(kvs + [("general.alignment", t, v)], ten, big=big, alignment=a)))
    add(("general.alignment 64, data laid out for 32",
         build(kvs + [("general.alignment", VT.UINT32, 64)], ten, big=big, alignment=32)))
    add(("general.alignment key with a NUL",
         build(kvs + [(b"general.alignment\0", VT.UINT32, 64)], ten, big=big, alignment=64)))
    # counts and lengths
    good = build(kvs + [(T, VT.STRING, tp)], big=big)
    e = Enc(big)
    for n in [len(kvs) + 2, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]:
        add((f"kv count {n}", good[:16] + e.p("Q", n) + good[24:]))
    for n in [1, 1 << 40, 1 << 63, (1 << 64) - 1]:
        add((f"tensor count {n}, no infos", good[:8] + e.p("Q", n) + good[16:]))
    add(("kv count one short", good[:16] + e.p("Q", len(kvs)) + good[24:]))
    n = len(tp.encode())
    for lie, label in [(n + 1, "one long"), (n - 1, "one short"), (n + (1 << 20), "2^20 long"),
                       (1 << 40, "2^40"), (1 << 63, "2^63"), ((1 << 64) - 1, "u64 max")]:
        head = build(kvs, big=big, n_kv=len(kvs) + 1)
        raw = e.s(T) + e.p("I", VT.STRING) + e.p("Q", lie) + tp.encode()
        add((f"template length {label}, last in the file", head + raw))
        add((f"template length {label}, before a tensor info", build(kvs + [raw], ten, big=big)))
    add(("key length past the end", build(kvs, big=big, n_kv=len(kvs) + 1) + e.p("Q", 1 << 40) + b"general"))
    arr = e.s("x") + e.p("I", VT.ARRAY) + e.p("I", VT.UINT8)
    add(("u8 array length 2^40, last", build(kvs, big=big, n_kv=len(kvs) + 1) + arr + e.p("Q", 1 << 40) + b"\1\2"))
    add(("u64 array length 2^61", build(kvs + [arr + e.p("Q", 1 << 61)], big=big)))
    add(("string array length 2^40", build(kvs + [e.s("x") + e.p("I", VT.ARRAY) + e.p("I", VT.STRING) + e.p("Q", 1 << 40)], big=big)))
    add(("string array with a short last element", build(kvs, big=big, n_kv=len(kvs) + 1)
         + e.s(T) + e.p("I", VT.ARRAY) + e.p("I", VT.STRING) + e.p("Q", 2) + e.s(tb) + e.p("Q", 999) + tp.encode()))
    add(("last value missing", build(kvs, big=big, n_kv=len(kvs) + 1) + e.s("x") + e.p("I", VT.UINT32)))
    add(("last value half there", build(kvs, big=big, n_kv=len(kvs) + 1) + e.s("x") + e.p("I", VT.UINT32) + b"\1\0"))
    # tensors
    T0 = ten[0]
    blk = SIZES[T0[2]][0]
    lay = []
    at = 0
    for _, d, t in ten:
        lay.append(at)
        at += -(-nbytes(d, t) // 32) * 32
    kt = kvs + [(T, VT.STRING, tp)]
    add(("tensor offset misaligned", build(kt, ten, big=big, offsets=[lay[0] + 1] + lay[1:])))
    add(("tensor offset +32 (a gap)", build(kt, ten, big=big, offsets=[o + 32 for o in lay])))
    add(("tensor offset past the end", build(kt, ten, big=big, offsets=lay[:-1] + [lay[-1] + 4096])
         [:len(build(kt, ten, big=big))]))
    add(("tensor offset 2^63", build(kt, ten, big=big, offsets=lay[:-1] + [1 << 63])[:len(build(kt, ten, big=big))]))
    add(("tensor data cut by one byte", build(kt, ten, big=big)[:-1]))
    add(("tensor data missing", build(kt, ten, big=big)[:len(build(kt, ten, big=big)) - nbytes(ten[-1][1], ten[-1][2])]))
    add(("trailing bytes after the data", build(kt, ten, big=big, data_extra=b"\x80\x04K\x01.")))
    if len(ten) > 1:
        add(("two tensors at one offset", build(kt, ten, big=big, offsets=[0, 0])))
        add(("tensor offsets swapped", build(kt, [ten[1], ten[0]], big=big, offsets=[lay[1], lay[0]])))
        add(("duplicate tensor name", build(kt, [ten[0], (ten[0][0],) + ten[1][1:]], big=big)))
    add(("tensor with 0 dimensions", build(kt, [("s", [], T0[2])], big=big)))
    add(("tensor with 5 dimensions", build(kt, [("s", [blk, 1, 1, 1, 1], T0[2])], big=big)))
    add(("tensor with a zero dimension", build(kt, [("s", [blk, 0], T0[2])], big=big)))
    add(("only zero-sized tensors", build(kt, [("s", [0], int(QT.F32))], big=big)))
    add(("zero-sized tensor, file ends at the infos",
         build(kt, [("s", [0], int(QT.F32))], big=big, alignment=1)))
    add(("tensor dimension 2^62", build(kt, [("s", [1 << 62], int(QT.I8))], big=big)))
    add(("tensor dimension 2^63", build(kt, [("s", [1 << 63], int(QT.I8))], big=big)))
    add(("tensor dimensions overflowing int64", build(kt, [("s", [1 << 32, 1 << 32], int(QT.I8))], big=big)))
    for t in [4, 31, 36, 41, 42, 99, -1 & 0xFFFFFFFF]:
        add((f"tensor ggml type {t}", build(kt, [("s", [256, 1], t)], big=big)))
    add(("tensor row not a block multiple", build(kt, [("s", [blk + 1 if blk > 1 else 3, 1], T0[2] if blk > 1 else int(QT.Q4_0))], big=big)))
    add(("tensor name 63 bytes", build(kt, [("n" * 63, [8], int(QT.F32))], big=big)))
    add(("tensor name 64 bytes", build(kt, [("n" * 64, [8], int(QT.F32))], big=big)))
    add(("empty tensor name", build(kt, [("", [8], int(QT.F32))], big=big)))
    add(("tensor name with invalid UTF-8", build(kt, [(b"w\xff", [8], int(QT.F32))], big=big)))
    add(("tensor names equal up to a NUL", build(kt, [(b"w\0a", [8], int(QT.F32)), (b"w\0b", [8], int(QT.F32))], big=big)))
    add(("non-ASCII tensor name", build(kt, [("poids.é", [8], int(QT.F32))], big=big)))
    return out


def truncations(rng, b):
    cuts = sorted({rng.randrange(0, len(b)) for _ in range(6)} | {len(b) - 1, 8, 24})
    return [(f"cut at {c} of {len(b)}", b[:c]) for c in cuts if c < len(b)]


def flips(rng, b, n):
    out = []
    for _ in range(n):
        m = bytearray(b)
        k = rng.choice([1, 1, 2, 4])
        where = []
        for _ in range(k):
            i = rng.randrange(4, len(m))
            m[i] ^= 1 << rng.randrange(8)
            where.append(i)
        out.append((f"bits flipped at {sorted(where)}", bytes(m)))
    return out


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # GGUFWriter.add_chat_template lists the template names from a set: fix their order.
        os.execve(sys.executable, [sys.executable] + sys.argv,
                  dict(os.environ, PYTHONHASHSEED="0"))
    args = argparse.ArgumentParser()
    args.add_argument("--scale", type=int, default=1)
    args.add_argument("--seed", type=int, default=5)
    args.add_argument("--out", default=OUT)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    np.random.seed(opts.seed)
    variants = []
    for i in range(100 * opts.scale):
        why, b = written(rng, endian=None if i >= 4 else bool(i % 2))
        variants.append((why, b))
        variants += [(f"{why}; {w}", v) for w, v in truncations(rng, b)[:3]]
        variants += [(f"{why}; {w}", v) for w, v in flips(rng, b, 8)]
    for _ in range(10 * opts.scale):
        for why, b in hand_built(rng):
            variants.append((why, b))
            if rng.random() < 0.3 and len(b) < 10000:
                variants += [(f"{why}; {w}", v) for w, v in flips(rng, b, 1)]
    seen = set()
    cases = []
    for why, b in variants:
        if b in seen:
            continue
        seen.add(b)
        ok, error, templates = py_read(b)
        cpp_ok, cpp_error, cpp_templates = cpp_read(b)
        _, _, dup_templates = cpp_read(b, duplicates_refused=False)
        cases.append({"b": base64.b64encode(b).decode(), "why": why, "ok": ok, "error": error,
                      "templates": templates, "cpp_ok": cpp_ok, "cpp_error": cpp_error,
                      "cpp_templates": cpp_templates, "dup_templates": dup_templates})
    path = os.path.join(opts.out, "gguf.jsonl.gz")
    write_cases(path, cases)
    both = sum(c["ok"] and c["cpp_ok"] for c in cases)
    print(f"{path}: {len(cases)} cases ({sum(c['ok'] for c in cases)} accepted by gguf-py, "
          f"{sum(c['cpp_ok'] for c in cases)} by llama.cpp's rules, {both} by both)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
