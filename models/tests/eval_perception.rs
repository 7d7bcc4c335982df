//! `eval-perception` end to end on a small synthetic stems set written here: two stems (a pure
//! tone and a bright, harmonic-rich tone) playing one note per 0.5 s segment through all twelve
//! pitch classes. The committed tiny test encoder stands in for both encoders.

use std::path::{Path, PathBuf};

use counterpart_core::perception::SegmentEncoderConfig;
use counterpart_models::audio_file::{self, SampleFormat};
use counterpart_models::eval::perception::{evaluate, EvalOptions};

const RATE: u32 = 22_050;

fn write_stem(dir: &Path, name: &str, harmonics: usize, offset: u8) -> serde_json::Value {
    let mut samples = Vec::new();
    let mut notes = Vec::new();
    let seg = RATE as usize / 2;
    for n in 0..16usize {
        let pitch = 57 + ((n as u8 + offset) % 12);
        let f = 440.0 * 2f32.powf((pitch as f32 - 69.0) / 12.0);
        for i in 0..seg {
            let t = i as f32 / RATE as f32;
            let env = (i as f32 / 200.0).min(1.0) * ((seg - i) as f32 / 200.0).min(1.0);
            let x: f32 = (1..=harmonics)
                .map(|h| (2.0 * std::f32::consts::PI * f * h as f32 * t).sin() / h as f32)
                .sum();
            samples.push(0.2 * env * x);
        }
        notes.push(serde_json::json!({
            "onset_s": n as f64 * 0.5,
            "offset_s": n as f64 * 0.5 + 0.49,
            "midi_pitch": pitch,
            "velocity": 80
        }));
    }
    let path = dir.join(format!("{name}.wav"));
    audio_file::write_wav(&path, RATE, &[samples], SampleFormat::Int16).unwrap();
    std::fs::write(
        dir.join(format!("{name}.notes.json")),
        serde_json::to_vec(&notes).unwrap(),
    )
    .unwrap();
    serde_json::json!({
        "name": name,
        "file": format!("{name}.wav"),
        "notes_file": format!("{name}.notes.json"),
        "instrument": name,
        "gm_program": harmonics as u32,
    })
}

#[test]
fn eval_perception_scores_three_methods_per_k() {
    let root = std::env::temp_dir().join(format!("cp-eval-{}", std::process::id()));
    let piece = root.join("piece");
    std::fs::create_dir_all(&piece).unwrap();
    let stems = vec![
        write_stem(&piece, "flute", 1, 0),
        write_stem(&piece, "reed", 8, 5),
    ];
    let manifest = serde_json::json!({ "pieces": [{ "id": "piece", "stems": stems }] });
    std::fs::write(
        root.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();

    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../inference-core/tests/data/tiny_wav2vec2.onnx");
    let options = EvalOptions {
        ks: vec![16],
        config: SegmentEncoderConfig::default(),
        default_encoder: tiny.clone(),
        random_encoder: tiny,
        pieces: None,
        restarts: 2,
        seed: 42,
    };
    let (report, scored) = evaluate(&root, &options).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(scored, 32);
    let at16 = &report["16"];
    assert_eq!(
        at16.keys().map(String::as_str).collect::<Vec<_>>(),
        ["default", "mfcc_chroma", "random"]
    );
    // The same encoder twice gives the same scores.
    assert_eq!(at16["default"], at16["random"]);
    for s in at16.values() {
        assert!((0.0..=1.0).contains(&s.pitch_class_nmi));
        assert!((0.0..=1.0).contains(&s.instrument_nmi));
    }
    // Chroma sees the pitch classes of clean tones.
    assert!(
        at16["mfcc_chroma"].pitch_class_nmi > 0.5,
        "{:?}",
        at16["mfcc_chroma"]
    );
}
