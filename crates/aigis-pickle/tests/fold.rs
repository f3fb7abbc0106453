//! Bytes built at load time and handed to a loader: folded and scanned when computable,
//! reported (fail closed) when not.

use aigis_pickle::{Options, PickleScan, Risk, VerdictKind, scan};

/// A tiny pickle assembler (protocol 2 opcodes).
#[derive(Default, Clone)]
struct P(Vec<u8>);

impl P {
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn op(self, code: u8) -> Self {
        self.raw(&[code])
    }
    fn global(self, module: &str, name: &str) -> Self {
        self.raw(format!("c{module}\n{name}\n").as_bytes())
    }
    fn ustr(self, s: &str) -> Self {
        let b = s.as_bytes();
        self.raw(b"X").raw(&(b.len() as u32).to_le_bytes()).raw(b)
    }
    fn bytes(self, b: &[u8]) -> Self {
        self.raw(b"B").raw(&(b.len() as u32).to_le_bytes()).raw(b)
    }
    fn int(self, n: i32) -> Self {
        self.raw(b"J").raw(&n.to_le_bytes())
    }
    fn mark(self) -> Self {
        self.op(b'(')
    }
    fn tuple(self) -> Self {
        self.op(b't')
    }
    fn reduce(self) -> Self {
        self.op(b'R')
    }
    fn list(self) -> Self {
        self.op(b'l')
    }
    /// `torch.storage._load_from_bytes(<arg>)`: an allowed loader.
    fn load(arg: P) -> P {
        P::default()
            .raw(&[0x80, 2])
            .global("torch.storage", "_load_from_bytes")
            .mark()
            .raw(&arg.0)
            .tuple()
            .reduce()
            .op(b'.')
    }
    /// `module.name(*args)`, the arguments already assembled.
    fn call(module: &str, name: &str, args: &[P]) -> P {
        let mut p = P::default().global(module, name).mark();
        for a in args {
            p = p.raw(&a.0);
        }
        p.tuple().reduce()
    }
}

fn s(v: &str) -> P {
    P::default().ustr(v)
}

fn b(v: &[u8]) -> P {
    P::default().bytes(v)
}

/// `os.system('id')`, protocol 2.
fn payload() -> Vec<u8> {
    let mut v = vec![0x80, 2];
    v.extend_from_slice(b"cos\nsystem\nX\x02\x00\x00\x00id\x85R.");
    v
}

fn run(p: &P) -> PickleScan {
    scan(&p.0[..], 0, &Options::default())
}

