//! The piece split of a build: the main set's pieces into training, validation and held-out
//! test pieces, and the pieces of the extra training sets into training and validation.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::BuildOptions;
use crate::data::layout::StemsSet;
use crate::pipeline::PipelineError;

/// The pieces of a build, split, and the stems set they are all read from.
#[derive(Debug, Clone)]
pub(super) struct PieceSplit {
    /// The main set's training pieces (their targets make the corpus).
    pub main_train: Vec<String>,
    /// The main set's validation pieces (their targets are in the corpus too).
    pub main_val: Vec<String>,
    /// The held-out pieces (main set only).
    pub test: Vec<String>,
    /// Every set's training pieces: the main set's, then each extra set's.
    pub train: Vec<String>,
    /// Every set's validation pieces, in the same order.
    pub val: Vec<String>,
    /// The main set with the extra sets' pieces added, sorted by piece id.
    pub combined: StemsSet,
}

impl PieceSplit {
    /// Every piece the build encodes: training, validation, then test pieces.
    pub fn usable(&self) -> Vec<String> {
        self.train
            .iter()
            .chain(&self.val)
            .chain(&self.test)
            .cloned()
            .collect()
    }
}

/// The ids of the pieces of `set` that have a pair of `options.selection`.
fn usable_in(set: &StemsSet, options: &BuildOptions) -> Vec<String> {
    set.pieces
        .iter()
        .filter(|p| !p.pairs(&options.selection).is_empty())
        .map(|p| p.id.clone())
        .collect()
}

/// Splits the main set's usable pieces three ways and each extra set's two ways, and joins the
/// sets into one; an extra set may not repeat a piece of another set.
pub(super) fn split_build_pieces(
    set: &StemsSet,
    extras: &[StemsSet],
    options: &BuildOptions,
) -> Result<PieceSplit, PipelineError> {
    let [main_train, main_val, test] = split_pieces(
        &usable_in(set, options),
        options.test_fraction,
        options.val_fraction,
        options.seed,
    )?;
    // The main set's training and validation pieces (the corpus), then every set's.
    let (mut train, mut val) = (main_train.clone(), main_val.clone());
    let mut combined = set.clone();
    let mut ids: BTreeSet<String> = set.pieces.iter().map(|p| p.id.clone()).collect();
    for extra in extras {
        for p in &extra.pieces {
            if !ids.insert(p.id.clone()) {
                return Err(PipelineError::Invalid(format!(
                    "piece `{}` of {} is also in another stems set: extra training sets must \
                     not repeat pieces (held-out pieces would leak into training)",
                    p.id,
                    extra.root.display()
                )));
            }
        }
        let [t, v] = split_extra(
            &usable_in(extra, options),
            options.val_fraction,
            options.seed,
        );
        train.extend(t);
        val.extend(v);
        combined.pieces.extend(extra.pieces.iter().cloned());
    }
    combined.pieces.sort_by(|a, b| a.id.cmp(&b.id));
    tracing::info!(
        train = train.len(),
        validation = val.len(),
        test = test.len(),
        "pieces split"
    );
    Ok(PieceSplit {
        main_train,
        main_val,
        test,
        train,
        val,
        combined,
    })
}

/// Splits piece ids into (train, validation, test) with a seeded shuffle; each gets at least one
/// piece.
pub fn split_pieces(
    ids: &[String],
    test_fraction: f64,
    val_fraction: f64,
    seed: u64,
) -> Result<[Vec<String>; 3], PipelineError> {
    let n = ids.len();
    if n < 3 {
        return Err(PipelineError::Invalid(format!(
            "{n} usable piece(s): training, validation and evaluation are split by piece, so at \
             least 3 are needed"
        )));
    }
    let mut shuffled = ids.to_vec();
    shuffled.sort();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n - 2);
    let n_val = ((val_fraction * (n - n_test) as f64).round() as usize).clamp(1, n - n_test - 1);
    let mut test = shuffled[..n_test].to_vec();
    let mut val = shuffled[n_test..n_test + n_val].to_vec();
    let mut train = shuffled[n_test + n_val..].to_vec();
    for v in [&mut train, &mut val, &mut test] {
        v.sort();
    }
    Ok([train, val, test])
}

/// Splits the pieces of an extra training set into (train, validation) with a seeded shuffle.
fn split_extra(ids: &[String], val_fraction: f64, seed: u64) -> [Vec<String>; 2] {
    let mut shuffled = ids.to_vec();
    shuffled.sort();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e87a));
    let n_val = ((val_fraction * ids.len() as f64).round() as usize).min(ids.len());
    let mut val = shuffled[..n_val].to_vec();
    let mut train = shuffled[n_val..].to_vec();
    train.sort();
    val.sort();
    [train, val]
}
