//! The offline pipeline on tiny synthetic stems sets of tones written as WAV files: layouts,
//! `check`'s diagnostics, tokenisation determinism, `build-preset` end to end and `eval --json`.

use std::path::{Path, PathBuf};

use counterpart_core::decision::DecisionConfig;
use counterpart_core::perception::{
    encode_clip, EncoderOptions, OnnxEncoder, SegmentEncoderConfig, SegmentLength,
    SegmentationConfig,
};
use counterpart_core::preset::{AudioData, Preset, PresetInfo};
use counterpart_models::audio_file::{self, SampleFormat};
use counterpart_models::data::check::{check, CheckOptions, Severity};
use counterpart_models::data::layout::{LayoutKind, PairSelection, StemsSet};
use counterpart_models::pipeline::build_preset::{build_preset, BuildOptions, CodebookFit};
use counterpart_models::pipeline::encode::{EncodedSet, EncodingSettings};
use counterpart_models::pipeline::train::TrainConfig;

const RATE: u32 = 16_000;

fn encoder_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("encoders/counterpart-default.onnx")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_wav(path: &Path, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    audio_file::write_wav(path, RATE, &[samples], SampleFormat::Int16).unwrap();
}

/// A melody of 0.5 s notes (pitches from `seed`), each note with an attack and a decay, or its
/// response: the same rhythm a fifth below, `shift` notes later.
fn melody(seed: u64, seconds: f64, response: bool) -> Vec<f32> {
    let n = (seconds * RATE as f64) as usize;
    let note = RATE as usize / 2;
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut pitches = Vec::new();
    for _ in 0..n / note + 2 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        pitches.push(57 + (state >> 60) as i32 % 12);
    }
    (0..n)
        .map(|i| {
            let k = i / note;
            let t = (i % note) as f32 / RATE as f32;
            let midi = if response {
                pitches[k.saturating_sub(1)] - 7
            } else {
                pitches[k]
            };
            let f = 440.0 * 2f32.powf((midi as f32 - 69.0) / 12.0);
            let env = (t * 200.0).min(1.0) * (-t * 4.0).exp();
            0.4 * env * (std::f32::consts::TAU * f * t).sin()
        })
        .collect()
}

/// `<dir>/<piece>/{lead,bass}.wav` for `pieces` pieces of `seconds`.
fn flat_set(dir: &Path, pieces: u64, seconds: f64) {
    for p in 0..pieces {
        let piece = dir.join(format!("piece{p}"));
        write_wav(&piece.join("lead.wav"), &melody(p, seconds, false));
        write_wav(&piece.join("bass.wav"), &melody(p, seconds, true));
    }
}

fn encoding(cache: Option<PathBuf>, threads: usize) -> EncodingSettings {
    EncodingSettings {
        encoder: encoder_path(),
        layer: None,
        config: SegmentEncoderConfig {
            segmentation: SegmentationConfig {
                length: SegmentLength::Seconds(0.5),
                onset_snap: None,
            },
            context_s: 1.0,
            reaction_s: 0.0,
        },
        threads,
        cache,
        show_progress: false,
    }
}

