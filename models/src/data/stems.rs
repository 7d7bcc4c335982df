//! The manifest of a stems set (`manifest.json`, `<piece>/<stem>.flac`, `<stem>.notes.json`), the
//! layout of `stems-dev` and of what `render-stems` writes: pieces, their stems, their natural
//! (guide → response) pairs, and the note annotations. One reader for every consumer (perception
//! evaluation, codebook fitting, pairing of token datasets, preset building).

use std::path::Path;

use crate::data::DataError;

/// The manifest of a stems set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Manifest {
    /// The pieces.
    pub pieces: Vec<Piece>,
}

/// One piece: sample-aligned stems and the pairs they make.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Piece {
    /// Folder name.
    pub id: String,
    /// The stems (may be left out by manifests that only name pairs).
    #[serde(default)]
    pub stems: Vec<Stem>,
    /// The natural pairs.
    #[serde(default)]
    pub pairs: Vec<ManifestPair>,
}

/// One stem of a piece.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Stem {
    /// Part name, e.g. `soprano`.
    pub name: String,
    /// Audio file name inside the piece folder.
    pub file: String,
    /// Note list file name inside the piece folder, if the set is annotated.
    #[serde(default)]
    pub notes_file: Option<String>,
    /// Instrument name.
    #[serde(default)]
    pub instrument: String,
    /// General MIDI program, 0-based (0 when unknown).
    #[serde(default)]
    pub gm_program: u32,
}

/// The key of a track made of several stems summed: the stem names joined by `+`.
pub fn track_key(stems: &[String]) -> String {
    stems.join("+")
}

/// One side of a manifest pair: a stem or a list of stems to sum.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum StemSet {
    /// A single stem.
    One(String),
    /// The sum of several stems.
    Many(Vec<String>),
}

impl StemSet {
    /// The track key of this stem set (see [`track_key`]).
    pub fn key(&self) -> String {
        match self {
            StemSet::One(s) => s.clone(),
            StemSet::Many(v) => track_key(v),
        }
    }

    /// The stem names, in order.
    pub fn names(&self) -> Vec<String> {
        match self {
            StemSet::One(s) => vec![s.clone()],
            StemSet::Many(v) => v.clone(),
        }
    }
}

/// A natural (A → B) pair named by a manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct ManifestPair {
    /// The guide.
    pub a: StemSet,
    /// The response.
    pub b: StemSet,
    /// The piece's main pair (`--pairs primary`).
    #[serde(default)]
    pub primary: bool,
}

/// One annotated note.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
pub struct Note {
    /// Start, seconds from the first sample.
    pub onset_s: f64,
    /// Release, seconds from the first sample.
    pub offset_s: f64,
    /// Sounding MIDI pitch.
    pub midi_pitch: u8,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| DataError::BadJson {
        path: path.to_path_buf(),
        source,
    })
}

impl Manifest {
    /// Reads `<root>/manifest.json`.
    pub fn read(root: &Path) -> Result<Self, DataError> {
        Self::load(&root.join(MANIFEST_FILE))
    }

    /// Reads a manifest file.
    pub fn load(path: &Path) -> Result<Self, DataError> {
        read_json(path)
    }
}

/// File name of a stems set's manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Reads the notes of `stem` in `piece` under `root` (none when the stem has no notes file).
pub fn read_notes(root: &Path, piece: &Piece, stem: &Stem) -> Result<Vec<Note>, DataError> {
    match &stem.notes_file {
        Some(file) => read_json(&root.join(&piece.id).join(file)),
        None => Ok(Vec::new()),
    }
}

/// The pitch class sounding longest within `[start_s, end_s)`, if notes sound for at least
/// `min_fraction` of the span.
pub fn dominant_pitch_class(
    notes: &[Note],
    start_s: f64,
    end_s: f64,
    min_fraction: f64,
) -> Option<u32> {
    let mut time = [0f64; 12];
    for n in notes {
        let overlap = n.offset_s.min(end_s) - n.onset_s.max(start_s);
        if overlap > 0.0 {
            time[(n.midi_pitch % 12) as usize] += overlap;
        }
    }
    let total: f64 = time.iter().sum();
    if total < min_fraction * (end_s - start_s) {
        return None;
    }
    (0..12u32).max_by(|&a, &b| {
        time[a as usize]
            .total_cmp(&time[b as usize])
            .then(b.cmp(&a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominant_pitch_class_weighs_time() {
        let notes = [
            Note {
                onset_s: 0.0,
                offset_s: 0.2,
                midi_pitch: 60,
            },
            Note {
                onset_s: 0.2,
                offset_s: 0.5,
                midi_pitch: 67,
            },
            Note {
                onset_s: 0.5,
                offset_s: 0.6,
                midi_pitch: 72,
            },
        ];
        assert_eq!(dominant_pitch_class(&notes, 0.0, 0.5, 0.5), Some(7));
        assert_eq!(dominant_pitch_class(&notes, 0.0, 0.25, 0.5), Some(0));
        assert_eq!(dominant_pitch_class(&notes, 0.55, 1.55, 0.5), None);
    }
}
