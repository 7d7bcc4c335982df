//! The musician's metrics (`counterpart eval-heard`): the rendered companion scored against the
//! guide's notes, as the plugin's user hears it.
//!
//! Each guide of a stems set is rendered with the same streaming engine and settings as
//! `counterpart render` ([`crate::render::render_guide`]). Each slot the engine played is mapped
//! to the notes of the corpus recording it came from (`<piece>/<stem>.notes.json`, matched by
//! the corpus provenance the preset stores), placed on the guide's time line shifted back by the
//! latency the plugin reports ([`slots::latency_shift_s`]). Then:
//!
//! * **harmony**: on a 20 ms grid, the share of instants where guide and companion both sound
//!   whose every pitch pair is consonant ([`scores::harmony`]);
//! * **onset sync**: the share of the companion's note onsets within 60 ms of a guide onset
//!   ([`scores::onset_sync`]);
//! * **rests**: how much the companion's audio stays below −60 dBFS while the guide rests, and
//!   sounds while the guide plays ([`scores::rests`]).
//!
//! Whether it plays the companion's part rather than shadowing the guide ([`part`]):
//!
//! * **part F1**: the companion's onsets matched one to one with the true part's within 60 ms,
//!   `2 · matched / (companion onsets + true onsets)` ([`part::part_match`]);
//! * **chord tone**: on the 20 ms grid, over the instants where the companion and at least one
//!   other pitched stem of the piece sound (every stem but the guide's, the target's and
//!   `drums`), the share where every pitch class of the companion is one the others sound
//!   ([`part::chord_tone`]);
//! * **note rate**: the companion's onsets per second of guide ([`part::note_rate`]);
//! * **presence**: the share of the guide's sounding instants (20 ms grid) in which a companion
//!   note sounds ([`part::presence`]).
//!
//! Beside the companion: the true companion part, random corpus segments at the companion's
//! slot times, another piece's companion (shuffled), and the companion without the latency
//! shift (unaligned). See [`references`]. Harmony and the part measures are measured on each of
//! them; onset sync on the true part and the random one. The true part is its own annotated
//! notes ([`HeardNotes::from_notes`]), not passed through the corpus mapping, so its part F1 is
//! 1 wherever it has an onset.

pub mod notes;
pub mod part;
pub mod plot;
pub mod references;
pub mod scores;
pub mod slots;

use std::path::{Path, PathBuf};

use counterpart_core::engine::EngineConfig;
use counterpart_core::preset::Preset;
use serde_json::{json, Value};

use crate::data::layout::{PairSelection, PieceSource, StemsSet, TrackPair};
use crate::data::stems::{track_key, Note};
use crate::eval::EvalError;
use crate::render::{compensate_latency, render_guide, EngineRun};

use notes::{other_pitched_stems, track_notes, CorpusNotes};
use part::{PartContext, PartScores};
use references::{random_slots, shuffled_partner};
use scores::{harmony, onset_sync, rests, Ratio, RestScores};
use slots::{
    corpus_segments, heard_notes, latency_shift_s, slots_from_played, HeardNotes, Slot, SlotSource,
};

/// Which pieces of the stems set to score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceChoice {
    /// The pieces the preset's build held out (its metrics' `data.pieces.test`); every piece
    /// when the preset records none.
    HeldOut,
    /// These pieces.
    Named(Vec<String>),
    /// Every piece.
    All,
}

/// What `eval-heard` scores and how it renders.
#[derive(Debug, Clone)]
pub struct HeardOptions {
    /// The preset file.
    pub preset: PathBuf,
    /// The stems set whose guides are rendered (notes beside each stem).
    pub stems_dir: PathBuf,
    /// The folder holding the notes of the preset's corpus files.
    pub corpus_notes: PathBuf,
    /// Which pairs of each piece.
    pub selection: PairSelection,
    /// Which pieces.
    pub pieces: PieceChoice,
    /// The engine's settings, as for `counterpart render`.
    pub config: EngineConfig,
    /// Frames per block, as for `counterpart render`.
    pub block_size: usize,
    /// Extra folders to look for the preset's encoder in.
    pub encoder_dirs: Vec<PathBuf>,
}

/// Harmony of the companion and of its references.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HarmonyScores {
    /// The rendered companion, as heard.
    pub companion: Ratio,
    /// The true companion part.
    pub truth: Ratio,
    /// Random corpus segments at the companion's slot times.
    pub random: Ratio,
    /// Another piece's companion (none when every pair belongs to one piece).
    pub shuffled: Option<Ratio>,
    /// The rendered companion without the latency shift.
    pub unaligned: Ratio,
}

