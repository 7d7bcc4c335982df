//! The engine's audio thread allocates nothing: a counting global allocator watches
//! `AudioEngine::process` (on this thread only) through decisions, odd block sizes, NaN guide
//! audio, settings changes and a preset swap, while the worker runs between blocks.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

mod alloc_counter;
mod common;

use alloc_counter::{take_count, watch, CountingAllocator};
use common::{encoder_dir, melody, synthetic_preset};
use counterpart_core::engine::{build, EncoderSearch, EngineConfig, EngineSettings, LoadedPreset};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_audio_thread_never_allocates() {
    let rate = 48_000;
    let search = EncoderSearch::in_dirs([encoder_dir()]);
    let preset = synthetic_preset(1, true);
    let loaded = LoadedPreset::load(&preset, rate, &search).unwrap();
    let engine = build(loaded, &EngineConfig::default(), rate).unwrap();
    let (mut audio, mut worker, mut control) = (engine.audio, engine.worker, engine.control);
    let mut guide = melody(rate, 6.0, 0.25, 3);
    guide[10_000] = f32::NAN;
    let right: Vec<f32> = guide.iter().map(|x| -0.5 * x).collect();
    let mut left_out = vec![0.0f32; 5000];
    let mut right_out = vec![0.0f32; 5000];
    let blocks = [1usize, 64, 128, 333, 512, 1024, 4096, 5000];
    let mut position = 0;
    let mut pass = 0;
    while position + 5000 < guide.len() {
        let n = blocks[pass % blocks.len()];
        pass += 1;
        if pass == 20 {
            assert!(control.set_settings(EngineSettings {
                temperature: 0.5,
                crossfade_seconds: 0.02,
                ..EngineSettings::default()
            }));
        }
        if pass == 40 {
            let other = LoadedPreset::load(&synthetic_preset(1, true), rate, &search).unwrap();
            control.load_preset(other).unwrap();
        }
        let g = [
            &guide[position..position + n],
            &right[position..position + n],
        ];
        let mut out = [&mut left_out[..n], &mut right_out[..n]];
        watch(|| audio.process(&g, &mut out)).unwrap();
        while worker.step().unwrap() {}
        position += n;
    }
    assert_eq!(take_count(), 0);
    let telemetry = control.telemetry();
    assert!(telemetry.decisions() > 10);
    assert_eq!(telemetry.nonfinite_samples(), 1);
}
