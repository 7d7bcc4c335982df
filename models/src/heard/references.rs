//! What the companion's scores are compared with: the same measures for material that knows
//! nothing of the guide (random corpus segments, another piece's companion), for the true
//! companion part, and for the companion left unshifted.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::slots::{Slot, SlotSource};

/// The `random` reference: at each of the companion's slot times and for as long, a corpus
/// segment drawn uniformly from `segments` (see [`super::slots::corpus_segments`]) with a
/// seeded generator. Silent slots stay silent.
pub fn random_slots(slots: &[Slot], segments: &[SlotSource], seed: u64) -> Vec<Slot> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    slots
        .iter()
        .map(|slot| Slot {
            source: match (slot.source, segments.is_empty()) {
                (Some(_), false) => Some(segments[rng.random_range(0..segments.len())]),
                _ => None,
            },
            ..*slot
        })
        .collect()
}

/// The `shuffled` reference of piece `i` of `n`: the companion rendered for the next piece's
/// guide (`None` with a single piece).
pub fn shuffled_partner(i: usize, n: usize) -> Option<usize> {
    (n > 1).then(|| (i + 1) % n)
}
