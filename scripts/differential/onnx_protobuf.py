#!/usr/bin/env python3
"""Differential cases for ONNX protobuf: how `onnx.load` reads generated `ModelProto`s.

Writes fixtures/differential/onnx.jsonl.gz (gzip, mtime 0), one JSON case per line:
  {"b": base64 model, "why": how it was made, "ok": bool, "error": message | null,
   "ir_version": int, "graph_nodes": int (nodes of the main graph),
   "nodes": sorted [domain, op_type] pairs of every node the model holds (main graph, subgraphs
            in node attributes at any depth, training graphs, functions),
   "opsets": [domain] of the model's opset_import, in order,
   "functions": sorted [domain, name] of the model-local functions,
   "tensors": sorted [name, location, used, loaded] of every tensor with external_data entries
              (initializers, sparse initializers, attribute tensors, anywhere): `location` as
              onnx's `ExternalDataInfo` reads it (entries in order, the last `location` wins),
              `used` whether a loader reads its data (`uses_external_data`: data_location
              EXTERNAL), `loaded` whether `onnx.load` reaches it (`_get_all_tensors`)}
-- `onnx.load(f, load_external_data=False)` (protobuf `ParseFromString`, upb), nothing loaded or
run. Strings that are not UTF-8 (protobuf hands them over as bytes) are recorded decoded with
replacement characters.

Models made with `onnx.helper` (plain graphs, custom domains, functions, If/Loop/Scan bodies
nested to protobuf's depth limit, external-data initializers with every kind of location,
sparse and attribute tensors, training graphs), then mutated on the wire: submessages written
twice (merged), scalars and strings twice (last wins), repeated fields split and interleaved,
unknown fields of every wire type, groups, wrong wire types, packed and unpacked, overlong and
truncated varints and lengths, fields shuffled, external_data entries duplicated, invalid UTF-8,
bit flips and truncations.

Pins: scripts/differential/requirements-onnx.txt.
Run: /work/venvs/hf/bin/python scripts/differential/onnx_protobuf.py
"""
import argparse
import base64
import io
import os
import random
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx import external_data_helper as edh

from casefile import write_cases

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "differential")

# ---------------------------------------------------------------- the loader's reading


def text(s):
    return s.decode("utf-8", "replace") if isinstance(s, bytes) else s


def subgraphs(node):
    for a in node.attribute:
        if a.HasField("g"):
            yield a.g
        yield from a.graphs


def graph_nodes(graph, out):
    for node in graph.node:
        out.append([text(node.domain), text(node.op_type)])
        for g in subgraphs(node):
            graph_nodes(g, out)


def graph_tensors(graph, out):
    out.extend(graph.initializer)
    for s in graph.sparse_initializer:
        out.extend([s.values, s.indices])
    for node in graph.node:
        node_tensors(node, out)


def node_tensors(node, out):
    for a in node.attribute:
        if a.HasField("t"):
            out.append(a.t)
        out.extend(a.tensors)
        for s in ([a.sparse_tensor] if a.HasField("sparse_tensor") else []) + list(a.sparse_tensors):
            out.extend([s.values, s.indices])
    for g in subgraphs(node):
        graph_tensors(g, out)


