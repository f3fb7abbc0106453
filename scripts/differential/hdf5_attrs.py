#!/usr/bin/env python3
"""Differential cases for legacy Keras HDF5 files: what h5py and Keras read from the root.

Writes fixtures/differential/hdf5.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"b": base64 file, "why": how it was made, "open": bool, "error": why h5py.File refused | null,
   "attrs": {NAME: reading}}  for NAME in model_config, training_config, keras_version, backend
where a reading is what the loader holds after
    value = f.attrs.get(NAME)
    if hasattr(value, "decode"): value = value.decode("utf-8")
    json.loads(value)                      # model_config and training_config only
(Keras 3 `keras/src/legacy/saving/legacy_h5_format.py` `load_model_from_hdf5`, tf_keras 2
`saving/legacy/hdf5_format.py`, on `h5py.File(path, mode="r")`):
  {"state": "absent"}                                   attrs.get returned None
  {"state": "error", "error": message}                  attrs.get, .decode or (for a non-str) json.loads raised
  {"state": "text", "text": base64, "json": bool, "kind": "benign" | "malicious" | null}
"text" is the str handed to json.loads, encoded back with `surrogateescape` (h5py decodes
variable-length strings with it, so the bytes are the stored bytes); "json" is whether
`json.loads` takes it; "kind" says whether it is exactly one of the payloads written here.
Each reading runs in a forked child (a corrupt file may crash the HDF5 library: a crash is a
refusal). Nothing in the files is imported or executed: configs are only parsed as JSON.

Variants: model_config stored as variable-length str (h5py's default, UTF-8), vlen ASCII bytes,
fixed-length `np.bytes_` (NULLPAD) and with NULLTERM/SPACEPAD padding, trailing NULs, embedded
NULs, UTF-8 and ASCII character sets, scalar, 1- and 2-element and null dataspaces, non-string
types (integers, bytes as uint8, opaque, vlen sequences); payloads benign and malicious (a
`Lambda` with marshalled code calling os.system, a layer or function named from `os`/`subprocess`,
a malicious training_config), non-ASCII, invalid UTF-8, BOMs, UTF-16; every `libver` low bound
(object header and attribute message versions 1-3), dense attribute storage (fractal heap and
v2 B-trees: > 8 attributes with `libver="latest"`, an attribute over 64 KiB, creation order
tracked), attributes on a subgroup only, names spelled otherwise or patched to collide, extra
groups and datasets (model_weights), user blocks of 512 B - 8 KiB, truncations, appended bytes
and bit flips. Files are written without timestamps (object times not tracked), so a rerun is
byte-identical.

Pins: h5py==3.14.0, numpy (scripts/differential/requirements-h5.txt).
Run: /work/venvs/h5/bin/python scripts/differential/hdf5_attrs.py
"""
import argparse
import base64
import json
import marshal
import os
import random
import tempfile

import h5py
import numpy as np
from h5py import h5a, h5f, h5g, h5p, h5s, h5t

from casefile import in_child, write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")
NAMES = ["model_config", "training_config", "keras_version", "backend"]

LIBVERS = {
    "earliest": h5f.LIBVER_EARLIEST,
    "v108": h5f.LIBVER_V18,
    "v110": h5f.LIBVER_V110,
    "v112": h5f.LIBVER_V112,
    "v114": h5f.LIBVER_V114,
    "latest": h5f.LIBVER_LATEST,
}


# --- payloads -------------------------------------------------------------------------------

def policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def dense(name, units, activation="relu"):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": policy(), "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                               "config": {"seed": None}, "registered_name": None},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                             "config": {}, "registered_name": None},
        "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}}


def sequential(layers, name="sequential"):
    return {"class_name": "Sequential", "config": {
        "name": name, "trainable": True, "dtype": policy(),
        "layers": [{"class_name": "InputLayer", "config": {
            "batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False,
            "name": "input_layer"}}] + layers,
        "build_input_shape": [None, 4]}}


def lambda_code():
    """Marshalled bytecode of `lambda x: __import__("os").system(...)` as Keras 3 saves a Lambda
    (`base64.encodebytes(marshal.dumps(fn.__code__))`): compiled, never called."""
    module = compile('lambda x: __import__("os").system("touch /tmp/aigis-h5-differential")',
                     "<keras-h5-differential>", "eval")
    code = next(c for c in module.co_consts if hasattr(c, "co_code"))
    return base64.encodebytes(marshal.dumps(code)).decode()


