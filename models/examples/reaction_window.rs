//! How much of the guide's current segment the first W ms already tell: the measurement behind
//! live mode's reaction window (docs/results/live.md). With the default preset's encoder and codebook, each
//! primary pair's guide is encoded with reaction windows of several lengths W
//! ([`SegmentEncoderConfig::reaction_s`]: the first W of each segment, with the same past
//! context, as live mode would hear it W after the segment starts), and count-based
//! predictors of the target's label b_t, trained on the training pieces and scored on the
//! held-out ones, compare what each mode can know when it decides slot t:
//!
//! * live today: the guide's finished segments, up to a_{t-1};
//! * live with a reaction window W: a_{t-1} and the window's token p_t;
//! * aligned: a_t (the whole current segment) and a_{t-1}.
//!
//! `cargo run --release -p counterpart-models --example reaction_window -- STEMS_DIR
//!  [W_MS,...] [TEST_PIECES]` (W default 40,60,80,100,150,200; TEST_PIECES comma-separated,
//! default: the stems-dev held-out pieces).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use counterpart_core::perception::{
    encode_clip, Codebook, EncoderOptions, OnnxEncoder, SegmentEncoderConfig,
};
use counterpart_core::preset::Preset;
use counterpart_models::data::layout::{PairSelection, StemsSet};
use counterpart_models::pipeline::preset_runtime::preset_encoding;

const DEFAULT_TEST: &str = "bach-bwv14-5,bach-bwv253,bach-bwv285,bach-bwv292,bach-bwv420";
/// A context seen fewer times than this backs off to a shorter one.
const MIN_COUNT: usize = 3;

/// Label counts per context.
type Counts<K> = HashMap<K, Vec<usize>>;

fn argmax(counts: &[usize]) -> u32 {
    (0..counts.len())
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0) as u32
}

/// The most frequent label after `key`, if it was seen often enough.
fn predict<K: std::hash::Hash + Eq>(counts: &Counts<K>, key: &K) -> Option<u32> {
    counts
        .get(key)
        .filter(|c| c.iter().sum::<usize>() >= MIN_COUNT)
        .map(|c| argmax(c))
}

