//! The engine's audio thread allocates nothing: a counting global allocator watches
//! `AudioEngine::process` (on this thread only) through decisions, odd block sizes, NaN guide
//! audio, settings changes and a preset swap, while the worker runs between blocks.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{encoder_dir, melody, synthetic_preset};
use counterpart_core::engine::{build, EncoderSearch, EngineConfig, EngineSettings, LoadedPreset};

struct CountingAllocator;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    if WATCHING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

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
        WATCHING.with(|w| w.set(true));
        audio.process(&g, &mut out).unwrap();
        WATCHING.with(|w| w.set(false));
        while worker.step().unwrap() {}
        position += n;
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0);
    let telemetry = control.telemetry();
    assert!(telemetry.decisions() > 10);
    assert_eq!(telemetry.nonfinite_samples(), 1);
}
