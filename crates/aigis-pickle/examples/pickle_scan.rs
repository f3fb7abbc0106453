//! Scans pickle files given on the command line and prints the verdicts.
//!
//! `cargo run -p aigis-pickle --example pickle_scan -- FILE...`

use aigis_pickle::{Options, scan};

fn main() {
    let opts = Options::default();
    for path in std::env::args().skip(1) {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let started = std::time::Instant::now();
        let r = scan(&file, 0, &opts);
        println!(
            "== {path}: {} stream(s), end {}, max {:?}, problem {:?}, joblib arrays {}, {:?}",
            r.streams.len(),
            r.end,
            r.max_risk(),
            r.problem.as_ref().map(ToString::to_string),
            r.joblib_arrays,
            started.elapsed()
        );
        for v in &r.verdicts {
            println!(
                "  [{}] {} @{}: {} {:?}",
                v.risk.as_str(),
                v.kind.id(),
                v.offset,
                v.message,
                v.iocs
            );
        }
    }
}