/// Onset sync of the companion and of its references.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OnsetScores {
    /// The rendered companion, as heard.
    pub companion: Ratio,
    /// The true companion part.
    pub truth: Ratio,
    /// Random corpus segments at the companion's slot times.
    pub random: Ratio,
}

/// The part measures of the companion and of its references (see [`part`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PartMeasures {
    /// The rendered companion, as heard.
    pub companion: PartScores,
    /// The true companion part.
    pub truth: PartScores,
    /// Random corpus segments at the companion's slot times.
    pub random: PartScores,
    /// Another piece's companion (none when every pair belongs to one piece).
    pub shuffled: Option<PartScores>,
    /// The rendered companion without the latency shift.
    pub unaligned: PartScores,
}

impl std::ops::AddAssign for PartMeasures {
    fn add_assign(&mut self, o: Self) {
        self.companion += o.companion;
        self.truth += o.truth;
        self.random += o.random;
        self.unaligned += o.unaligned;
        if let Some(s) = o.shuffled {
            *self.shuffled.get_or_insert_with(PartScores::default) += s;
        }
    }
}

/// Every measure for one pair, or pooled over pairs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HeardScores {
    /// Harmony.
    pub harmony: HarmonyScores,
    /// Onset sync.
    pub onset_sync: OnsetScores,
    /// Rests.
    pub rests: RestScores,
    /// Part F1, chord tone, note rate and presence.
    pub part: PartMeasures,
}

impl std::ops::AddAssign for HeardScores {
    fn add_assign(&mut self, o: Self) {
        let h = &mut self.harmony;
        h.companion += o.harmony.companion;
        h.truth += o.harmony.truth;
        h.random += o.harmony.random;
        h.unaligned += o.harmony.unaligned;
        if let Some(s) = o.harmony.shuffled {
            *h.shuffled.get_or_insert_with(Ratio::default) += s;
        }
        self.onset_sync.companion += o.onset_sync.companion;
        self.onset_sync.truth += o.onset_sync.truth;
        self.onset_sync.random += o.onset_sync.random;
        self.rests += o.rests;
        self.part += o.part;
    }
}

/// The scores of one (guide, target) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairReport {
    /// The piece.
    pub piece: String,
    /// The guide's track key.
    pub guide: String,
    /// The target's track key.
    pub target: String,
    /// Length of the guide, in seconds.
    pub duration_s: f64,
    /// The scores.
    pub scores: HeardScores,
}

/// What `eval-heard` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct HeardReport {
    /// The look-ahead of the model played.
    pub lookahead: usize,
    /// The seed of the engine and of the random reference.
    pub seed: u64,
    /// How far the companion was shifted back, in seconds (the reported latency).
    pub shift_s: f64,
    /// Per pair, in piece order.
    pub pairs: Vec<PairReport>,
    /// Pooled over the pairs (instants and onsets summed: time weights).
    pub pooled: HeardScores,
}

/// The first pair's notes and slots, for [`plot::piano_roll`].
#[derive(Debug, Clone, PartialEq)]
pub struct FirstPiece {
    /// Length of the guide, in seconds.
    pub duration_s: f64,
    /// The guide's notes.
    pub guide: Vec<Note>,
    /// The true companion's notes.
    pub truth: Vec<Note>,
    /// The rendered companion's notes, as heard.
    pub companion: Vec<Note>,
    /// Where its slots start, in guide time.
    pub slot_starts: Vec<f64>,
}

/// One rendered pair, before scoring.
struct Rendered {
    piece: String,
    guide_key: String,
    target_key: String,
    duration_s: f64,
    guide: Vec<Note>,
    truth: Vec<Note>,
    others: Vec<Note>,
    slots: Vec<Slot>,
    shift_s: f64,
    rests: RestScores,
}

