//! The three stems-folder layouts Counterpart reads, and which (guide, target) pairs they give.
//!
//! * **Manifest**: `<dir>/manifest.json` lists the pieces, their stems and their natural pairs
//!   (the `stems-dev` layout, and what `render-stems` writes).
//! * **Flat**: `<dir>/<piece>/<stem>.<ext>`, one file per stem (WAV, FLAC, Ogg Vorbis, MP3).
//! * **Sub-stems** (MoisesDB): `<dir>/<piece>/<instrument>/*.<ext>`, the files of one instrument
//!   folder summed into one stem.
//!
//! Flat and sub-stem pieces may be mixed, even within one piece. Without a manifest there is no
//! notion of a primary pair: `--pairs primary` then takes every ordered pair of stems.

use std::path::{Path, PathBuf};

use crate::audio_file::{has_audio_extension, AudioFile, AUDIO_EXTENSIONS};
use crate::data::stems::{track_key, Manifest, ManifestPair, MANIFEST_FILE};
use crate::data::DataError;

/// Which layout a stems folder has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// `manifest.json` with pieces, stems and pairs.
    Manifest,
    /// Folders of pieces, each holding stem files and/or instrument folders of sub-stems.
    Folders,
}

/// One stem: the audio files summed to make it (one, except for sub-stem folders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemSource {
    /// Stem name (file stem, or instrument folder name).
    pub name: String,
    /// Its audio files.
    pub files: Vec<PathBuf>,
}

/// One piece: its stems and its natural pairs (only from a manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceSource {
    /// Piece id (folder name).
    pub id: String,
    /// The stems, in a stable order.
    pub stems: Vec<StemSource>,
    /// Pairs named by the manifest.
    pub pairs: Vec<ManifestPair>,
}

/// Which pairs become (guide, target) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairSelection {
    /// The manifest's primary pair of each piece (every ordered pair without a manifest).
    Primary,
    /// Every pair the manifest names (every ordered pair of stems without a manifest).
    All,
    /// The named guide and target in every piece that has both.
    Named {
        /// The guide stem.
        guide: String,
        /// The target stem.
        target: String,
    },
}

/// A guide → target pair of a piece: stem names (several are summed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPair {
    /// Stems of the guide A.
    pub guide: Vec<String>,
    /// Stems of the target B.
    pub target: Vec<String>,
}

impl TrackPair {
    /// Track keys `(guide, target)` as used in token corpora.
    pub fn keys(&self) -> (String, String) {
        (track_key(&self.guide), track_key(&self.target))
    }
}

/// A stems folder, read.
#[derive(Debug, Clone)]
pub struct StemsSet {
    /// The folder.
    pub root: PathBuf,
    /// Its layout.
    pub kind: LayoutKind,
    /// The pieces, sorted by id.
    pub pieces: Vec<PieceSource>,
}

fn is_audio(path: &Path) -> bool {
    path.is_file() && has_audio_extension(path)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl StemsSet {
    /// Reads the folder `root`: its manifest if it has one, else its piece folders.
    pub fn open(root: &Path) -> Result<Self, DataError> {
        if !root.is_dir() {
            return Err(DataError::Layout(format!(
                "{} is not a folder: give a folder of pieces (<piece>/<stem>.wav), of MoisesDB-style \
                 pieces (<piece>/<instrument>/*.wav), or one with a manifest.json",
                root.display()
            )));
        }
        let manifest_path = root.join(MANIFEST_FILE);
        let set = if manifest_path.is_file() {
            Self::from_manifest(root, &Manifest::load(&manifest_path)?)
        } else {
            Self::from_folders(root)?
        };
        if set.pieces.is_empty() {
            return Err(DataError::Layout(format!(
                "{} holds no piece: expected <piece>/<stem>.<{}> files, <piece>/<instrument>/ \
                 folders of audio files, or a manifest.json",
                root.display(),
                AUDIO_EXTENSIONS.join("|")
            )));
        }
        Ok(set)
    }

    fn from_manifest(root: &Path, manifest: &Manifest) -> Self {
        let mut pieces: Vec<PieceSource> = manifest
            .pieces
            .iter()
            .map(|p| PieceSource {
                id: p.id.clone(),
                stems: p
                    .stems
                    .iter()
                    .map(|s| StemSource {
                        name: s.name.clone(),
                        files: vec![root.join(&p.id).join(&s.file)],
                    })
                    .collect(),
                pairs: p.pairs.clone(),
            })
            .collect();
        pieces.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            root: root.to_path_buf(),
            kind: LayoutKind::Manifest,
            pieces,
        }
    }

    fn from_folders(root: &Path) -> Result<Self, DataError> {
        let mut pieces = Vec::new();
        for dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
            let mut stems = Vec::new();
            for entry in sorted_entries(&dir)? {
                if is_audio(&entry) {
                    stems.push(StemSource {
                        name: file_stem(&entry),
                        files: vec![entry],
                    });
                } else if entry.is_dir() {
                    let files: Vec<PathBuf> = sorted_entries(&entry)?
                        .into_iter()
                        .filter(|p| is_audio(p))
                        .collect();
                    if !files.is_empty() {
                        stems.push(StemSource {
                            name: file_stem(&entry),
                            files,
                        });
                    }
                }
            }
            if !stems.is_empty() {
                pieces.push(PieceSource {
                    id: file_stem(&dir),
                    stems,
                    pairs: Vec::new(),
                });
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            kind: LayoutKind::Folders,
            pieces,
        })
    }

    /// Total number of stems.
    pub fn num_stems(&self) -> usize {
        self.pieces.iter().map(|p| p.stems.len()).sum()
    }
}

