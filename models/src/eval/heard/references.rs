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

/// The `shuffled` reference of pair `i`, given each pair's piece: the companion rendered for
/// the guide of the next pair (cyclically) that belongs to another piece; `None` when every
/// pair belongs to the same piece.
pub fn shuffled_partner(i: usize, pieces: &[&str]) -> Option<usize> {
    let n = pieces.len();
    (1..n)
        .map(|k| (i + k) % n)
        .find(|&j| pieces[j] != pieces[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shuffled_partner_is_another_piece() {
        let pieces = ["a", "a", "b", "c"];
        assert_eq!(shuffled_partner(0, &pieces), Some(2));
        assert_eq!(shuffled_partner(1, &pieces), Some(2));
        assert_eq!(shuffled_partner(3, &pieces), Some(0));
        assert_eq!(shuffled_partner(0, &["a", "a"]), None);
        assert_eq!(shuffled_partner(0, &["a"]), None);
    }
}
