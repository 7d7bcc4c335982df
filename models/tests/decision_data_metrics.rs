//! Paired-token datasets and the evaluation metrics, against hand-computed values.

use std::collections::BTreeMap;

use counterpart_models::data::dataset::{
    Manifest, PairedTokenDataset, Pairing, TokenCorpus, TokenisedPiece,
};
use counterpart_models::data::DataError;
use counterpart_models::eval::metrics::{
    expected_iid_scores, lcp_per_position, majority_label, score, shuffled_guides, tpp, Baseline,
};
use rand::SeedableRng;

fn piece(id: &str, tracks: &[(&str, Vec<u32>)]) -> TokenisedPiece {
    TokenisedPiece {
        id: id.into(),
        tracks: tracks
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        windows: BTreeMap::new(),
    }
}

#[test]
fn pairs_from_pieces_all_ordered_and_from_the_manifest() {
    let pieces = vec![
        piece(
            "p1",
            &[
                ("s", vec![0, 1, 2]),
                ("a", vec![1, 1, 1]),
                ("b", vec![2, 2, 2]),
                ("a+b", vec![3, 3, 3]),
            ],
        ),
        piece("p2", &[("s", vec![0, 0]), ("b", vec![1, 1])]),
    ];
    let all = PairedTokenDataset::from_pieces(4, &pieces, &Pairing::AllOrdered).unwrap();
    assert_eq!(all.pairs.len(), 4 * 3 + 2);
    let manifest: Manifest = serde_json::from_str(
        r#"{"pieces": [{"id": "p1", "pairs": [{"a": "s", "b": "b", "primary": true},
                                            {"a": "s", "b": ["a", "b"]}]}]}"#,
    )
    .unwrap();
    let named = PairedTokenDataset::from_pieces(4, &pieces, &Pairing::Manifest(manifest)).unwrap();
    let keys: Vec<(&str, &str)> = named
        .pairs
        .iter()
        .map(|p| (p.guide.as_str(), p.response.as_str()))
        .collect();
    assert_eq!(keys, vec![("s", "b"), ("s", "a+b")]);
    assert_eq!(named.pairs[1].b, vec![3, 3, 3]);

    let bad = vec![piece("p", &[("x", vec![0, 1]), ("y", vec![0])])];
    assert!(matches!(
        PairedTokenDataset::from_pieces(4, &bad, &Pairing::AllOrdered),
        Err(DataError::LengthMismatch { .. })
    ));
    let bad = vec![piece("p", &[("x", vec![0, 9]), ("y", vec![0, 0])])];
    assert!(matches!(
        PairedTokenDataset::from_pieces(4, &bad, &Pairing::AllOrdered),
        Err(DataError::TokenOutOfRange { token: 9, .. })
    ));
    let missing: Manifest =
        serde_json::from_str(r#"{"pieces": [{"id": "p2", "pairs": [{"a": "s", "b": "z"}]}]}"#)
            .unwrap();
    assert!(matches!(
        PairedTokenDataset::from_pieces(4, &pieces, &Pairing::Manifest(missing)),
        Err(DataError::MissingTrack { .. })
    ));
}

