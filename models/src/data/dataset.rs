//! Paired-token datasets: sequences of A tokens and B tokens per (piece, guide, response) pair,
//! built from tokenised pieces, split by piece, cut into training windows, or made synthetically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::layout::{PairSelection, StemsSet};
use crate::data::stems::Piece;
pub use crate::data::stems::{track_key, Manifest, ManifestPair, StemSet};
use crate::data::DataError;

/// The token sequences of one piece: one per track (a stem, or a sum of stems keyed by
/// [`track_key`]). All tracks of a piece are segmented on the same grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenisedPiece {
    /// Piece id (folder name in a stems set).
    pub id: String,
    /// Tokens per track key.
    pub tracks: BTreeMap<String, Vec<u32>>,
    /// The reaction-window tokens of the tracks encoded with one (guides, for live models with
    /// a window), per track key: the token of the first W of each segment, aligned with the
    /// track's tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub windows: BTreeMap<String, Vec<u32>>,
}

/// A file of tokenised pieces, as written by perception: the loader's input format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenCorpus {
    /// Number of content labels K (codebook size).
    pub vocab_size: usize,
    /// The pieces.
    pub pieces: Vec<TokenisedPiece>,
}

impl TokenCorpus {
    /// Reads a token corpus from JSON.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| DataError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the token corpus as JSON.
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        let bytes = serde_json::to_vec(self).map_err(|source| DataError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, bytes).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Which (A, B) pairs of a piece become training pairs.
#[derive(Clone, Debug)]
pub enum Pairing {
    /// Every ordered pair of distinct tracks of the piece.
    AllOrdered,
    /// Only the pairs the manifest names (pieces it does not list give none).
    Manifest(Manifest),
    /// One named guide and target in every piece (pieces lacking either give none).
    Named {
        /// Guide track key.
        guide: String,
        /// Target track key.
        target: String,
    },
}

/// The aligned token sequences of one guide → response pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairedSequence {
    /// Piece id.
    pub piece: String,
    /// Guide track key.
    pub guide: String,
    /// Response track key.
    pub response: String,
    /// Guide tokens A.
    pub a: Vec<u32>,
    /// The guide's reaction-window tokens (same length as A), or empty when the guide was not
    /// encoded with a window.
    pub windows: Vec<u32>,
    /// Response tokens B (same length as A).
    pub b: Vec<u32>,
}

/// A set of paired token sequences over K content labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairedTokenDataset {
    /// Number of content labels K.
    pub vocab_size: usize,
    /// The pairs.
    pub pairs: Vec<PairedSequence>,
}

/// A training window: decoder positions `start .. start + len` of pair `pair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Index into [`PairedTokenDataset::pairs`].
    pub pair: usize,
    /// First decoder position (segment index of the first target).
    pub start: usize,
}

impl PairedTokenDataset {
    /// Pairs the tracks of tokenised pieces.
    pub fn from_pieces(
        vocab_size: usize,
        pieces: &[TokenisedPiece],
        pairing: &Pairing,
    ) -> Result<Self, DataError> {
        let mut pairs = Vec::new();
        for piece in pieces {
            for (key, tokens) in piece.tracks.iter().chain(&piece.windows) {
                if let Some(&token) = tokens.iter().find(|&&t| t as usize >= vocab_size) {
                    return Err(DataError::TokenOutOfRange {
                        piece: piece.id.clone(),
                        track: key.clone(),
                        token,
                        vocab_size,
                    });
                }
            }
            let names: Vec<(String, String)> = match pairing {
                Pairing::AllOrdered => {
                    let keys: Vec<&String> = piece.tracks.keys().collect();
                    keys.iter()
                        .flat_map(|a| {
                            keys.iter()
                                .filter(move |b| a != *b)
                                .map(move |b| ((*a).clone(), (*b).clone()))
                        })
                        .collect()
                }
                Pairing::Manifest(m) => m
                    .pieces
                    .iter()
                    .filter(|p| p.id == piece.id)
                    .flat_map(|p| p.pairs.iter().map(|pair| (pair.a.key(), pair.b.key())))
                    .collect(),
                Pairing::Named { guide, target } => {
                    if piece.tracks.contains_key(guide) && piece.tracks.contains_key(target) {
                        vec![(guide.clone(), target.clone())]
                    } else {
                        Vec::new()
                    }
                }
            };
            for (guide, response) in names {
                let get = |track: &String| {
                    piece
                        .tracks
                        .get(track)
                        .ok_or_else(|| DataError::MissingTrack {
                            piece: piece.id.clone(),
                            track: track.clone(),
                        })
                };
                let (a, b) = (get(&guide)?, get(&response)?);
                if a.len() != b.len() {
                    return Err(DataError::LengthMismatch {
                        piece: piece.id.clone(),
                        guide,
                        response,
                        a: a.len(),
                        b: b.len(),
                    });
                }
                let windows = piece.windows.get(&guide).cloned().unwrap_or_default();
                if !windows.is_empty() && windows.len() != a.len() {
                    return Err(DataError::LengthMismatch {
                        piece: piece.id.clone(),
                        guide: format!("{guide} (reaction windows)"),
                        response: guide,
                        a: windows.len(),
                        b: a.len(),
                    });
                }
                if a.is_empty() {
                    continue;
                }
                pairs.push(PairedSequence {
                    piece: piece.id.clone(),
                    guide,
                    response,
                    a: a.clone(),
                    windows,
                    b: b.clone(),
                });
            }
        }
        if pairs.is_empty() {
            return Err(DataError::Empty(format!(
                "{} pieces, pairing {pairing:?}",
                pieces.len()
            )));
        }
        Ok(Self { vocab_size, pairs })
    }

