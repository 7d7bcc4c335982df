//! Action benchmarks: the grain scheduler's CPU time per 128-frame block at 48 kHz (target:
//! under 2 µs on average) and the navigator's time per decision.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::action::{
    CorpusMemory, GrainScheduler, Label, Navigator, NavigatorConfig, SchedulerConfig, SegmentId,
    SourceRecording,
};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RATE: u32 = 48_000;
const BLOCK: usize = 128;

/// A stereo noise corpus of `seconds` seconds cut into `segment`-frame segments.
fn corpus(seconds: usize, segment: u64, labels: Label) -> Arc<CorpusMemory> {
    let frames = seconds * RATE as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut noise = || {
        (0..frames)
            .map(|_| rng.random_range(-0.5f32..0.5))
            .collect::<Vec<f32>>()
    };
    let channels = vec![noise(), noise()];
    let count = frames as u64 / segment;
    Arc::new(
        CorpusMemory::build(
            RATE,
            vec![SourceRecording {
                name: "bench".into(),
                sample_rate: RATE,
                channels,
                boundaries: (0..=count).map(|i| i * segment).collect(),
                labels: (0..count).map(|_| rng.random_range(0..labels)).collect(),
            }],
        )
        .unwrap(),
    )
}

/// Times `iters` blocks of a scheduler fed one command per `segment`-frame slot, all queued
/// beforehand so only `process` is timed. `next` picks each slot's segment.
fn time_blocks(
    corpus: &Arc<CorpusMemory>,
    segment: u64,
    iters: u64,
    mut next: impl FnMut(u64) -> u32,
) -> Duration {
    let frames = iters * BLOCK as u64;
    let slots = frames / segment + 2;
    let config = SchedulerConfig {
        command_capacity: slots as usize + 1,
        ..SchedulerConfig::new(RATE)
    };
    let (mut scheduler, mut handle) = GrainScheduler::new(config).unwrap();
    handle.load_corpus(Arc::clone(corpus)).unwrap();
    for slot in 0..slots {
        handle.play(slot * segment, SegmentId(next(slot))).unwrap();
    }
    let mut left = vec![0.0f32; BLOCK];
    let mut right = vec![0.0f32; BLOCK];
    let start = Instant::now();
    for _ in 0..iters {
        let mut out = [&mut left[..], &mut right[..]];
        scheduler.process(&mut out).unwrap();
        black_box(&out);
    }
    start.elapsed()
}

fn scheduler(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduler_block_128_stereo_48k");
    // 0.35 s segments (the paper's w), as the worker would send them.
    let slot = 16_800u64;
    let paper = corpus(60, slot, 16);
    let count = paper.segment_count() as u32;
    group.bench_function("jump_every_segment", |b| {
        b.iter_custom(|iters| {
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            time_blocks(&paper, slot, iters, |_| rng.random_range(0..count))
        })
    });
    group.bench_function("contiguous", |b| {
        b.iter_custom(|iters| time_blocks(&paper, slot, iters, |k| (k % u64::from(count)) as u32))
    });
    // Worst case: 80 ms segments, so every frame lies in a 40 ms crossfade of two voices.
    let short = 3_840u64;
    let dense = corpus(60, short, 16);
    let dense_count = dense.segment_count() as u32;
    group.bench_function("always_crossfading", |b| {
        b.iter_custom(|iters| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            time_blocks(&dense, short, iters, |_| rng.random_range(0..dense_count))
        })
    });
    group.finish();
}

fn navigator(c: &mut Criterion) {
    // Ten minutes of corpus at 0.35 s per segment: about 1 700 segments, 64 labels.
    let memory = corpus(600, 16_800, 64);
    let mut group = c.benchmark_group("navigator_decide");
    for continuity in [1.0f32, 0.5] {
        let config = NavigatorConfig {
            continuity,
            ..NavigatorConfig::default()
        };
        let mut navigator = Navigator::new(Arc::clone(&memory), config).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        group.bench_function(format!("continuity_{continuity}"), |b| {
            b.iter(|| black_box(navigator.decide(rng.random_range(0..64)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, scheduler, navigator);
criterion_main!(benches);
