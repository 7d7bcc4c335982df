//! Re-cutting the default preset's corpus into eighth notes at 120 BPM (the plugin's Segment
//! control), cold (encoded with the preset's encoder) and cached (read back from the disk
//! cache, [`RecutCache`]).
//!
//! The whole corpus (27 minutes) is timed once and printed; criterion times its first files (two
//! minutes or a little more) cold, and the whole corpus cached. Needs the ONNX Runtime library
//! (`bash scripts/install-onnxruntime.sh`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use counterpart_core::engine::{recut, recut_cached, EncoderSearch, RecutCache};
use counterpart_core::preset::{NoteValueRecord, Preset, SegmentLengthRecord};
use criterion::{criterion_group, criterion_main, Criterion};

fn eighth_at_120() -> SegmentLengthRecord {
    SegmentLengthRecord::TempoSynced {
        note: NoteValueRecord {
            numerator: 1,
            denominator: 8,
        },
        bpm: 120.0,
    }
}

fn recut_benches(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/presets/default.cpreset");
    let bytes = std::fs::read(&path).expect("models/presets/default.cpreset");
    let preset = Preset::from_bytes(&bytes).unwrap();
    let identity = Preset::identity(&bytes).unwrap();
    let search = EncoderSearch::default();
    let go = AtomicBool::new(false);
    let dir = std::env::temp_dir().join(format!("cp-recut-bench-{}", std::process::id()));
    let cache = RecutCache::in_dir(dir.clone(), 1 << 30);
    let minutes = preset
        .corpus
        .iter()
        .map(|f| f.duration_seconds())
        .sum::<f64>()
        / 60.0;

    // The whole corpus into eighths through `cache`: `(re-cut, whether it came from the cache)`.
    let cached = || {
        recut_cached(
            &preset,
            &identity,
            eighth_at_120(),
            &search,
            &go,
            None,
            Some(&cache),
        )
        .unwrap()
    };
    let started = Instant::now();
    assert!(!cached().1);
    let cold = started.elapsed();
    let started = Instant::now();
    assert!(cached().1);
    println!(
        "default preset ({minutes:.1} min of corpus) into eighth notes at 120 BPM: cold {:.2} s, \
         cached {:.1} ms",
        cold.as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut group = c.benchmark_group("recut");
    group.sample_size(10);
    group.bench_function("whole default corpus, cached", |b| b.iter(cached));
    // Two minutes of corpus, encoded.
    let mut slice = preset.clone();
    let mut seen = 0.0;
    slice.corpus.retain(|file| {
        let keep = seen < 120.0;
        seen += file.duration_seconds();
        keep
    });
    let kept: f64 = slice.corpus.iter().map(|f| f.duration_seconds()).sum();
    group.bench_function(format!("{kept:.0} s of corpus, cold"), |b| {
        b.iter(|| recut(&slice, eighth_at_120(), &search, &go, None).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, recut_benches);
criterion_main!(benches);
