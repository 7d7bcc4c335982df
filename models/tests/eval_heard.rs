//! The musician's metrics (`counterpart eval-heard`): hand-built notes and slots with exactly
//! known scores, the latency shift on a real (synthetic) aligned render, and the error for
//! missing notes. Nothing here reads `/work/shared`.
//!
//! The render tests need the ONNX Runtime library (`bash scripts/install-onnxruntime.sh`).

#[path = "../../inference-core/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use counterpart_core::engine::EngineConfig;
use counterpart_models::audio_file::{self, SampleFormat};
use counterpart_models::data::layout::PairSelection;
use counterpart_models::data::stems::Note;
use counterpart_models::eval::heard::notes::CorpusNotes;
use counterpart_models::eval::heard::part::{
    chord_tone, note_rate, part_match, presence, NoteRate, OnsetMatch, PartContext, PartScores,
};
use counterpart_models::eval::heard::references::random_slots;
use counterpart_models::eval::heard::scores::{
    guide_rests, harmony, is_consonant, onset_sync, rests, Ratio,
};
use counterpart_models::eval::heard::slots::{heard_notes, HeardNotes, Slot, SlotSource};
use counterpart_models::eval::heard::{evaluate_heard, HeardOptions, PieceChoice};
use counterpart_models::eval::EvalError;
use counterpart_models::render::{compensate_latency, render_guide, EngineRun};

