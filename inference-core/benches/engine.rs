//! The streaming engine's costs: the audio thread's time per 128-frame block, and the worker's
//! real-time factor (worker time over audio duration) with the default encoder, at 48 kHz.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use counterpart_core::engine::{build, EncoderSearch, EngineConfig, LoadedPreset};
use criterion::{criterion_group, criterion_main, Criterion};

const RATE: u32 = 48_000;

fn default_encoder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/encoders/counterpart-default.onnx")
}

fn engine_benches(c: &mut Criterion) {
    let preset = common::preset_for_encoder(&default_encoder(), 1, true);
    let guide = common::melody(RATE, 20.0, 0.25, 17);

    // Audio thread: one 128-frame block, with the worker keeping up between blocks.
    let loaded = LoadedPreset::load(&preset, RATE, &EncoderSearch::default()).unwrap();
    let engine = build(loaded, &EngineConfig::default(), RATE).unwrap();
    let (mut audio, mut worker) = (engine.audio, engine.worker);
    let mut out = vec![0.0f32; 128];
    let mut position = 0;
    c.bench_function("engine audio thread, 128-frame block (48 kHz)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if position + 128 > guide.len() {
                    position = 0;
                }
                let block = &guide[position..position + 128];
                let started = Instant::now();
                audio.process(&[block], &mut [&mut out]).unwrap();
                total += started.elapsed();
                position += 128;
                while worker.step().unwrap() {}
            }
            total
        })
    });

    // Worker: real-time factor over 20 s of guide.
    let mut group = c.benchmark_group("engine worker");
    group.sample_size(10);
    group.bench_function("20 s of guide, default encoder (48 kHz, L = 1)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let loaded = LoadedPreset::load(&preset, RATE, &EncoderSearch::default()).unwrap();
                let engine = build(loaded, &EngineConfig::default(), RATE).unwrap();
                let (mut audio, mut worker) = (engine.audio, engine.worker);
                let mut out = vec![0.0f32; 512];
                let mut worker_time = Duration::ZERO;
                for block in guide.chunks(512) {
                    audio.process(&[block], &mut [&mut out[..block.len()]]).unwrap();
                    let started = Instant::now();
                    while worker.step().unwrap() {}
                    worker_time += started.elapsed();
                }
                eprintln!(
                    "worker real-time factor: {:.4} ({:.3} s for {:.1} s of audio), peak load per segment {:.3}",
                    worker_time.as_secs_f64() / 20.0,
                    worker_time.as_secs_f64(),
                    20.0,
                    audio.telemetry().peak_worker_load()
                );
                total += worker_time;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, engine_benches);
criterion_main!(benches);
