//! Preset file format: round trips, lossless audio, every refusal path, and fuzzing.

use std::collections::HashMap;
use std::f32::consts::TAU;

use counterpart_core::preset::{
    sha256_hex, AudioData, CodebookData, CorpusFile, DecisionData, EncoderIdentity,
    NoteValueRecord, Preset, PresetError, PresetInfo, RelationCharacter, SegmentLengthRecord,
    SegmentRecord, SegmentationSettings, FORMAT_VERSION, MARKER_KEY,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const K: usize = 16;
const DIM: usize = 8;
const ENCODER: &[u8] = b"stand-in ONNX bytes for a music encoder";

/// A plucked-string-like tone (decaying harmonics) with a little noise, at `bits` bits.
fn tone_pcm(frames: usize, channels: usize, rate: u32, bits: u8, seed: u64) -> Vec<i32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let full_scale = ((1i64 << (bits - 1)) - 1) as f32;
    let mut samples = Vec::with_capacity(frames * channels);
    for channel in 0..channels {
        let pitch = 220.0 * (1.0 + 0.5 * channel as f32);
        for frame in 0..frames {
            let t = frame as f32 / rate as f32;
            let envelope = (-3.0 * (t % 0.5)).exp();
            let tone: f32 = (1..=4)
                .map(|h| (TAU * pitch * h as f32 * t).sin() / h as f32)
                .sum();
            let noise: f32 = rng.random_range(-0.01..0.01);
            let value = (0.4 * envelope * tone + noise).clamp(-1.0, 1.0);
            samples.push((value * full_scale).round() as i32);
        }
    }
    samples
}

fn uniform_segments(frames: u64, length: u64, seed: u64) -> Vec<SegmentRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..frames / length)
        .map(|i| SegmentRecord {
            start: i * length,
            end: (i + 1) * length,
            label: rng.random_range(0..K as u32 - 2),
        })
        .collect()
}

fn decision_weights() -> Vec<u8> {
    let embedding: Vec<u8> = (0..K * 4).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let bias: Vec<u8> = (0..4)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    safetensors::serialize(
        [
            (
                "embedding.weight",
                TensorView::new(Dtype::F32, vec![K, 4], &embedding).unwrap(),
            ),
            (
                "head.bias",
                TensorView::new(Dtype::F32, vec![4], &bias).unwrap(),
            ),
        ],
        None,
    )
    .unwrap()
}

