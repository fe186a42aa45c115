//! The filter's own work per produce+fetch round trip, natively: a Produce v9 request (10 records of 1 KiB)
//! and its answer, a Fetch v12 request and a 10 KiB Fetch answer, through one identified session enforcing
//! a 1,000-rule policy, each frame in one chunk as Envoy hands it over. This is the per-request work
//! the wasm filter adds on top of the calls into the VM (`integration/bench/paired.py` measures those;
//! `integration/bench/wasm-meter` runs this same round trip inside the module).
//!
//! Run: `cargo bench --bench session` (a plain binary, no criterion).

mod common;

use std::time::Instant;

use common::*;

fn main() {
    let cfg = config(&thousand_rule_policy());
    let mut session = session(&cfg);
    // Frames are built up front: the loop measures the session only.
    // KMF_ROUNDS: fewer rounds, e.g. under `valgrind --tool=callgrind` for instruction counts, which this
    // shared machine's timings are too noisy to replace when comparing two builds.
    let rounds: i32 = std::env::var("KMF_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(200_000);
    let frames: Vec<[Vec<u8>; 4]> = (0..64).map(round_trip).collect();
    let run = |session: &mut kafka_mtls_filter::session::Session, rounds: i32| {
        for round in 0..rounds {
            let [a, b, c, d] = &frames[(round % 64) as usize];
            // Correlation ids repeat every 64 rounds; the session matches answers by order, as Kafka does.
            assert!(session.on_downstream(a).close.is_none());
            assert!(session.on_upstream(b).close.is_none());
            assert!(session.on_downstream(c).close.is_none());
            assert!(session.on_upstream(d).close.is_none());
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
    println!("session: {per_round:.0} ns per produce+fetch round trip (4 frames, 1,000-rule policy), natively");
}