/// One pair's token streams by segment index: guide a, window p, target b.
struct Streams {
    held_out: bool,
    a: Vec<u32>,
    p: Vec<u32>,
    b: Vec<u32>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("a stems folder"));
    let windows: Vec<f64> = args
        .next()
        .unwrap_or_else(|| "40,60,80,100,150,200".into())
        .split(',')
        .map(|w| w.parse::<f64>().expect("W in ms") / 1e3)
        .collect();
    let test_arg = args.next().unwrap_or_else(|| DEFAULT_TEST.into());
    let test: Vec<&str> = test_arg.split(',').collect();

    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let preset = Preset::load(manifest.join("presets/default.cpreset")).expect("default preset");
    let settings = preset_encoding(
        &preset,
        &manifest.join("encoders/counterpart-default.onnx"),
        1,
        None,
    )
    .expect("the default encoder");
    let codebook = Arc::new(
        Codebook::new(
            preset.k(),
            preset.codebook.dim,
            preset.codebook.centres.clone(),
        )
        .expect("codebook"),
    );
    let k = preset.k();
    let mut encoder = Some(
        OnnxEncoder::load(
            &settings.encoder,
            &EncoderOptions {
                layer: settings.layer,
                intra_threads: 2,
            },
        )
        .expect("encoder"),
    );
    let set = StemsSet::open(&root).expect("stems set");
    // Each track's tokens by segment index, for `config`; the windows' when `partial`.
    let mut tokens = |audio: &[f32], rate: u32, config: &SegmentEncoderConfig, partial: bool| {
        let (segments, back) = encode_clip(
            audio,
            rate,
            config,
            encoder.take().expect("encoder"),
            Some(Arc::clone(&codebook)),
        )
        .expect("encode");
        encoder = Some(back);
        let mut out = Vec::new();
        for s in segments.iter().filter(|s| s.partial == partial) {
            let index = s.segment.index as usize;
            out.resize(out.len().max(index + 1), u32::MAX);
            out[index] = s.token.unwrap_or(u32::MAX);
        }
        out
    };

    // The guides and targets, and the whole segments' tokens (no window).
    let mut pairs = Vec::new();
    for piece in &set.pieces {
        for pair in piece.pairs(&PairSelection::Primary) {
            let guide = piece.load_track(&pair.guide).expect("guide");
            let target = piece.load_track(&pair.target).expect("target");
            let (a, b) = (
                tokens(&guide.to_mono(), guide.sample_rate, &settings.config, false),
                tokens(
                    &target.to_mono(),
                    target.sample_rate,
                    &settings.config,
                    false,
                ),
            );
            pairs.push((piece.id.clone(), guide, a, b));
        }
    }
    println!(
        "{} pairs ({} held out), K = {k}, segments {:?}, context {} s",
        pairs.len(),
        pairs
            .iter()
            .filter(|(id, ..)| test.contains(&id.as_str()))
            .count(),
        preset.segmentation.length,
        settings.config.context_s
    );
    println!("| W | p_t = a_t | b_t from a_t-1 (live today) | from (a_t-1, p_t) | from a_t | from (a_t-1, a_t) (aligned) |");
    println!("|---|---|---|---|---|---|");
    for &w in &windows {
        let config = SegmentEncoderConfig {
            reaction_s: w,
            ..settings.config
        };
        let streams: Vec<Streams> = pairs
            .iter()
            .map(|(id, guide, a, b)| Streams {
                held_out: test.contains(&id.as_str()),
                a: a.clone(),
                p: tokens(&guide.to_mono(), guide.sample_rate, &config, true),
                b: b.clone(),
            })
            .collect();
        let usable = |s: &Streams, t: usize| {
            t >= 1
                && [s.a.get(t - 1), s.a.get(t), s.p.get(t), s.b.get(t)]
                    .iter()
                    .all(|x| x.is_some_and(|&x| x != u32::MAX))
        };
        let (mut prev, mut prev_p, mut cur, mut prev_cur, mut window) = (
            Counts::<u32>::new(),
            Counts::<(u32, u32)>::new(),
            Counts::<u32>::new(),
            Counts::<(u32, u32)>::new(),
            Counts::<u32>::new(),
        );
        let mut prior = vec![0usize; k];
        for s in streams.iter().filter(|s| !s.held_out) {
            for t in (0..s.b.len()).filter(|&t| usable(s, t)) {
                let (a0, a1, p, b) = (s.a[t - 1], s.a[t], s.p[t], s.b[t] as usize);
                let add = |c: &mut Vec<usize>| c[b] += 1;
                add(prev.entry(a0).or_insert_with(|| vec![0; k]));
                add(prev_p.entry((a0, p)).or_insert_with(|| vec![0; k]));
                add(window.entry(p).or_insert_with(|| vec![0; k]));
                add(cur.entry(a1).or_insert_with(|| vec![0; k]));
                add(prev_cur.entry((a0, a1)).or_insert_with(|| vec![0; k]));
                prior[b] += 1;
            }
        }
        let fallback = argmax(&prior);
        let (mut n, mut same, mut hits) = (0usize, 0usize, [0usize; 4]);
        for s in streams.iter().filter(|s| s.held_out) {
            for t in (0..s.b.len()).filter(|&t| usable(s, t)) {
                let (a0, a1, p, b) = (s.a[t - 1], s.a[t], s.p[t], s.b[t]);
                let live = predict(&prev, &a0).unwrap_or(fallback);
                let reaction = predict(&prev_p, &(a0, p))
                    .or_else(|| predict(&window, &p))
                    .unwrap_or(live);
                let current = predict(&cur, &a1).unwrap_or(fallback);
                let aligned = predict(&prev_cur, &(a0, a1)).unwrap_or(current);
                for (hit, guess) in hits.iter_mut().zip([live, reaction, current, aligned]) {
                    *hit += usize::from(guess == b);
                }
                same += usize::from(p == a1);
                n += 1;
            }
        }
        let pct = |x: usize| 100.0 * x as f64 / n.max(1) as f64;
        println!(
            "| {:.0} ms | {:.1} % | {:.1} % | **{:.1} %** | {:.1} % | {:.1} % |",
            w * 1e3,
            pct(same),
            pct(hits[0]),
            pct(hits[1]),
            pct(hits[2]),
            pct(hits[3]),
        );
    }
}
