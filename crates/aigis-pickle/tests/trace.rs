//! The traced program (`Options::trace`): what `aigis inspect` prints for a pickle.

use aigis_pickle::{Options, StepKind, scan};

fn program(bytes: &[u8]) -> Vec<(u64, usize, StepKind, String)> {
    let opts = Options {
        trace: true,
        ..Options::default()
    };
    let out = scan(bytes, 0, &opts);
    assert!(!out.program_truncated);
    out.program
        .into_iter()
        .map(|s| (s.offset, s.depth, s.kind, s.text))
        .collect()
}

#[test]
fn protocol_0_reduce_lists_import_call_and_result() {
    // pickle.dumps of a __reduce__ returning (os.system, ('id',)), protocol 0.
    let got = program(b"cos\nsystem\n(S'id'\ntR.");
    assert_eq!(
        got,
        vec![
            (0, 0, StepKind::Import, "from os import system".to_owned()),
            (19, 0, StepKind::Call, "os.system('id')".to_owned()),
            (20, 0, StepKind::Result, "return os.system('id')".to_owned()),
        ]
    );
}

#[test]
fn nested_pickle_steps_carry_their_depth() {
    // pickle.loads(b"cos\nsystem\n(S'id'\ntR.") written as a protocol-2 pickle.
    let inner: &[u8] = b"cos\nsystem\n(S'id'\ntR.";
    let mut outer = b"\x80\x02c_pickle\nloads\nC".to_vec();
    outer.push(inner.len() as u8);
    outer.extend_from_slice(inner);
    outer.extend_from_slice(b"\x85R.");
    let got = program(&outer);
    let nested: Vec<_> = got.iter().filter(|s| s.1 == 1).collect();
    assert!(
        nested
            .iter()
            .any(|s| s.2 == StepKind::Call && s.3 == "os.system('id')"),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|s| s.1 == 0 && s.3.starts_with("_pickle.loads(")),
        "{got:?}"
    );
}

#[test]
fn untraced_scans_record_nothing() {
    let out = scan(&b"cos\nsystem\n(S'id'\ntR."[..], 0, &Options::default());
    assert!(out.program.is_empty());
}

#[test]
fn build_and_persistent_load_are_steps() {
    // A tiny legacy-style torch pickle: a class rebuilt with NEWOBJ, state set by BUILD, and a
    // storage reference through BINPERSID.
    let bytes = b"\x80\x02ccollections\nOrderedDict\nq\x00)\x81q\x01}q\x02X\x01\x00\x00\x00aq\x03K\x01sbX\x07\x00\x00\x00storageq\x04\x85Q\x86.";
    let got = program(bytes);
    let kinds: Vec<StepKind> = got.iter().map(|s| s.2).collect();
    assert_eq!(
        kinds,
        vec![
            StepKind::Import,
            StepKind::New,
            StepKind::Build,
            StepKind::PersistentLoad,
            StepKind::Result
        ],
        "{got:?}"
    );
    assert!(got[2].3.ends_with(".__setstate__({'a': 1})"), "{got:?}");
    assert_eq!(got[3].3, "persistent_load(('storage',))");
}

/// `Options::collect_storages`: the storages `torch.save`'s persistent ids reference, each key
/// once; other persistent ids (legacy `('module', ...)`, plain strings) are not storages.
#[test]
fn storages_are_collected_from_torch_persistent_ids() {
    // [persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 8)),
    //  persistent_load(('storage', torch.HalfStorage, '1', 'cpu', 4)),
    //  persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 8)),
    //  persistent_load(('module', torch.FloatStorage, '2', 'cpu', 1))], protocol 2.
    let storage = |class: &[u8], key: &[u8], n: u8, tag: &[u8]| {
        let mut b = b"(X".to_vec();
        b.extend_from_slice(&u32::try_from(tag.len()).unwrap_or(0).to_le_bytes());
        b.extend_from_slice(tag);
        b.extend_from_slice(b"ctorch\n");
        b.extend_from_slice(class);
        b.extend_from_slice(b"\nX\x01\x00\x00\x00");
        b.extend_from_slice(key);
        b.extend_from_slice(b"X\x03\x00\x00\x00cpuK");
        b.push(n);
        b.extend_from_slice(b"tQ");
        b
    };
    let mut bytes = b"\x80\x02(".to_vec();
    bytes.extend(storage(b"FloatStorage", b"0", 8, b"storage"));
    bytes.extend(storage(b"HalfStorage", b"1", 4, b"storage"));
    bytes.extend(storage(b"FloatStorage", b"0", 8, b"storage"));
    bytes.extend(storage(b"FloatStorage", b"2", 1, b"module"));
    bytes.extend_from_slice(b"l.");
    let opts = Options {
        collect_storages: true,
        ..Options::default()
    };
    let out = scan(&bytes[..], 0, &opts);
    assert!(out.problem.is_none(), "{:?}", out.problem);
    let got: Vec<_> = out
        .storages
        .iter()
        .map(|s| (s.key.as_str(), s.storage_type.as_str(), s.numel))
        .collect();
    assert_eq!(
        got,
        vec![
            ("0", "FloatStorage", Some(8)),
            ("1", "HalfStorage", Some(4))
        ]
    );
    // Off by default.
    assert!(scan(&bytes[..], 0, &Options::default()).storages.is_empty());
}