#[test]
fn token_corpus_round_trips_through_json() {
    let corpus = TokenCorpus {
        vocab_size: 3,
        pieces: vec![piece("p", &[("x", vec![0, 1, 2])])],
    };
    let path = std::env::temp_dir().join(format!("counterpart-tokens-{}.json", std::process::id()));
    corpus.save(&path).unwrap();
    assert_eq!(TokenCorpus::load(&path).unwrap(), corpus);
    std::fs::write(&path, b"{not json").unwrap();
    assert!(matches!(
        TokenCorpus::load(&path),
        Err(DataError::Json { .. })
    ));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn split_is_by_piece_and_windows_stay_inside_pairs() {
    let data = PairedTokenDataset::synthetic(5, 10, 30, 1);
    let (train, val) = data.split_by_piece(0.2, 7);
    let (tp, vp) = (train.piece_ids(), val.piece_ids());
    assert_eq!(vp.len(), 2);
    assert_eq!(tp.len(), 8);
    assert!(vp.iter().all(|p| !tp.contains(p)));
    assert_eq!(train.pairs.len() + val.pairs.len(), data.pairs.len());
    assert_eq!(data.split_by_piece(0.2, 7), (train, val));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut starts = std::collections::BTreeSet::new();
    for _ in 0..2000 {
        let w = data.random_window(8, &mut rng);
        assert!(w.start + 8 <= data.pairs[w.pair].b.len());
        starts.insert(w.start);
    }
    assert_eq!(starts.len(), 30 - 8 + 1, "every offset is drawn");
    let tiles = data.tiled_windows(8);
    assert_eq!(tiles.len(), data.pairs.len() * 4);
    assert_eq!(tiles[3].start, 24);
}

#[test]
fn tpp_and_lcp_match_hand_computed_values() {
    let truth = [1, 2, 3, 4, 5, 6];
    let pred = [1, 2, 0, 4, 5, 6];
    assert!((tpp(&pred, &truth) - 5.0 / 6.0).abs() < 1e-12);
    assert_eq!(lcp_per_position(&pred, &truth), vec![2, 1, 0, 3, 2, 1]);
    assert_eq!(lcp_per_position(&[1, 2], &[1, 2, 3]), vec![2, 1, 0]);

    let s = score(&[
        (vec![1, 2, 0, 4, 5, 6], truth.to_vec()),
        (vec![9, 9, 9], vec![9, 0, 9]),
    ]);
    assert!((s.tpp - 7.0 / 9.0).abs() < 1e-12);
    assert!((s.tpp_sequence_mean - (5.0 / 6.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    assert!((s.tpp_sequence_std - (1.0 / 12.0)).abs() < 1e-12);
    // LCPs: [2,1,0,3,2,1] and [1,0,1].
    assert!((s.lcp_mean - 11.0 / 9.0).abs() < 1e-12);
    assert_eq!(s.lcp_per_position, vec![1.5, 0.5, 0.5, 3.0, 2.0, 1.0]);
    assert_eq!(s.lcp_histogram, vec![2, 4, 2, 1]);
}

#[test]
fn random_baselines_match_their_expected_scores() {
    let data = PairedTokenDataset::synthetic(4, 40, 200, 3);
    let truths: Vec<&Vec<u32>> = data.pairs.iter().map(|p| &p.b).collect();
    for baseline in [
        Baseline::UniformK,
        Baseline::LabelHistogram,
        Baseline::UniformPresent,
    ] {
        let preds = baseline.predict(&data, 5);
        let pairs: Vec<(&Vec<u32>, &Vec<u32>)> = preds.iter().zip(truths.iter().copied()).collect();
        let s = score(&pairs);
        let q: f64 = data
            .pairs
            .iter()
            .map(|p| baseline.match_probability(4, &p.b).unwrap() * p.b.len() as f64)
            .sum::<f64>()
            / data.num_tokens() as f64;
        let (e_tpp, e_lcp) = expected_iid_scores(q);
        assert!(
            (s.tpp - e_tpp).abs() < 0.01,
            "{baseline:?}: TPP {} vs {e_tpp}",
            s.tpp
        );
        assert!(
            (s.lcp_mean - e_lcp).abs() < 0.03,
            "{baseline:?}: LCP {} vs {e_lcp}",
            s.lcp_mean
        );
    }
    assert_eq!(Baseline::UniformK.match_probability(4, &[0, 1]), Some(0.25));
    assert_eq!(
        Baseline::LabelHistogram.match_probability(4, &[0, 0, 0, 1]),
        Some(0.625)
    );
    assert_eq!(
        Baseline::UniformPresent.match_probability(4, &[0, 0, 0, 1]),
        Some(0.5)
    );
    assert_eq!(Baseline::CopyA.predict(&data, 0)[0], data.pairs[0].a);
    assert_eq!(majority_label(&[3, 1, 1, 3, 2]), 1);
    let majority = Baseline::Majority.predict(&data, 0);
    let top = majority_label(&data.pairs[0].b);
    assert!(majority[0].iter().all(|&t| t == top));
    assert_eq!(majority[0].len(), data.pairs[0].b.len());
    assert_eq!(Baseline::Majority.match_probability(4, &[0, 1]), None);
}

#[test]
fn shuffled_guides_come_from_other_pieces() {
    let data = PairedTokenDataset::synthetic(50, 3, 10, 4);
    let guides = shuffled_guides(&data, 1).unwrap();
    for (p, (g, windows)) in data.pairs.iter().zip(&guides) {
        assert_eq!(g.len(), p.b.len());
        // The windows travel with their guide (the synthetic windows are the guide's labels).
        assert_eq!(windows, g);
        let own: Vec<&Vec<u32>> = data
            .pairs
            .iter()
            .filter(|q| q.piece == p.piece)
            .map(|q| &q.a)
            .collect();
        assert!(
            !own.contains(&g),
            "guide of {} came from its own piece",
            p.piece
        );
    }
    let one = PairedTokenDataset::synthetic(5, 1, 10, 4);
    assert!(shuffled_guides(&one, 1).is_none());
}