def payloads():
    """(kind, name, text) of every config written."""
    benign = sequential([dense("dense", 8), dense("dense_1", 2, "linear")])
    wide = sequential([dense(f"dense_{i}", 4) for i in range(12)], name="wide")
    lam = sequential([{"class_name": "Lambda", "config": {
        "name": "lambda", "trainable": True, "dtype": policy(),
        "function": {"class_name": "__lambda__",
                     "config": {"code": lambda_code(), "defaults": None, "closure": None}},
        "arguments": {}}}, dense("dense", 2)])
    module_layer = sequential([{"module": "os", "class_name": "system",
                                "config": {"command": "touch /tmp/aigis-h5-differential"},
                                "registered_name": "system"}, dense("dense", 2)])
    function = sequential([dense("dense", 2, {"module": "subprocess", "class_name": "function",
                                              "config": "getoutput",
                                              "registered_name": "function"})])
    unicode_name = sequential([dense("d\u00e9nse_\u4e2d", 2)])
    training = {"loss": "mse", "metrics": ["mae"], "weighted_metrics": None,
                "loss_weights": None,
                "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}}}
    evil_training = dict(training, loss={"module": "os", "class_name": "function",
                                         "config": "system", "registered_name": "function"})
    return [
        ("benign", "model", json.dumps(benign)),
        ("benign", "wide", json.dumps(wide)),
        ("benign", "unicode", json.dumps(unicode_name, ensure_ascii=False)),
        ("malicious", "lambda", json.dumps(lam)),
        ("malicious", "module", json.dumps(module_layer)),
        ("malicious", "function", json.dumps(function)),
        ("benign", "training", json.dumps(training)),
        ("malicious", "evil_training", json.dumps(evil_training)),
    ]


PAYLOADS = payloads()
TEXT = {name: text for _, name, text in PAYLOADS}
KIND = {text.encode(): kind for kind, _, text in PAYLOADS}


# --- writing --------------------------------------------------------------------------------

def no_times(plist_class):
    plist = h5p.create(plist_class)
    plist.set_obj_track_times(False)
    return plist


class Spec:
    """How one file is written; `attrs` is a list of (target, name, writer, data)."""

    def __init__(self, libver="earliest", userblock=0, order=False):
        self.libver = libver
        self.userblock = userblock
        self.order = order


def create_file(path, spec):
    fcpl = no_times(h5p.FILE_CREATE)
    if spec.order:
        flags = h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED
        fcpl.set_link_creation_order(flags)
        fcpl.set_attr_creation_order(flags)
    if spec.userblock:
        fcpl.set_userblock(spec.userblock)
    fapl = h5p.create(h5p.FILE_ACCESS)
    fapl.set_libver_bounds(LIBVERS[spec.libver], h5f.LIBVER_LATEST)
    return h5py.File(h5f.create(path.encode(), h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))


def group(parent, name, order=False):
    gcpl = no_times(h5p.GROUP_CREATE)
    if order:
        flags = h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED
        gcpl.set_link_creation_order(flags)
        gcpl.set_attr_creation_order(flags)
    return h5py.Group(h5g.create(parent.id, name.encode(), gcpl=gcpl))


def weights(f, order=False):
    """A `model_weights` group as Keras writes it (layer groups, weight_names, datasets)."""
    g = group(f, "model_weights", order)
    g.attrs["layer_names"] = np.array([b"dense", b"dense_1"])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = b"3.15.1"
    for layer, shape in [("dense", (4, 8)), ("dense_1", (8, 2))]:
        lg = group(g, layer, order)
        lg.attrs["weight_names"] = np.array([f"{layer}/kernel".encode()])
        inner = group(lg, layer, order)
        inner.create_dataset("kernel", data=np.arange(np.prod(shape), dtype=np.float32)
                             .reshape(shape), track_times=False)
    return g


def put_fixed(obj, name, raw, pad=h5t.STR_NULLPAD, cset=h5t.CSET_ASCII, shape=None, size=None):
    """A fixed-length string attribute holding exactly `raw` (no padding conversion)."""
    size = size or max(len(raw), 1)
    t = h5t.C_S1.copy()
    t.set_size(size)
    t.set_strpad(pad)
    t.set_cset(cset)
    space = h5s.create(h5s.SCALAR) if shape is None else h5s.create_simple(shape)
    a = h5a.create(obj.id, name.encode(), t, space)
    arr = np.array(raw, dtype=f"S{size}")
    if shape is not None:
        arr = np.full(shape, raw, dtype=f"S{size}")
    a.write(arr, mtype=t)


def put(obj, name, how, text):
    """Stores `text` (str) as attribute `name` of `obj` in the way `how` names."""
    data = text.encode("utf-8", "surrogateescape")
    if how == "vlen-str":
        obj.attrs[name] = text
    elif how == "vlen-utf8":
        obj.attrs.create(name, text, dtype=h5py.string_dtype("utf-8"))
    elif how == "vlen-ascii":
        obj.attrs.create(name, data, dtype=h5py.string_dtype("ascii"))
    elif how == "vlen-bytes":
        obj.attrs.create(name, data, dtype=h5py.special_dtype(vlen=bytes))
    elif how == "np.bytes_":
        obj.attrs[name] = np.bytes_(data)
    elif how == "bytes":
        obj.attrs[name] = data
    elif how == "fixed-utf8":
        obj.attrs.create(name, np.bytes_(data), dtype=h5py.string_dtype("utf-8", len(data)))
    elif how == "fixed-nullterm":
        put_fixed(obj, name, data, pad=h5t.STR_NULLTERM)
    elif how == "fixed-nullterm-full":
        put_fixed(obj, name, data, pad=h5t.STR_NULLTERM, size=len(data))
    elif how == "fixed-spacepad":
        put_fixed(obj, name, data + b"   ", pad=h5t.STR_SPACEPAD)
    elif how == "fixed-nul-padded":
        put_fixed(obj, name, data + b"\0" * 7, pad=h5t.STR_NULLPAD)
    elif how == "fixed-nullterm-padded":
        put_fixed(obj, name, data + b"\0" * 5, pad=h5t.STR_NULLTERM)
    elif how == "fixed-utf8-nullterm":
        put_fixed(obj, name, data, pad=h5t.STR_NULLTERM, cset=h5t.CSET_UTF8)
    elif how == "array1-vlen":
        obj.attrs.create(name, [text], dtype=h5py.string_dtype())
    elif how == "array2-vlen":
        obj.attrs.create(name, [text, text], dtype=h5py.string_dtype())
    elif how == "array1-fixed":
        obj.attrs[name] = np.array([data])
    elif how == "array11-fixed":
        obj.attrs[name] = np.array([[data]])
    elif how == "array1-fixed-lowlevel":
        put_fixed(obj, name, data, shape=(1,))
    elif how == "empty":
        obj.attrs.create(name, h5py.Empty(f"S{max(len(data), 1)}"))
    elif how == "int":
        obj.attrs[name] = np.int64(len(data))
    elif how == "uint8":
        obj.attrs[name] = np.frombuffer(data, dtype=np.uint8)
    elif how == "opaque":
        obj.attrs[name] = np.void(data)
    elif how == "vlen-uint8":
        seq = np.empty(1, dtype=object)
        seq[0] = np.frombuffer(data, dtype=np.uint8)
        obj.attrs.create(name, seq, dtype=h5py.vlen_dtype(np.uint8))
    elif how == "char-array":
        obj.attrs[name] = np.frombuffer(data, dtype="S1")
    else:
        raise ValueError(how)


HOWS = ["vlen-str", "vlen-utf8", "vlen-ascii", "vlen-bytes", "np.bytes_", "bytes", "fixed-utf8",
        "fixed-nullterm", "fixed-nullterm-full", "fixed-spacepad", "fixed-nul-padded",
        "fixed-nullterm-padded", "fixed-utf8-nullterm", "array1-vlen", "array2-vlen",
        "array1-fixed", "array11-fixed", "array1-fixed-lowlevel", "empty", "int", "uint8",
        "opaque", "vlen-uint8", "char-array"]


def build(spec, attrs, extra=None):
    """Writes a file: root (or subgroup) attributes `attrs` [(where, name, how, text)], then
    `extra(f)`; returns its bytes, or None when the library refuses to write it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.h5")
        try:
            with create_file(path, spec) as f:
                targets = {"/": f}
                for where, name, how, text in attrs:
                    if where not in targets:
                        targets[where] = group(f, where.strip("/"), spec.order)
                    put(targets[where], name, how, text)
                if extra:
                    extra(f)
        except (ValueError, TypeError, OSError, RuntimeError, KeyError):
            return None
        with open(path, "rb") as fh:
            return fh.read()


def keras_file(spec, config, how="vlen-str", training=None, version=True, weights_group=True,
               extra=None, training_how=None):
    """A file as Keras's legacy saver lays it out (model_config, training_config as str;
    backend/keras_version as bytes), with the config stored as `how`."""
    attrs = []
    if version:
        attrs += [("/", "backend", "bytes", "tensorflow"), ("/", "keras_version", "bytes", "3.15.1")]
    if config is not None:
        attrs.append(("/", "model_config", how, config))
    if training is not None:
        attrs.append(("/", "training_config", training_how or how, training))

    def more(f):
        if weights_group:
            weights(f, spec.order)
        if extra:
            extra(f)
    return build(spec, attrs, more)


# --- byte patches ---------------------------------------------------------------------------

def replace_all(b, old, new):
    assert len(old) == len(new)
    return b.replace(old, new) if b and old in b else None


def flip(b, at, mask):
    out = bytearray(b)
    out[at] ^= mask
    return bytes(out)


# --- reading --------------------------------------------------------------------------------

def keras_reading(f, name):
    try:
        value = f.attrs.get(name)
    except Exception as e:  # noqa: BLE001
        return {"state": "error", "error": f"attrs.get: {type(e).__name__}: {e}"[:300]}
    if value is None:
        return {"state": "absent"}
    try:
        if hasattr(value, "decode"):
            value = value.decode("utf-8")
    except Exception as e:  # noqa: BLE001
        return {"state": "error", "error": f"decode: {type(e).__name__}: {e}"[:300]}
    if not isinstance(value, str):
        try:
            json.loads(value)
            return {"state": "error", "error": f"json.loads took a {type(value).__name__}"}
        except Exception as e:  # noqa: BLE001
            return {"state": "error", "error": f"json.loads: {type(e).__name__}: {e}"[:300]}
    raw = value.encode("utf-8", "surrogateescape")
    try:
        json.loads(value)
        ok = True
    except Exception:  # noqa: BLE001
        ok = False
    return {"state": "text", "text": base64.b64encode(raw).decode(), "json": ok,
            "kind": KIND.get(raw)}


def read_here(b):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.h5")
        with open(path, "wb") as fh:
            fh.write(b)
        try:
            f = h5py.File(path, mode="r")
        except Exception as e:  # noqa: BLE001
            return {"open": False, "error": f"{type(e).__name__}: {e}"[:300], "attrs": {}}
        with f:
            return {"open": True, "error": None,
                    "attrs": {name: keras_reading(f, name) for name in NAMES}}


def read(b):
    """`read_here` in a forked child: the HDF5 library may crash on a corrupt file."""
    reading, crash = in_child(read_here, b)
    if crash:
        return {"open": False, "error": crash, "attrs": {}}
    return reading


# --- variants -------------------------------------------------------------------------------

def variants(rng, scale):
    """(why, bytes) of every file."""
    model, wide, uni = TEXT["model"], TEXT["wide"], TEXT["unicode"]
    lam, mod, fun = TEXT["lambda"], TEXT["module"], TEXT["function"]
    train, evil_train = TEXT["training"], TEXT["evil_training"]
    configs = [("benign", model), ("benign-unicode", uni), ("lambda", lam), ("module", mod),
               ("function", fun)]
    bases = []  # (why, bytes) that mutations start from

    # Every storage of model_config, every payload, earliest and latest.
    for how in HOWS:
        for cname, config in configs:
            for libver in ["earliest", "latest"]:
                b = keras_file(Spec(libver), config, how, training=train)
                why = f"model_config as {how}, {cname}, libver {libver}"
                yield why, b
                if how in ("vlen-str", "np.bytes_", "fixed-nullterm") and cname in ("benign", "lambda"):
                    bases.append((why, b))

    # Every libver low bound, with and without a weights group; userblocks.
    for libver in LIBVERS:
        for cname, config in configs[:3]:
            yield (f"libver {libver}, {cname}, no weights group",
                   keras_file(Spec(libver), config, weights_group=False, training=train))
            yield (f"libver {libver}, {cname}, no version attributes",
                   keras_file(Spec(libver), config, version=False))
            yield (f"libver {libver}, {cname}, creation order tracked",
                   keras_file(Spec(libver, order=True), config, training=train))
        for ub in [512, 1024, 2048, 4096, 8192]:
            for cname, config in [("benign", model), ("lambda", lam)]:
                b = keras_file(Spec(libver, userblock=ub), config, training=train)
                yield f"user block of {ub} bytes (zeros), libver {libver}, {cname}", b
                if b:
                    filler = (b"#!/bin/sh\necho not hdf5\n" * (ub // 16))[:ub]
                    yield (f"user block of {ub} bytes (text), libver {libver}, {cname}",
                           filler + b[ub:])
                    if libver in ("earliest", "latest") and ub <= 2048:
                        bases.append((f"user block {ub}, libver {libver}, {cname}", b))

    # training_config: benign and malicious, stored every way.
    for how in ["vlen-str", "np.bytes_", "vlen-bytes", "array1-vlen", "int", "fixed-nullterm"]:
        for libver in ["earliest", "latest"]:
            yield (f"malicious training_config as {how}, libver {libver}",
                   keras_file(Spec(libver), model, training=evil_train, training_how=how))
            yield (f"benign training_config as {how}, libver {libver}",
                   keras_file(Spec(libver), model, training=train, training_how=how))
    yield "no training_config", keras_file(Spec(), model)
    yield "training_config only", keras_file(Spec(), None, training=evil_train)

    # Text corners, stored as vlen (str and bytes) and fixed.
    texts = [
        ("BOM before benign", "\ufeff" + model),
        ("BOM before lambda", "\ufeff" + lam),
        ("leading whitespace, lambda", " \n\t" + lam),
        ("trailing whitespace, lambda", lam + " \r\n"),
        ("trailing spaces, benign", model + "    "),
        ("invalid UTF-8 in a string value, lambda",
         lam.replace('"name": "lambda"', '"name": "lam\udcffbda"')),
        ("invalid UTF-8 in a string value, benign",
         model.replace('"name": "dense"', '"name": "de\udce9nse"')),
        ("invalid UTF-8 outside strings, lambda", lam + "\udcff"),
        ("encoded surrogate in a string value, lambda",
         lam.replace('"name": "lambda"', '"name": "l\udced\udcb2\udc80"')),
        ("UTF-16 with BOM, lambda",
         (b"\xff\xfe" + lam.encode("utf-16-le")).decode("utf-8", "surrogateescape")),
        ("UTF-16 with BOM, benign",
         (b"\xff\xfe" + model.encode("utf-16-le")).decode("utf-8", "surrogateescape")),
        ("UTF-16-LE without BOM, lambda", lam.encode("utf-16-le").decode("utf-8")),
        ("NaN in config, lambda", lam.replace('"units": 2', '"units": NaN')),
        ("escaped key names, lambda", lam.replace('"class_name": "Lambda"',
                                                   '"class_name": "\\u004cambda"')),
        ("JSON string holding the config, lambda", json.dumps(lam)),
        ("two configs back to back, benign then lambda", model + lam),
        ("two configs separated by a space, lambda then benign", lam + " " + model),
        ("empty string", ""),
        ("null", "null"),
        ("non-ASCII escapes, lambda", json.dumps(json.loads(lam), ensure_ascii=True)),
        ("Latin-1 bytes", uni.encode("utf-8").decode("utf-8").encode("latin-1", "replace")
         .decode("utf-8", "surrogateescape")),
    ]
    for what, text in texts:
        for how in ["vlen-str", "vlen-ascii", "np.bytes_", "fixed-nullterm", "fixed-spacepad"]:
            for libver in ["earliest", "latest"]:
                yield (f"{what}, as {how}, libver {libver}",
                       keras_file(Spec(libver), text, how, training=train))

    # Embedded NULs: h5py refuses to write them into vlen strings, so a marker is written and
    # patched to NUL (no checksum covers the global heap).
    for first, second, label in [(model, lam, "benign\\0lambda"), (lam, model, "lambda\\0benign")]:
        for how in ["vlen-ascii", "np.bytes_", "fixed-nullterm", "fixed-spacepad", "fixed-utf8"]:
            for libver in ["earliest", "latest"]:
                b = keras_file(Spec(libver), first + "\x07\x07\x07" + second, how)
                yield f"{label} joined by NULs, as {how}, libver {libver}", replace_all(
                    b, b"}\x07\x07\x07{", b"}\0\0\0{")
        for how in ["np.bytes_", "fixed-nullterm", "vlen-ascii"]:
            b = keras_file(Spec(), first + "\x07", how)
            yield f"{label.split(chr(92))[0]} + trailing NUL, as {how}", replace_all(
                b, b"}\x07", b"}\0")

    # Many attributes: compact (<= 8) vs dense (fractal heap + v2 B-trees); big attributes.
    for n in [0, 4, 7, 8, 9, 20, 64]:
        for libver in ["earliest", "v110", "latest"]:
            for order in [False, True]:
                for cname, config, how in [("benign", model, "vlen-str"),
                                           ("lambda", lam, "vlen-str"),
                                           ("lambda", lam, "np.bytes_")]:
                    def many(f, n=n):
                        for i in range(n):
                            f.attrs[f"extra_{i:03d}"] = np.bytes_(b"x" * (i % 13))
                    b = keras_file(Spec(libver, order=order), config, how, training=train,
                                   extra=many)
                    why = f"{n} extra attributes, libver {libver}, order {order}, {cname} as {how}"
                    yield why, b
                    if n in (9, 20) and libver == "latest" and not order:
                        bases.append((why, b))
    big_pad = [dense(f"pad_{i}", 4) for i in range(400)]
    big_lam = json.dumps(sequential(json.loads(lam)["config"]["layers"][1:] + big_pad))
    big_model = json.dumps(sequential(big_pad))
    assert len(big_lam) > 70000
    KIND[big_lam.encode()] = "malicious"
    KIND[big_model.encode()] = "benign"
    for cname, config in [("benign", big_model), ("lambda", big_lam)]:
        for how in ["vlen-str", "np.bytes_"]:
            for libver in ["earliest", "latest"]:
                for order in [False, True]:
                    yield (f"model_config over 64 KiB, {cname}, as {how}, libver {libver}, order {order}",
                           keras_file(Spec(libver, order=order), config, how, weights_group=False))

    # Where the attribute is and how it is spelled.
    for libver in ["earliest", "latest"]:
        s = Spec(libver)
        yield (f"model_config only on a subgroup, lambda, libver {libver}",
               build(s, [("/model_weights", "model_config", "vlen-str", lam)]))
        yield (f"model_config on a subgroup, benign on the root, libver {libver}",
               build(s, [("/", "model_config", "vlen-str", model),
                         ("/sub", "model_config", "vlen-str", lam)]))
        for spelling in ["Model_config", "model_config ", " model_config", "model-config",
                         "modelconfig", "model_config\u00e9", "MODEL_CONFIG", "model_configs"]:
            yield (f"config named {spelling!r}, lambda, libver {libver}",
                   build(s, [("/", spelling, "vlen-str", lam),
                             ("/", "keras_version", "bytes", "3.15.1")]))
        yield (f"only keras_version, libver {libver}",
               build(s, [("/", "keras_version", "bytes", "3.15.1")]))
        yield (f"plain HDF5, no attributes, libver {libver}",
               build(s, [], lambda f: f.create_dataset("x", data=np.zeros(4), track_times=False)))
        yield (f"model_config next to a dataset named model_config, libver {libver}",
               build(s, [("/", "model_config", "vlen-str", lam)],
                     lambda f: f.create_dataset("model_config", data=np.zeros(2), track_times=False)))
        # Overwritten and deleted attributes leave their old bytes behind.

        def overwrite(f, first=model, then=lam):
            f.attrs["model_config"] = first
            f.attrs["model_config"] = then
        yield f"model_config overwritten benign -> lambda, libver {libver}", build(s, [], overwrite)
        yield (f"model_config overwritten lambda -> benign, libver {libver}",
               build(s, [], lambda f: overwrite(f, lam, model)))

        def deleted(f):
            f.attrs["model_config"] = lam
            del f.attrs["model_config"]
            f.attrs["keras_version"] = b"3.15.1"
        yield f"model_config written then deleted, libver {libver}", build(s, [], deleted)

        # Patched names: the same name twice (either first), a NUL inside the name.
        b = build(s, [("/", "model_confiX", "vlen-str", lam), ("/", "model_config", "vlen-str", model)])
        yield f"two model_config attributes (lambda first) by patch, libver {libver}", replace_all(
            b, b"model_confiX", b"model_config")
        b = build(s, [("/", "model_config", "vlen-str", model), ("/", "model_confiX", "vlen-str", lam)])
        yield f"two model_config attributes (benign first) by patch, libver {libver}", replace_all(
            b, b"model_confiX", b"model_config")
        b = build(s, [("/", "model_configXY", "vlen-str", lam)])
        yield f"name model_config\\0Y by patch, libver {libver}", replace_all(
            b, b"model_configXY", b"model_config\0Y")
        b = build(s, [("/", "model_configX", "vlen-str", lam)])
        yield f"name model_config\\xff by patch, libver {libver}", replace_all(
            b, b"model_configX", b"model_config\xff")
        b = build(s, [("/", "model_config", "vlen-str", lam), ("/", "other_attrX", "int", "")])
        yield f"another attribute named with invalid UTF-8, libver {libver}", replace_all(
            b, b"other_attrX", b"other_attr\xff")
        b = build(s, [("/", "model_config", "vlen-str", lam), ("/", "notes", "vlen-ascii", "zqzqz")])
        yield f"another attribute holding invalid UTF-8, libver {libver}", replace_all(
            b, b"zqzqz", b"zq\xffqz")

    # Non-power-of-two positions of the signature, two superblocks.
    b = keras_file(Spec(), lam, training=train)
    yield "signature at offset 300", b"\0" * 300 + b
    yield "signature at offset 3000", b"\0" * 3000 + b
    benign_b = keras_file(Spec(), model)
    yield "benign HDF5 then lambda HDF5 at 512", benign_b + b"\0" * (-len(benign_b) % 512) + b
    yield "trailing bytes after the file", b + b"\0" * 100
    yield "trailing text after the file", b + b"model_config" * 10

    # Truncations and bit flips of the base files.
    for why, b in bases:
        if not b:
            continue
        cuts = sorted({len(b) - 1, len(b) // 2, 8, 100, *(rng.randrange(1, len(b)) for _ in range(4 * scale))})
        for cut in cuts:
            yield f"{why}, cut at {cut} of {len(b)}", b[:cut]
        for _ in range(12 * scale):
            at = rng.randrange(len(b))
            yield f"{why}, bit flip at {at}", flip(b, at, 1 << rng.randrange(8))
        # Flips inside the stored config text.
        for config in (model, lam):
            pos = b.find(config.encode()[:40])
            if pos < 0:
                continue
            for _ in range(3 * scale):
                at = pos + rng.randrange(min(len(config), len(b) - pos))
                yield f"{why}, bit flip in the config text at {at}", flip(b, at, 1 << rng.randrange(7))


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--scale", type=int, default=1)
    args.add_argument("--seed", type=int, default=11)
    args.add_argument("--out", default=OUT)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    seen = set()
    cases = []
    for why, b in variants(rng, opts.scale):
        if b is None or b in seen:
            continue
        seen.add(b)
        case = {"b": base64.b64encode(b).decode(), "why": why}
        case.update(read(b))
        cases.append(case)
    path = os.path.join(opts.out, "hdf5.jsonl.gz")
    write_cases(path, cases)
    opened = sum(c["open"] for c in cases)
    texts = sum(c["attrs"].get("model_config", {}).get("state") == "text" for c in cases)
    print(f"{path}: {len(cases)} cases ({opened} opened, {texts} with a model_config text)")


if __name__ == "__main__":
    main()