/// The piece ids `choice` selects from `set` (and the preset's record of held-out pieces).
pub fn select_pieces(
    set: &StemsSet,
    preset: &Preset,
    choice: &PieceChoice,
) -> Result<Vec<String>, EvalError> {
    let available: Vec<String> = set.pieces.iter().map(|p| p.id.clone()).collect();
    let wanted: Vec<String> = match choice {
        PieceChoice::All => return Ok(available),
        PieceChoice::Named(ids) => ids.clone(),
        PieceChoice::HeldOut => match held_out_pieces(preset) {
            Some(ids) => ids,
            None => return Ok(available),
        },
    };
    let missing: Vec<&String> = wanted.iter().filter(|id| !available.contains(id)).collect();
    if !missing.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{} has no piece {} (use --pieces or --all-pieces to choose others)",
            set.root.display(),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(wanted)
}

/// The pieces the preset's build held out from training (its metrics' `data.pieces.test`).
pub fn held_out_pieces(preset: &Preset) -> Option<Vec<String>> {
    let ids = preset.metrics.pointer("/data/pieces/test")?.as_array()?;
    let ids: Vec<String> = ids
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// Renders every selected pair's guide and scores the companion as heard. Returns the report
/// and the first pair's notes (for the piano roll).
pub fn evaluate_heard(options: &HeardOptions) -> Result<(HeardReport, FirstPiece), EvalError> {
    let preset = Preset::load(&options.preset)?;
    let names: Vec<String> = preset.corpus.iter().map(|f| f.name.clone()).collect();
    let corpus = CorpusNotes::load(&options.corpus_notes, &names)?;
    let set = StemsSet::open(&options.stems_dir)?;
    let ids = select_pieces(&set, &preset, &options.pieces)?;
    let pieces: Vec<_> = set.pieces.iter().filter(|p| ids.contains(&p.id)).collect();

    // Every notes file first, so that a missing one stops the command before any rendering.
    let jobs = read_pair_notes(&pieces, &options.selection)?;
    if jobs.is_empty() {
        return Err(EvalError::Invalid(format!(
            "no (guide, target) pair to score in {}",
            options.stems_dir.display()
        )));
    }

    let run = EngineRun {
        config: &options.config,
        block_size: options.block_size,
        encoder_dirs: &options.encoder_dirs,
        play_out_latency: true,
    };
    let mut rendered = Vec::with_capacity(jobs.len());
    for job in jobs {
        rendered.push(render_pair(&preset, job, &run, &corpus)?);
    }

    let segments = corpus_segments(&preset);
    let piece_ids: Vec<&str> = rendered.iter().map(|r| r.piece.as_str()).collect();
    let seed = options.config.seed;
    let mut pairs = Vec::with_capacity(rendered.len());
    let mut pooled = HeardScores::default();
    for (i, r) in rendered.iter().enumerate() {
        let references = References {
            rendered: &rendered,
            piece_ids: &piece_ids,
            segments: &segments,
            corpus: &corpus,
            seed,
        };
        let scores = score_pair(i, r, &references);
        pooled += scores;
        pairs.push(PairReport {
            piece: r.piece.clone(),
            guide: r.guide_key.clone(),
            target: r.target_key.clone(),
            duration_s: r.duration_s,
            scores,
        });
    }
    let first = &rendered[0];
    let lookahead = options
        .config
        .lookahead
        .or_else(|| preset.lookaheads().first().copied())
        .unwrap_or(0);
    Ok((
        HeardReport {
            lookahead,
            seed,
            shift_s: first.shift_s,
            pairs,
            pooled,
        },
        first_piece(first, &corpus),
    ))
}

/// A pair to render and score, with the notes of its guide, of its true companion and of the
/// piece's other pitched stems (see [`other_pitched_stems`]).
struct PairNotes<'a> {
    piece: &'a PieceSource,
    pair: TrackPair,
    guide: Vec<Note>,
    truth: Vec<Note>,
    others: Vec<Note>,
}