/// A small but complete preset: a 16-bit stereo recording and a float mono one.
fn sample_preset() -> Preset {
    let rate = 22_050;
    let frames = 22_050;
    let stereo = tone_pcm(frames, 2, rate, 16, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let float: Vec<f32> = (0..8_000)
        .map(|i| 0.3 * (TAU * 330.0 * i as f32 / 16_000.0).sin() + rng.random_range(-0.05..0.05))
        .collect();
    let centres = (0..K * DIM).map(|i| (i as f32 * 0.37).sin()).collect();
    Preset {
        info: PresetInfo {
            name: "Test duo".into(),
            author: "Counterpart tests".into(),
            description: "A plucked tone and a float sine.".into(),
            licence: "CC-BY-4.0".into(),
            created: "2026-01-02T03:04:05Z".into(),
        },
        segmentation: SegmentationSettings {
            length: SegmentLengthRecord::Uniform { seconds: 0.35 },
            onset_snap_seconds: Some(0.03),
            analysis_sample_rate: 16_000,
        },
        encoder: EncoderIdentity {
            name: "MERT-v0-public".into(),
            sha256: sha256_hex(ENCODER),
            layer: 12,
            context_seconds: 15.0,
            embedded: Some(ENCODER.to_vec()),
        },
        codebook: CodebookData {
            k: K,
            dim: DIM,
            centres,
        },
        decisions: vec![
            DecisionData {
                config: json!({"vocab_size": K, "d_model": 4, "layers": 1, "lookahead": 1}),
                weights: decision_weights(),
            },
            DecisionData {
                config: json!({"vocab_size": K, "d_model": 4, "layers": 1, "lookahead": 0}),
                weights: decision_weights(),
            },
        ],
        corpus: vec![
            CorpusFile {
                name: "guitar.flac".into(),
                sample_rate: rate,
                channels: 2,
                audio: AudioData::Pcm {
                    bits_per_sample: 16,
                    samples: stereo,
                },
                segments: uniform_segments(frames as u64, 7_717, 3),
            },
            CorpusFile {
                name: "sine.wav".into(),
                sample_rate: 16_000,
                channels: 1,
                audio: AudioData::Float(float),
                segments: vec![
                    SegmentRecord {
                        start: 0,
                        end: 5_600,
                        label: 3,
                    },
                    SegmentRecord {
                        start: 6_000,
                        end: 8_000,
                        label: K as u32 - 1,
                    },
                ],
            },
        ],
        metrics: json!({"val_accuracy": 0.4123, "perplexity": 12.75, "epochs": 30}),
        character: Some(sample_character()),
    }
}

fn sample_character() -> RelationCharacter {
    RelationCharacter {
        pairs: 3,
        seconds: 151.2,
        onset_coincidence: Some(0.912),
        a_onset_coverage: Some(0.55),
        b_onsets_per_s: 1.04,
        a_onsets_per_s: 1.72,
        note_rate_ratio: Some(0.605),
        presence: Some(0.97),
        b_sounding: Some(0.93),
        changes_within_beat: None,
        b_beats: 0,
    }
}

/// A tensor pulled out of a file: name, type, shape and bytes.
type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// A way to break a valid preset.
type Breaker = Box<dyn Fn(&mut Preset)>;

/// The header JSON and tensors of preset bytes.
fn split(bytes: &[u8]) -> (Value, Vec<RawTensor>) {
    let (_, metadata) = SafeTensors::read_metadata(bytes).unwrap();
    let header = metadata.metadata().as_ref().unwrap()[MARKER_KEY].clone();
    let tensors = SafeTensors::deserialize(bytes).unwrap();
    let list = tensors
        .iter()
        .map(|(name, view)| {
            (
                name.to_owned(),
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    (serde_json::from_str(&header).unwrap(), list)
}

/// Re-serialises preset bytes after `edit`, recomputing the content checksum when `rehash`.
fn rewrite(
    bytes: &[u8],
    rehash: bool,
    edit: impl FnOnce(&mut Value, &mut Vec<RawTensor>),
) -> Vec<u8> {
    let (mut header, mut tensors) = split(bytes);
    edit(&mut header, &mut tensors);
    if rehash {
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hasher = Sha256::new();
        for (name, _, _, data) in &tensors {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update((data.len() as u64).to_le_bytes());
            hasher.update(data);
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        header["content_sha256"] = json!(digest);
    }
    let views: Vec<_> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    let metadata = HashMap::from([(MARKER_KEY.to_owned(), header.to_string())]);
    safetensors::serialize(views, Some(metadata)).unwrap()
}

fn invalid_message(preset: &Preset) -> String {
    match preset.to_bytes() {
        Err(PresetError::Invalid(reason)) => reason,
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn round_trip_preserves_every_field() {
    let preset = sample_preset();
    let bytes = preset.to_bytes().unwrap();
    let loaded = Preset::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, preset);
    // Writing is deterministic.
    assert_eq!(loaded.to_bytes().unwrap(), bytes);
}

#[test]
fn one_model_per_lookahead_is_found_by_lookahead() {
    let preset = sample_preset();
    assert_eq!(preset.lookaheads(), vec![1, 0]);
    assert_eq!(preset.decision_for(None), Some(&preset.decisions[0]));
    assert_eq!(preset.decision_for(Some(0)), Some(&preset.decisions[1]));
    assert_eq!(preset.decision_for(Some(1)), Some(&preset.decisions[0]));
    assert_eq!(preset.decision_for(Some(2)), None);
    let (header, tensors) = split(&preset.to_bytes().unwrap());
    assert_eq!(header["version"], json!(FORMAT_VERSION));
    assert_eq!(header["decisions"].as_array().unwrap().len(), 2);
    let names: Vec<&str> = tensors.iter().map(|t| t.0.as_str()).collect();
    assert!(names.contains(&"decision.0.weights") && names.contains(&"decision.1.weights"));
}

#[test]
fn version_1_files_with_one_model_still_load() {
    let mut preset = sample_preset();
    preset.decisions.truncate(1);
    let bytes = preset.to_bytes().unwrap();
    preset.character = None;
    let v1 = rewrite(&bytes, true, |header, tensors| {
        header["version"] = json!(1);
        header.as_object_mut().unwrap().remove("character");
        let decisions = header.as_object_mut().unwrap().remove("decisions").unwrap();
        header["decision"] = decisions[0].clone();
        for t in tensors.iter_mut() {
            if t.0 == "decision.0.weights" {
                t.0 = "decision.weights".into();
            }
        }
    });
    assert_eq!(Preset::from_bytes(&v1).unwrap(), preset);

    // A version 1 header with the version 2 model list is corrupt, and so is the reverse.
    let mixed = rewrite(&bytes, true, |header, _| header["version"] = json!(1));
    assert!(matches!(
        Preset::from_bytes(&mixed),
        Err(PresetError::Corrupt(_))
    ));
    let mixed = rewrite(&v1, true, |header, _| header["version"] = json!(2));
    assert!(matches!(
        Preset::from_bytes(&mixed),
        Err(PresetError::Corrupt(_))
    ));
}

#[test]
fn version_2_files_without_a_character_still_load() {
    let preset = sample_preset();
    let bytes = preset.to_bytes().unwrap();
    let (header, _) = split(&bytes);
    assert_eq!(header["version"], json!(3));
    assert_eq!(header["character"]["onset_coincidence"], json!(0.912));
    assert_eq!(header["character"]["changes_within_beat"], Value::Null);
    let v2 = rewrite(&bytes, false, |header, _| {
        header["version"] = json!(2);
        header.as_object_mut().unwrap().remove("character").unwrap();
    });
    let loaded = Preset::from_bytes(&v2).unwrap();
    assert_eq!(loaded.character, None);
    assert_eq!(
        loaded,
        Preset {
            character: None,
            ..preset.clone()
        }
    );
    // Written again it is version 3, with no `character` field.
    let (header, _) = split(&loaded.to_bytes().unwrap());
    assert_eq!(header["version"], json!(3));
    assert!(header.get("character").is_none());

    // A version 2 header cannot carry a character, and a character must be well formed.
    let mixed = rewrite(&bytes, false, |header, _| header["version"] = json!(2));
    assert!(matches!(
        Preset::from_bytes(&mixed),
        Err(PresetError::Corrupt(_))
    ));
    let unknown = rewrite(&bytes, false, |header, _| {
        header["character"]["swing"] = json!(0.5);
    });
    assert!(matches!(
        Preset::from_bytes(&unknown),
        Err(PresetError::Corrupt(_))
    ));
    let mut wrong = preset;
    wrong.character.as_mut().unwrap().presence = Some(1.5);
    assert!(invalid_message(&wrong).contains("presence"));
}

#[test]
fn the_shipped_version_2_preset_reads_without_a_character() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/presets/default.cpreset");
    let bytes = std::fs::read(&path).unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let header: Value =
        serde_json::from_str(&metadata.metadata().as_ref().unwrap()[MARKER_KEY]).unwrap();
    assert_eq!(header["version"], json!(2));
    assert!(header.get("character").is_none());
    let timing = counterpart_core::preset::PresetTiming::from_header_bytes(&bytes).unwrap();
    assert!(!timing.models.is_empty());
}

#[test]
fn tempo_synced_settings_and_no_embedded_encoder_round_trip() {
    let mut preset = sample_preset();
    preset.segmentation = SegmentationSettings {
        length: SegmentLengthRecord::TempoSynced {
            note: NoteValueRecord {
                numerator: 1,
                denominator: 8,
            },
            bpm: 97.5,
        },
        onset_snap_seconds: None,
        analysis_sample_rate: 16_000,
    };
    preset.encoder.embedded = None;
    let loaded = Preset::from_bytes(&preset.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded, preset);
    let seconds = loaded.segmentation.length.seconds();
    assert!((seconds - 0.5 * 60.0 / 97.5).abs() < 1e-12, "{seconds}");
}

#[test]
fn flac_round_trip_is_bit_exact_at_every_supported_depth() {
    for bits in [8u8, 12, 16, 20, 24] {
        let frames = 5_000;
        let mut samples = tone_pcm(frames, 2, 44_100, bits, u64::from(bits));
        // Full-scale extremes and a random stretch that does not compress.
        let max = (1i32 << (bits - 1)) - 1;
        samples[..4].copy_from_slice(&[-max - 1, max, -max - 1, max]);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for sample in &mut samples[1_000..2_000] {
            *sample = rng.random_range(-max - 1..=max);
        }
        let mut preset = sample_preset();
        preset.corpus[0] = CorpusFile {
            name: format!("{bits}-bit.flac"),
            sample_rate: 44_100,
            channels: 2,
            audio: AudioData::Pcm {
                bits_per_sample: bits,
                samples: samples.clone(),
            },
            segments: uniform_segments(frames as u64, 1_000, 4),
        };
        let loaded = Preset::from_bytes(&preset.to_bytes().unwrap()).unwrap();
        match &loaded.corpus[0].audio {
            AudioData::Pcm {
                bits_per_sample,
                samples: decoded,
            } => {
                assert_eq!(*bits_per_sample, bits);
                assert!(decoded == &samples, "{bits}-bit audio changed");
            }
            other => panic!("expected PCM audio, got {other:?}"),
        }
    }
}

#[test]
fn flac_keeps_integer_audio_compact() {
    let preset = sample_preset();
    let frames = preset.corpus[0].frames();
    let raw_pcm16 = frames * 2 * 2;
    let raw_float = preset.corpus[1].audio.sample_count() * 4;
    let size = preset.to_bytes().unwrap().len();
    assert!(
        size < raw_pcm16 + raw_float,
        "{size} bytes is not smaller than raw PCM ({raw_pcm16} + {raw_float})"
    );
}

#[test]
fn save_writes_atomically_and_load_reads_back() {
    let dir = std::env::temp_dir().join(format!("counterpart-preset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("duo.cpreset");
    let preset = sample_preset();
    preset.save(&path).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("duo.cpreset")]);
    assert_eq!(Preset::load(&path).unwrap(), preset);
    let missing = Preset::load(dir.join("absent.cpreset")).unwrap_err();
    assert!(matches!(missing, PresetError::Io { .. }), "{missing}");
    assert!(missing.to_string().contains("absent.cpreset"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn newer_versions_are_refused_with_advice() {
    let bytes = sample_preset().to_bytes().unwrap();
    let newer = rewrite(&bytes, false, |header, _| {
        header["version"] = json!(FORMAT_VERSION + 1);
        // A newer version may have fields this build does not know.
        header["future_field"] = json!(true);
    });
    let error = Preset::from_bytes(&newer).unwrap_err();
    assert!(
        matches!(error, PresetError::NewerVersion { found, supported }
            if found == FORMAT_VERSION + 1 && supported == FORMAT_VERSION),
        "{error}"
    );
    assert!(error.to_string().contains("update Counterpart"), "{error}");
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = sample_preset().to_bytes().unwrap();
    // Every length through the header and the start of the data, then a stride through the rest.
    let lengths = (0..4_096.min(bytes.len())).chain((4_096..bytes.len()).step_by(97));
    for length in lengths {
        match Preset::from_bytes(&bytes[..length]) {
            Err(PresetError::Truncated { found, expected }) => {
                assert_eq!(found, length as u64);
                assert!(expected > found);
            }
            other => panic!("length {length}: expected Truncated, got {other:?}"),
        }
    }
    let message = Preset::from_bytes(&bytes[..bytes.len() - 1])
        .unwrap_err()
        .to_string();
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn foreign_files_are_not_presets() {
    let plain = safetensors::serialize(
        [(
            "w",
            TensorView::new(Dtype::F32, vec![2], &[0u8; 8]).unwrap(),
        )],
        None,
    )
    .unwrap();
    for foreign in [
        plain,
        b"RIFF....WAVEfmt not a preset at all, just some text".to_vec(),
        b"fLaC\0\0\0\x22".repeat(4),
    ] {
        let error = Preset::from_bytes(&foreign).unwrap_err();
        assert!(matches!(error, PresetError::NotAPreset { .. }), "{error}");
        assert!(
            error.to_string().starts_with("not a Counterpart preset"),
            "{error}"
        );
    }
}

#[test]
fn damaged_data_fails_its_checksum() {
    let bytes = sample_preset().to_bytes().unwrap();
    let mut damaged = bytes.clone();
    let last = damaged.len() - 100;
    damaged[last] ^= 0x40;
    let error = Preset::from_bytes(&damaged).unwrap_err();
    assert!(matches!(error, PresetError::Corrupt(_)), "{error}");
    assert!(error.to_string().contains("checksum"), "{error}");
}

#[test]
fn damaged_flac_is_caught_even_with_a_recomputed_checksum() {
    let bytes = sample_preset().to_bytes().unwrap();
    let damaged = rewrite(&bytes, true, |_, tensors| {
        let audio = tensors
            .iter_mut()
            .find(|t| t.0 == "corpus.0.audio")
            .unwrap();
        let middle = audio.3.len() / 2;
        audio.3[middle] ^= 0x10;
    });
    let error = Preset::from_bytes(&damaged).unwrap_err();
    assert!(matches!(error, PresetError::Corrupt(_)), "{error}");
    assert!(error.to_string().contains("corpus file 0"), "{error}");
}

#[test]
fn encoder_mismatch_is_reported_with_both_hashes() {
    let preset = sample_preset();
    preset.verify_encoder(ENCODER).unwrap();
    let other = b"another encoder";
    let error = preset.verify_encoder(other).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, PresetError::EncoderMismatch { .. }),
        "{message}"
    );
    assert!(message.contains(&sha256_hex(ENCODER)), "{message}");
    assert!(message.contains(&sha256_hex(other)), "{message}");
    assert!(message.contains("MERT-v0-public"), "{message}");

    // A header whose recorded hash does not match the embedded encoder is refused at load.
    let bytes = preset.to_bytes().unwrap();
    let tampered = rewrite(&bytes, false, |header, _| {
        header["encoder"]["sha256"] = json!(sha256_hex(other));
    });
    let error = Preset::from_bytes(&tampered).unwrap_err();
    assert!(
        matches!(error, PresetError::EncoderMismatch { .. }),
        "{error}"
    );

    let dir = std::env::temp_dir().join(format!("counterpart-encoder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = dir.join("encoder.onnx");
    std::fs::write(&onnx, ENCODER).unwrap();
    preset.verify_encoder_file(&onnx).unwrap();
    std::fs::write(&onnx, other).unwrap();
    assert!(matches!(
        preset.verify_encoder_file(&onnx),
        Err(PresetError::EncoderMismatch { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inconsistent_contents_are_refused_with_a_reason() {
    let cases: Vec<(&str, Breaker)> = vec![
        (
            "label 16",
            Box::new(|p| p.corpus[0].segments[1].label = K as u32),
        ),
        (
            "before the previous one ends",
            Box::new(|p| p.corpus[0].segments[1].start -= 1),
        ),
        (
            "past the recording",
            Box::new(|p| p.corpus[1].segments[1].end = 8_001),
        ),
        (
            "empty or reversed",
            Box::new(|p| p.corpus[1].segments[0].end = 0),
        ),
        ("no segment", Box::new(|p| p.corpus[1].segments.clear())),
        ("non-finite", Box::new(|p| p.codebook.centres[9] = f32::NAN)),
        (
            "sample 5 is not finite",
            Box::new(|p| {
                if let AudioData::Float(samples) = &mut p.corpus[1].audio {
                    samples[5] = f32::INFINITY;
                }
            }),
        ),
        (
            "does not fit in 16 bits",
            Box::new(|p| {
                if let AudioData::Pcm { samples, .. } = &mut p.corpus[0].audio {
                    samples[0] = 40_000;
                }
            }),
        ),
        (
            "sample rate 0 Hz",
            Box::new(|p| p.corpus[0].sample_rate = 0),
        ),
        ("3 channels", Box::new(|p| p.corpus[0].channels = 3)),
        (
            "7999 samples do not make whole frames of 2 channels",
            Box::new(|p| {
                if let AudioData::Float(samples) = &mut p.corpus[1].audio {
                    samples.pop();
                }
                p.corpus[1].channels = 2;
            }),
        ),
        ("K × dimension", Box::new(|p| p.codebook.k = K + 1)),
        ("licence", Box::new(|p| p.info.licence.clear())),
        (
            "segment length",
            Box::new(|p| {
                p.segmentation.length = SegmentLengthRecord::Uniform { seconds: f64::NAN }
            }),
        ),
        ("hexadecimal", Box::new(|p| p.encoder.sha256 = "abc".into())),
        (
            "not a safetensors blob",
            Box::new(|p| p.decisions[1].weights = vec![1, 2, 3]),
        ),
        ("no decision model", Box::new(|p| p.decisions.clear())),
        (
            "already has look-ahead 1",
            Box::new(|p| p.decisions[1].config["lookahead"] = json!(1)),
        ),
        (
            "names no look-ahead",
            Box::new(|p| {
                p.decisions[1]
                    .config
                    .as_object_mut()
                    .unwrap()
                    .remove("lookahead");
            }),
        ),
        (
            "more than 8",
            Box::new(|p| {
                p.decisions = (0..9)
                    .map(|l| DecisionData {
                        config: json!({ "lookahead": l }),
                        weights: decision_weights(),
                    })
                    .collect();
            }),
        ),
        ("JSON object", Box::new(|p| p.metrics = json!([1, 2]))),
        ("no recording", Box::new(|p| p.corpus.clear())),
    ];
    for (expected, break_it) in cases {
        let mut preset = sample_preset();
        break_it(&mut preset);
        let reason = invalid_message(&preset);
        assert!(
            reason.contains(expected),
            "expected `{expected}` in `{reason}`"
        );
    }
}

#[test]
fn a_header_edited_out_of_range_is_refused_at_load() {
    let bytes = sample_preset().to_bytes().unwrap();
    let edited = rewrite(&bytes, false, |header, _| {
        header["codebook"]["k"] = json!(4);
    });
    let error = Preset::from_bytes(&edited).unwrap_err();
    assert!(matches!(error, PresetError::Corrupt(_)), "{error}");

    // A label tensor rewritten (with a valid checksum) to a label beyond K.
    let edited = rewrite(&bytes, true, |_, tensors| {
        let labels = tensors
            .iter_mut()
            .find(|t| t.0 == "corpus.1.labels")
            .unwrap();
        labels.3[..4].copy_from_slice(&(K as u32 + 5).to_le_bytes());
    });
    let error = Preset::from_bytes(&edited).unwrap_err();
    assert!(
        matches!(&error, PresetError::Invalid(reason) if reason.contains("label 21")),
        "{error}"
    );
}

#[test]
fn summary_describes_the_preset() {
    let preset = sample_preset();
    let summary = preset.summary();
    assert_eq!(summary.k, K);
    assert_eq!(summary.corpus_files, 2);
    assert_eq!(summary.segments, 2 + 2);
    assert_eq!(summary.decision_parameters, (K * 4 + 4) as u64);
    assert!((summary.corpus_seconds - 1.5).abs() < 1e-9);
    assert_eq!(summary.label_counts.iter().sum::<usize>(), summary.segments);
    assert_eq!(summary.label_counts[K - 1], 1);
    let text = summary.to_string();
    for expected in [
        "Test duo",
        "CC-BY-4.0",
        "K = 16, 8 dimensions",
        "uniform, 0.35 s",
        "MERT-v0-public",
        "embedded (39 B)",
        "2 file(s), 1.5 s, 4 segments",
        &format!("{} of 16 used", summary.labels_used()),
        "val_accuracy = 0.4123",
        "measured on 3 pair(s), 151.2 s of notes",
        "onset coincidence 0.912 (B's onsets within 60 ms of A's), A onset coverage 0.550",
        "note rate 1.04 /s (A 1.72 /s, ratio 0.605)",
        "changes within a beat n/a (of 0 beats where B starts a note)",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
}

/// A tiny valid preset, built once, to keep each fuzzing case fast.
fn tiny_preset_bytes() -> Vec<u8> {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(build_tiny_preset).clone()
}

fn build_tiny_preset() -> Vec<u8> {
    let mut preset = sample_preset();
    preset.corpus[0] = CorpusFile {
        name: "tiny.flac".into(),
        sample_rate: 8_000,
        channels: 1,
        audio: AudioData::Pcm {
            bits_per_sample: 16,
            samples: tone_pcm(600, 1, 8_000, 16, 5),
        },
        segments: uniform_segments(600, 200, 6),
    };
    preset.to_bytes().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(Preset::from_bytes(&bytes).is_err());
    }

    #[test]
    fn arbitrary_header_text_never_panics(
        header in "\\{[ -~]{0,200}\\}",
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&tail);
        prop_assert!(Preset::from_bytes(&bytes).is_err());
    }

    #[test]
    fn mutated_presets_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = tiny_preset_bytes();
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        if let Ok(preset) = Preset::from_bytes(&bytes) {
            prop_assert!(preset.validate().is_ok());
        }
    }

    #[test]
    fn mutated_headers_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0x20u8..0x7f), 1..6),
    ) {
        let mut bytes = tiny_preset_bytes();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for (index, value) in edits {
            let at = 8 + index.index(header_len);
            bytes[at] = value;
        }
        if let Ok(preset) = Preset::from_bytes(&bytes) {
            prop_assert!(preset.validate().is_ok());
        }
    }

    #[test]
    fn mutated_flac_with_a_valid_checksum_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let bytes = tiny_preset_bytes();
        let mutated = rewrite(&bytes, true, |_, tensors| {
            let audio = tensors.iter_mut().find(|t| t.0 == "corpus.0.audio").unwrap();
            for (index, value) in &edits {
                let at = index.index(audio.3.len());
                audio.3[at] = *value;
            }
        });
        if let Ok(preset) = Preset::from_bytes(&mutated) {
            prop_assert_eq!(preset, Preset::from_bytes(&bytes).unwrap());
        }
    }
}
