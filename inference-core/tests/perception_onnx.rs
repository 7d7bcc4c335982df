//! Round trip through the committed tiny Wav2Vec 2.0 ONNX export (`tests/data/tiny_wav2vec2.onnx`,
//! written by `models/python/export_wav2vec2.py --tiny-random`): ONNX Runtime must reproduce the
//! outputs that the export script recorded, and the encoder must plug into the segment encoder.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

use std::path::PathBuf;
use std::sync::Arc;

use counterpart_core::perception::encoder::frame_count;
use counterpart_core::perception::{
    encode_clip, Codebook, EncoderOptions, FrameEncoder, OnnxEncoder, PerceptionError,
    SegmentEncoderConfig,
};

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_wav2vec2.onnx")
}

#[derive(serde::Deserialize)]
struct Reference {
    input: Vec<f32>,
    frames: usize,
    outputs: std::collections::HashMap<String, Vec<f32>>,
}

fn reference() -> Reference {
    let path = model().with_extension("reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn onnx_runtime_reproduces_the_exported_layers() {
    let reference = reference();
    for layer in 0..=2 {
        let options = EncoderOptions {
            layer: Some(layer),
            intra_threads: 1,
        };
        let mut enc = OnnxEncoder::load(&model(), &options).unwrap();
        assert_eq!(enc.layer(), layer);
        assert_eq!(enc.hidden_size(), 32);
        let frames = enc.encode(&reference.input).unwrap();
        assert_eq!(frames.count(), reference.frames);
        assert_eq!(frames.count(), frame_count(reference.input.len()));
        let want = &reference.outputs[&format!("layer_{layer}")];
        let err = frames
            .as_slice()
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "layer {layer}: max difference {err}");
    }
}

#[test]
fn the_default_layer_comes_from_the_sidecar_or_the_model_metadata() {
    let enc = OnnxEncoder::load(&model(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.layer(), 2);
    assert_eq!(enc.spec().num_transformer_layers, 2);
    // Without the sidecar, the description is read from the model's metadata.
    let dir = std::env::temp_dir().join(format!("cp-onnx-meta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("encoder.onnx");
    std::fs::copy(model(), &copy).unwrap();
    let from_meta = OnnxEncoder::load(&copy, &EncoderOptions::default()).unwrap();
    assert_eq!(from_meta.spec(), enc.spec());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn contract_violations_are_clear_errors() {
    let missing = EncoderOptions {
        layer: Some(7),
        intra_threads: 1,
    };
    let err = OnnxEncoder::load(&model(), &missing).unwrap_err();
    assert!(matches!(err, PerceptionError::Contract { .. }), "{err}");
    assert!(err.to_string().contains("layer 7"), "{err}");
    let mut enc = OnnxEncoder::load(&model(), &EncoderOptions::default()).unwrap();
    assert!(enc.encode(&[0.0; 399]).is_err());
    let err = OnnxEncoder::load(
        &model().with_file_name("none.onnx"),
        &EncoderOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PerceptionError::Io { .. }), "{err}");
}

#[test]
fn the_onnx_encoder_tokenises_a_stream_deterministically() {
    let rate = 22_050u32;
    let audio: Vec<f32> = (0..rate as usize * 5)
        .map(|i| {
            let t = i as f32 / rate as f32;
            // A melody of four pitches, one per second, then the first again.
            let f = [220.0, 277.2, 329.6, 440.0, 220.0][(t as usize).min(4)];
            0.3 * (2.0 * std::f32::consts::PI * f * t).sin()
        })
        .collect();
    let centres: Vec<f32> = (0..16)
        .flat_map(|i| (0..32).map(move |d| ((i * 32 + d) as f32 * 0.37).sin()))
        .collect();
    let codebook = Arc::new(Codebook::new(16, 32, centres).unwrap());
    let config = SegmentEncoderConfig::default();
    let enc = OnnxEncoder::load(&model(), &EncoderOptions::default()).unwrap();
    let (first, enc) = encode_clip(&audio, rate, &config, enc, Some(codebook.clone())).unwrap();
    let (second, _) = encode_clip(&audio, rate, &config, enc, Some(codebook)).unwrap();
    assert_eq!(first.len(), 10);
    assert_eq!(first, second);
    for s in &first {
        assert_eq!(s.vector.len(), 32);
        // 0.5 s holds 25 frame centres; the last one's frame would reach 200 samples past the
        // segment's end, into audio that has not arrived, so it is left out.
        assert_eq!(s.frames, 24);
        assert!(s.token.is_some());
    }
}
