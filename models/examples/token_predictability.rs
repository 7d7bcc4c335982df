//! How predictable B's tokens are, before any Transformer: for codebooks fitted on different
//! tracks, the label statistics of the target (bass) and guide (soprano) tokens, and count-based
//! predictors of B_t trained on the training pieces and scored on the held-out ones.
//!
//! `cargo run --release -p counterpart-models --example token_predictability -- STEMS_DIR [K]
//!  [TEST_PIECES]` (TEST_PIECES comma-separated; default: the stems-dev held-out pieces). Uses the
//! stems named `soprano` (guide) and `bass` (target), 0.5 s segments, 1.5 s context, the
//! default encoder and the segment cache.

use std::collections::HashMap;
use std::path::PathBuf;

use counterpart_core::perception::{
    perplexity, Codebook, SegmentEncoderConfig, SegmentLength, SegmentationConfig,
};
use counterpart_models::data::layout::{PairSelection, StemsSet};
use counterpart_models::pipeline::encode::{EncodedSet, EncodingSettings};
use counterpart_models::pipeline::kmeans::{fit, KMeansConfig};

const DEFAULT_TEST: &str = "bach-bwv14-5,bach-bwv253,bach-bwv285,bach-bwv292,bach-bwv420";

fn argmax(counts: &[usize]) -> u32 {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best as u32
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("a stems folder"));
    let k: usize = args.next().map_or(16, |a| a.parse().expect("K"));
    let test_arg = args.next().unwrap_or_else(|| DEFAULT_TEST.into());
    let test: Vec<&str> = test_arg.split(',').collect();
    let set = StemsSet::open(&root).expect("stems set");
    let settings = EncodingSettings {
        encoder: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/encoders/counterpart-default.onnx"
        )),
        layer: None,
        config: SegmentEncoderConfig {
            segmentation: SegmentationConfig {
                length: SegmentLength::Seconds(0.5),
                onset_snap: None,
            },
            context_s: 1.5,
            reaction_s: 0.0,
        },
        threads: 0,
        cache: EncodingSettings::default_cache(),
        show_progress: false,
    };
    let encoded = EncodedSet::encode(&set, &PairSelection::All, None, &settings).expect("encode");
    let held_out = |id: &str| test.contains(&id);
    // (guide, target) token streams of every piece with a soprano and a bass.
    let streams = |codebook: &Codebook, want_test: bool| -> Vec<(Vec<u32>, Vec<u32>)> {
        encoded
            .pieces
            .iter()
            .filter(|(id, _)| held_out(id) == want_test)
            .filter_map(|(_, tracks)| {
                let (a, b) = (tracks.get("soprano")?, tracks.get("bass")?);
                let (a, b) = (a.tokens(codebook).ok()?, b.tokens(codebook).ok()?);
                let n = a.len().min(b.len());
                Some((a[..n].to_vec(), b[..n].to_vec()))
            })
            .collect()
    };
    for (name, stems) in [
        ("target (bass) tracks", vec!["bass"]),
        ("guide and target tracks", vec!["soprano", "bass"]),
        ("every track", vec![]),
    ] {
        let mut data = Vec::new();
        let mut dim = 0;
        for (id, tracks) in encoded.pieces.iter().filter(|(id, _)| !held_out(id)) {
            let _ = id;
            for (key, t) in tracks {
                if !key.contains('+') && (stems.is_empty() || stems.contains(&key.as_str())) {
                    data.extend_from_slice(&t.vectors);
                    dim = t.dim;
                }
            }
        }
        let fitted = fit(&data, dim, &KMeansConfig::new(k)).expect("k-means");
        let train = streams(&fitted.codebook, false);
        let test_streams = streams(&fitted.codebook, true);
        let (mut given_a, mut given_a2) = (HashMap::new(), HashMap::new());
        let mut prior = vec![0usize; k];
        for (a, b) in &train {
            for t in 1..b.len() {
                given_a.entry(a[t]).or_insert_with(|| vec![0; k])[b[t] as usize] += 1;
                given_a2
                    .entry((a[t], a[t - 1]))
                    .or_insert_with(|| vec![0; k])[b[t] as usize] += 1;
                prior[b[t] as usize] += 1;
            }
        }
        let (mut hits_a, mut hits_a2, mut hits_prior, mut hits_copy, mut n) = (0, 0, 0, 0, 0);
        let (mut sum_p2, mut sum_major) = (0.0, 0.0);
        let mut all_b = Vec::new();
        for (a, b) in &test_streams {
            let mut counts = vec![0usize; k];
            for &t in b {
                counts[t as usize] += 1;
            }
            let len = b.len() as f64;
            sum_p2 += counts
                .iter()
                .map(|&c| (c as f64 / len).powi(2))
                .sum::<f64>()
                * len;
            sum_major += *counts.iter().max().unwrap_or(&0) as f64;
            all_b.extend_from_slice(b);
            for t in 1..b.len() {
                n += 1;
                let p1 = given_a.get(&a[t]).map_or(argmax(&prior), |c| argmax(c));
                let p2 = given_a2
                    .get(&(a[t], a[t - 1]))
                    .filter(|c: &&Vec<usize>| c.iter().sum::<usize>() >= 5)
                    .map_or(p1, |c| argmax(c));
                hits_a += usize::from(p1 == b[t]);
                hits_a2 += usize::from(p2 == b[t]);
                hits_prior += usize::from(argmax(&prior) == b[t]);
                hits_copy += usize::from(b[t - 1] == b[t]);
            }
        }
        let total = all_b.len() as f64;
        let rate = |h: usize| 100.0 * h as f64 / n.max(1) as f64;
        println!("codebook fitted on the {name} (K = {k}):");
        println!(
            "  held-out bass tokens: usage (perplexity / K) {:.2}, histogram baseline (per-piece \
             sum of p^2) {:.1} %, majority baseline {:.1} %",
            perplexity(&all_b, k) / k as f64,
            100.0 * sum_p2 / total,
            100.0 * sum_major / total
        );
        println!(
            "  count predictors of B_t (arg-max): from A_t {:.1} %, from (A_t, A_t-1) {:.1} %, \
             the training bass's most frequent label {:.1} %; B_t = true B_t-1 {:.1} %",
            rate(hits_a),
            rate(hits_a2),
            rate(hits_prior),
            rate(hits_copy)
        );
    }
}