fn assert_nested_found(p: &P, what: &str) {
    let r = run(p);
    assert!(
        r.verdicts.iter().any(|v| v.risk == Risk::Critical
            && v.message.contains("nested pickle")
            && v.message.contains("os.system('id')")),
        "{what}: {:#?}",
        r.verdicts
    );
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

#[test]
fn bytes_of_int_list() {
    let mut items = P::default().mark();
    for &c in &payload() {
        items = items.int(i32::from(c));
    }
    let list = items.list();
    assert_nested_found(
        &P::load(P::call("builtins", "bytes", std::slice::from_ref(&list))),
        "bytes(list)",
    );
    assert_nested_found(
        &P::load(P::call("builtins", "bytearray", &[list])),
        "bytearray(list)",
    );
}

#[test]
fn codecs_of_every_kind() {
    let text = latin1(&payload());
    // str.encode with latin-1 (the protocol-2 bytes idiom) and its aliases.
    for enc in ["latin1", "ISO-8859-1", "l1"] {
        assert_nested_found(
            &P::load(P::call("_codecs", "encode", &[s(&text), s(enc)])),
            enc,
        );
    }
    // utf-16: the bytes are the decoded text's encoding.
    let utf16: Vec<u8> = {
        let mut v = vec![0xff, 0xfe];
        for c in text.chars() {
            v.extend((c as u16).to_le_bytes());
        }
        v
    };
    let decoded = P::call("codecs", "decode", &[b(&utf16), s("utf-16")]);
    assert_nested_found(
        &P::load(P::call("_codecs", "encode", &[decoded, s("latin-1")])),
        "utf-16 then latin-1",
    );
    // EBCDIC: the payload's latin-1 text encoded as cp037, decoded back, encoded as latin-1.
    let ebcdic: &[u8] =
        b" \x02\x83\x96\xa2%\xa2\xa8\xa2\xa3\x85\x94%\xe7\x02\x00\x00\x00\x89\x84\x15\xd9K";
    let decoded = P::call("_codecs", "decode", &[b(ebcdic), s("cp037")]);
    assert_nested_found(
        &P::load(P::call("_codecs", "encode", &[decoded, s("latin-1")])),
        "cp037",
    );
    // rot13 on str, then latin-1.
    let rot = P::call("_codecs", "encode", &[s(&rot13(&text)), s("rot13")]);
    assert_nested_found(
        &P::load(P::call("_codecs", "encode", &[rot, s("latin1")])),
        "rot13",
    );
    // hex and base64 codecs, bytes.fromhex.
    let hex: String = payload().iter().map(|c| format!("{c:02x}")).collect();
    assert_nested_found(
        &P::load(P::call("_codecs", "decode", &[s(&hex), s("hex")])),
        "hex",
    );
    assert_nested_found(
        &P::load(P::call("builtins", "bytes.fromhex", &[s(&hex)])),
        "fromhex",
    );
    let b64 = base64(&payload());
    assert_nested_found(
        &P::load(P::call(
            "codecs",
            "decode",
            &[b(b64.as_bytes()), s("base64")],
        )),
        "base64_codec",
    );
    assert_nested_found(
        &P::load(P::call("base64", "b64decode", &[s(&b64)])),
        "b64decode",
    );
    assert_nested_found(
        &P::load(P::call("binascii", "a2b_base64", &[s(&b64)])),
        "a2b_base64",
    );
    // unicode_escape: the payload spelled as `\xhh` escapes (and octal for a few bytes),
    // decoded to text, encoded as latin-1.
    let escaped: String = payload()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i % 3 == 0 {
                format!("\\{c:o}")
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect();
    let decoded = P::call(
        "_codecs",
        "decode",
        &[b(escaped.as_bytes()), s("unicode_escape")],
    );
    assert_nested_found(
        &P::load(P::call("_codecs", "encode", &[decoded, s("latin-1")])),
        "unicode_escape",
    );
    // idna of ASCII text is the text (labels between dots of at most 63 characters); an IDNA
    // dot (U+3002) comes out as '.', so the text need not hold the protocol-0 STOP.
    for text in [
        "cos\nsystem\n(S'id'\ntR.",
        "cos\nsystem\n(S'id'\ntR\u{3002}",
    ] {
        assert_nested_found(
            &P::load(P::call("_codecs", "encode", &[s(text), s("idna")])),
            "idna",
        );
    }
    // `\N{name}` escapes (names in any case, aliases such as LF), decoded with unicode_escape.
    let named = "\\N{latin small letter c}\\N{LATIN SMALL LETTER O}\\N{Latin Small Letter S}\\N{LF}\
                 system\\N{LINE FEED}(S'id'\\N{line feed}tR\\N{FULL STOP}";
    let decoded = P::call(
        "_codecs",
        "decode",
        &[b(named.as_bytes()), s("unicode_escape")],
    );
    assert_nested_found(
        &P::load(P::call("_codecs", "encode", &[decoded, s("latin-1")])),
        "unicode_escape names",
    );
    // raw_unicode_escape on str: the latin-1 text comes out as its bytes.
    assert_nested_found(
        &P::load(P::call(
            "_codecs",
            "encode",
            &[s(&text), s("raw-unicode-escape")],
        )),
        "raw_unicode_escape",
    );
}

#[test]
fn concatenation_join_and_slices() {
    let p = payload();
    let (x, y) = p.split_at(7);
    assert_nested_found(
        &P::load(P::call("operator", "add", &[b(x), b(y)])),
        "operator.add",
    );
    let parts = P::default().mark().bytes(x).bytes(y).list();
    assert_nested_found(
        &P::load(P::call("builtins", "bytes.join", &[b(b""), parts])),
        "bytes.join",
    );
    // b'junk' + payload + b'junk', sliced.
    let padded = [&b"junk"[..], &p, b"junk"].concat();
    let slice = P::call(
        "builtins",
        "slice",
        &[P::default().int(4), P::default().int(-4)],
    );
    assert_nested_found(
        &P::load(P::call("_operator", "getitem", &[b(&padded), slice])),
        "getitem slice",
    );
    // Reversed, then reversed back with a step of -1.
    let rev: Vec<u8> = p.iter().rev().copied().collect();
    let back = P::call(
        "builtins",
        "slice",
        &[
            P::default().op(b'N'),
            P::default().op(b'N'),
            P::default().int(-1),
        ],
    );
    assert_nested_found(
        &P::load(P::call("operator", "getitem", &[b(&rev), back])),
        "reversed",
    );
}

#[test]
fn compressed_bytes() {
    // zlib.compress(payload()) made by CPython 3.11.
    let z = zlib_payload();
    assert_nested_found(
        &P::load(P::call("zlib", "decompress", &[b(&z)])),
        "zlib.decompress",
    );
    assert_nested_found(
        &P::load(P::call("codecs", "decode", &[b(&z), s("zlib")])),
        "zlib_codec",
    );
}

#[test]
fn uncomputable_input_is_high() {
    // A call the machine cannot evaluate builds the loader's bytes.
    let r = run(&P::load(P::call("mylib", "make_bytes", &[s("x")])));
    let v = r
        .verdicts
        .iter()
        .find(|v| v.kind == VerdictKind::UnverifiedInput);
    let v = v.unwrap_or_else(|| panic!("{:#?}", r.verdicts));
    assert_eq!(v.risk, Risk::High);
    assert!(v.message.contains("computed at load time"), "{}", v.message);
    // A codec input that is not folded (idna of a label that needs nameprep) is not silence
    // either.
    let r = run(&P::load(P::call(
        "_codecs",
        "encode",
        &[s("\u{e9}abc"), s("idna")],
    )));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput && v.risk == Risk::High),
        "{:#?}",
        r.verdicts
    );
    // A str holding a lone surrogate (which the machine cannot represent exactly) is not
    // folded: `_codecs.encode('a\ud800', 'utf-16-le', 'surrogatepass')`.
    let lone = b"a\xed\xa0\x80";
    let lone = P::default()
        .raw(b"X")
        .raw(&(lone.len() as u32).to_le_bytes())
        .raw(lone);
    let r = run(&P::load(P::call(
        "_codecs",
        "encode",
        &[lone, s("utf-16-le"), s("surrogatepass")],
    )));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput),
        "{:#?}",
        r.verdicts
    );
    // Invalid base64 cannot be computed: the call is judged, and so is the loader.
    let r = run(&P::load(P::call("base64", "b64decode", &[s("YQ")])));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn folding_is_bounded() {
    // Ten `bytes(16 MiB)` (a few bytes of pickle each) exceed the per-reading folding budget:
    // what follows is not computed, and the loader that receives it is reported, not passed.
    let mut p = P::default().raw(&[0x80, 2]).mark();
    for _ in 0..10 {
        p = p.raw(&P::call("builtins", "bytes", &[P::default().int(16 << 20)]).0);
    }
    p = p.list().op(b'0');
    let text = latin1(&payload());
    let arg = P::call("_codecs", "encode", &[s(&text), s("latin1")]);
    p = p
        .global("torch.storage", "_load_from_bytes")
        .mark()
        .raw(&arg.0)
        .tuple()
        .reduce()
        .op(b'.');
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput && v.risk == Risk::High),
        "{:#?}",
        r.verdicts
    );
    // One result larger than the per-result cap is not computed either.
    let r = run(&P::load(P::call(
        "builtins",
        "bytes",
        &[P::default().int((16 << 20) + 1)],
    )));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput),
        "{:#?}",
        r.verdicts
    );
}