#[test]
fn layouts_flat_substems_and_manifest() {
    let dir = temp_dir("layouts");
    // Flat.
    let flat = dir.join("flat");
    flat_set(&flat, 2, 1.0);
    let set = StemsSet::open(&flat).unwrap();
    assert_eq!(set.kind, LayoutKind::Folders);
    assert_eq!(set.pieces.len(), 2);
    let names: Vec<&str> = set.pieces[0]
        .stems
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["bass", "lead"]);
    assert_eq!(set.pieces[0].pairs(&PairSelection::All).len(), 2);

    // MoisesDB-style: sub-stems summed per instrument.
    let moises = dir.join("moises");
    let a = vec![0.25f32; 800];
    let b = vec![0.125f32; 1000];
    write_wav(&moises.join("song/guitar/g1.wav"), &a);
    write_wav(&moises.join("song/guitar/g2.wav"), &b);
    write_wav(&moises.join("song/vocals/lead.wav"), &a);
    std::fs::write(moises.join("song/guitar/notes.txt"), "not audio").unwrap();
    let set = StemsSet::open(&moises).unwrap();
    let piece = &set.pieces[0];
    assert_eq!(piece.stems.len(), 2);
    assert_eq!(piece.stem("guitar").unwrap().files.len(), 2);
    let summed = piece.load_track(&["guitar".into()]).unwrap();
    assert_eq!(summed.frames(), 1000);
    assert!((summed.samples[0] - 0.375).abs() < 1e-3);
    assert!((summed.samples[900] - 0.125).abs() < 1e-3);
    let named = PairSelection::Named {
        guide: "vocals".into(),
        target: "guitar".into(),
    };
    assert_eq!(piece.pairs(&named).len(), 1);
    assert!(piece
        .pairs(&PairSelection::Named {
            guide: "vocals".into(),
            target: "drums".into()
        })
        .is_empty());

    // Manifest with primary, extra and summed pairs.
    let man = dir.join("manifest");
    write_wav(&man.join("p/s.wav"), &a);
    write_wav(&man.join("p/t.wav"), &a);
    write_wav(&man.join("p/u.wav"), &a);
    std::fs::write(
        man.join("manifest.json"),
        r#"{"pieces": [{"id": "p", "stems": [
            {"name": "s", "file": "s.wav"}, {"name": "t", "file": "t.wav"},
            {"name": "u", "file": "u.wav"}],
          "pairs": [{"a": "s", "b": "t", "primary": true}, {"a": "s", "b": ["t", "u"]}]}]}"#,
    )
    .unwrap();
    let set = StemsSet::open(&man).unwrap();
    assert_eq!(set.kind, LayoutKind::Manifest);
    let piece = &set.pieces[0];
    let primary = piece.pairs(&PairSelection::Primary);
    assert_eq!(primary.len(), 1);
    assert_eq!(primary[0].keys(), ("s".into(), "t".into()));
    let all = piece.pairs(&PairSelection::All);
    assert_eq!(all[1].keys(), ("s".into(), "t+u".into()));
    assert!((piece.load_track(&all[1].target).unwrap().samples[10] - 0.5).abs() < 1e-3);

    assert!(StemsSet::open(&dir.join("missing")).is_err());
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    assert!(StemsSet::open(&dir.join("empty")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_explains_each_problem() {
    let dir = temp_dir("check");
    flat_set(&dir, 3, 6.0);
    let set = StemsSet::open(&dir).unwrap();
    let clean = check(&set, &CheckOptions::default());
    assert_eq!(clean.errors(), 0, "{:?}", clean.diagnostics);
    assert_eq!(clean.warnings(), 0, "{:?}", clean.diagnostics);

    // Silent stem, unequal lengths, an offset stem, a lone stem, a short piece.
    write_wav(&dir.join("piece0/bass.wav"), &vec![0.0; 6 * RATE as usize]);
    write_wav(&dir.join("piece1/bass.wav"), &melody(1, 5.0, true));
    let mut late = vec![0.0f32; RATE as usize / 5];
    late.extend(melody(2, 6.0, false));
    late.truncate(6 * RATE as usize);
    write_wav(&dir.join("piece2/lead.wav"), &late);
    write_wav(&dir.join("solo/only.wav"), &melody(9, 6.0, false));
    write_wav(&dir.join("tiny/a.wav"), &melody(3, 1.0, false));
    write_wav(&dir.join("tiny/b.wav"), &melody(3, 1.0, true));
    std::fs::write(dir.join("tiny/c.wav"), b"RIFF garbage").unwrap();
    let set = StemsSet::open(&dir).unwrap();
    let report = check(&set, &CheckOptions::default());
    let has = |piece: &str, severity: Severity, text: &str| {
        report.diagnostics.iter().any(|d| {
            d.piece.as_deref() == Some(piece)
                && d.severity == severity
                && d.problem.contains(text)
                && !d.advice.is_empty()
        })
    };
    assert!(has("piece0", Severity::Error, "silent"), "{report:#?}");
    assert!(
        has("piece1", Severity::Error, "lengths differ"),
        "{report:#?}"
    );
    assert!(has("piece2", Severity::Warning, "offset"), "{report:#?}");
    assert!(has("solo", Severity::Error, "1 stem"), "{report:#?}");
    assert!(has("tiny", Severity::Error, "less than"), "{report:#?}");
    assert!(has("tiny", Severity::Error, "decode"), "{report:#?}");
    assert!(report.errors() >= 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tokenisation_is_streaming_and_deterministic() {
    let dir = temp_dir("tokens");
    flat_set(&dir, 2, 3.0);
    let set = StemsSet::open(&dir).unwrap();
    let cache = dir.join("cache");
    let one = EncodedSet::encode(&set, &PairSelection::All, None, &encoding(None, 1)).unwrap();
    let two = EncodedSet::encode(
        &set,
        &PairSelection::All,
        None,
        &encoding(Some(cache.clone()), 2),
    )
    .unwrap();
    let cached = EncodedSet::encode(
        &set,
        &PairSelection::All,
        None,
        &encoding(Some(cache.clone()), 2),
    )
    .unwrap();
    assert!(std::fs::read_dir(&cache).unwrap().count() == 4);
    for other in [&two, &cached] {
        assert_eq!(one.pieces.len(), other.pieces.len());
        for (id, tracks) in &one.pieces {
            for (key, t) in tracks {
                assert_eq!(t, &other.pieces[id][key], "{id}/{key}");
            }
        }
    }
    // The vectors are those of the run-time streaming core.
    let track = &one.pieces["piece0"]["lead"];
    let enc = OnnxEncoder::load(&encoder_path(), &EncoderOptions::default()).unwrap();
    let (segments, _) = encode_clip(
        &melody(0, 3.0, false),
        RATE,
        &encoding(None, 1).config,
        enc,
        None,
    )
    .unwrap();
    assert_eq!(segments.len(), track.segments.len());
    assert_eq!(segments.len(), 6);
    for (s, (seg, v)) in segments.iter().zip(
        track
            .segments
            .iter()
            .zip(track.vectors.chunks_exact(track.dim)),
    ) {
        assert_eq!(&s.segment, seg);
        let diff = s
            .vector
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-3, "quantisation of WAV samples only: {diff}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `counterpart eval --json` of `preset` on `stems` with `options`, its plot in `dir`: the
/// printed scores (the command must succeed).
fn eval_json(options: &[&str], preset: &Path, stems: &Path, dir: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(["eval", "--json"])
        .args(options)
        .arg("--preset")
        .arg(preset)
        .arg(stems)
        .arg("--plot")
        .arg(dir.join("lcp.png"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tiny_build_options(dir: &Path) -> BuildOptions {
    BuildOptions {
        selection: PairSelection::Named {
            guide: "lead".into(),
            target: "bass".into(),
        },
        corpus: None,
        k: 16,
        kmeans_restarts: 1,
        codebook_fit: CodebookFit::Targets,
        extra_training: Vec::new(),
        encoding: encoding(Some(dir.join("cache")), 0),
        model: DecisionConfig {
            d_model: 16,
            num_heads: 2,
            encoder_layers: 1,
            decoder_layers: 1,
            ffn_dim: 32,
            context: 8,
            ..DecisionConfig::new(16, 1)
        },
        lookaheads: vec![1],
        train: TrainConfig {
            batch_size: 4,
            max_epochs: 2,
            warmup_steps: 2,
            show_progress: false,
            ..TrainConfig::default()
        },
        test_fraction: 0.25,
        val_fraction: 0.25,
        seed: 1,
        info: PresetInfo {
            name: "tiny".into(),
            author: "tests".into(),
            description: "tones".into(),
            licence: "CC0-1.0".into(),
            created: String::new(),
        },
        work_dir: None,
        skip_check: false,
        label_init: 0.0,
    }
}

#[test]
fn build_preset_end_to_end_and_eval_json() {
    let dir = temp_dir("build");
    let stems = dir.join("stems");
    flat_set(&stems, 4, 6.0);
    let options = tiny_build_options(&dir);
    let outcome = build_preset(&stems, &options).unwrap();
    let [train, val, test] = &outcome.split;
    assert_eq!((train.len(), val.len(), test.len()), (2, 1, 1));
    let preset = &outcome.preset;
    preset.validate().unwrap();
    // The stems have no notes: the preset gets no relation's character.
    assert_eq!(preset.character, None);
    assert_eq!(preset.k(), 16);
    assert_eq!(preset.encoder.name, "counterpart-default");
    preset.verify_encoder_file(encoder_path()).unwrap();
    // Corpus: the bass stems of the training and validation pieces, 16-bit PCM, 0.5 s segments.
    assert_eq!(preset.corpus.len(), 3);
    for f in &preset.corpus {
        assert!(f.name.ends_with("/bass"), "{}", f.name);
        assert!(matches!(
            f.audio,
            AudioData::Pcm {
                bits_per_sample: 16,
                ..
            }
        ));
        assert_eq!(f.segments.len(), 12);
        assert_eq!((f.segments[1].start, f.segments[1].end), (8000, 16000));
        assert!(f.segments.iter().all(|s| s.label < 16));
    }
    for key in ["data", "codebook", "training", "eval", "timing_s"] {
        assert!(preset.metrics.get(key).is_some(), "metrics lack {key}");
    }
    let path = dir.join("tiny.cpreset");
    preset.save(&path).unwrap();
    assert_eq!(&Preset::load(&path).unwrap(), preset);

    // A fixed seed gives the same preset again (the cache is now warm).
    let again = build_preset(&stems, &options).unwrap();
    assert_eq!(again.preset.codebook, preset.codebook);
    assert_eq!(again.preset.corpus, preset.corpus);
    assert_eq!(again.preset.decisions, preset.decisions);

    let v = eval_json(
        &["--constrained", "--pairs", "all", "--no-cache"],
        &path,
        &stems,
        &dir,
    );
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["baselines", "lcp_mean", "segments", "tpp"]);
    assert_eq!(v["segments"], 4 * 2 * 12);
    let tpp = v["tpp"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&tpp));
    let baselines = v["baselines"].as_object().unwrap();
    let mut names: Vec<&str> = baselines.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "copy_a",
            "histogram",
            "majority",
            "present",
            "shuffled",
            "uniform"
        ]
    );
    for b in baselines.values() {
        assert!(b["tpp"].as_f64().is_some() && b["lcp_mean"].as_f64().is_some());
    }
    let png = std::fs::read(dir.join("lcp.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // A look-ahead other than the model's is refused with an explanation.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_counterpart"))
        .args(["eval", "--lookahead", "0", "--preset"])
        .arg(&path)
        .arg(&stems)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("look-ahead"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With a reaction window, the guides are encoded with their windows (the partial segments of
/// the run-time core, cached beside the vectors; other tracks keep their plain entries), the
/// live model is trained on them and records W, the aligned model has none, and `eval` scores
/// the live model with the windows.
#[test]
fn a_live_model_hears_its_guides_reaction_windows_in_building_and_eval() {
    let dir = temp_dir("window");
    let stems = dir.join("stems");
    flat_set(&stems, 4, 6.0);
    let mut options = tiny_build_options(&dir);
    options.encoding.config.reaction_s = 0.06;
    options.lookaheads = vec![1, 0];
    let selection = options.selection.clone();

    let set = StemsSet::open(&stems).unwrap();
    let encoded = EncodedSet::encode(&set, &selection, None, &options.encoding).unwrap();
    let cached = EncodedSet::encode(&set, &selection, None, &options.encoding).unwrap();
    let lead = &encoded.pieces["piece0"]["lead"];
    assert_eq!(
        lead.windows.len(),
        lead.vectors.len(),
        "one window per segment"
    );
    assert!(encoded.pieces["piece0"]["bass"].windows.is_empty());
    assert_eq!(&cached.pieces["piece0"]["lead"], lead, "windows are cached");
    // The windows are the run-time core's partial segments.
    let enc = OnnxEncoder::load(&encoder_path(), &EncoderOptions::default()).unwrap();
    let (segments, _) = encode_clip(
        &melody(0, 6.0, false),
        RATE,
        &options.encoding.config,
        enc,
        None,
    )
    .unwrap();
    let partial: Vec<&[f32]> = segments
        .iter()
        .filter(|s| s.partial)
        .map(|s| s.vector.as_slice())
        .collect();
    for (i, window) in lead.windows.chunks_exact(lead.dim).enumerate() {
        let diff = window
            .iter()
            .zip(partial[i])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-3, "window {i} differs by {diff}");
    }

    let outcome = build_preset(&stems, &options).unwrap();
    let configs: Vec<DecisionConfig> = outcome
        .preset
        .decisions
        .iter()
        .map(|d| serde_json::from_value(d.config.clone()).unwrap())
        .collect();
    assert_eq!(
        (configs[0].lookahead, configs[0].reaction_s),
        (1, 0.0),
        "the aligned model hears whole segments"
    );
    assert_eq!((configs[1].lookahead, configs[1].reaction_s), (0, 0.06));
    assert!(outcome.preset.decisions[0]
        .config
        .get("reaction_s")
        .is_none());
    let path = dir.join("window.cpreset");
    outcome.preset.save(&path).unwrap();
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let v = eval_json(&["--lookahead", "0", "--cache", cache], &path, &stems, &dir);
    assert!((0.0..=1.0).contains(&v["tpp"].as_f64().unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}