/// The notes of every selected pair of `pieces`; fails listing every notes file missing.
fn read_pair_notes<'a>(
    pieces: &[&'a PieceSource],
    selection: &PairSelection,
) -> Result<Vec<PairNotes<'a>>, EvalError> {
    let mut jobs = Vec::new();
    let mut missing = Vec::new();
    for piece in pieces {
        for pair in piece.pairs(selection) {
            let others = other_pitched_stems(piece, &pair);
            match (
                track_notes(piece, &pair.guide),
                track_notes(piece, &pair.target),
                track_notes(piece, &others),
            ) {
                (Ok(guide), Ok(truth), Ok(others)) => jobs.push(PairNotes {
                    piece,
                    pair,
                    guide,
                    truth,
                    others,
                }),
                (a, b, c) => {
                    for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
                        match e {
                            EvalError::MissingNotes { missing: m } => missing.extend(m),
                            other => return Err(other),
                        }
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(EvalError::MissingNotes { missing });
    }
    Ok(jobs)
}

/// Renders a pair's guide as `render` does and reads what the companion played.
fn render_pair(
    preset: &Preset,
    PairNotes {
        piece,
        pair,
        guide,
        truth,
        others,
    }: PairNotes<'_>,
    run: &EngineRun<'_>,
    corpus: &CorpusNotes,
) -> Result<Rendered, EvalError> {
    let (guide_key, target_key) = (track_key(&pair.guide), track_key(&pair.target));
    tracing::info!("rendering {} ({guide_key} → {target_key})", piece.id);
    let audio = piece.load_track(&pair.guide)?;
    let rate = audio.sample_rate;
    let mono = audio.to_mono();
    let duration_s = mono.len() as f64 / f64::from(rate);
    let out = render_guide(preset, &mono, rate, run)?;
    let heard = compensate_latency(&out.channels, out.latency_samples as usize);
    let channels = heard.len().max(1) as f32;
    let companion: Vec<f32> = (0..mono.len())
        .map(|i| {
            heard
                .iter()
                .map(|c| c.get(i).copied().unwrap_or(0.0))
                .sum::<f32>()
                / channels
        })
        .collect();
    Ok(Rendered {
        rests: rests(&guide, &companion, rate, duration_s),
        piece: piece.id.clone(),
        guide_key,
        target_key,
        duration_s,
        guide,
        truth,
        others,
        slots: slots_from_played(&out.slots, rate, corpus)?,
        shift_s: latency_shift_s(out.latency_samples, rate),
    })
}

/// What a pair's companion is compared with: the other rendered pairs, the preset's corpus
/// segments and notes, and the seed of the random reference.
struct References<'a> {
    rendered: &'a [Rendered],
    piece_ids: &'a [&'a str],
    segments: &'a [SlotSource],
    corpus: &'a CorpusNotes,
    seed: u64,
}

/// The scores of the `i`-th rendered pair `r` and of its references.
fn score_pair(i: usize, r: &Rendered, refs: &References<'_>) -> HeardScores {
    let (corpus, seed, rendered) = (refs.corpus, refs.seed, refs.rendered);
    let companion = heard_notes(&r.slots, corpus, r.shift_s);
    let truth = HeardNotes::from_notes(&r.truth);
    let random_seed = seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let random = heard_notes(
        &random_slots(&r.slots, refs.segments, random_seed),
        corpus,
        r.shift_s,
    );
    let unaligned = heard_notes(&r.slots, corpus, 0.0);
    let shuffled = shuffled_partner(i, refs.piece_ids).map(|j| {
        let other = &rendered[j];
        heard_notes(&other.slots, corpus, other.shift_s)
    });
    let d = r.duration_s;
    let context = PartContext {
        guide: &r.guide,
        truth: &truth,
        others: &r.others,
        duration_s: d,
    };
    let part = |heard: &HeardNotes| PartScores::measure(&context, heard);
    HeardScores {
        harmony: HarmonyScores {
            companion: harmony(&r.guide, &companion.notes, d),
            truth: harmony(&r.guide, &truth.notes, d),
            random: harmony(&r.guide, &random.notes, d),
            shuffled: shuffled.as_ref().map(|s| harmony(&r.guide, &s.notes, d)),
            unaligned: harmony(&r.guide, &unaligned.notes, d),
        },
        onset_sync: OnsetScores {
            companion: onset_sync(&r.guide, &companion, d),
            truth: onset_sync(&r.guide, &truth, d),
            random: onset_sync(&r.guide, &random, d),
        },
        rests: r.rests,
        part: PartMeasures {
            companion: part(&companion),
            truth: part(&truth),
            random: part(&random),
            shuffled: shuffled.as_ref().map(part),
            unaligned: part(&unaligned),
        },
    }
}

/// The first pair's notes and slot starts, for the piano roll.
fn first_piece(first: &Rendered, corpus: &CorpusNotes) -> FirstPiece {
    FirstPiece {
        duration_s: first.duration_s,
        guide: first.guide.clone(),
        truth: first.truth.clone(),
        companion: heard_notes(&first.slots, corpus, first.shift_s).notes,
        slot_starts: first
            .slots
            .iter()
            .map(|s| s.start_s - first.shift_s)
            .collect(),
    }
}