/// A stream that calls `str.maketrans(<4,000 chars>, <4,000 chars>)` `tables` times (its
/// operands from the memo), then hands a folded nested pickle to a loader.
fn many_tables(tables: usize) -> P {
    let from: String = (0..4000u32)
        .filter_map(|i| char::from_u32(0x4E00 + i))
        .collect();
    let to: String = (0..4000u32)
        .filter_map(|i| char::from_u32(0x6000 + i))
        .collect();
    let maketrans = P::call(
        "builtins",
        "getattr",
        &[P::default().global("builtins", "str"), s("maketrans")],
    );
    let mut p = P::default()
        .raw(&[0x80, 2])
        .raw(&maketrans.0)
        .raw(b"q\x00")
        .ustr(&from)
        .raw(b"q\x01")
        .ustr(&to)
        .raw(b"q\x02000")
        .mark();
    for _ in 0..tables {
        p = p.raw(b"h\x00(h\x01h\x02tR");
    }
    let arg = P::call("_codecs", "encode", &[s(&latin1(&payload())), s("latin1")]);
    p.list()
        .op(b'0')
        .global("torch.storage", "_load_from_bytes")
        .mark()
        .raw(&arg.0)
        .tuple()
        .reduce()
        .op(b'.')
}

#[test]
fn translation_tables_are_charged_to_the_budget() {
    // Each table writes 4,000 entries into the arena: a few are computed and the nested
    // pickle after them is found; 600 run out of the per-reading budget (about 125 fit), so
    // what follows is not computed and the loader that receives it is reported.
    assert_nested_found(&many_tables(10), "10 tables");
    let r = run(&many_tables(600));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnverifiedInput && v.risk == Risk::High),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn literal_and_benign_inputs_unchanged() {
    // Literal bytes stay a nested pickle; folded benign bytes are scanned without findings.
    let r = run(&P::load(b(&payload())));
    assert!(
        r.verdicts
            .iter()
            .all(|v| v.kind != VerdictKind::UnverifiedInput)
    );
    let benign = [0x80, 2, b'K', 1, b'.'];
    let r = run(&P::load(P::call(
        "_codecs",
        "encode",
        &[s(&latin1(&benign)), s("latin1")],
    )));
    assert!(
        r.verdicts.iter().all(|v| v.risk == Risk::Info),
        "{:#?}",
        r.verdicts
    );
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => char::from((c as u8 - b'a' + 13) % 26 + b'a'),
            'A'..='Z' => char::from((c as u8 - b'A' + 13) % 26 + b'A'),
            _ => c,
        })
        .collect()
}

fn base64(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn zlib_payload() -> Vec<u8> {
    // `zlib.compress(b'\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.')`
    ZLIB.to_vec()
}

const ZLIB: &[u8] = &[
    0x78, 0x9c, 0x6b, 0x60, 0x4a, 0xce, 0x2f, 0xe6, 0x2a, 0xae, 0x2c, 0x2e, 0x49, 0xcd, 0xe5, 0x8a,
    0x60, 0x62, 0x60, 0x60, 0xc8, 0x4c, 0x69, 0x0d, 0xd2, 0x03, 0x00, 0x56, 0x3e, 0x06, 0xad,
];
