//! The streaming engine end to end on a synthetic preset: output quality, labels, determinism,
//! block-size independence, bad guide audio, latency, preset loading errors.
//!
//! Needs the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

mod common;

use std::f32::consts::TAU;
use std::sync::Arc;

use common::{
    encoder_dir, live_preset_with_window, melody, synthetic_preset, ENCODER_NAME, SEGMENT_S,
};
use counterpart_core::action::CorpusMemory;
use counterpart_core::engine::{
    build, EncoderSearch, EngineConfig, EngineError, EngineSettings, LoadedPreset, OfflineRenderer,
    PlayedSlot,
};
use counterpart_core::perception::{OnsetDetector, PitchAnalyser, CONSONANT_INTERVALS};
use counterpart_core::preset::{Preset, PresetError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RATE: u32 = 44_100;

fn search() -> EncoderSearch {
    EncoderSearch::in_dirs([encoder_dir()])
}

struct Render {
    out: Vec<f32>,
    slots: Vec<PlayedSlot>,
    corpus: Arc<CorpusMemory>,
    late: u64,
    nonfinite: u64,
    latency: u32,
}

fn render(preset: &Preset, config: &EngineConfig, guide: &[f32], block: usize) -> Render {
    let loaded = LoadedPreset::load_for(preset, RATE, &search(), config.lookahead).unwrap();
    let corpus = Arc::clone(&loaded.corpus);
    let engine = build(loaded, config, RATE).unwrap();
    let telemetry = Arc::clone(engine.control.telemetry());
    let mut renderer = OfflineRenderer::new(engine.audio, engine.worker);
    renderer.worker_mut().record_played(true);
    let mut out = vec![0.0f32; guide.len()];
    for (g, o) in guide.chunks(block).zip(out.chunks_mut(block)) {
        renderer.process(&[g], &mut [o]).unwrap();
    }
    Render {
        out,
        slots: renderer.worker_mut().take_played(),
        corpus,
        late: telemetry.late_decisions(),
        nonfinite: telemetry.nonfinite_samples(),
        latency: renderer.audio().latency_samples(),
    }
}

/// Asserts that rendering `guide` in blocks of each of `blocks` frames plays what `expected`
/// played (the same output and slots): what the companion does depends on the guide only.
fn assert_block_size_independent(
    preset: &Preset,
    config: &EngineConfig,
    guide: &[f32],
    expected: &Render,
    blocks: &[usize],
) {
    for &block in blocks {
        let odd = render(preset, config, guide, block);
        assert_eq!(odd.out, expected.out, "block size {block}");
        assert_eq!(odd.slots, expected.slots, "block size {block}");
    }
}

fn sampling(seed: u64) -> EngineConfig {
    EngineConfig {
        seed,
        settings: EngineSettings {
            temperature: 1.0,
            top_p: 1.0,
            ..EngineSettings::default()
        },
        ..EngineConfig::default()
    }
}

#[test]
fn the_engine_plays_finite_unclipped_corpus_segments_with_the_chosen_labels() {
    let preset = synthetic_preset(1, true);
    let guide = melody(RATE, 6.0, 0.25, 99);
    // On the segment grid (onset following is tested below).
    let mut config = sampling(3);
    config.settings.follow_onsets = false;
    let r = render(&preset, &config, &guide, 512);
    assert!(r.out.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    let rms = (r.out.iter().map(|x| x * x).sum::<f32>() / r.out.len() as f32).sqrt();
    assert!(rms > 0.02, "output RMS {rms}");
    assert_eq!(r.late, 0);
    let period = SEGMENT_S * f64::from(RATE);
    let margin = (config.margin_seconds(RATE).unwrap() * f64::from(RATE)).round() as u64;
    // Guide segments 0..=22 are complete in 6 s (the 24th lacks the resampler's tail): with
    // L = 1 slots 0..=21 follow them.
    assert!(r.slots.len() >= 20, "{} slots", r.slots.len());
    let mut labels = std::collections::BTreeSet::new();
    let mut contiguous_checked = 0;
    for (i, slot) in r.slots.iter().enumerate() {
        assert_eq!(slot.slot, i as u64);
        assert_eq!(
            slot.at,
            ((i + 1) as f64 * period).round() as u64 + margin + (period / 2.0).round() as u64
        );
        let id = slot.segment.expect("every label is present: no silence");
        let segment = r.corpus.segments()[id.index()];
        let origin = slot.origin.as_ref().unwrap();
        assert_eq!(origin.label, segment.label);
        assert_eq!(origin.file, "tones.wav");
        labels.insert(segment.label);
        // Sampling is constrained to corpus labels, so the requested label is played unless it
        // would repeat the segment just played.
        let requested = slot.requested.expect("the guide sounds: no rest");
        if segment.label != requested {
            let previous = r.slots[i - 1].segment;
            assert_eq!(
                previous.map(|p| r.corpus.segments()[p.index()].label),
                Some(requested)
            );
        }
        // A continuation of the previous segment plays the corpus audio bit for bit (the read
        // head runs on from the previous segment, so it may be a sample or two off the grid:
        // corpus segments are 11024 to 11026 host frames long, slots 11025).
        if i > 0 && r.slots[i - 1].segment.and_then(|p| r.corpus.successor(p)) == Some(id) {
            let at = slot.at as usize;
            if at + 2000 < r.out.len() {
                let from = segment.start as i64;
                let channel = r.corpus.channel(0);
                let exact = (-8i64..=8).any(|d| {
                    let f = (from + d) as usize;
                    r.out[at..at + 2000] == channel[f..f + 2000]
                });
                assert!(exact, "slot {i}: continuation is not the corpus audio");
                contiguous_checked += 1;
            }
        }
    }
    assert!(labels.len() >= 4, "labels played: {labels:?}");
    // Before the first slot starts, B is silent.
    assert!(r.out[..r.slots[0].at as usize - 2000]
        .iter()
        .all(|&x| x == 0.0));
    eprintln!("{contiguous_checked} contiguous slots checked bit for bit");
}

#[test]
fn freezing_plays_the_corpus_on_contiguously() {
    let preset = synthetic_preset(0, true);
    let loaded = LoadedPreset::load(&preset, RATE, &search()).unwrap();
    let corpus = Arc::clone(&loaded.corpus);
    let engine = build(loaded, &sampling(4), RATE).unwrap();
    let mut renderer = OfflineRenderer::new(engine.audio, engine.worker);
    renderer.worker_mut().record_played(true);
    let guide = melody(RATE, 5.0, 0.25, 2);
    let mut out = vec![0.0f32; guide.len()];
    let half = RATE as usize;
    renderer
        .process(&[&guide[..half]], &mut [&mut out[..half]])
        .unwrap();
    let frozen = EngineSettings {
        freeze: true,
        ..*renderer.worker_mut().settings()
    };
    renderer.worker_mut().apply_settings(frozen).unwrap();
    renderer
        .process(&[&guide[half..]], &mut [&mut out[half..]])
        .unwrap();
    let slots = renderer.worker_mut().take_played();
    let first_frozen = slots
        .iter()
        .position(|s| s.at > half as u64 + 20_000)
        .unwrap();
    let mut checked = 0;
    for pair in slots[first_frozen..].windows(2) {
        let (previous, slot) = (&pair[0], &pair[1]);
        let (Some(p), Some(id)) = (previous.segment, slot.segment) else {
            panic!("slot {}: frozen playback fell silent", slot.slot);
        };
        let Some(successor) = corpus.successor(p) else {
            // The recording ended: the navigator starts a new run, which is then followed.
            continue;
        };
        assert_eq!(successor, id, "frozen: the corpus plays on");
        let at = slot.at as usize;
        if at + 4000 < out.len() {
            let from = corpus.segments()[id.index()].start as i64;
            let exact = (-8i64..=8).any(|d| {
                let f = (from + d) as usize;
                out[at..at + 4000] == corpus.channel(0)[f..f + 4000]
            });
            assert!(
                exact,
                "slot {}: not the corpus audio bit for bit",
                slot.slot
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} slots checked");
}

#[test]
fn offline_rendering_is_deterministic_and_independent_of_the_block_size() {
    let preset = synthetic_preset(0, true);
    let guide = melody(RATE, 4.0, 0.25, 5);
    let a = render(&preset, &sampling(11), &guide, 128);
    let b = render(&preset, &sampling(11), &guide, 128);
    assert_eq!(a.out, b.out);
    assert_eq!(a.slots, b.slots);
    for block in [1usize, 1000, 4096, 10_000] {
        let c = render(
            &preset,
            &sampling(11),
            &guide[..guide
                .len()
                .min(if block == 1 { 44_100 } else { usize::MAX })],
            block,
        );
        let n = c.out.len();
        assert_eq!(c.out, a.out[..n], "block {block}");
        assert_eq!(c.slots, a.slots[..c.slots.len()], "block {block}");
        assert_eq!(c.late, 0);
    }
    let other = render(&preset, &sampling(12), &guide, 128);
    assert_ne!(
        other.slots.iter().map(|s| s.requested).collect::<Vec<_>>(),
        a.slots.iter().map(|s| s.requested).collect::<Vec<_>>(),
        "another seed samples other labels"
    );
}

#[test]
fn nan_and_silent_guides_are_handled() {
    let preset = synthetic_preset(0, true);
    let mut guide = melody(RATE, 3.0, 0.25, 8);
    for i in (0..guide.len()).step_by(997) {
        guide[i] = if i % 2 == 0 { f32::NAN } else { f32::INFINITY };
    }
    let bad = guide.iter().filter(|x| !x.is_finite()).count() as u64;
    let r = render(&preset, &sampling(1), &guide, 256);
    assert_eq!(r.nonfinite, bad);
    assert!(r.out.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    assert!(r.slots.len() >= 10);

    let silence = vec![0.0f32; RATE as usize * 3];
    let mut through = sampling(1);
    through.settings.follow_rests = false;
    let r = render(&preset, &through, &silence, 256);
    assert!(r.out.iter().all(|x| x.is_finite()));
    assert!(
        r.slots.len() >= 10,
        "silence still gives a companion when it does not follow rests"
    );
    assert_eq!(r.late, 0);
}

#[test]
fn reported_latency_is_zero_live_and_one_and_a_half_segments_plus_margin_aligned() {
    let silence = vec![0.0f32; 4096];
    let config = EngineConfig::default();
    let margin = (config.margin_seconds(RATE).unwrap() * f64::from(RATE)).round() as u32;
    let live = render(&synthetic_preset(0, true), &config, &silence, 4096);
    assert_eq!(live.latency, 0);
    let aligned = render(&synthetic_preset(1, true), &config, &silence, 4096);
    // Half a segment more than the slot: a guide onset takes the label of the slot most of its
    // note falls in.
    let period = SEGMENT_S * f64::from(RATE);
    assert_eq!(
        aligned.latency,
        period as u32 + margin + (period / 2.0).round() as u32
    );
    // Asking for a look-ahead the model was not trained for is refused.
    let loaded = LoadedPreset::load(&synthetic_preset(0, true), RATE, &search()).unwrap();
    let wrong = EngineConfig {
        lookahead: Some(1),
        ..EngineConfig::default()
    };
    assert!(build(loaded, &wrong, RATE).is_err());
}

#[test]
fn a_preset_with_one_model_per_lookahead_loads_the_one_asked_for() {
    let mut preset = synthetic_preset(1, true);
    let live = synthetic_preset(0, true).decisions.remove(0);
    preset.decisions.push(live);
    assert_eq!(preset.lookaheads(), vec![1, 0]);
    let lookahead_of = |l: Option<usize>| {
        LoadedPreset::load_for(&preset, RATE, &search(), l)
            .unwrap()
            .decision
            .config()
            .lookahead
    };
    assert_eq!(lookahead_of(None), 1);
    assert_eq!(lookahead_of(Some(1)), 1);
    assert_eq!(lookahead_of(Some(0)), 0);
    let plain = LoadedPreset::load(&preset, RATE, &search()).unwrap();
    assert_eq!(plain.decision.config().lookahead, 1);
    let error = LoadedPreset::load_for(&preset, RATE, &search(), Some(2)).unwrap_err();
    assert!(
        matches!(&error, EngineError::NoModelForLookahead { wanted: 2, available }
            if available == &[1, 0]),
        "{error}"
    );
    // Either model runs in the engine, at its own latency.
    let silence = vec![0.0f32; 4096];
    let with = |l: Option<usize>| EngineConfig {
        lookahead: l,
        ..EngineConfig::default()
    };
    assert_eq!(render(&preset, &with(Some(0)), &silence, 4096).latency, 0);
    let aligned = render(&preset, &with(Some(1)), &silence, 4096).latency;
    assert!(aligned > 0);
    assert_eq!(
        render(&preset, &with(None), &silence, 4096).latency,
        aligned
    );
}

#[test]
fn encoders_are_found_by_name_and_verified_by_hash() {
    let preset = synthetic_preset(0, false);
    let loaded = LoadedPreset::load(&preset, RATE, &search()).unwrap();
    assert_eq!(loaded.k(), common::K);

    let empty = std::env::temp_dir().join(format!("cp-engine-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let err =
        LoadedPreset::load(&preset, RATE, &EncoderSearch::in_dirs([empty.clone()])).unwrap_err();
    assert!(matches!(err, EngineError::EncoderNotFound { .. }), "{err}");

    // Another model under the expected name.
    let other = std::env::temp_dir().join(format!("cp-engine-other-{}", std::process::id()));
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join(format!("{ENCODER_NAME}.onnx")),
        b"not the same encoder",
    )
    .unwrap();
    let err =
        LoadedPreset::load(&preset, RATE, &EncoderSearch::in_dirs([other.clone()])).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Preset(PresetError::EncoderMismatch { .. })
        ),
        "{err}"
    );
    // The right one later in the search path wins.
    assert!(LoadedPreset::load(
        &preset,
        RATE,
        &EncoderSearch::in_dirs([other.clone(), encoder_dir()])
    )
    .is_ok());
    std::fs::remove_dir_all(&empty).unwrap();
    std::fs::remove_dir_all(&other).unwrap();
}

#[test]
fn corpus_files_with_gaps_are_split_and_keep_their_file_times() {
    let mut preset = synthetic_preset(0, true);
    // Drop segment 5: a gap between segments 4 and 6.
    let removed = preset.corpus[0].segments.remove(5);
    let loaded = LoadedPreset::load(&preset, RATE, &search()).unwrap();
    assert_eq!(loaded.corpus.sources().len(), 2);
    let after_gap = loaded
        .origin(counterpart_core::action::SegmentId(5))
        .unwrap();
    let rate = f64::from(common::CORPUS_RATE);
    assert!((after_gap.start_seconds - removed.end as f64 / rate).abs() < 1e-9);
    assert_eq!(
        loaded
            .corpus
            .successor(counterpart_core::action::SegmentId(4)),
        None,
        "no continuity across a gap"
    );
}

#[test]
fn recutting_recuts_and_relabels_the_corpus_the_streaming_way() {
    use counterpart_core::perception::{
        encode_clip, Codebook, EncoderOptions, OnnxEncoder, SegmentEncoderConfig,
    };
    use counterpart_core::preset::{NoteValueRecord, SegmentLengthRecord};

    let preset = synthetic_preset(1, false);
    // An eighth note at 60 BPM: 0.5 s, twice the preset's 0.25 s.
    let length = SegmentLengthRecord::TempoSynced {
        note: NoteValueRecord {
            numerator: 1,
            denominator: 8,
        },
        bpm: 60.0,
    };
    let go = std::sync::atomic::AtomicBool::new(false);
    let progress = counterpart_core::engine::Progress::default();
    let recut =
        counterpart_core::engine::recut(&preset, length.clone(), &search(), &go, Some(&progress))
            .unwrap();
    assert_eq!(recut.segmentation.length, length);
    assert_eq!(progress.fraction(), Some(1.0), "one step per corpus file");
    let (old, new) = (&preset.corpus[0], &recut.corpus[0]);
    let half = f64::from(old.sample_rate) * 0.5;
    assert!(new.segments.len() * 2 >= old.segments.len() - 2);
    assert!(new
        .segments
        .iter()
        .all(|s| ((s.end - s.start) as f64 - half).abs() <= 1.0));

    // The labels are those the streaming encoder and the preset's codebook give.
    let encoder = OnnxEncoder::load(
        &encoder_dir().join(format!("{ENCODER_NAME}.onnx")),
        &EncoderOptions {
            layer: Some(preset.encoder.layer as usize),
            intra_threads: 1,
        },
    )
    .unwrap();
    let codebook = Arc::new(
        Codebook::new(
            preset.k(),
            preset.codebook.dim,
            preset.codebook.centres.clone(),
        )
        .unwrap(),
    );
    let audio = old.channels_f32().remove(0);
    let config = SegmentEncoderConfig {
        segmentation: counterpart_core::engine::segmentation_config(&recut.segmentation),
        context_s: preset.encoder.context_seconds,
        reaction_s: 0.0,
    };
    let (expected, _) =
        encode_clip(&audio, old.sample_rate, &config, encoder, Some(codebook)).unwrap();
    let expected: Vec<u32> = expected
        .iter()
        .filter(|e| e.segment.end <= old.segments.last().unwrap().end)
        .map(|e| e.token.unwrap())
        .collect();
    let labels: Vec<u32> = new.segments.iter().map(|s| s.label).collect();
    assert_eq!(labels, expected);

    // It plays.
    let guide = melody(RATE, 6.0, 0.5, 3);
    let out = render(&recut, &sampling(1), &guide, 512);
    assert!(out.out.iter().all(|x| x.is_finite()));
    assert!(out.slots.len() >= 9, "{} slots", out.slots.len());

    // A length the segmenter refuses gives an error, not a panic.
    let too_short = SegmentLengthRecord::Uniform { seconds: 0.01 };
    assert!(counterpart_core::engine::recut(&preset, too_short, &search(), &go, None).is_err());

    // A cancelled re-cut stops and says so.
    let cancelled = std::sync::atomic::AtomicBool::new(true);
    assert!(matches!(
        counterpart_core::engine::recut(&preset, length, &search(), &cancelled, None),
        Err(counterpart_core::engine::EngineError::Cancelled)
    ));
}

#[test]
fn a_recut_is_remembered_on_disk_and_the_cache_keeps_to_its_cap() {
    use counterpart_core::engine::{recut_cached, RecutCache};
    use counterpart_core::preset::{NoteValueRecord, SegmentLengthRecord};

    let dir = std::env::temp_dir().join(format!("cp-recut-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = RecutCache::in_dir(dir.clone(), 1 << 20);
    let preset = synthetic_preset(1, false);
    let identity = Preset::identity(&preset.to_bytes().unwrap()).unwrap();
    let eighth = |bpm: f64| SegmentLengthRecord::TempoSynced {
        note: NoteValueRecord {
            numerator: 1,
            denominator: 8,
        },
        bpm,
    };
    let go = std::sync::atomic::AtomicBool::new(false);
    let recut = |length: SegmentLengthRecord, cancel: &std::sync::atomic::AtomicBool| {
        recut_cached(
            &preset,
            &identity,
            length,
            &search(),
            cancel,
            None,
            Some(&cache),
        )
    };
    let (cold, hit) = recut(eighth(60.0), &go).unwrap();
    assert!(!hit, "the first re-cut encodes");
    // The second comes from the disk, equal to the first, without encoding: a cancelled
    // encoder would have failed.
    let stop = std::sync::atomic::AtomicBool::new(true);
    let (cached, hit) = recut(eighth(60.0), &stop).unwrap();
    assert!(hit);
    assert_eq!(cached, cold);
    assert_eq!(
        cold,
        counterpart_core::engine::recut(&preset, eighth(60.0), &search(), &go, None).unwrap()
    );
    // Another tempo, or another preset, is another entry.
    assert!(!recut(eighth(90.0), &go).unwrap().1);
    let other = Preset::identity(&synthetic_preset(0, false).to_bytes().unwrap()).unwrap();
    assert_ne!(other, identity);
    assert!(cache.get(&other, &preset, &eighth(60.0)).is_none());
    // A damaged entry is a miss, then replaced.
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{ not json").unwrap();
    }
    assert!(!recut(eighth(60.0), &go).unwrap().1);
    assert!(recut(eighth(60.0), &go).unwrap().1);
    // Over the cap, the least recently used entries go.
    let entry_size = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap();
    let small = RecutCache::in_dir(dir.clone(), entry_size);
    small.put(&identity, &cold).unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "the cap keeps one entry");
    assert!(small.get(&identity, &preset, &eighth(60.0)).is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The level of `x` in dBFS (RMS) over windows of `window` frames.
fn window_levels(x: &[f32], window: usize) -> Vec<f32> {
    x.chunks(window)
        .map(|w| {
            let power = w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32;
            10.0 * power.max(1e-20).log10()
        })
        .collect()
}

/// The loudest 50 ms window of `out` over `from_s..to_s`, in dBFS.
fn loudest(out: &[f32], from_s: f64, to_s: f64) -> f32 {
    let at = |s: f64| ((s * f64::from(RATE)) as usize).min(out.len());
    window_levels(
        &out[at(from_s)..at(to_s)],
        (0.05 * f64::from(RATE)) as usize,
    )
    .into_iter()
    .fold(f32::NEG_INFINITY, f32::max)
}

/// 3 s of melody, a 4 s rest, 3 s of melody.
fn melody_rest_melody() -> Vec<f32> {
    let mut guide = melody(RATE, 3.0, 0.25, 5);
    guide.extend(vec![0.0; 4 * RATE as usize]);
    guide.extend(melody(RATE, 3.0, 0.25, 6));
    guide
}

#[test]
fn the_companion_rests_when_the_guide_rests_and_comes_back_with_it() {
    let preset = synthetic_preset(1, true);
    let guide = melody_rest_melody();
    let config = sampling(1);
    let hold = f64::from(config.settings.rest_hold_seconds);
    let r = render(&preset, &config, &guide, 512);
    let latency = f64::from(r.latency) / f64::from(RATE);
    // The melody stops at 3 s; the companion fades out once the guide has been silent for
    // the hold (at the end of the slot that follows it, at most), and fades back in with the
    // guide, the jump's crossfade (40 ms) centred on the guide's onset.
    let rest = (3.25 + hold + 0.05 + latency, 7.0 + latency - 0.03);
    let in_rest = loudest(&r.out, rest.0, rest.1);
    let before = loudest(&r.out, latency, 3.0 + latency);
    let after = loudest(&r.out, 7.05 + latency, 10.0);
    println!(
        "rest: loudest 50 ms of the companion {in_rest:.1} dBFS in the guide's rest, \
         {before:.1} before, {after:.1} after"
    );
    assert!(in_rest <= -60.0, "the companion plays through the rest");
    assert!(before > -30.0 && after > -30.0);
    // The rest is logged, and the return starts with the guide's onset: a slot that starts
    // 7 s + the latency (the guide's onset lies on the grid here).
    let rests: Vec<&PlayedSlot> = r.slots.iter().filter(|s| s.requested.is_none()).collect();
    assert_eq!(rests.len(), 1, "one rest");
    let back = r
        .slots
        .iter()
        .find(|s| s.at > rests[0].at && s.requested.is_some())
        .expect("the companion comes back");
    let expected = ((7.0 + latency) * f64::from(RATE)).round() as i64;
    assert!(
        (back.at as i64 - expected).abs() <= (0.03 * f64::from(RATE)) as i64,
        "back at {} instead of {expected}",
        back.at
    );
    // Rests are judged on the worker's clock: any block size gives the same output.
    assert_block_size_independent(&preset, &config, &guide, &r, &[37]);
    // Without following rests, it plays through.
    let through = EngineConfig {
        settings: EngineSettings {
            follow_rests: false,
            ..config.settings
        },
        ..config.clone()
    };
    let r = render(&preset, &through, &guide, 512);
    assert!(loudest(&r.out, rest.0, rest.1) > -40.0);
}

#[test]
fn in_live_mode_the_companion_rests_a_hold_and_a_margin_after_the_guide_stops() {
    let preset = synthetic_preset(0, true);
    let guide = melody_rest_melody();
    let config = sampling(1);
    let hold = f64::from(config.settings.rest_hold_seconds);
    let margin = config.margin_seconds(RATE).unwrap();
    let r = render(&preset, &config, &guide, 512);
    assert_eq!(r.latency, 0);
    // Not at the next segment's decision (up to a segment later): once the guide has been
    // silent for the hold, a margin later, the fade (40 ms) done.
    let quiet_from = 3.0 + hold + margin + 0.05;
    let in_rest = loudest(&r.out, quiet_from, 7.0);
    let before = loudest(&r.out, 1.0, 3.0);
    println!(
        "live rest: companion at most {in_rest:.1} dBFS from {quiet_from:.3} s (guide stops at \
         3 s), {before:.1} dBFS before"
    );
    assert!(
        in_rest <= -60.0,
        "the companion plays into the rest: {in_rest:.1} dBFS"
    );
    assert!(before > -30.0);
    // The fade's time depends on the guide only: any block size gives the same output.
    assert_block_size_independent(&preset, &config, &guide, &r, &[37, 4096]);
}

/// Live mode with a reaction window: each slot is decided once the first W of its guide
/// segment is heard and (on the grid) starts W and the margin after the segment, whatever the
/// block size;
/// a guide that comes back from a rest is answered in the slot it comes back in (a segment
/// earlier than without the window); rests are followed as before.
#[test]
fn with_a_reaction_window_live_mode_answers_the_note_being_played() {
    let w = 0.06;
    let preset = live_preset_with_window(w, true);
    let guide = melody_rest_melody();
    let mut config = sampling(1);
    config.settings.follow_onsets = false;
    let margin = config.margin_seconds(RATE).unwrap();
    let r = render(&preset, &config, &guide, 512);
    assert_eq!(r.latency, 0, "live mode reports no latency");
    let frames = |s: f64| (s * f64::from(RATE)).round() as u64;
    let played: Vec<&PlayedSlot> = r.slots.iter().filter(|s| s.requested.is_some()).collect();
    assert!(played.len() > 15, "{} slots played", played.len());
    for slot in &played {
        let boundary = (slot.slot as f64 * SEGMENT_S * f64::from(RATE)).round() as u64;
        assert_eq!(
            slot.at,
            boundary + frames(w) + frames(margin),
            "slot {} starts W and the margin after its segment",
            slot.slot
        );
    }
    // The first slot plays from the first segment's window: no slot waits a segment.
    assert_eq!(played[0].slot, 0);
    // Rests as without a window: quiet through the guide's rest.
    let hold = f64::from(config.settings.rest_hold_seconds);
    let in_rest = loudest(&r.out, 3.0 + hold + margin + w + 0.05, 7.0);
    assert!(in_rest <= -60.0, "plays into the rest: {in_rest:.1} dBFS");
    // Back from the rest (the guide's note starts at 7 s, slot 28): answered in slot 28.
    let back = |slots: &[PlayedSlot]| {
        slots
            .iter()
            .find(|s| s.requested.is_some() && s.at > frames(5.0))
            .map(|s| (s.slot, s.at as f64 / f64::from(RATE)))
            .unwrap()
    };
    let (slot, at) = back(&r.slots);
    let plain = render(&synthetic_preset(0, true), &config, &guide, 512);
    let (plain_slot, plain_at) = back(&plain.slots);
    println!(
        "back from the rest at 7 s: with a {w} s window slot {slot} at {at:.3} s, without \
         slot {plain_slot} at {plain_at:.3} s"
    );
    assert_eq!(slot, 28);
    assert_eq!(
        plain_slot, 29,
        "without the window the guide's return is heard a slot late"
    );
    // The output depends on the guide only.
    assert_block_size_independent(&preset, &config, &guide, &r, &[37, 4096]);
}

#[test]
fn a_silent_guide_gets_a_silent_companion_after_the_hold_in_both_modes() {
    let guide = vec![0.0; 6 * RATE as usize];
    for lookahead in [1, 0] {
        let preset = synthetic_preset(lookahead, true);
        let config = sampling(2);
        let r = render(&preset, &config, &guide, 441);
        let latency = f64::from(r.latency) / f64::from(RATE);
        let hold = f64::from(config.settings.rest_hold_seconds);
        // Live: the first slot is decided before any guide is heard, and rests from the next.
        let quiet_from = latency
            + hold
            + 0.05
            + if lookahead == 0 {
                SEGMENT_S + config.margin_seconds(RATE).unwrap()
            } else {
                0.0
            };
        let level = loudest(&r.out, quiet_from, 6.0);
        println!("silent guide, L = {lookahead}: companion at most {level:.1} dBFS after {quiet_from:.2} s");
        assert!(level <= -60.0, "L = {lookahead}: {level} dBFS");
    }
}

/// A guide of harmonic notes starting at `onsets` (seconds), `seconds` long.
fn notes_at(onsets: &[f64], seconds: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = [196.0f32, 220.0, 261.6, 293.7, 329.6, 392.0, 440.0, 523.3];
    let pitches: Vec<f32> = onsets
        .iter()
        .map(|_| scale[rng.random_range(0..scale.len())])
        .collect();
    (0..(seconds * f64::from(RATE)) as usize)
        .map(|n| {
            let t = n as f64 / f64::from(RATE);
            let Some(k) = onsets.iter().rposition(|&o| o <= t) else {
                return 0.0;
            };
            let since = (t - onsets[k]) as f32;
            let envelope = (-6.0 * since).exp() * (since * 400.0).min(1.0);
            0.4 * envelope * (TAU * pitches[k] * since).sin()
        })
        .collect()
}

/// The share of `heard`'s onsets within 60 ms of one of `guide`'s.
fn onset_sync(heard: &[u64], guide: &[u64]) -> f64 {
    let near = heard
        .iter()
        .filter(|&&h| {
            guide
                .iter()
                .any(|&g| g.abs_diff(h) <= (0.06 * f64::from(RATE)) as u64)
        })
        .count();
    near as f64 / heard.len().max(1) as f64
}

#[test]
fn with_onset_following_the_companion_attacks_with_the_guide() {
    // Onsets off the 0.25 s segment grid: gaps of 0.15 to 0.27 s.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut onsets = vec![0.2];
    while *onsets.last().unwrap() < 7.5 {
        let gap = rng.random_range(0.15..0.27);
        onsets.push(onsets.last().unwrap() + gap);
    }
    let guide = notes_at(&onsets, 8.0, 3);
    let guide_onsets = OnsetDetector::detect(&guide, RATE);
    let preset = synthetic_preset(1, true);
    let mut sync = Vec::new();
    for follow in [true, false] {
        let mut config = sampling(2);
        config.settings.follow_onsets = follow;
        let r = render(&preset, &config, &guide, 512);
        assert!(r.out.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
        assert_eq!(r.late, 0);
        // The companion as heard: moved back by the latency the host compensates.
        let heard: Vec<u64> = OnsetDetector::detect(&r.out, RATE)
            .into_iter()
            .filter_map(|o| o.checked_sub(u64::from(r.latency)))
            .collect();
        assert!(heard.len() > 10, "{} onsets heard", heard.len());
        sync.push(onset_sync(&heard, &guide_onsets));
    }
    println!(
        "onset sync: following {:.3}, on the grid {:.3}",
        sync[0], sync[1]
    );
    assert!(sync[0] >= 0.8, "onset sync {sync:?}");
    assert!(sync[0] >= sync[1] + 0.2, "onset sync {sync:?}");
}

/// Live mode cannot wait for a guide note before starting its own, so it follows the guide's
/// pulse: the companion attacks where the next guide notes are predicted, in time with them as
/// heard (no latency), where on the grid it comes in a margin after each slot starts.
#[test]
fn in_live_mode_the_companion_attacks_on_the_guides_predicted_beat() {
    // A steady beat off the 0.25 s grid (0.22 s, with ±15 ms of jitter) and a held note.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut onsets = Vec::new();
    let mut beat: f64 = 0.1;
    while beat < 9.5 {
        if (beat - 5.16).abs() > 0.01 {
            onsets.push(beat + rng.random_range(-0.015..0.015));
        }
        beat += 0.22;
    }
    let guide = notes_at(&onsets, 10.0, 4);
    let guide_onsets = OnsetDetector::detect(&guide, RATE);
    let from = (2.0 * f64::from(RATE)) as u64;
    for preset in [
        synthetic_preset(0, true),
        live_preset_with_window(0.06, true),
    ] {
        let mut sync = Vec::new();
        // The pulse alone, then with Follow Harmony (whose choices among the synthetic
        // corpus's random notes add changes of note that the output's onsets count).
        for (follow, harmony) in [(true, false), (false, false), (true, true)] {
            let mut config = sampling(2);
            config.settings.follow_onsets = follow;
            config.settings.follow_harmony = harmony;
            let r = render(&preset, &config, &guide, 512);
            assert_eq!(r.latency, 0);
            assert!(r.out.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
            // After the first beats (the pulse needs a few onsets).
            let heard: Vec<u64> = OnsetDetector::detect(&r.out, RATE)
                .into_iter()
                .filter(|&o| o >= from)
                .collect();
            assert!(heard.len() > 8, "{} onsets heard", heard.len());
            sync.push(onset_sync(&heard, &guide_onsets));
            // The output depends on the guide only.
            assert_block_size_independent(&preset, &config, &guide, &r, &[37]);
        }
        println!(
            "live onset sync after 2 s: on the predicted beat {:.3}, on the grid {:.3}, on the \
             beat following harmony {:.3}",
            sync[0], sync[1], sync[2]
        );
        assert!(sync[0] >= 0.7, "onset sync {sync:?}");
        assert!(sync[0] >= sync[1] + 0.15, "onset sync {sync:?}");
        assert!(sync[2] >= sync[1] + 0.1, "onset sync {sync:?}");
    }
}

#[test]
fn in_live_mode_a_note_started_after_the_window_is_answered_within_its_slot() {
    // One note per 0.25 s segment, starting 110 ms into it: after the 60 ms window its slot is
    // decided from, so the decision cannot hear it, but early enough to decide again.
    let onsets: Vec<f64> = (0..36).map(|k| 0.11 + SEGMENT_S * k as f64).collect();
    let guide = notes_at(&onsets, 9.5, 12);
    let heard = OnsetDetector::detect(&guide, RATE);
    let preset = live_preset_with_window(0.06, true);
    let mut config = sampling(4);
    config.settings.temperature = 0.0;
    let r = render(&preset, &config, &guide, 512);
    let margin = (config.margin_seconds(RATE).unwrap() * f64::from(RATE)).round() as u64;
    // Slots whose label changed after their first grain: the decision taken again.
    let mut revised = 0;
    for slot in 0..36u64 {
        let grains: Vec<&PlayedSlot> = r.slots.iter().filter(|s| s.slot == slot).collect();
        let Some(first) = grains.first().and_then(|g| g.requested) else {
            continue;
        };
        let Some(change) = grains
            .iter()
            .find(|g| g.requested.is_some_and(|l| l != first))
        else {
            continue;
        };
        revised += 1;
        // It comes a margin after the note was heard (detected, and its window encoded), and
        // before the slot's segment ends (plus the margin and the window).
        let onset = *heard.iter().rfind(|&&o| o + margin < change.at).unwrap();
        let after = (change.at - onset) as f64 / f64::from(RATE);
        assert!(
            (0.06..0.3).contains(&after),
            "slot {slot}: changed {after:.3} s after the guide's onset"
        );
    }
    println!("{revised} of 36 slots decided again at the note");
    assert!(revised >= 2, "{revised} slots decided again");
    // On the grid (not following onsets) a slot keeps its decision.
    let mut grid = config.clone();
    grid.settings.follow_onsets = false;
    let plain = render(&preset, &grid, &guide, 512);
    let decided: Vec<(u64, u32)> = plain
        .slots
        .iter()
        .filter_map(|s| Some((s.slot, s.requested?)))
        .collect();
    assert!(decided
        .iter()
        .all(|s| decided.iter().filter(|o| o.0 == s.0).all(|o| o.1 == s.1)));
    assert_block_size_independent(&preset, &config, &guide, &r, &[37, 4096]);
}

/// Sustained tones (three harmonics, a soft attack) changing every `note_s`, from `start_s`:
/// the notes (MIDI) and the audio.
fn sustained_notes(seconds: f64, start_s: f64, note_s: f64, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = [67u8, 69, 71, 72, 74, 76, 77, 79];
    let count = ((seconds - start_s) / note_s).ceil() as usize;
    let mut notes: Vec<u8> = Vec::with_capacity(count);
    while notes.len() < count {
        let note = scale[rng.random_range(0..scale.len())];
        if notes.last() != Some(&note) {
            notes.push(note);
        }
    }
    let audio = (0..(seconds * f64::from(RATE)) as usize)
        .map(|n| {
            let t = n as f64 / f64::from(RATE) - start_s;
            if t < 0.0 {
                return 0.0;
            }
            let k = ((t / note_s) as usize).min(count - 1);
            let since = (t - k as f64 * note_s) as f32;
            let hz = 440.0 * 2f32.powf((f32::from(notes[k]) - 69.0) / 12.0);
            let tone: f32 = (1..=3)
                .map(|h| (TAU * hz * h as f32 * since).sin() / h as f32)
                .sum();
            0.2 * (since / 0.01).min(1.0) * tone
        })
        .collect();
    (notes, audio)
}

/// Live, Follow Harmony: the companion's notes (measured in its output) are consonant with
/// the guide's far more often than without, including soon after the guide changes note
/// inside a segment, and the output still depends on the guide only.
#[test]
fn in_live_mode_following_harmony_answers_the_guide_s_notes() {
    let (start, note_s) = (0.5, 0.9);
    let (notes, guide) = sustained_notes(14.0, start, note_s, 3);
    // Two labels, each of them on corpus notes of every pitch (as in a real corpus, where a
    // label is a kind of sound rather than a note).
    let mut preset = live_preset_with_window(0.06, true);
    for segment in &mut preset.corpus[0].segments {
        segment.label %= 2;
    }
    let mut analyser = PitchAnalyser::new(RATE);
    let window = (0.04 * f64::from(RATE)) as usize;
    let mut shares = Vec::new();
    for harmony in [true, false] {
        let mut config = sampling(6);
        config.settings.follow_harmony = harmony;
        let r = render(&preset, &config, &guide, 512);
        if harmony {
            assert_block_size_independent(&preset, &config, &guide, &r, &[37, 4096]);
        }
        // Every 20 ms from 2 s: (consonant, heard) overall, and from 150 ms into each note.
        let (mut all, mut settled) = ((0, 0), (0, 0));
        let mut t = 2.0;
        while t < 13.9 {
            let end = (t * f64::from(RATE)) as usize;
            let companion = analyser.analyse(&r.out[end - window..end]);
            let k = ((t - start) / note_s) as usize;
            if let Some(c) = companion.and_then(|p| p.first()) {
                let consonant = CONSONANT_INTERVALS.contains(&(notes[k].abs_diff(c) % 12));
                all = (all.0 + usize::from(consonant), all.1 + 1);
                if t - start - k as f64 * note_s >= 0.15 {
                    settled = (settled.0 + usize::from(consonant), settled.1 + 1);
                }
            }
            t += 0.02;
        }
        assert!(all.1 > 400, "the companion sounds: {all:?}");
        shares.push((
            all.0 as f64 / all.1 as f64,
            settled.0 as f64 / settled.1 as f64,
        ));
    }
    println!("consonant with the guide (all, from 150 ms into its notes): following harmony {:.3}, {:.3}; not {:.3}, {:.3}", shares[0].0, shares[0].1, shares[1].0, shares[1].1);
    assert!(shares[0].0 >= shares[1].0 + 0.2, "{shares:?}");
    assert!(shares[0].1 >= 0.75, "{shares:?}");
}
