//! Cost of perception per 0.5 s hop: resampling 44.1 kHz to 16 kHz, one encoder call on the 2 s
//! context window (1.5 s of past audio + the 0.5 s segment), pooling and quantisation, with ONNX
//! Runtime on one thread. The real-time factor is the time per hop divided by 0.5 s.
//!
//! Encoders: the committed tiny test encoder, and the default encoder
//! (`models/encoders/counterpart-default.onnx`, or the file named by `COUNTERPART_BENCH_ENCODER`).
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

use std::path::PathBuf;
use std::sync::Arc;

use counterpart_core::perception::{
    Codebook, EncoderOptions, OnnxEncoder, SegmentEncoderConfig, SegmentEncoderCore,
};
use criterion::{criterion_group, criterion_main, Criterion};

const RATE: u32 = 44_100;
const HOP: usize = RATE as usize / 2;

fn signal(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 1330.0 * t).sin()
        })
        .collect()
}

fn bench_encoder(c: &mut Criterion, name: &str, path: PathBuf) {
    if !path.is_file() {
        eprintln!("skipping {name}: {} not found", path.display());
        return;
    }
    let options = EncoderOptions {
        layer: None,
        intra_threads: 1,
    };
    let encoder = OnnxEncoder::load(&path, &options).expect("encoder loads");
    let dim = encoder.spec().hidden_size;
    let centres = (0..64 * dim).map(|i| (i as f32 * 0.37).sin()).collect();
    let codebook = Arc::new(Codebook::new(64, dim, centres).unwrap());
    let mut core = SegmentEncoderCore::new(
        &SegmentEncoderConfig::default(),
        RATE,
        encoder,
        Some(codebook),
    )
    .unwrap();
    let audio = signal(HOP);
    let mut out = Vec::new();
    // Fill the context first so that every measured hop encodes a full 2 s window.
    for _ in 0..6 {
        core.push(&audio, &mut out).unwrap();
    }
    c.bench_function(&format!("perception_hop_0.5s/{name}"), |b| {
        b.iter(|| {
            out.clear();
            core.push(&audio, &mut out).unwrap();
            assert_eq!(out.len(), 1);
        })
    });
}

fn perception(c: &mut Criterion) {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    bench_encoder(c, "tiny_test", here.join("tests/data/tiny_wav2vec2.onnx"));
    let default = std::env::var_os("COUNTERPART_BENCH_ENCODER")
        .map(PathBuf::from)
        .unwrap_or_else(|| here.join("../models/encoders/counterpart-default.onnx"));
    bench_encoder(c, "default", default);
}

criterion_group!(benches, perception);
criterion_main!(benches);