    /// A synthetic dataset with a learnable rule, for tests: in each of `pieces` pieces, A is an
    /// i.i.d. uniform sequence of `length` labels and B follows it one segment late,
    /// `b_t = (3·a_{t−1} + 1) mod K` (`b_0 = 0`). Both directions are included, so B → A pairs
    /// carry no learnable rule beyond B's own statistics. Each guide's reaction windows are
    /// its own tokens (a window that always hears its segment's label).
    pub fn synthetic(vocab_size: usize, pieces: usize, length: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pairs = Vec::new();
        for p in 0..pieces {
            let a: Vec<u32> = (0..length)
                .map(|_| rng.random_range(0..vocab_size as u32))
                .collect();
            let b: Vec<u32> = (0..length)
                .map(|t| {
                    if t == 0 {
                        0
                    } else {
                        (3 * a[t - 1] + 1) % vocab_size as u32
                    }
                })
                .collect();
            let piece = format!("synthetic-{p}");
            pairs.push(PairedSequence {
                piece: piece.clone(),
                guide: "lead".into(),
                response: "follow".into(),
                a: a.clone(),
                windows: a.clone(),
                b: b.clone(),
            });
            pairs.push(PairedSequence {
                piece,
                guide: "follow".into(),
                response: "lead".into(),
                a: b.clone(),
                windows: b,
                b: a,
            });
        }
        Self { vocab_size, pairs }
    }

    /// Keeps only the pairs for which `keep` is true.
    pub fn filter(&self, keep: impl Fn(&PairedSequence) -> bool) -> Self {
        Self {
            vocab_size: self.vocab_size,
            pairs: self.pairs.iter().filter(|p| keep(p)).cloned().collect(),
        }
    }

    /// The distinct piece ids, sorted.
    pub fn piece_ids(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.pairs.iter().map(|p| &p.piece).collect();
        set.into_iter().cloned().collect()
    }

    /// Splits by piece: a seeded shuffle of the piece ids puts `round(val_fraction · pieces)`
    /// of them (at least one, and at least one left for training when there are two or more)
    /// in the validation set. Returns `(train, validation)`.
    pub fn split_by_piece(&self, val_fraction: f64, seed: u64) -> (Self, Self) {
        let mut ids = self.piece_ids();
        ids.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let n = ids.len();
        let n_val =
            ((val_fraction * n as f64).round() as usize).clamp(1, n.saturating_sub(1).max(1));
        let val: BTreeSet<&String> = ids[..n_val].iter().collect();
        (
            self.filter(|p| !val.contains(&p.piece)),
            self.filter(|p| val.contains(&p.piece)),
        )
    }

    /// Total number of target tokens (B segments).
    pub fn num_tokens(&self) -> usize {
        self.pairs.iter().map(|p| p.b.len()).sum()
    }

    /// A window of `len` segments at a random offset: the pair is drawn with probability
    /// proportional to its number of possible offsets, so every segment is equally likely.
    pub fn random_window(&self, len: usize, rng: &mut impl Rng) -> Window {
        let offsets = |p: &PairedSequence| p.b.len().saturating_sub(len) + 1;
        let total: usize = self.pairs.iter().map(offsets).sum();
        let mut r = rng.random_range(0..total);
        for (i, p) in self.pairs.iter().enumerate() {
            let n = offsets(p);
            if r < n {
                return Window { pair: i, start: r };
            }
            r -= n;
        }
        unreachable!("r < total = Σ offsets")
    }

    /// Non-overlapping windows of `len` segments tiling every pair from its start (the last one
    /// may run past the end and is then padded).
    pub fn tiled_windows(&self, len: usize) -> Vec<Window> {
        self.pairs
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                (0..p.b.len())
                    .step_by(len)
                    .map(move |start| Window { pair: i, start })
            })
            .collect()
    }

    /// Count of each label over all B sequences (length K).
    pub fn response_label_counts(&self) -> Vec<u32> {
        label_counts(self.pairs.iter().flat_map(|p| &p.b), self.vocab_size)
    }
}

/// Count of each of the `k` labels in `labels` (length `k`).
pub fn label_counts<'a>(labels: impl IntoIterator<Item = &'a u32>, k: usize) -> Vec<u32> {
    let mut counts = vec![0u32; k];
    for &t in labels {
        counts[t as usize] += 1;
    }
    counts
}

/// The pairing of a token corpus that matches `selection` on `set`.
pub fn pairing_for(set: &StemsSet, selection: &PairSelection) -> Pairing {
    let side = |names: &[String]| match names {
        [one] => StemSet::One(one.clone()),
        many => StemSet::Many(many.to_vec()),
    };
    Pairing::Manifest(Manifest {
        pieces: set
            .pieces
            .iter()
            .map(|p| Piece {
                id: p.id.clone(),
                stems: Vec::new(),
                pairs: p
                    .pairs(selection)
                    .iter()
                    .map(|tp| ManifestPair {
                        a: side(&tp.guide),
                        b: side(&tp.target),
                        primary: true,
                    })
                    .collect(),
            })
            .collect(),
    })
}
