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
