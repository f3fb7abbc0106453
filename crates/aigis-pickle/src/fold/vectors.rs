//! The str/bytes methods, operators and base-N decoders folded against CPython's own results
//! (`scripts/fold/make_transform_vectors.py`).

use serde_json::{Value as Json, json};

use super::call;
use crate::value::{Arena, Blob, CallKind, Id, Value};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn blob(data: Vec<u8>) -> Box<Blob> {
    Box::new(Blob::Inline { data, at: None })
}

/// The arena value a vector's JSON encodes.
fn build(arena: &mut Arena, v: &Json) -> Id {
    let (tag, x) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .unwrap_or_else(|| panic!("bad value {v}"));
    let items = |arena: &mut Arena| -> Vec<Id> {
        x.as_array()
            .expect("array")
            .iter()
            .map(|i| build(arena, i))
            .collect()
    };
    let value = match tag.as_str() {
        "b" => Value::Bytes(blob(unhex(x.as_str().expect("hex")))),
        "ba" => Value::ByteArray(blob(unhex(x.as_str().expect("hex")))),
        "s" => Value::Str(x.as_str().expect("str").into()),
        "i" => match x.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::BigInt(x.to_string()),
        },
        "float" => Value::Float(x.as_f64().expect("float")),
        "bool" => Value::Bool(x.as_bool().expect("bool")),
        "none" => Value::None,
        "t" => Value::Tuple(items(arena)),
        "l" => Value::List(items(arena)),
        "d" => {
            let pairs = x
                .as_array()
                .expect("pairs")
                .iter()
                .map(|p| (build(arena, &p[0]), build(arena, &p[1])))
                .collect();
            Value::Dict(pairs)
        }
        "rev" => {
            let inner = build(arena, x);
            let callee = arena.push(Value::global("builtins", "reversed"));
            let args = arena.push(Value::Tuple(vec![inner]));
            Value::Call {
                callee,
                args,
                kwargs: None,
                kind: CallKind::Call,
                state: None,
            }
        }
        other => panic!("unknown tag {other}"),
    };
    arena.push(value)
}

/// A folded value in the vectors' encoding.
fn encode(arena: &Arena, id: Id) -> Json {
    let hex = |b: &Blob| match b {
        Blob::Inline { data, .. } => data.iter().map(|c| format!("{c:02x}")).collect::<String>(),
        Blob::External { .. } => panic!("external blob"),
    };
    match arena.get(id) {
        Value::Bytes(b) => json!({ "b": hex(b) }),
        Value::ByteArray(b) => json!({ "ba": hex(b) }),
        Value::Str(s) => json!({ "s": s.as_str() }),
        Value::Int(i) => json!({ "i": i }),
        Value::Bool(b) => json!({ "bool": b }),
        Value::None => json!({ "none": 1 }),
        Value::Dict(pairs) => {
            let pairs: Vec<Json> = pairs
                .iter()
                .map(|&(k, v)| json!([encode(arena, k), encode(arena, v)]))
                .collect();
            json!({ "d": pairs })
        }
        other => panic!("unexpected folded value {other:?}"),
    }
}

#[test]
fn methods_and_decoders_match_cpython() {
    let vectors = include_str!("../../tests/data/transform_vectors.jsonl");
    let (mut n, mut computed, mut refused) = (0, 0, 0);
    let mut wrong = Vec::new();
    for line in vectors.lines() {
        let row: Json = serde_json::from_str(line).expect("json");
        let f = row["f"].as_str().expect("f");
        let mut arena = Arena::default();
        let pos: Vec<Id> = row["a"]
            .as_array()
            .expect("a")
            .iter()
            .map(|v| build(&mut arena, v))
            .collect();
        let args = arena.push(Value::Tuple(pos));
        let kw = row["k"].as_object().expect("k");
        let kwargs = (!kw.is_empty()).then(|| {
            let pairs = kw
                .iter()
                .map(|(k, v)| {
                    let key = arena.push(Value::Str(k.as_str().into()));
                    (key, build(&mut arena, v))
                })
                .collect();
            arena.push(Value::Dict(pairs))
        });
        let got = call(&mut arena, f, args, kwargs).map(|v| {
            let id = arena.push(v);
            encode(&arena, id)
        });
        let may_refuse = row["may_refuse"].as_bool().unwrap_or(false);
        match (&row["out"], got) {
            (Json::String(bang), got) if bang == "!" => {
                if let Some(got) = got {
                    wrong.push(format!("CPython raises, the fold made {got}: {line}"));
                }
            }
            (_, None) => {
                if !may_refuse {
                    wrong.push(format!("CPython computes it, the fold refused: {line}"));
                }
                refused += 1;
            }
            (want, Some(got)) => {
                if &got != want {
                    wrong.push(format!("the fold made {got}: {line}"));
                }
                computed += 1;
            }
        }
        n += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} vectors differ:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(40)].join("\n")
    );
    assert!(
        n > 8000 && computed > 3000,
        "{n} vectors, {computed} computed"
    );
    assert!(refused < n / 10, "{refused} of {n} refused");
}

/// Results past the fold's cap are refused (CPython would compute them; the loader that
/// receives one is reported instead).
#[test]
fn results_past_the_cap_are_refused() {
    let mut arena = Arena::default();
    let bytes = |arena: &mut Arena, b: Vec<u8>| arena.push(Value::Bytes(blob(b)));
    let a = bytes(&mut arena, vec![b'a'; 4096]);
    let empty = bytes(&mut arena, Vec::new());
    let wide = bytes(&mut arena, vec![b'x'; 4096]);
    let args = arena.push(Value::Tuple(vec![a, empty, wide]));
    assert!(call(&mut arena, "builtins.bytes.replace", args, None).is_none());
    let n = arena.push(Value::Int(5000));
    let args = arena.push(Value::Tuple(vec![wide, n]));
    assert!(call(&mut arena, "operator.mul", args, None).is_none());
    let n = arena.push(Value::Int(4000));
    let args = arena.push(Value::Tuple(vec![wide, n]));
    assert!(call(&mut arena, "operator.mul", args, None).is_some());
}