impl PieceSource {
    /// The stem called `name`.
    pub fn stem(&self, name: &str) -> Option<&StemSource> {
        self.stems.iter().find(|s| s.name == name)
    }

    /// The (guide, target) pairs `selection` picks in this piece.
    pub fn pairs(&self, selection: &PairSelection) -> Vec<TrackPair> {
        let every_ordered = || {
            self.stems
                .iter()
                .flat_map(|a| {
                    self.stems
                        .iter()
                        .filter(move |b| b.name != a.name)
                        .map(move |b| TrackPair {
                            guide: vec![a.name.clone()],
                            target: vec![b.name.clone()],
                        })
                })
                .collect::<Vec<_>>()
        };
        let from_manifest = |keep: &dyn Fn(&ManifestPair) -> bool| {
            self.pairs
                .iter()
                .filter(|p| keep(p))
                .map(|p| TrackPair {
                    guide: p.a.names(),
                    target: p.b.names(),
                })
                .collect::<Vec<_>>()
        };
        match selection {
            PairSelection::Primary if self.pairs.is_empty() => every_ordered(),
            PairSelection::All if self.pairs.is_empty() => every_ordered(),
            PairSelection::Primary => from_manifest(&|p| p.primary),
            PairSelection::All => from_manifest(&|_| true),
            PairSelection::Named { guide, target } => {
                if self.stem(guide).is_some() && self.stem(target).is_some() {
                    vec![TrackPair {
                        guide: vec![guide.clone()],
                        target: vec![target.clone()],
                    }]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Reads and sums the audio of the named stems (all their files): one [`AudioFile`] at the
    /// common sample rate, zero-padded to the longest file. Channel counts that differ are
    /// mixed down to mono.
    pub fn load_track(&self, names: &[String]) -> Result<AudioFile, DataError> {
        let mut files = Vec::new();
        for name in names {
            let stem = self.stem(name).ok_or_else(|| {
                DataError::Invalid(format!("piece {}: no stem called {name}", self.id))
            })?;
            for path in &stem.files {
                files.push((path.clone(), AudioFile::read(path)?));
            }
        }
        sum_audio(&self.id, files)
    }
}

/// Sums decoded files sample by sample (see [`PieceSource::load_track`]).
pub fn sum_audio(piece: &str, files: Vec<(PathBuf, AudioFile)>) -> Result<AudioFile, DataError> {
    let mut iter = files.into_iter();
    let (first_path, first) = iter
        .next()
        .ok_or_else(|| DataError::Invalid(format!("piece {piece}: an empty track")))?;
    let rest: Vec<(PathBuf, AudioFile)> = iter.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    if let Some((path, f)) = rest
        .iter()
        .find(|(_, f)| f.sample_rate != first.sample_rate)
    {
        return Err(DataError::Invalid(format!(
            "piece {piece}: {} is at {} Hz but {} at {} Hz; resample the stems of a piece to one \
             rate",
            path.display(),
            f.sample_rate,
            first_path.display(),
            first.sample_rate
        )));
    }
    let same_channels = rest.iter().all(|(_, f)| f.channels == first.channels);
    let (channels, parts): (usize, Vec<Vec<f32>>) = if same_channels {
        (
            first.channels,
            std::iter::once(first.samples.clone())
                .chain(rest.iter().map(|(_, f)| f.samples.clone()))
                .collect(),
        )
    } else {
        (
            1,
            std::iter::once(first.to_mono())
                .chain(rest.iter().map(|(_, f)| f.to_mono()))
                .collect(),
        )
    };
    let len = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut samples = vec![0f32; len];
    for part in &parts {
        for (s, x) in samples.iter_mut().zip(part) {
            *s += x;
        }
    }
    Ok(AudioFile {
        samples,
        sample_rate: first.sample_rate,
        channels,
    })
}

/// The track keys a piece needs: every stem alone, then every summed stem set of its pairs.
pub fn needed_tracks(piece: &PieceSource, pairs: &[TrackPair]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = piece.stems.iter().map(|s| vec![s.name.clone()]).collect();
    for p in pairs {
        for side in [&p.guide, &p.target] {
            if !out.contains(side) {
                out.push(side.clone());
            }
        }
    }
    out
}
