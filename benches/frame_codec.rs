//! Frame codec throughput: FrameStream with a forward-everything handler, and the whole Session in enforce
//! mode, over pipelined small Produce frames and over one large Produce, fed in 64 KiB host chunks.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_mtls_filter::frame::{FrameHandler, FrameStream, Verdict};

use common::*;

const CHUNK: usize = 64 * 1024;

/// Forwards every frame as soon as its size prefix is known: the codec's own cost.
struct ForwardAll;

impl FrameHandler for ForwardAll {
    fn on_frame(&mut self, _frame: &[u8], _frame_len: usize) -> Verdict {
        Verdict::Forward
    }
}

fn workloads() -> Vec<(&'static str, Vec<u8>, usize)> {
    vec![
        ("pipelined-1000x-produce-200B", pipelined_produce(1000, 200), 1000),
        ("produce-1MiB", pipelined_produce(1, 1 << 20), 1),
        ("produce-10MiB", pipelined_produce(1, 10 << 20), 1),
    ]
}

fn frame_codec(c: &mut Criterion) {
    let cfg = config(ENFORCE_POLICY);
    let mut group = c.benchmark_group("frame_codec");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    for (name, stream, frames) in workloads() {
        let parts = chunks(&stream, CHUNK);
        group.throughput(Throughput::Bytes(stream.len() as u64));

        describe(&format!("frame_codec/forward-all/{name}"), stream.len(), frames);
        group.bench_function(format!("forward-all/{name}"), |b| {
            b.iter(|| {
                let mut s = FrameStream::new(u32::MAX);
                for part in &parts {
                    let _ = black_box(s.process(black_box(part), &mut ForwardAll));
                }
            })
        });

        describe(&format!("frame_codec/session-enforce/{name}"), stream.len(), frames);
        group.bench_function(format!("session-enforce/{name}"), |b| {
            b.iter_batched_ref(
                || session(&cfg),
                |s| {
                    for part in &parts {
                        let out = s.on_downstream(black_box(part));
                        debug_assert!(out.close.is_none() && out.edits.is_empty());
                        let _ = black_box(out);
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, frame_codec);
criterion_main!(benches);
