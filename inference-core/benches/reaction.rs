//! How soon the companion answers the guide, through the engine in real time: the audio thread
//! (this thread, paced at real time in host blocks of 128, 512 and 4096 frames at 48 kHz) and
//! the worker (its own thread, polling as the plugin's does), the default preset in live mode
//! (look-ahead 0) following rests, its margin fitted to the block size ([`WorkerMargin`]).
//!
//! Each criterion iteration plays 1.5 s of silence, so that the companion rests, then a 1.5 s
//! note that starts on a segment boundary, and times the first sample of the companion's answer
//! after the note's onset. Printed beside it: when the first grain after the onset starts (its
//! crossfade's first sample, whether or not the corpus segment it plays sounds), the margin's parts, the time from the end of the
//! audio a decision needs to the first sample of its grain, the decisions that came late, and
//! the worker's compute per segment (the measure behind [`COMPUTE_ALLOWANCE_S`]). Needs the ONNX
//! Runtime library (`bash scripts/install-onnxruntime.sh`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::engine::{
    build, EncoderSearch, EngineConfig, EngineSettings, LoadedPreset, Margin, OfflineRenderer,
    WorkerMargin, COMPUTE_ALLOWANCE_S, WORKER_POLL,
};
use counterpart_core::preset::Preset;
use criterion::{criterion_group, criterion_main, Criterion};

const RATE: u32 = 48_000;
/// Silence, then a note, each this many segments long.
const SEGMENTS_EACH: u64 = 3;

/// A plucked 220 Hz tone with a few harmonics, `frames` long.
fn note(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let tone: f32 = (1..=4)
                .map(|h| (std::f32::consts::TAU * 220.0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.3 * tone * (-1.5 * t).exp()
        })
        .collect()
}

fn reaction_benches(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/presets/default.cpreset");
    let preset = Preset::load(&path).expect("models/presets/default.cpreset");
    let loaded = LoadedPreset::load_for(&preset, RATE, &EncoderSearch::default(), Some(0)).unwrap();
    let settings = EngineSettings::default();
    // Warm the encoder session (shared by every engine built from `loaded`), so that the
    // compute figures are those of a playing engine.
    let warm = build(loaded.clone(), &EngineConfig::default(), RATE).unwrap();
    let mut renderer = OfflineRenderer::new(warm.audio, warm.worker);
    let mut out = vec![0.0f32; 4096];
    for chunk in note(2 * RATE as usize).chunks(4096) {
        renderer
            .process(&[chunk], &mut [&mut out[..chunk.len()]])
            .unwrap();
    }
    let mut group = c.benchmark_group("reaction, live mode, 48 kHz");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for block in [128usize, 512, 4096] {
        let margin = WorkerMargin::for_host(block, RATE, settings.crossfade_seconds).unwrap();
        let config = EngineConfig {
            lookahead: Some(0),
            settings,
            worker_margin: Margin::Host { max_block: block },
            ..EngineConfig::default()
        };
        let engine = build(loaded.clone(), &config, RATE).unwrap();
        let (mut audio, mut worker) = (engine.audio, engine.worker);
        worker.record_played(true);
        let telemetry = Arc::clone(engine.control.telemetry());
        let segment = (preset.segmentation.length.seconds() * f64::from(RATE)).round() as usize;
        let half = SEGMENTS_EACH as usize * segment;
        let mut cycle = vec![0.0f32; half];
        cycle.extend(note(half));

        let running = Arc::new(AtomicBool::new(true));
        let worker_thread = {
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    if !worker.step().unwrap() {
                        std::thread::sleep(WORKER_POLL);
                    }
                }
                worker
            })
        };
        let mut out = vec![0.0f32; block];
        let mut reactions = Vec::new();
        // Where each iteration's note started, on the engine's clock.
        let mut notes = Vec::new();
        let mut clock = 0u64;
        group.bench_function(format!("{block}-frame blocks"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let mut answer = None;
                    notes.push(clock + half as u64);
                    clock += cycle.len() as u64;
                    for (i, chunk) in cycle.chunks(block).enumerate() {
                        let due = Duration::from_secs_f64((i * block) as f64 / f64::from(RATE));
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        let out = &mut out[..chunk.len()];
                        audio.process(&[chunk], &mut [out]).unwrap();
                        let from = i * block;
                        if answer.is_none() && from + chunk.len() > half {
                            answer = out
                                .iter()
                                .enumerate()
                                .find(|&(j, x)| from + j >= half && x.abs() > 1e-4)
                                .map(|(j, _)| from + j - half);
                        }
                    }
                    let frames = answer.unwrap_or(half);
                    reactions.push(frames as f64 / f64::from(RATE));
                    total += Duration::from_secs_f64(frames as f64 / f64::from(RATE));
                }
                total
            })
        });
        running.store(false, Ordering::Relaxed);
        let played = worker_thread.join().unwrap().take_played();
        let half_fade = f64::from(settings.crossfade_seconds) / 2.0;
        // The first grain after each note's onset (its crossfade's first sample), whatever
        // the corpus segment it plays holds.
        let grains: Vec<u32> = notes
            .iter()
            .filter_map(|&note| {
                let first = played
                    .iter()
                    .find(|s| s.at >= note && s.requested.is_some())?;
                let seconds = (first.at - note) as f64 / f64::from(RATE) - half_fade;
                Some((seconds * 1e3).round() as u32)
            })
            .collect();
        let period = segment as f64 / f64::from(RATE);
        let window_s = loaded.decision.config().reaction_s;
        println!(
            "{block}-frame blocks: margin {:.1} ms = blocks {:.1} + resampler {:.1} + poll and \
             compute {:.1} + half crossfade {:.1}; end of the audio a decision needs to the first \
             sample of its grain {:.1} ms; to a note on a boundary, the first grain starts after \
             {:?} ms (with the preset's {:.0} ms reaction window: the window, then the margin less \
             half the crossfade) and is heard after {:?} ms (one segment, {:.0} ms, more where \
             the slot's segment is silent; 1500: none while the note sounded); late decisions {} \
             of {}; worker compute per segment at most {:.1} ms (allowance {:.1} ms)",
            margin.seconds() * 1e3,
            margin.blocks_s * 1e3,
            margin.resampler_s * 1e3,
            margin.compute_s * 1e3,
            margin.half_crossfade_s * 1e3,
            margin.reaction_seconds() * 1e3,
            grains,
            window_s * 1e3,
            reactions
                .iter()
                .map(|r| (r * 1e3).round() as u32)
                .collect::<Vec<_>>(),
            period * 1e3,
            telemetry.late_decisions(),
            telemetry.decisions(),
            f64::from(telemetry.peak_worker_load()) * period * 1e3,
            COMPUTE_ALLOWANCE_S * 1e3,
        );
    }
    group.finish();
}

criterion_group!(benches, reaction_benches);
criterion_main!(benches);