fn note(onset_s: f64, offset_s: f64, midi_pitch: u8) -> Note {
    Note {
        onset_s,
        offset_s,
        midi_pitch,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-eval-heard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_notes(path: &Path, notes: &[Note]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let list: Vec<serde_json::Value> = notes
        .iter()
        .map(|n| {
            serde_json::json!({"onset_s": n.onset_s, "offset_s": n.offset_s,
                               "midi_pitch": n.midi_pitch, "velocity": 80})
        })
        .collect();
    std::fs::write(path, serde_json::to_vec(&list).unwrap()).unwrap();
}

/// The guide: three notes of pitch 72 and a rest of 1.52 s between the second and the third.
fn guide() -> Vec<Note> {
    vec![
        note(0.01, 0.79, 72),
        note(0.81, 1.99, 72),
        note(3.51, 3.99, 72),
    ]
}

/// One corpus file: a C (60) for two seconds, then an F sharp (66).
fn corpus() -> CorpusNotes {
    CorpusNotes {
        names: vec!["p/bass".into()],
        notes: vec![vec![note(0.0, 2.0, 60), note(2.0, 4.0, 66)]],
    }
}

/// Four slots of 0.5 s heard 0.51 s earlier than played. In guide time: C on [0.49, 0.77),
/// F sharp from its onset at 0.77 to 1.49, C on [1.49, 1.59), F sharp from its onset at 1.59 to
/// 1.99, then silence.
fn slots() -> Vec<Slot> {
    let from = |start_s: f64, u: f64| Slot {
        start_s,
        len_s: 0.5,
        source: Some(SlotSource {
            file: 0,
            start_s: u,
        }),
    };
    vec![
        from(1.0, 1.72),
        from(1.5, 3.0),
        from(2.0, 1.9),
        Slot {
            start_s: 2.5,
            len_s: 0.5,
            source: None,
        },
    ]
}

const SHIFT_S: f64 = 0.51;
const DURATION_S: f64 = 4.0;

#[test]
fn consonance_counts_thirds_fifths_sixths_and_octaves_but_not_fourths() {
    assert!(is_consonant(&[72], &[60])); // octave
    assert!(is_consonant(&[67], &[60])); // fifth
    assert!(is_consonant(&[72, 64], &[60])); // octave and third
    assert!(is_consonant(&[69], &[60])); // major sixth
    assert!(!is_consonant(&[72], &[67])); // fourth above the lower voice
    assert!(!is_consonant(&[72], &[66])); // tritone
    assert!(!is_consonant(&[72, 62], &[60])); // octave, but a second too
}

#[test]
fn harmony_of_hand_built_slots_is_exact() {
    let heard = heard_notes(&slots(), &corpus(), SHIFT_S);
    // Both sound at 0.50..0.78 (15 instants) and 0.82..1.98 (59 instants); the C sounds with
    // the guide's 72 (an octave) at 0.50..0.76 (14) and 1.50..1.58 (5).
    assert_eq!(
        harmony(&guide(), &heard.notes, DURATION_S),
        Ratio {
            hits: 19,
            total: 74
        }
    );
    // Unshifted, the companion sounds on [1.0, 2.5): C on [1.0, 1.28) and [2.0, 2.1).
    let unshifted = heard_notes(&slots(), &corpus(), 0.0);
    assert_eq!(
        harmony(&guide(), &unshifted.notes, DURATION_S),
        Ratio {
            hits: 14,
            total: 50
        }
    );
}

#[test]
fn onset_sync_counts_only_onsets_inside_the_played_spans() {
    let heard = heard_notes(&slots(), &corpus(), SHIFT_S);
    // The F sharp's onset (source 2.0 s) is played twice: at 0.77, 40 ms before the guide's
    // onset at 0.81, and at 1.59, far from any; the C's onset (source 0) is never played.
    assert_eq!(heard.onsets.len(), 2);
    assert!((heard.onsets[0] - 0.77).abs() < 1e-9 && (heard.onsets[1] - 1.59).abs() < 1e-9);
    assert_eq!(
        onset_sync(&guide(), &heard, DURATION_S),
        Ratio { hits: 1, total: 2 }
    );
}

/// The true part: onsets at 0.05, 0.80, 1.63 and 3.00, and one at 4.20 past the guide's end.
fn truth() -> Vec<Note> {
    vec![
        note(0.05, 0.75, 48),
        note(0.80, 1.49, 54),
        note(1.63, 1.99, 50),
        note(3.0, 3.5, 55),
        note(4.2, 4.5, 55),
    ]
}

/// The other pitched stems: an E (64) from 0 and a C (72) from 0.31 until 1.01, an F sharp (54)
/// until 1.71, a G (67) until 1.91, then nothing.
fn others() -> Vec<Note> {
    vec![
        note(0.0, 1.01, 64),
        note(0.31, 1.01, 72),
        note(1.01, 1.71, 54),
        note(1.71, 1.91, 67),
    ]
}

fn onsets(onsets: &[f64]) -> HeardNotes {
    HeardNotes {
        notes: Vec::new(),
        onsets: onsets.to_vec(),
    }
}

#[test]
fn part_f1_matches_onsets_one_to_one_within_60_ms() {
    let heard = heard_notes(&slots(), &corpus(), SHIFT_S);
    let truth = HeardNotes::from_notes(&truth());
    // The companion's onsets 0.77 and 1.59 pair with the true 0.80 and 1.63; the true 0.05 and
    // 3.00 stay alone, 4.20 is past the end: F1 = 2 · 2 / (2 + 4).
    let m = part_match(&truth, &heard, DURATION_S);
    assert_eq!(
        m,
        OnsetMatch {
            matched: 2,
            companion: 2,
            truth: 4
        }
    );
    assert_eq!(m.f1(), Some(4.0 / 6.0));
    assert_eq!(m.as_ratio(), Ratio { hits: 4, total: 6 });
    // The true part against itself.
    assert_eq!(part_match(&truth, &truth, DURATION_S).f1(), Some(1.0));

    // One to one: two companion onsets near one true onset make one pair. Companion 1.07 is
    // nearest the true 1.05, yet pairing it with 1.12 lets 1.00 pair with 1.05: two pairs.
    let one = part_match(&onsets(&[1.03]), &onsets(&[1.0, 1.05]), 2.0);
    assert_eq!((one.matched, one.f1()), (1, Some(2.0 / 3.0)));
    let two = part_match(&onsets(&[1.05, 1.12]), &onsets(&[1.0, 1.07]), 2.0);
    assert_eq!((two.matched, two.f1()), (2, Some(1.0)));
    // 60 ms is in, 70 ms is out, either way round.
    assert_eq!(
        part_match(&onsets(&[0.0]), &onsets(&[0.06]), 2.0).matched,
        1
    );
    assert_eq!(
        part_match(&onsets(&[0.06]), &onsets(&[0.0]), 2.0).matched,
        1
    );
    assert_eq!(
        part_match(&onsets(&[0.0]), &onsets(&[0.07]), 2.0).matched,
        0
    );
    assert_eq!(
        part_match(&onsets(&[0.07]), &onsets(&[0.0]), 2.0).matched,
        0
    );

    // No true onsets: the companion's are all wrong; an empty companion finds none; with
    // neither there is nothing to score.
    let none = HeardNotes::default();
    assert_eq!(part_match(&none, &heard, DURATION_S).f1(), Some(0.0));
    assert_eq!(part_match(&truth, &none, DURATION_S).f1(), Some(0.0));
    assert_eq!(part_match(&none, &none, DURATION_S).f1(), None);
}

#[test]
fn chord_tone_counts_instants_where_the_companion_and_the_other_stems_sound() {
    let heard = heard_notes(&slots(), &corpus(), SHIFT_S);
    // The companion sounds at 0.50..1.98, the others until 1.90: 71 instants. C with {E, C} at
    // 0.50..0.76 (14 in); F sharp with {E, C} at 0.78..1.00 (12 out), with F sharp at
    // 1.02..1.48 (24 in); C with F sharp at 1.50..1.58 (5 out); F sharp with F sharp at
    // 1.60..1.70 (6 in), with G at 1.72..1.90 (10 out).
    assert_eq!(
        chord_tone(&others(), &heard.notes, DURATION_S),
        Ratio {
            hits: 44,
            total: 71
        }
    );
    // Every companion pitch class must be in the chord: C and E against C and G are out, and
    // in from 0.51 where an E (76) joins (0.52..0.98: 24 of 50 instants).
    let companion = [note(0.0, 1.0, 60), note(0.0, 1.0, 64)];
    let mut chord = vec![note(0.0, 1.0, 48), note(0.0, 1.0, 67)];
    assert_eq!(
        chord_tone(&chord, &companion, 1.0),
        Ratio { hits: 0, total: 50 }
    );
    chord.push(note(0.51, 1.0, 76));
    assert_eq!(
        chord_tone(&chord, &companion, 1.0),
        Ratio {
            hits: 24,
            total: 50
        }
    );
    // No other stem sounding, or an empty companion: nothing to count.
    assert_eq!(chord_tone(&[], &heard.notes, DURATION_S), Ratio::default());
    assert_eq!(chord_tone(&others(), &[], DURATION_S), Ratio::default());
    assert_eq!(Ratio::default().value(), None);
}

#[test]
fn note_rate_and_presence_of_hand_built_slots_are_exact() {
    let heard = heard_notes(&slots(), &corpus(), SHIFT_S);
    // Two onsets in 4 s; the true part's four inside the guide's 4 s (4.20 is past it).
    let rate = note_rate(&heard, DURATION_S);
    assert_eq!(
        rate,
        NoteRate {
            onsets: 2,
            seconds: 4.0
        }
    );
    assert_eq!(rate.value(), Some(0.5));
    let truth = HeardNotes::from_notes(&truth());
    assert_eq!(note_rate(&truth, DURATION_S).value(), Some(1.0));
    assert_eq!(
        note_rate(&HeardNotes::default(), DURATION_S).value(),
        Some(0.0)
    );
    assert_eq!(note_rate(&heard, 0.0).value(), None);

    // The guide sounds at 39 + 59 + 24 instants; the companion at 15 + 59 of them.
    assert_eq!(
        presence(&guide(), &heard.notes, DURATION_S),
        Ratio {
            hits: 74,
            total: 122
        }
    );
    // The true part at 0.06..0.74 (35), 0.82..1.48 (34), 1.64..1.98 (18); its note at 3.00..3.50
    // is over before the guide's last note.
    assert_eq!(
        presence(&guide(), &truth.notes, DURATION_S),
        Ratio {
            hits: 87,
            total: 122
        }
    );
    assert_eq!(
        presence(&guide(), &[], DURATION_S),
        Ratio {
            hits: 0,
            total: 122
        }
    );
    assert_eq!(presence(&[], &heard.notes, DURATION_S), Ratio::default());

    // The four together, and pooled by summing their counts.
    let context = PartContext {
        guide: &guide(),
        truth: &truth,
        others: &others(),
        duration_s: DURATION_S,
    };
    let scores = PartScores::measure(&context, &heard);
    assert_eq!(scores.part.f1(), Some(4.0 / 6.0));
    assert_eq!(scores.chord_tone.value(), Some(44.0 / 71.0));
    assert_eq!(scores.note_rate.value(), Some(0.5));
    assert_eq!(scores.presence.value(), Some(74.0 / 122.0));
    let mut pooled = scores;
    pooled += PartScores::measure(&context, &truth);
    assert_eq!(pooled.part.f1(), Some(12.0 / 14.0));
    assert_eq!(pooled.note_rate.value(), Some(6.0 / 8.0));
    assert_eq!(pooled.presence.value(), Some(161.0 / 244.0));
}

#[test]
fn rests_start_half_a_second_after_the_last_offset() {
    let spans = guide_rests(&guide(), DURATION_S);
    assert_eq!(spans.len(), 1);
    assert!((spans[0].0 - 2.49).abs() < 1e-12 && (spans[0].1 - 3.51).abs() < 1e-12);
    // No rest without a silence of a second; a silent guide is one rest from 0.
    assert!(guide_rests(&[note(0.0, 1.0, 60), note(1.9, 3.0, 60)], 3.0).is_empty());
    assert_eq!(guide_rests(&[], 2.0), vec![(0.0, 2.0)]);

    // The companion plays at -20 dBFS until 2.9 s, then is digitally silent.
    let rate = 1000;
    let audio: Vec<f32> = (0..4000)
        .map(|i| if i < 2900 { 0.1 } else { 0.0 })
        .collect();
    let scores = rests(&guide(), &audio, rate, DURATION_S);
    assert!((scores.guide_rest_s - 1.02).abs() < 1e-12);
    // Rest instants 2.50..3.50 (51); the 50 ms window centred on 2.92 still holds loud
    // samples, the one on 2.94 does not: 29 silent.
    assert_eq!(
        scores.companion_silent,
        Ratio {
            hits: 29,
            total: 51
        }
    );
    // The guide sounds at 39 + 59 + 24 instants; the companion only during the first 98.
    assert_eq!(
        scores.companion_present_while_guide_sounds,
        Ratio {
            hits: 98,
            total: 122
        }
    );
}

#[test]
fn the_random_reference_keeps_the_slot_times_and_is_seeded() {
    let segments: Vec<SlotSource> = (0..8)
        .map(|i| SlotSource {
            file: 0,
            start_s: f64::from(i) * 0.5,
        })
        .collect();
    let a = random_slots(&slots(), &segments, 3);
    assert_eq!(a, random_slots(&slots(), &segments, 3));
    assert_ne!(a, random_slots(&slots(), &segments, 4));
    for (r, s) in a.iter().zip(slots()) {
        assert_eq!((r.start_s, r.len_s), (s.start_s, s.len_s));
        assert_eq!(r.source.is_some(), s.source.is_some());
    }
}

#[test]
fn missing_corpus_notes_are_all_listed() {
    let dir = temp_dir("missing");
    write_notes(&dir.join("p/bass.notes.json"), &[note(0.0, 1.0, 40)]);
    let names = vec!["p/bass".to_string(), "q/bass".into(), "r/alto+bass".into()];
    let error = CorpusNotes::load(&dir, &names).unwrap_err();
    let EvalError::MissingNotes { missing } = &error else {
        panic!("expected missing notes, got {error}");
    };
    assert_eq!(
        missing,
        &vec![
            dir.join("q/bass.notes.json"),
            dir.join("r/alto.notes.json"),
            dir.join("r/bass.notes.json")
        ]
    );
    let message = error.to_string();
    assert!(message.contains("no notes for 3 file(s)"), "{message}");
    assert!(message.contains("q/bass.notes.json"), "{message}");
    let loaded = CorpusNotes::load(&dir, &names[..1]).unwrap();
    assert_eq!(loaded.notes, vec![vec![note(0.0, 1.0, 40)]]);
    std::fs::remove_dir_all(&dir).unwrap();
}

const RATE: u32 = 22_050;

fn write_wav(path: &Path, samples: &[f32]) {
    let scaled: Vec<f32> = samples.iter().map(|x| x * 20_000.0 / 32_767.0).collect();
    audio_file::write_wav(path, RATE, &[scaled], SampleFormat::Int16).unwrap();
}

/// A stems folder with one piece: guide `a` (3 s) and true companion `b`, with their notes; the
/// synthetic preset's corpus `tones.wav` is annotated as one long C (60).
fn synthetic_set(dir: &Path, guide_notes: &[Note]) -> (PathBuf, PathBuf, PathBuf) {
    let preset = dir.join("tones.cpreset");
    common::synthetic_preset(1, false).save(&preset).unwrap();
    let stems = dir.join("stems");
    std::fs::create_dir_all(stems.join("piece")).unwrap();
    write_wav(
        &stems.join("piece/a.wav"),
        &common::melody(RATE, 3.0, 0.25, 21),
    );
    write_wav(
        &stems.join("piece/b.wav"),
        &common::melody(RATE, 3.0, 0.5, 5),
    );
    write_notes(&stems.join("piece/a.notes.json"), guide_notes);
    write_notes(&stems.join("piece/b.notes.json"), &[note(0.0, 3.0, 64)]);
    let corpus_notes = dir.join("corpus-notes");
    std::fs::create_dir_all(&corpus_notes).unwrap();
    (preset, stems, corpus_notes)
}

fn options(preset: PathBuf, stems: PathBuf, corpus_notes: PathBuf) -> HeardOptions {
    HeardOptions {
        preset,
        stems_dir: stems,
        corpus_notes,
        selection: PairSelection::Named {
            guide: "a".into(),
            target: "b".into(),
        },
        pieces: PieceChoice::HeldOut,
        config: EngineConfig::default(),
        block_size: 512,
        encoder_dirs: vec![common::encoder_dir()],
    }
}

#[test]
fn eval_heard_refuses_a_corpus_without_notes_before_rendering() {
    let dir = temp_dir("no-corpus-notes");
    let (preset, stems, corpus_notes) = synthetic_set(&dir, &[note(0.0, 3.0, 67)]);
    let error = evaluate_heard(&options(preset, stems, corpus_notes.clone())).unwrap_err();
    assert!(
        matches!(&error, EvalError::MissingNotes { missing } if missing == &vec![corpus_notes.join("tones.notes.json")]),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The other pitched stems' notes are read with the pair's, before rendering: a missing one is
/// listed; the drums' are never read.
#[test]
fn eval_heard_needs_the_notes_of_the_other_pitched_stems_but_not_of_the_drums() {
    let dir = temp_dir("other-stems");
    let (preset, stems, corpus_notes) = synthetic_set(&dir, &[note(0.0, 3.0, 67)]);
    write_notes(
        &corpus_notes.join("tones.notes.json"),
        &[note(0.0, 100.0, 60)],
    );
    let silence = vec![0.0; RATE as usize];
    write_wav(&stems.join("piece/c.wav"), &silence);
    write_wav(&stems.join("piece/drums.wav"), &silence);
    let error = evaluate_heard(&options(preset, stems.clone(), corpus_notes)).unwrap_err();
    assert!(
        matches!(&error, EvalError::MissingNotes { missing } if missing == &vec![stems.join("piece/c.notes.json")]),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An aligned render (L = 1) of a guide whose first second (a C sharp, 61) clashes with the
/// corpus's C and whose rest (a G, 67) does not. Shifted back by the reported latency, the
/// companion's first slot sounds with the guide's first segment, so every instant of the first
/// second is a dissonance; without the shift the companion only starts at the latency.
#[test]
fn the_aligned_companion_is_shifted_back_by_the_reported_latency() {
    let dir = temp_dir("shift");
    let (preset, stems, corpus_notes) =
        synthetic_set(&dir, &[note(0.0, 1.01, 61), note(1.01, 3.0, 67)]);
    write_notes(
        &corpus_notes.join("tones.notes.json"),
        &[note(0.0, 100.0, 60)],
    );
    let (report, first) = evaluate_heard(&options(preset, stems, corpus_notes)).unwrap();

    // One segment (0.25 s), the worker margin (fitted to 512-frame blocks) and the
    // half-segment onset shift, in whole frames.
    let rate = f64::from(RATE);
    let margin = EngineConfig::default().margin_seconds(RATE).unwrap();
    let latency = (0.25 * rate).round() + (margin * rate).round() + (0.125 * rate).round();
    assert_eq!(report.lookahead, 1);
    assert_eq!(report.shift_s, latency / f64::from(RATE));
    assert!(
        first.slot_starts[0].abs() < 1e-12,
        "{:?}",
        first.slot_starts
    );

    let h = report.pooled.harmony;
    // Shifted: the companion sounds at all 150 instants of [0, 3), 51 of them before 1.01.
    assert_eq!(
        h.companion,
        Ratio {
            hits: 99,
            total: 150
        }
    );
    // Unshifted: it starts at the latency, 0.457 s, so 127 instants, 28 of them before 1.01.
    assert_eq!(
        h.unaligned,
        Ratio {
            hits: 99,
            total: 127
        }
    );
    // The true part (an E, 64) is a third from both guide notes; random segments of the corpus
    // sound the same C at the same slot times; a single pair has no shuffled reference.
    assert_eq!(
        h.truth,
        Ratio {
            hits: 150,
            total: 150
        }
    );
    assert_eq!(h.random, h.companion);
    assert_eq!(h.shuffled, None);
    let json = report.to_json();
    assert_eq!(json["pieces"], 1);
    assert_eq!(json["harmony"]["companion"], 0.66);
    assert!(json["harmony"]["shuffled"].is_null());
    assert_eq!(json["per_piece"][0]["piece"], "piece");

    // The part measures: the companion sounds through the guide; the true part (one E from 0)
    // is its own notes, so its part F1 is 1; no other stem sounds, so no chord tone.
    let part = report.pooled.part;
    let all = Ratio {
        hits: 150,
        total: 150,
    };
    assert_eq!((part.companion.presence, part.truth.presence), (all, all));
    assert_eq!(part.truth.part.f1(), Some(1.0));
    assert_eq!(part.companion.chord_tone, Ratio::default());
    assert_eq!(json["presence"]["companion"], 1.0);
    assert_eq!(json["part_f1"]["true"], 1.0);
    assert_eq!(json["note_rate"]["true"], 0.333333);
    assert!(json["chord_tone"]["companion"].is_null());
    assert!(json["part_f1"]["shuffled"].is_null());
    assert_eq!(json["per_piece"][0]["presence"]["true"], 1.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn live_mode_reports_no_latency_and_aligned_mode_plays_it_out() {
    let guide = common::melody(RATE, 1.0, 0.25, 3);
    let encoder_dirs = [common::encoder_dir()];
    let config = EngineConfig::default();
    let run = |lookahead: usize, play_out_latency: bool| {
        render_guide(
            &common::synthetic_preset(lookahead, false),
            &guide,
            RATE,
            &EngineRun {
                config: &config,
                block_size: 512,
                encoder_dirs: &encoder_dirs,
                play_out_latency,
            },
        )
        .unwrap()
    };
    let live = run(0, true);
    assert_eq!(live.latency_samples, 0);
    assert_eq!(live.channels[0].len(), guide.len());
    let aligned = run(1, true);
    let latency = aligned.latency_samples as usize;
    // One 0.25 s segment, the margin fitted to 512-frame blocks and the half-segment shift.
    let margin = (config.margin_seconds(RATE).unwrap() * f64::from(RATE)).round() as usize;
    assert_eq!(latency, 5513 + margin + 2756);
    assert_eq!(aligned.channels[0].len(), guide.len() + latency);
    let heard = compensate_latency(&aligned.channels, latency);
    assert_eq!(heard[0].len(), guide.len());
    assert_eq!(heard[0][..], aligned.channels[0][latency..]);
}