def location(tensor):
    """`ExternalDataInfo(tensor).location`: entries in order, `setattr` for each allowed key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return text(edh.ExternalDataInfo(tensor).location)
        except Exception:  # noqa: BLE001 (offset/length not numbers: the location is still set)
            loc = ""
            for e in tensor.external_data:
                if e.key == "location":
                    loc = e.value
            return text(loc)


def read(b):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = onnx.load(io.BytesIO(b), load_external_data=False)
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
    nodes = []
    graphs = [m.graph] if m.HasField("graph") else []
    for t in m.training_info:
        graphs += [g for g in (t.initialization, t.algorithm)]
    for g in graphs:
        graph_nodes(g, nodes)
    for f in m.functions:
        for node in f.node:
            nodes.append([text(node.domain), text(node.op_type)])
            for g in subgraphs(node):
                graph_nodes(g, nodes)
    tensors = []
    for g in graphs:
        graph_tensors(g, tensors)
    for f in m.functions:
        for node in f.node:
            node_tensors(node, tensors)
    reached = list(edh._get_all_tensors(m))  # kept alive: ids compared below
    loaded = {id(t) for t in reached}
    rows = []
    for t in tensors:
        if len(t.external_data):
            rows.append([text(t.name), location(t), edh.uses_external_data(t), id(t) in loaded])
    return {
        "ok": True, "error": None,
        "ir_version": m.ir_version,
        "graph_nodes": len(m.graph.node),
        "nodes": sorted(nodes),
        "opsets": [text(o.domain) for o in m.opset_import],
        "functions": sorted([text(f.domain), text(f.name)] for f in m.functions),
        "tensors": sorted(rows),
    }


# ---------------------------------------------------------------- models made by onnx.helper

DOMAINS = ["", "ai.onnx", "ai.onnx.ml", "com.microsoft", "com.example", "ai.onnx.contrib",
           "custom.ops", "org.pytorch.aten", "com.microsoft.extensions", "evil"]
OPS = ["Relu", "Add", "MatMul", "Identity", "Sigmoid", "MyOp", "Inverse", "CustomRelu", "Gelu"]
LOCATIONS = ["weights.bin", "data/w.bin", "./w.bin", "a..b", "../x", "../../etc/passwd",
             "a/../../b", "/etc/passwd", "/tmp/w.bin", "C:\\Windows\\win.ini", "..\\x",
             "\\\\host\\share\\w", "file:///etc/passwd", "http://h/w.bin", "sub/../w.bin",
             "", "..", "x\0.bin", "~/.ssh/id_rsa", "w.bin/.."]


def vi(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 4])


def ext_tensor(rng, name, loc=None, used=True):
    t = numpy_helper.from_array(np.zeros((2, 2), dtype=np.float32), name=name)
    entries = [("location", loc if loc is not None else rng.choice(LOCATIONS))]
    if rng.random() < 0.6:
        entries.append(("offset", str(rng.choice([0, 64, 4096, -1, "x", " 8 "]))))
        entries.append(("length", "16"))
    if rng.random() < 0.1:
        entries.append(("checksum", "abc"))
    if rng.random() < 0.1:
        entries.append(("unknown_key", "v"))
    rng.shuffle(entries)
    t.ClearField("raw_data")
    for k, v in entries:
        t.external_data.add(key=k, value=v)
    if used:
        t.data_location = TensorProto.EXTERNAL
    return t


def some_nodes(rng, n, prefix="n"):
    out = []
    for i in range(n):
        node = helper.make_node(rng.choice(OPS), ["x"], ["y"], name=f"{prefix}{i}",
                                domain=rng.choice(DOMAINS))
        out.append(node)
    return out


def subgraph(rng, depth, name="body"):
    nodes = some_nodes(rng, rng.randrange(1, 3), prefix=f"{name}_")
    inits = [ext_tensor(rng, f"{name}_w")] if rng.random() < 0.3 else []
    if depth > 0:
        nodes.append(control(rng, depth - 1, name + "_i"))
    return helper.make_graph(nodes, name, [], [vi("y")], inits)


def control(rng, depth, name):
    kind = rng.choice(["If", "Loop", "Scan", "Custom"])
    if kind == "If":
        return helper.make_node("If", ["c"], ["y"], name=name,
                                then_branch=subgraph(rng, depth, name + "_t"),
                                else_branch=subgraph(rng, depth, name + "_e"))
    if kind == "Loop":
        return helper.make_node("Loop", ["m", "c"], ["y"], name=name,
                                body=subgraph(rng, depth, name + "_b"))
    if kind == "Scan":
        return helper.make_node("Scan", ["x"], ["y"], name=name, num_scan_inputs=1,
                                body=subgraph(rng, depth, name + "_b"))
    node = helper.make_node("Multi", ["x"], ["y"], name=name, domain=rng.choice(DOMAINS))
    node.attribute.append(helper.make_attribute(
        "graphs", [subgraph(rng, depth, name + "_a"), subgraph(rng, depth, name + "_b")]))
    return node


def base_model(rng):
    nodes = some_nodes(rng, rng.randrange(0, 4))
    inits = []
    sparse = []
    if rng.random() < 0.5:
        inits.append(numpy_helper.from_array(np.arange(4, dtype=np.float32), name="w0"))
    for i in range(rng.choice([0, 0, 1, 2, 3])):
        inits.append(ext_tensor(rng, f"e{i}", used=rng.random() < 0.85))
    if rng.random() < 0.3:
        nodes.append(control(rng, rng.choice([0, 1, 2, 3]), "ctl"))
    if rng.random() < 0.2:
        c = helper.make_node("Constant", [], ["k"], name="const",
                             value=ext_tensor(rng, "const_t"))
        nodes.append(c)
    if rng.random() < 0.15:
        values = ext_tensor(rng, "sp_values")
        indices = numpy_helper.from_array(np.array([0], dtype=np.int64), name="sp_indices")
        sparse.append(helper.make_sparse_tensor(values, indices, [8]))
    graph = helper.make_graph(nodes, rng.choice(["g", "main", "torch_jit"]), [vi("x")],
                              [vi("y")], inits, sparse_initializer=sparse or None)
    opsets = [helper.make_opsetid("", rng.choice([13, 17, 21]))]
    for d in rng.sample(DOMAINS[2:], rng.randrange(0, 3)):
        opsets.append(helper.make_opsetid(d, 1))
    functions = []
    if rng.random() < 0.25:
        fdomain = rng.choice(["local.fn", "com.example", "custom.ops"])
        body = some_nodes(rng, rng.randrange(1, 3), prefix="f")
        if rng.random() < 0.3:
            body.append(control(rng, 0, "fctl"))
        functions.append(helper.make_function(fdomain, "Fn", ["x"], ["y"], body,
                                              [helper.make_opsetid("", 17)]))
        graph.node.append(helper.make_node("Fn", ["x"], ["y"], name="call", domain=fdomain))
        opsets.append(helper.make_opsetid(fdomain, 1))
    m = helper.make_model(graph, opset_imports=opsets, functions=functions or None,
                          producer_name=rng.choice(["pytorch", "tf2onnx", "skl2onnx", ""]))
    m.ir_version = rng.choice([7, 8, 9, 10])
    if rng.random() < 0.1:
        ti = m.training_info.add()
        ti.algorithm.CopyFrom(subgraph(rng, 0, "train"))
    if rng.random() < 0.1:
        m.metadata_props.add(key="k", value="v")
    if rng.random() < 0.1:
        m.doc_string = "exported model"
    return m


def deep_model(rng, levels):
    """If nodes nested `levels` deep around a leaf graph, built on the wire (copying a message
    that deep through the protobuf API meets its depth limit): the model's graph is nested
    1 + 3 * levels messages deep, protobuf refuses more than 100."""
    g = subgraph(rng, 0, "leaf").SerializeToString()
    for i in range(levels):
        attr = ser([F(1, 2, b"then_branch"), F(20, 0, 5), F(6, 2, g)])
        node = ser([F(3, 2, f"if{i}".encode()), F(4, 2, b"If"), F(5, 2, attr)])
        g = ser([F(1, 2, node), F(2, 2, f"l{i}".encode())])
    return ser([F(1, 0, 9), F(7, 2, g), F(8, 2, ser([F(1, 2, b""), F(2, 0, 17)]))])


def deep_exact(levels, keep):
    """If nodes nested `levels` deep around a leaf graph holding the first `keep` of: a custom
    node, its tensor attribute, the tensor (external, data_location EXTERNAL), its escaping
    location entry. Without value infos, so the leaf's depth is exact: the innermost graph is
    1 + 3 * levels messages below the model, each leaf part one more."""
    entry = ser([F(1, 2, b"location"), F(2, 2, b"../deep.bin")])
    tensor = ser([F(1, 0, 4), F(2, 0, 1), F(8, 2, b"deep_t")] + ([F(13, 2, entry)] if keep > 3 else [])
                 + [F(14, 0, 1)])
    attr = ser([F(1, 2, b"value"), F(20, 0, 4)] + ([F(5, 2, tensor)] if keep > 2 else []))
    node = ser([F(4, 2, b"DeepOp"), F(7, 2, b"com.deep")] + ([F(5, 2, attr)] if keep > 1 else []))
    g = ser([F(1, 2, node)] if keep > 0 else [])
    for i in range(levels):
        attr = ser([F(1, 2, b"then_branch"), F(20, 0, 5), F(6, 2, g)])
        node = ser([F(3, 2, f"if{i}".encode()), F(4, 2, b"If"), F(5, 2, attr)])
        g = ser([F(1, 2, node), F(2, 2, f"l{i}".encode())])
    return ser([F(1, 0, 9), F(7, 2, g), F(8, 2, ser([F(1, 2, b""), F(2, 0, 17)]))])


def nested_groups(n, in_graph):
    """Unknown groups nested `n` deep, at the top or inside the graph (protobuf counts a group
    as a level of nesting)."""
    groups = b"\x9b\x06" * n + b"\x9c\x06" * n
    node = ser([F(4, 2, b"Relu")])
    graph = ser([F(1, 2, node)]) + (groups if in_graph else b"")
    return ser([F(1, 0, 9), F(7, 2, graph)]) + (b"" if in_graph else groups)


# ---------------------------------------------------------------- the wire format

MODEL, GRAPH, NODE, ATTR, TENSOR, SPARSE, FUNC, OPSET, ENTRY, TRAIN = range(10)
SUB = {
    MODEL: {7: GRAPH, 8: OPSET, 14: ENTRY, 20: TRAIN, 25: FUNC},
    GRAPH: {1: NODE, 5: TENSOR, 15: SPARSE, 16: ENTRY},
    NODE: {5: ATTR},
    ATTR: {5: TENSOR, 6: GRAPH, 10: TENSOR, 11: GRAPH, 22: SPARSE, 23: SPARSE},
    TENSOR: {13: ENTRY},
    SPARSE: {1: TENSOR, 2: TENSOR},
    FUNC: {7: NODE, 9: OPSET},
    OPSET: {}, ENTRY: {},
    TRAIN: {1: GRAPH, 2: GRAPH},
}
STRINGS = {MODEL: [2, 3, 4, 6], GRAPH: [2, 10], NODE: [1, 2, 3, 4, 6, 7], ATTR: [1, 4],
           TENSOR: [8, 12], SPARSE: [], FUNC: [1, 10], OPSET: [1], ENTRY: [1, 2], TRAIN: []}
VARINTS = {MODEL: [1, 5], GRAPH: [], NODE: [], ATTR: [2, 20], TENSOR: [2, 14], SPARSE: [],
           FUNC: [], OPSET: [2], ENTRY: [], TRAIN: []}


def varint(v, pad=0):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    if pad:
        out[-1] |= 0x80
        out += b"\x80" * (pad - 1) + b"\x00"
    return bytes(out)


def read_varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, pos


class F:
    """A field: number, wire type, value (int, fixed bytes, bytes, a message: list of F)."""
    __slots__ = ("num", "wire", "val", "kind")

    def __init__(self, num, wire, val, kind=None):
        self.num, self.wire, self.val, self.kind = num, wire, val, kind


def parse(b, kind):
    out = []
    pos = 0
    while pos < len(b):
        key, pos = read_varint(b, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, pos = read_varint(b, pos)
            out.append(F(num, 0, v))
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            out.append(F(num, wire, b[pos:pos + n]))
            pos += n
        elif wire == 2:
            n, pos = read_varint(b, pos)
            body = b[pos:pos + n]
            pos += n
            sub = SUB[kind].get(num)
            out.append(F(num, 2, parse(body, sub), sub) if sub is not None else F(num, 2, body))
        else:
            raise ValueError("no groups in generated models")
    return out


def ser(msg, rng=None, pad=0.0):
    """Serialises; with `rng`, varints (keys, lengths, values) are padded at rate `pad`."""
    out = bytearray()

    def v(x, limit=10):
        if rng is not None and rng.random() < pad:
            natural = len(varint(x))
            if natural < limit:
                return varint(x, pad=rng.randrange(natural + 1, limit + 1) - natural)
        return varint(x)

    for f in msg:
        if f.wire == "raw":
            out += f.val
            continue
        out += v((f.num << 3) | f.wire, 5)
        if f.wire == 0:
            out += v(f.val)
        elif f.wire in (1, 5):
            out += f.val
        elif f.wire == 2:
            body = ser(f.val, rng, pad) if isinstance(f.val, list) else f.val
            out += v(len(body), 5) + body
        elif f.wire == 3:
            out += ser(f.val, rng, pad) + varint((f.num << 3) | 4)
    return bytes(out)


def messages(msg, kind, path=()):
    """Every (message, kind) in the tree."""
    yield msg, kind
    for f in msg:
        if f.wire == 2 and isinstance(f.val, list):
            yield from messages(f.val, f.kind, path + (f.num,))


def pick(rng, tree, kinds=None):
    all_ = [(m, k) for m, k in messages(tree, MODEL) if kinds is None or k in kinds]
    return rng.choice(all_) if all_ else (None, None)


def unknown_field(rng, depth=0):
    num = rng.choice([9, 17, 99, 1000, 536870911, 30, 21])
    wire = rng.choice([0, 1, 2, 5, 3] if depth < 2 else [0, 1, 2, 5])
    if wire == 0:
        return F(num, 0, rng.choice([0, 1, 300, 2 ** 63, 2 ** 64 - 1]))
    if wire == 1:
        return F(num, 1, bytes(rng.randrange(256) for _ in range(8)))
    if wire == 5:
        return F(num, 5, bytes(rng.randrange(256) for _ in range(4)))
    if wire == 2:
        return F(num, 2, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 6))))
    return F(num, 3, [unknown_field(rng, depth + 1) for _ in range(rng.randrange(0, 3))])


def bad_utf8(rng):
    return rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\xc0\xaf", b"\x80",
                       b"\xf4\x90\x80\x80", b"\xf0\x9f\x98"])


def copy(msg):
    return [F(f.num, f.wire, copy(f.val) if isinstance(f.val, list) else f.val, f.kind)
            for f in msg]


def mutate(rng, tree):
    """One wire-level mutation of the parsed model `tree`: (why, bytes)."""
    t = copy(tree)
    op = rng.randrange(33)
    if op == 0:
        # The graph written twice, its nodes in the second occurrence: protobuf merges them.
        g = [f for f in t if f.num == 7]
        if g:
            nodes = [f for f in g[0].val if f.num == 1]
            g[0].val = [f for f in g[0].val if f.num != 1]
            at = rng.randrange(len(t) + 1)
            t.insert(at, F(7, 2, nodes, GRAPH))
            return "nodes in a second graph occurrence", ser(t)
    if op == 1:
        g = [f for f in t if f.num == 7]
        if g:
            t.append(F(7, 2, copy(g[0].val), GRAPH))
            return "graph written twice (merged: nodes twice)", ser(t)
    if op == 2:
        m, k = pick(rng, t, {NODE})
        if m is not None:
            d = rng.choice(DOMAINS).encode()
            if rng.random() < 0.5:
                m.append(F(7, 2, d))
            else:
                m.insert(0, F(7, 2, d))
            return "node domain written twice", ser(t)
    if op == 3:
        m, k = pick(rng, t, {NODE})
        if m is not None:
            m.insert(rng.randrange(len(m) + 1), F(4, 2, rng.choice(OPS).encode()))
            return "node op_type written twice", ser(t)
    if op == 4:
        m, k = pick(rng, t, {TENSOR})
        if m is not None:
            loc = rng.choice(LOCATIONS).encode()
            entry = F(13, 2, [F(1, 2, b"location"), F(2, 2, loc)], ENTRY)
            m.insert(rng.randrange(len(m) + 1), entry)
            if rng.random() < 0.5:
                m.append(F(14, 0, 1))
            return "external_data location entry added", ser(t)
    if op == 5:
        m, k = pick(rng, t, {ENTRY})
        if m is not None:
            f = rng.choice([F(1, 2, rng.choice([b"location", b"offset", b"key"])),
                            F(2, 2, rng.choice(LOCATIONS).encode())])
            m.insert(rng.randrange(len(m) + 1), f)
            return "entry key or value written twice", ser(t)
    if op == 6:
        m, k = pick(rng, t)
        m.insert(rng.randrange(len(m) + 1), unknown_field(rng))
        return f"unknown field in message kind {k}", ser(t)
    if op == 7:
        for m, k in messages(t, MODEL):
            rng.shuffle(m)
        return "fields shuffled at every level", ser(t)
    if op == 8:
        return "varints padded (keys, lengths at most 5 bytes)", ser(t, rng, 0.3)
    if op == 9:
        # Wrong wire type for a known field: protobuf keeps it as an unknown field.
        m, k = pick(rng, t)
        nums = list(SUB[k]) + STRINGS[k] + VARINTS[k] + ([1] if k in (TENSOR, SPARSE) else [])
        if nums:
            num = rng.choice(nums)
            f = rng.choice([F(num, 0, rng.randrange(1000)), F(num, 1, b"\0" * 8),
                            F(num, 5, b"\1\0\0\0"), F(num, 2, b"\x08\x01"),
                            F(num, 3, [F(4, 2, b"Hidden"), F(7, 2, b"evil")])])
            m.insert(rng.randrange(len(m) + 1), f)
            return f"field {num} of kind {k} with wire type {f.wire}", ser(t)
    if op == 10:
        m, k = pick(rng, t)
        if STRINGS[k]:
            num = rng.choice(STRINGS[k])
            s = rng.choice([b"ok", b"com.", b"../"]) + bad_utf8(rng) + rng.choice([b"", b"x"])
            m.insert(rng.randrange(len(m) + 1), F(num, 2, s))
            return f"string field {num} of kind {k} not UTF-8", ser(t)
    if op == 11:
        m, k = pick(rng, t, {TENSOR})
        if m is not None:
            dims = [f for f in m if f.num == 1]
            m[:] = [f for f in m if f.num != 1]
            vals = [f.val for f in dims] or [2, 2]
            if rng.random() < 0.5:
                pad = rng.choice([0, 0, 1, 9])
                m.insert(0, F(1, 2, b"".join(varint(x, pad=pad) if x < 128 else varint(x) for x in vals)))
                why = f"dims packed (padded {pad})"
            else:
                for x in vals:
                    m.insert(rng.randrange(len(m) + 1), F(1, 0, x))
                why = "dims unpacked and interleaved"
            return why, ser(t)
    if op == 12:
        # Repeated fields split and interleaved: opset_import around the graph, nodes around
        # initializers.
        for m, k in messages(t, MODEL):
            if k in (MODEL, GRAPH, FUNC):
                rng.shuffle(m)
        return "repeated fields interleaved", ser(t)
    if op == 13:
        m, k = pick(rng, t)
        if VARINTS[k]:
            num = rng.choice(VARINTS[k])
            m.append(F(num, 0, rng.choice([0, 1, 9, 33, 2 ** 63, 2 ** 64 - 1])))
            return f"varint field {num} of kind {k} written again", ser(t)
    if op == 14:
        b = ser(t)
        cut = rng.randrange(len(b))
        return "truncated", b[:cut]
    if op == 15 or op == 16:
        b = bytearray(ser(t))
        for _ in range(rng.choice([1, 1, 2, 3])):
            at = rng.randrange(len(b))
            b[at] ^= 1 << rng.randrange(8)
        return "bit flips", bytes(b)
    if op == 17:
        b = bytearray(ser(t))
        at = rng.randrange(len(b))
        b[at] = rng.randrange(256)
        return "byte replaced", bytes(b)
    if op == 18:
        b = ser(t)
        tail = rng.choice([b"\0", b"\x08", b"\x80", b"\x0a\x05ab", b"\x0c", b"\x0f\x00",
                           b"\x08" + b"\xff" * 10 + b"\x01", b"\x08" + b"\x81" + b"\x80" * 8 + b"\x7f",
                           b"\x08" + b"\x81" + b"\x80" * 8 + b"\x02", b"\x88\x80\x80\x80\x80\x00\x09",
                           b"\x0a\x80\x80\x80\x80\x00", b"\x3c", b"\x3b\x3c", b"\x3b\x44\x3c",
                           b"\x02\x00", b"\x0b\x0c", b"\x0b"])
        return f"tail {tail.hex()}", b + tail
    if op == 19:
        # Overlong varints: a value padded to 10 bytes (accepted), keys/lengths to 6 (refused),
        # the tenth byte with bits protobuf drops.
        m, k = pick(rng, t)
        if VARINTS[k]:
            num = rng.choice(VARINTS[k])
            style = rng.randrange(4)
            if style == 0:
                raw = varint(num << 3) + varint(9, pad=10 - 1)
            elif style == 1:
                raw = varint(num << 3) + b"\x89" + b"\x80" * 8 + rng.choice([b"\x01", b"\x7f", b"\x02"])
            elif style == 2:
                raw = varint(num << 3, pad=5) + b"\x09"
            else:
                raw = varint(num << 3) + b"\x89" + b"\x80" * 9 + b"\x00"
            m.insert(rng.randrange(len(m) + 1), F(0, "raw", raw))
            return f"overlong varint style {style} for field {num} of kind {k}", ser(t)
    if op == 20:
        m, k = pick(rng, t)
        if m:
            f = rng.choice(m)
            if f.wire == 2:
                body = ser(f.val) if isinstance(f.val, list) else f.val
                style = rng.randrange(3)
                if style == 0:
                    raw = varint((f.num << 3) | 2) + varint(len(body), pad=rng.choice([2, 4, 5])) + body
                elif style == 1:
                    raw = varint((f.num << 3) | 2, pad=rng.choice([2, 4, 5])) + varint(len(body)) + body
                else:
                    raw = varint((f.num << 3) | 2) + varint(len(body) + rng.choice([1, -1, 100])) + body
                m[m.index(f)] = F(0, "raw", raw)
                return f"length-delimited field {f.num} of kind {k}, header style {style}", ser(t)
    if op == 21:
        # A group (wire 3) at a known message field number.
        m, k = pick(rng, t)
        if SUB[k]:
            num = rng.choice(list(SUB[k]))
            body = [F(1, 2, b"\x22\x04Evil\x3a\x04evil"), F(4, 2, b"Evil"), F(7, 2, b"evil")]
            m.insert(rng.randrange(len(m) + 1), F(num, 3, body))
            return f"group at message field {num} of kind {k}", ser(t)
    if op == 22:
        # Field number 0, wire types 6 and 7, mismatched end group.
        m, k = pick(rng, t)
        raw = rng.choice([b"\x00\x01", b"\x06", b"\x07", b"\x0e\x00", b"\x4b\x4c", b"\x4b\x54",
                          b"\x4b\x08\x01\x4c", b"\x4b\x4b\x4c\x4c", b"\x4c"])
        m.insert(rng.randrange(len(m) + 1), F(0, "raw", raw))
        return f"raw {raw.hex()} in kind {k}", ser(t)
    if op == 23:
        # Control characters and NUL in strings (valid UTF-8).
        m, k = pick(rng, t)
        if STRINGS[k]:
            num = rng.choice(STRINGS[k])
            m.insert(rng.randrange(len(m) + 1),
                     F(num, 2, rng.choice([b"a\x00b", b"\x01", b"com.ex\x7fample", b"\xe2\x80\xae.."])))
            return f"control characters in string field {num} of kind {k}", ser(t)
    if op == 24:
        # A tensor's external_data: the location entry duplicated, the first or last escaping.
        m, k = pick(rng, t, {TENSOR})
        if m is not None:
            good, bad = rng.choice(LOCATIONS[:4]), rng.choice(LOCATIONS[4:15])
            first, second = (good, bad) if rng.random() < 0.5 else (bad, good)
            m.append(F(13, 2, [F(1, 2, b"location"), F(2, 2, first.encode())], ENTRY))
            if rng.random() < 0.5:
                m.append(F(13, 2, [F(1, 2, b"offset"), F(2, 2, b"0")], ENTRY))
            m.append(F(13, 2, [F(1, 2, b"location"), F(2, 2, second.encode())], ENTRY))
            m.append(F(14, 0, 1))
            return f"location twice: {first!r} then {second!r}", ser(t)
    if op == 25:
        # An entry whose key or value is written twice inside the entry.
        m, k = pick(rng, t, {TENSOR})
        if m is not None:
            bad = rng.choice(LOCATIONS[4:15]).encode()
            body = rng.choice([
                [F(1, 2, b"offset"), F(2, 2, bad), F(1, 2, b"location")],
                [F(1, 2, b"location"), F(2, 2, bad), F(2, 2, b"w.bin")],
                [F(1, 2, b"location"), F(2, 2, b"w.bin"), F(2, 2, bad)],
                [F(2, 2, bad), F(1, 2, b"location")],
            ])
            m.append(F(13, 2, body, ENTRY))
            m.append(F(14, 0, 1))
            return "entry with a field twice", ser(t)
    if op == 26:
        # data_location written twice / as an unknown enum value (closed enum: unknown field).
        m, k = pick(rng, t, {TENSOR})
        if m is not None:
            m.append(F(14, 0, rng.choice([0, 1, 2, 7])))
            return "data_location written again", ser(t)
    if op == 27:
        # A node hidden in a group of an unknown field, or in an unknown length-delimited field.
        m, k = pick(rng, t, {GRAPH})
        if m is not None:
            node = F(1, 2, [F(4, 2, b"Hidden"), F(7, 2, b"com.hidden")], NODE)
            m.insert(rng.randrange(len(m) + 1), rng.choice([F(99, 3, [node]), F(99, 2, ser([node]))]))
            return "node inside an unknown field", ser(t)
    if op == 28:
        # The opset_import or a function split around other fields, written twice.
        fs = [f for f in t if f.num in (8, 25)]
        if fs:
            f = rng.choice(fs)
            t.insert(rng.randrange(len(t) + 1), F(f.num, 2, copy(f.val), f.kind))
            return f"field {f.num} of the model repeated", ser(t)
    if op == 29:
        # An attribute's subgraph written twice (merged).
        m, k = pick(rng, t, {ATTR})
        if m is not None:
            gs = [f for f in m if f.num == 6]
            if gs:
                extra = [F(1, 2, [F(4, 2, b"Merged"), F(7, 2, b"com.merged")], NODE)]
                m.insert(rng.randrange(len(m) + 1), F(6, 2, extra, GRAPH))
                return "attribute subgraph written twice", ser(t)
    if op == 30:
        # ir_version written twice or missing.
        t[:] = [f for f in t if f.num != 1] + ([F(1, 0, rng.choice([0, 3, 9, 99]))]
                                                if rng.random() < 0.7 else [])
        return "ir_version replaced", ser(t)
    if op == 31:
        # Corruption in a field aigis does not read: protobuf parses every known submessage and
        # packed field, so the model is refused all the same.
        m, k = pick(rng, t, {GRAPH, TENSOR, ATTR, MODEL, NODE})
        bad = {
            GRAPH: [F(11, 2, b"\x0a\x05ab"), F(12, 2, b"\x12\x03\x0a\x01"), F(13, 2, b"\x12\x02\x0a\x80"),
                    F(14, 2, b"\x12\x01"), F(16, 2, b"\x0a")],
            TENSOR: [F(4, 2, b"\0" * 5), F(10, 2, b"\0" * 12), F(7, 2, b"\x01\x80"), F(5, 2, b"\xff"),
                     F(3, 2, b"\x08"), F(16, 2, b"\x12\x09")],
            ATTR: [F(7, 2, b"\0" * 3), F(8, 2, b"\x80"), F(14, 2, b"\x0a\x02\x12\x05"),
                   F(15, 2, b"\x0a")],
            MODEL: [F(14, 2, b"\x0a\x09"), F(26, 2, b"\x10\x80")],
            NODE: [F(9, 2, b"\x0a\x01"), F(10, 2, b"\x12\x02\x10\x80")],
        }[k]
        m.insert(rng.randrange(len(m) + 1), rng.choice(bad))
        return f"corrupt unread field in kind {k}", ser(t)
    # fallbacks: varints padded.
    b = ser(t, rng, 0.05)
    return "padded varints", b


def cases(seed, count):
    rng = random.Random(seed)
    out = []
    seen = set()

    def add(why, b):
        if b in seen:
            return
        seen.add(b)
        case = {"b": base64.b64encode(b).decode(), "why": why}
        case.update(read(b))
        out.append(case)

    add("empty file", b"")
    for levels in [5, 15, 16, 17, 20, 28, 30, 31, 32, 33]:
        add(f"subgraphs nested {levels} levels", deep_model(rng, levels))
    for levels, keep in [(l, 4) for l in [1, 5, 15, 16, 17, 20, 25, 30, 31]] + \
            [(32, k) for k in range(5)] + [(33, 0), (33, 1)]:
        add(f"custom leaf nested {levels} levels, {keep} leaf parts", deep_exact(levels, keep))
    for n in [50, 99, 100, 101]:
        for in_graph in (False, True):
            add(f"unknown groups nested {n} deep" + (" in the graph" if in_graph else ""),
                nested_groups(n, in_graph))
    while len(out) < count:
        m = base_model(rng)
        b = m.SerializeToString()
        add("as written by onnx.helper", b)
        tree = parse(b, MODEL)
        for _ in range(rng.randrange(3, 8)):
            add(*mutate(rng, tree))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20260611)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    all_ = cases(args.seed, args.count)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "onnx.jsonl.gz")
    write_cases(path, all_)
    ok = sum(c["ok"] for c in all_)
    print(f"{path}: {len(all_)} cases, {ok} parsed by onnx.load")


if __name__ == "__main__":
    main()
