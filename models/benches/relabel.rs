//! Relabelling your own recordings with a preset's encoder and codebook, as `counterpart
//! recorpus` does: 10 minutes of 44.1 kHz stereo (plucked-tone melodies written as a 24-bit
//! WAV) with the default preset, timed once and printed (target: at most 60 s on 2 cores), and
//! criterion on one minute. No vector cache: every segment is encoded.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../../inference-core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use counterpart_core::action::RecordingPath;
use counterpart_core::preset::Preset;
use counterpart_models::audio_file::{write_wav, SampleFormat};
use counterpart_models::pipeline::corpus::corpus_from_files;
use counterpart_models::pipeline::encode::EncodingSettings;
use counterpart_models::pipeline::preset_runtime::{preset_encoding, preset_runtime};
use criterion::{criterion_group, criterion_main, Criterion};

const RATE: u32 = 44_100;

/// A stereo recording of `seconds` of melody at `path`.
fn recording(path: &Path, seconds: f64) -> RecordingPath {
    let left = common::melody(RATE, seconds, 0.4, 1);
    let right = common::melody(RATE, seconds, 0.4, 2);
    write_wav(path, RATE, &[left, right], SampleFormat::Int24).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    RecordingPath {
        path: path.to_path_buf(),
        name,
    }
}

fn relabel_benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let preset = Preset::load(root.join("presets/default.cpreset")).expect("the default preset");
    let (codebook, _, _) = preset_runtime(&preset, None).unwrap();
    let encoding = EncodingSettings {
        show_progress: false,
        ..preset_encoding(
            &preset,
            &root.join("encoders/counterpart-default.onnx"),
            0,
            None,
        )
        .unwrap()
    };
    let dir = std::env::temp_dir().join(format!("cp-relabel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let ten = recording(&dir.join("ten-minutes.wav"), 600.0);
    let started = Instant::now();
    let corpus = corpus_from_files(std::slice::from_ref(&ten), &codebook, &encoding).unwrap();
    println!(
        "relabelled 10 minutes of 44.1 kHz stereo ({} segments) in {:.1} s",
        corpus[0].segments.len(),
        started.elapsed().as_secs_f64()
    );

    let one = recording(&dir.join("one-minute.wav"), 60.0);
    let mut group = c.benchmark_group("relabel");
    group.sample_size(10);
    group.bench_function("one minute of 44.1 kHz stereo", |b| {
        b.iter(|| corpus_from_files(std::slice::from_ref(&one), &codebook, &encoding).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, relabel_benches);
criterion_main!(benches);
