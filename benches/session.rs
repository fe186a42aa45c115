//! The filter's own work per produce+fetch round trip, natively: a Produce v9 request (10 records of 1 KiB)
//! and its answer, a Fetch v12 request and a 10 KiB Fetch answer, through one identified session enforcing
//! a 1,000-rule policy, each frame in one chunk as Envoy hands it over. This is the per-request work
//! the wasm filter adds on top of the calls into the VM (`integration/bench/paired.py` measures those;
//! `integration/bench/wasm-meter` runs this same round trip inside the module).
//!
//! `KMF_SHAPE=raw-small` or `raw-large` runs instead the round trip Envoy's instructions are counted on
//! (`integration/bench/instructions.py`): Produce v3 and Fetch v4, 10 KiB or ~1 MiB of records, fed through the
//! glue's read loop (`feed`, its windows) in chunks of at most 64 KiB, as Envoy hands a long frame over.
//!
//! Run: `cargo bench --bench session` (a plain binary, no criterion).

mod common;

use std::time::Instant;

use common::*;
use kafka_mtls_filter::feed::{feed_slice, SessionSide, Windows};

fn main() {
    let cfg = config(&thousand_rule_policy());
    let mut session = session(&cfg);
    // Frames are built up front: the loop measures the session only.
    // KMF_ROUNDS: fewer rounds, e.g. under `valgrind --tool=callgrind` for instruction counts, which this
    // shared machine's timings are too noisy to replace when comparing two builds.
    let rounds: i32 = std::env::var("KMF_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(200_000);
    let shape = std::env::var("KMF_SHAPE").unwrap_or_default();
    let raw_records = match shape.as_str() {
        "" => None,
        "raw-small" => Some(10 * 1024),
        "raw-large" => Some(10 * 100 * 1024),
        other => panic!("KMF_SHAPE {other}: raw-small or raw-large"),
    };
    let frames: Vec<[Vec<u8>; 4]> = (0..64)
        .map(|i| match raw_records {
            Some(bytes) => raw_round_trip(i, bytes),
            None => round_trip(i),
        })
        .collect();
    let run = |session: &mut kafka_mtls_filter::session::Session, rounds: i32| {
        for round in 0..rounds {
            let [a, b, c, d] = &frames[(round % 64) as usize];
            // Correlation ids repeat every 64 rounds; the session matches answers by order, as Kafka does.
            if raw_records.is_some() {
                for (frame, downstream) in [(a, true), (b, false), (c, true), (d, false)] {
                    for chunk in frame.chunks(64 * 1024) {
                        let mut side = SessionSide { session: &mut *session, downstream };
                        assert!(!feed_slice(&mut side, chunk, Windows::GLUE).closed);
                    }
                }
            } else {
                assert!(session.on_downstream(a).close.is_none());
                assert!(session.on_upstream(b).close.is_none());
                assert!(session.on_downstream(c).close.is_none());
                assert!(session.on_upstream(d).close.is_none());
            }
            if round % 32 == 0 {
                session.drain_stats_and_topics();
                drop(session.take_events());
            }
        }
    };
    run(&mut session, 10_000.min(rounds));
    let start = Instant::now();
    run(&mut session, rounds);
    let per_round = start.elapsed().as_nanos() as f64 / f64::from(rounds);
    let what = if raw_records.is_some() { shape.as_str() } else { "4 frames" };
    println!("session: {per_round:.0} ns per produce+fetch round trip ({what}, 1,000-rule policy), natively");
}
