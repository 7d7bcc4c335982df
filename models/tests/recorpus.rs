//! `counterpart recorpus` on a synthetic preset: the labels are the engine's, the coverage
//! report, provenance, and refused recordings.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../../inference-core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use counterpart_core::engine::{recut, EncoderSearch};
use counterpart_core::preset::Preset;
use counterpart_models::audio_file::{self, SampleFormat};

/// Writes `audio` at 16 bits, the same in each of `channels` channels.
fn write_wav(path: &Path, audio: &[f32], rate: u32, channels: u16) {
    let scaled: Vec<f32> = audio.iter().map(|x| x * 30_000.0 / 32_767.0).collect();
    let channels = vec![scaled; usize::from(channels)];
    audio_file::write_wav(path, rate, &channels, SampleFormat::Int16).unwrap();
}

fn recorpus(dir: &Path, corpus: &[PathBuf], out: &str) -> Output {
    let encoder = common::encoder_dir().join(format!("{}.onnx", common::ENCODER_NAME));
    let mut command = Command::new(env!("CARGO_BIN_EXE_counterpart"));
    command
        .args(["recorpus", "--preset"])
        .arg(dir.join("tones.cpreset"))
        .arg("--corpus")
        .args(corpus)
        .arg("-o")
        .arg(dir.join(out))
        .arg("--encoder")
        .arg(encoder)
        .args(["--name", "My tones", "--threads", "1"]);
    command.output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-recorpus-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("takes")).unwrap();
    common::synthetic_preset(1, false)
        .save(dir.join("tones.cpreset"))
        .unwrap();
    dir
}

#[test]
fn recorpus_labels_the_recordings_as_the_engine_does_and_reports_coverage() {
    let dir = temp_dir("labels");
    // A stereo take at another rate, in a folder, and a mono file given directly.
    write_wav(
        &dir.join("takes/low.wav"),
        &common::melody(32_000, 5.0, 0.3, 11),
        32_000,
        2,
    );
    write_wav(
        &dir.join("high.wav"),
        &common::melody(22_050, 3.0, 0.2, 12),
        22_050,
        1,
    );
    let output = recorpus(
        &dir,
        &[dir.join("takes"), dir.join("high.wav")],
        "mine.cpreset",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("label coverage"), "{stdout}");
    assert!(stdout.contains("  present "), "{stdout}");

    let source = Preset::load(dir.join("tones.cpreset")).unwrap();
    let mine = Preset::load(dir.join("mine.cpreset")).unwrap();
    assert_eq!(mine.info.name, "My tones");
    // The model is the source's; the corpus is the recordings, named without absolute paths.
    assert_eq!(mine.decisions, source.decisions);
    assert_eq!(mine.codebook, source.codebook);
    let names: Vec<&str> = mine.corpus.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["low.wav", "high.wav"]);
    assert_eq!(mine.corpus[0].sample_rate, 32_000);
    assert_eq!(mine.corpus[0].channels, 2);
    let provenance = &mine.metrics["recorpus"];
    assert_eq!(provenance["model_from"]["name"], "synthetic tones");
    assert_eq!(provenance["files"][0]["path"], "low.wav");
    assert_eq!(provenance["files"][0]["seconds"], 5.0);

    // The labels are the ones the engine gives when it re-cuts this corpus itself.
    let engine = recut(
        &mine,
        mine.segmentation.length.clone(),
        &EncoderSearch {
            dirs: vec![common::encoder_dir()],
        },
        &AtomicBool::new(false),
        None,
    )
    .unwrap();
    for (ours, theirs) in mine.corpus.iter().zip(&engine.corpus) {
        assert!(ours.segments.len() >= 10);
        assert_eq!(ours.segments, theirs.segments, "{}", ours.name);
    }

    // Every missing label is reported with what plays instead.
    let missing = (0..common::K as u32)
        .filter(|l| {
            !mine
                .corpus
                .iter()
                .flat_map(|f| &f.segments)
                .any(|s| s.label == *l)
        })
        .count();
    assert_eq!(stdout.matches("  missing ").count(), missing, "{stdout}");
    if missing > 0 {
        assert!(stdout.contains("instead (nearest)"), "{stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_and_silent_recordings_are_refused_with_the_reason() {
    let dir = temp_dir("refused");
    std::fs::write(dir.join("takes/broken.wav"), b"RIFF, but not really").unwrap();
    let output = recorpus(&dir, &[dir.join("takes/broken.wav")], "x.cpreset");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("broken.wav cannot be used"), "{stderr}");

    write_wav(&dir.join("silent.wav"), &vec![0.0; 44_100], 22_050, 1);
    let output = recorpus(&dir, &[dir.join("silent.wav")], "x.cpreset");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("silent.wav is silent"), "{stderr}");
    assert!(!dir.join("x.cpreset").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