fn ratio_json(r: Ratio) -> Value {
    r.value().map_or(Value::Null, |v| json!(round6(v)))
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn scores_json(s: &HeardScores) -> (Value, Value, Value) {
    let h = &s.harmony;
    (
        json!({
            "companion": ratio_json(h.companion),
            "true": ratio_json(h.truth),
            "random": ratio_json(h.random),
            "shuffled": h.shuffled.map_or(Value::Null, ratio_json),
            "unaligned": ratio_json(h.unaligned),
        }),
        json!({
            "companion": ratio_json(s.onset_sync.companion),
            "true": ratio_json(s.onset_sync.truth),
            "random": ratio_json(s.onset_sync.random),
        }),
        json!({
            "guide_rest_s": round6(s.rests.guide_rest_s),
            "companion_silent": ratio_json(s.rests.companion_silent),
            "companion_present_while_guide_sounds":
                ratio_json(s.rests.companion_present_while_guide_sounds),
        }),
    )
}

/// One part measure of the companion and of each reference, as a JSON object.
fn part_json(m: &PartMeasures, value: impl Fn(&PartScores) -> Option<f64>) -> Value {
    let number = |s: &PartScores| value(s).map_or(Value::Null, |v| json!(round6(v)));
    json!({
        "companion": number(&m.companion),
        "true": number(&m.truth),
        "random": number(&m.random),
        "shuffled": m.shuffled.as_ref().map_or(Value::Null, number),
        "unaligned": number(&m.unaligned),
    })
}

/// `report` with the part measures of `m` added as the fields `part_f1`, `chord_tone`,
/// `note_rate` (onsets per second) and `presence`.
fn with_part_json(mut report: Value, m: &PartMeasures) -> Value {
    if let Value::Object(fields) = &mut report {
        fields.insert("part_f1".into(), part_json(m, |p| p.part.f1()));
        fields.insert("chord_tone".into(), part_json(m, |p| p.chord_tone.value()));
        fields.insert("note_rate".into(), part_json(m, |p| p.note_rate.value()));
        fields.insert("presence".into(), part_json(m, |p| p.presence.value()));
    }
    report
}

fn number_cell(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn cell(r: Option<Ratio>) -> String {
    number_cell(r.and_then(|r| r.value()))
}

/// One part measure's value for one companion.
type PartValue = fn(&PartScores) -> Option<f64>;

/// The part measures: pooled (companion and references), then per pair (companion/true).
fn part_table(pooled: &PartMeasures, pairs: &[PairReport]) -> String {
    let measures: [(&str, PartValue); 4] = [
        ("part F1", |p| p.part.f1()),
        ("chord tone", |p| p.chord_tone.value()),
        ("note rate/s", |p| p.note_rate.value()),
        ("presence", |p| p.presence.value()),
    ];
    let mut s = format!(
        "{:<11} {:>9} {:>6} {:>6} {:>8} {:>9}\n",
        "part", "companion", "true", "random", "shuffled", "unaligned"
    );
    for (name, value) in measures {
        let m = pooled;
        s.push_str(&format!(
            "{:<11} {:>9} {:>6} {:>6} {:>8} {:>9}\n",
            name,
            number_cell(value(&m.companion)),
            number_cell(value(&m.truth)),
            number_cell(value(&m.random)),
            number_cell(m.shuffled.as_ref().and_then(value)),
            number_cell(value(&m.unaligned))
        ));
    }
    s.push_str(&format!(
        "\n{:<28} {:>17} {:>17} {:>17} {:>17}\n",
        "pair", "part F1 comp/true", "chord comp/true", "rate comp/true", "present comp/true"
    ));
    for r in pairs {
        let m = &r.scores.part;
        let both = |value: PartValue| {
            format!(
                "{}/{}",
                number_cell(value(&m.companion)),
                number_cell(value(&m.truth))
            )
        };
        s.push_str(&format!(
            "{:<28} {:>17} {:>17} {:>17} {:>17}\n",
            format!("{} {}→{}", r.piece, r.guide, r.target),
            both(measures[0].1),
            both(measures[1].1),
            both(measures[2].1),
            both(measures[3].1)
        ));
    }
    s
}

impl HeardReport {
    /// The report as one JSON object: pooled scores, then `per_piece`. A share is `null` when
    /// nothing was there to count. The part measures are the fields `part_f1`, `chord_tone`,
    /// `note_rate` (onsets per second) and `presence`, each with `companion`, `true`, `random`,
    /// `shuffled` and `unaligned`.
    pub fn to_json(&self) -> Value {
        let (harmony, onset, rests) = scores_json(&self.pooled);
        let per_piece: Vec<Value> = self
            .pairs
            .iter()
            .map(|p| {
                let (harmony, onset, rests) = scores_json(&p.scores);
                let piece = json!({
                    "piece": p.piece,
                    "guide": p.guide,
                    "target": p.target,
                    "duration_s": round6(p.duration_s),
                    "harmony": harmony,
                    "onset_sync": onset,
                    "rests": rests,
                });
                with_part_json(piece, &p.scores.part)
            })
            .collect();
        let report = json!({
            "pieces": self.pairs.len(),
            "lookahead": self.lookahead,
            "seed": self.seed,
            "shift_s": round6(self.shift_s),
            "harmony": harmony,
            "onset_sync": onset,
            "rests": rests,
            "per_piece": per_piece,
        });
        with_part_json(report, &self.pooled.part)
    }

    /// The report as plain-text tables: pooled, then per pair; then the part measures, pooled
    /// and per pair.
    pub fn table(&self) -> String {
        let p = &self.pooled;
        let mut s = format!(
            "{} pair(s), look-ahead {}, seed {}; the companion is heard {:.3} s earlier than the \
             engine plays it (the latency the plugin reports)\n\n",
            self.pairs.len(),
            self.lookahead,
            self.seed,
            self.shift_s
        );
        s.push_str(&format!(
            "{:<11} {:>9} {:>6} {:>6} {:>8} {:>9}\n",
            "", "companion", "true", "random", "shuffled", "unaligned"
        ));
        let h = &p.harmony;
        s.push_str(&format!(
            "{:<11} {:>9} {:>6} {:>6} {:>8} {:>9}\n",
            "harmony",
            cell(Some(h.companion)),
            cell(Some(h.truth)),
            cell(Some(h.random)),
            cell(h.shuffled),
            cell(Some(h.unaligned))
        ));
        let o = &p.onset_sync;
        s.push_str(&format!(
            "{:<11} {:>9} {:>6} {:>6} {:>8} {:>9}\n\n",
            "onset sync",
            cell(Some(o.companion)),
            cell(Some(o.truth)),
            cell(Some(o.random)),
            "-",
            "-"
        ));
        s.push_str(&format!(
            "rests: {:.1} s of guide rests; the companion is silent (< -60 dBFS) in {} of them, \
             and sounds in {} of the guide's sounding time\n\n",
            p.rests.guide_rest_s,
            cell(Some(p.rests.companion_silent)),
            cell(Some(p.rests.companion_present_while_guide_sounds))
        ));
        s.push_str(&format!(
            "{:<28} {:>29} {:>17} {:>7} {:>6} {:>7}\n",
            "pair",
            "harmony comp/true/rand/shuf",
            "onset comp/true/rand",
            "rest s",
            "silent",
            "present"
        ));
        for r in &self.pairs {
            let (h, o, x) = (&r.scores.harmony, &r.scores.onset_sync, &r.scores.rests);
            s.push_str(&format!(
                "{:<28} {:>29} {:>17} {:>7.1} {:>6} {:>7}\n",
                format!("{} {}→{}", r.piece, r.guide, r.target),
                format!(
                    "{}/{}/{}/{}",
                    cell(Some(h.companion)),
                    cell(Some(h.truth)),
                    cell(Some(h.random)),
                    cell(h.shuffled)
                ),
                format!(
                    "{}/{}/{}",
                    cell(Some(o.companion)),
                    cell(Some(o.truth)),
                    cell(Some(o.random))
                ),
                x.guide_rest_s,
                cell(Some(x.companion_silent)),
                cell(Some(x.companion_present_while_guide_sounds))
            ));
        }
        s.push('\n');
        s.push_str(&part_table(&p.part, &self.pairs));
        s
    }
}

/// Writes the piano roll of `first` to `path` (see [`plot::piano_roll`]).
pub fn plot_first_piece(path: &Path, first: &FirstPiece) -> Result<(), EvalError> {
    plot::piano_roll(
        path,
        &plot::PianoRoll {
            duration_s: first.duration_s,
            guide: &first.guide,
            truth: &first.truth,
            companion: &first.companion,
            slot_starts: &first.slot_starts,
        },
    )
}
