//! The plugin's "Use my recordings…": 10 minutes of 44.1 kHz stereo (melodies written as a
//! 16-bit WAV) read, checked, cut and labelled with the default preset's encoder and codebook,
//! as the plugin's loader thread does it (no cache). The 10 minutes are timed once and
//! printed; criterion times one minute. Needs the ONNX Runtime library
//! (`bash scripts/install-onnxruntime.sh`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use counterpart_core::action::{default_name, with_recordings, Recording, RecordingPath};
use counterpart_core::audio_file::{write_wav, SampleFormat};
use counterpart_core::engine::{recut, EncoderSearch};
use counterpart_core::preset::Preset;
use criterion::{criterion_group, criterion_main, Criterion};

const RATE: u32 = 44_100;

/// Writes `seconds` of stereo melodies to `path`.
fn write_recording(path: &Path, seconds: f64) -> RecordingPath {
    let (left, right) = (
        common::melody(RATE, seconds, 0.4, 1),
        common::melody(RATE, seconds, 0.4, 2),
    );
    write_wav(path, RATE, &[left, right], SampleFormat::Int16).unwrap();
    RecordingPath {
        path: path.to_owned(),
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
    }
}

/// What the plugin's loader does with `recording` for `preset`; returns the segment count.
fn label(preset: &Preset, recording: &RecordingPath) -> usize {
    let search = EncoderSearch::default();
    let length = preset.segmentation.length.clone();
    let read = Recording::read(recording, length.seconds()).unwrap();
    let uncut = with_recordings(preset, "bench", vec![read.uncut()], default_name(preset)).unwrap();
    let labelled = recut(&uncut, length, &search, &AtomicBool::new(false), None).unwrap();
    labelled.corpus[0].segments.len()
}

fn recordings_benches(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/presets/default.cpreset");
    let preset = Preset::load(&path).expect("models/presets/default.cpreset");
    let dir = std::env::temp_dir().join(format!("cp-recordings-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let ten = write_recording(&dir.join("ten-minutes.wav"), 600.0);
    let started = Instant::now();
    let segments = label(&preset, &ten);
    println!(
        "the plugin labelled 10 minutes of 44.1 kHz stereo ({segments} segments) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let one = write_recording(&dir.join("one-minute.wav"), 60.0);
    let mut group = c.benchmark_group("recordings");
    group.sample_size(10);
    group.bench_function(
        "one minute of 44.1 kHz stereo, as the plugin labels it",
        |b| b.iter(|| label(&preset, &one)),
    );
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, recordings_benches);
criterion_main!(benches);
