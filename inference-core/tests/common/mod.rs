//! A small but complete synthetic preset for engine tests: a corpus of tones, a codebook fitted
//! on the committed tiny encoder's vectors of that corpus, and a decision model with random
//! weights. Nothing here reads `/work/shared`.

#![allow(dead_code)]

use std::f32::consts::TAU;
use std::path::PathBuf;

use candle_core::Device;
use counterpart_core::decision::{seeded_model, DecisionConfig};
use counterpart_core::perception::{
    encode_clip, EncoderOptions, OnnxEncoder, SegmentEncoderConfig, SegmentLength,
    SegmentationConfig,
};
use counterpart_core::preset::{
    sha256_hex, AudioData, CodebookData, CorpusFile, DecisionData, EncoderIdentity, Preset,
    PresetInfo, SegmentRecord, SegmentationSettings,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Alphabet size of the synthetic preset.
pub const K: usize = 16;
/// Segment length of the synthetic preset, in seconds.
pub const SEGMENT_S: f64 = 0.25;
/// Native rate of the synthetic corpus.
pub const CORPUS_RATE: u32 = 22_050;
/// Name of the committed tiny encoder (its file is `<name>.onnx` in [`encoder_dir`]).
pub const ENCODER_NAME: &str = "tiny_wav2vec2";
/// Encoder context of the synthetic preset, in seconds.
pub const CONTEXT_S: f64 = 1.0;

/// The folder holding the committed tiny encoder (this module is shared by the engine's and the
/// CLI's tests, whose crates both sit beside `inference-core`).
pub fn encoder_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../inference-core/tests/data")
}

/// A melody of plucked tones, one note every `note_s` seconds, pitches drawn with `seed`.
pub fn melody(rate: u32, seconds: f64, note_s: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let frames = (seconds * f64::from(rate)) as usize;
    let note = (note_s * f64::from(rate)) as usize;
    let scale = [196.0f32, 220.0, 261.6, 293.7, 329.6, 392.0, 440.0, 523.3];
    let mut out = Vec::with_capacity(frames);
    let mut pitch = scale[0];
    for n in 0..frames {
        if n % note == 0 {
            pitch = scale[rng.random_range(0..scale.len())];
        }
        let t = (n % note) as f32 / rate as f32;
        let envelope = (-6.0 * t).exp() * (t * 400.0).min(1.0);
        let tone: f32 = (1..=3)
            .map(|h| (TAU * pitch * h as f32 * t).sin() / h as f32)
            .sum();
        out.push(0.4 * envelope * tone);
    }
    out
}

/// A seeded random decision model (the same in every run) as a preset stores it.
fn decision_data(decision: &DecisionConfig) -> DecisionData {
    let (_, varmap) = seeded_model(decision, 7, &Device::Cpu).unwrap();
    let weights_path = std::env::temp_dir().join(format!(
        "cp-engine-weights-{}-{}.safetensors",
        std::process::id(),
        rand::random::<u64>()
    ));
    varmap.save(&weights_path).unwrap();
    let weights = std::fs::read(&weights_path).unwrap();
    std::fs::remove_file(&weights_path).unwrap();
    DecisionData {
        config: serde_json::to_value(decision).unwrap(),
        weights,
    }
}

/// [`synthetic_preset`] for live mode, whose decision model hears a reaction window of
/// `reaction_s` seconds.
pub fn live_preset_with_window(reaction_s: f64, embed: bool) -> Preset {
    let mut preset = synthetic_preset(0, embed);
    let mut decision: DecisionConfig =
        serde_json::from_value(preset.decisions[0].config.clone()).unwrap();
    decision.reaction_s = reaction_s;
    preset.decisions = vec![decision_data(&decision)];
    preset
}

/// A synthetic preset for look-ahead `lookahead` with the committed tiny encoder, embedded when
/// `embed`.
pub fn synthetic_preset(lookahead: usize, embed: bool) -> Preset {
    preset_for_encoder(
        &encoder_dir().join(format!("{ENCODER_NAME}.onnx")),
        lookahead,
        embed,
    )
}

/// A synthetic preset whose codebook is fitted on the vectors of `encoder_path` (an encoder with
/// a sidecar description; its default layer is used).
pub fn preset_for_encoder(encoder_path: &std::path::Path, lookahead: usize, embed: bool) -> Preset {
    let onnx = std::fs::read(encoder_path).unwrap();
    let spec = counterpart_core::perception::EncoderSpec::from_sidecar(encoder_path)
        .unwrap()
        .unwrap();
    let name = encoder_path
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let audio = melody(CORPUS_RATE, 8.0, SEGMENT_S, 7);
    let config = SegmentEncoderConfig {
        segmentation: SegmentationConfig {
            length: SegmentLength::Seconds(SEGMENT_S),
            onset_snap: None,
        },
        context_s: CONTEXT_S,
        reaction_s: 0.0,
    };
    let encoder = OnnxEncoder::load(encoder_path, &EncoderOptions::default()).unwrap();
    let dim = spec.hidden_size;
    let (encoded, _) = encode_clip(&audio, CORPUS_RATE, &config, encoder, None).unwrap();
    // Centres: K of the corpus's own vectors, evenly spread.
    let centres: Vec<f32> = (0..K)
        .flat_map(|i| encoded[i * encoded.len() / K].vector.clone())
        .collect();
    let codebook = counterpart_core::perception::Codebook::new(K, dim, centres.clone()).unwrap();
    let segments = encoded
        .iter()
        .map(|e| SegmentRecord {
            start: e.segment.start,
            end: e.segment.end,
            label: codebook.quantise(&e.vector).unwrap(),
        })
        .collect();
    let decision = DecisionConfig {
        d_model: 32,
        num_heads: 2,
        encoder_layers: 1,
        decoder_layers: 1,
        ffn_dim: 64,
        context: 16,
        dropout: 0.0,
        ..DecisionConfig::new(K, lookahead)
    };
    Preset {
        info: PresetInfo {
            name: "synthetic tones".into(),
            author: "tests".into(),
            description: String::new(),
            licence: "CC0-1.0".into(),
            created: "2025-01-01".into(),
        },
        segmentation: SegmentationSettings {
            length: counterpart_core::preset::SegmentLengthRecord::Uniform { seconds: SEGMENT_S },
            onset_snap_seconds: None,
            analysis_sample_rate: 16_000,
        },
        encoder: EncoderIdentity {
            name,
            sha256: sha256_hex(&onnx),
            layer: spec.default_layer as u32,
            context_seconds: CONTEXT_S,
            embedded: embed.then_some(onnx),
        },
        codebook: CodebookData { k: K, dim, centres },
        decisions: vec![decision_data(&decision)],
        corpus: vec![CorpusFile {
            name: "tones.wav".into(),
            sample_rate: CORPUS_RATE,
            channels: 1,
            audio: AudioData::Float(audio),
            segments,
        }],
        metrics: serde_json::json!({}),
        character: None,
    }
}
