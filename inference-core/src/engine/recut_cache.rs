//! Re-cut corpora remembered on disk, so that a project that asks for a note-value segment does
//! not encode the whole corpus again each time it opens.
//!
//! A re-cut is stored as the new segments of each corpus file (JSON, a few hundred kilobytes for
//! a half-hour corpus), in a file named after the preset's [identity](Preset::identity) and the
//! segment length. The folder is capped: when it grows past the cap, the re-cuts used least
//! recently go first. A damaged or foreign file is a miss, never an error.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::preset::{sha256_hex, Preset, SegmentLengthRecord, SegmentRecord};

/// The cap of the platform cache's re-cut folder.
pub const DEFAULT_CAP_BYTES: u64 = 64 << 20;

const FORMAT: &str = "counterpart-recut";
/// 2: labels from [`crate::perception::resample::RESAMPLER_ID`]'s resampler.
const VERSION: u32 = 2;

/// A folder of re-cut corpora. Worker threads (file I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecutCache {
    dir: PathBuf,
    cap_bytes: u64,
}

/// One stored re-cut.
#[derive(Serialize, Deserialize)]
struct Stored {
    format: String,
    version: u32,
    /// The identity of the preset it re-cuts.
    identity: String,
    length: SegmentLengthRecord,
    files: Vec<StoredFile>,
}

/// The new segments of one corpus file, each `[start, end, label]`.
#[derive(Serialize, Deserialize)]
struct StoredFile {
    name: String,
    segments: Vec<[u64; 3]>,
}

impl RecutCache {
    /// The user's cache: `$COUNTERPART_CACHE_DIR/recuts` if that is set, else `counterpart/recuts`
    /// in the platform's cache folder (`~/.cache` on Linux, `~/Library/Caches` on macOS,
    /// `%LOCALAPPDATA%` on Windows), capped at [`DEFAULT_CAP_BYTES`]. `None` when there is no
    /// such folder.
    pub fn platform() -> Option<Self> {
        let base = std::env::var_os("COUNTERPART_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("counterpart")))?;
        Some(Self::in_dir(base.join("recuts"), DEFAULT_CAP_BYTES))
    }

    /// A cache in `dir` (created when first written), holding at most `cap_bytes`.
    pub fn in_dir(dir: PathBuf, cap_bytes: u64) -> Self {
        Self { dir, cap_bytes }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the re-cut of the preset `identity` at `length`.
    fn path(&self, identity: &str, length: &SegmentLengthRecord) -> PathBuf {
        let key = format!("{identity} {}", serde_json::json!(length));
        self.dir
            .join(format!("{}.json", &sha256_hex(key.as_bytes())[..32]))
    }

    /// The re-cut of `preset` (whose identity is `identity`) at `length`, if one is stored and
    /// fits the preset's corpus; marks it as just used.
    pub fn get(
        &self,
        identity: &str,
        preset: &Preset,
        length: &SegmentLengthRecord,
    ) -> Option<Preset> {
        let path = self.path(identity, length);
        let stored: Stored = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
        if stored.format != FORMAT
            || stored.version != VERSION
            || stored.identity != identity
            || &stored.length != length
        {
            return None;
        }
        let mut out = preset.clone();
        out.segmentation.length = length.clone();
        // The re-cut keeps the preset's files in order, less those too short for `length`.
        let mut stored_files = stored.files.into_iter().peekable();
        out.corpus.retain(|file| !file.segments.is_empty());
        for file in &mut out.corpus {
            file.segments = match stored_files.next_if(|s| s.name == file.name) {
                Some(stored) => stored
                    .segments
                    .iter()
                    .map(|&[start, end, label]| {
                        Some(SegmentRecord {
                            start,
                            end,
                            label: u32::try_from(label).ok()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
                None => Vec::new(),
            };
        }
        if stored_files.next().is_some() {
            return None;
        }
        out.corpus.retain(|file| !file.segments.is_empty());
        out.validate().ok()?;
        // Least recently used goes first: mark it used (best effort).
        let _ = fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(SystemTime::now()));
        Some(out)
    }

    /// Stores `recut`, the re-cut of the preset `identity`, then trims the folder to its cap.
    pub fn put(&self, identity: &str, recut: &Preset) -> std::io::Result<()> {
        let length = &recut.segmentation.length;
        let stored = Stored {
            format: FORMAT.into(),
            version: VERSION,
            identity: identity.into(),
            length: length.clone(),
            files: recut
                .corpus
                .iter()
                .map(|file| StoredFile {
                    name: file.name.clone(),
                    segments: file
                        .segments
                        .iter()
                        .map(|s| [s.start, s.end, u64::from(s.label)])
                        .collect(),
                })
                .collect(),
        };
        fs::create_dir_all(&self.dir)?;
        let path = self.path(identity, length);
        // Written beside it, then renamed: a reader never sees half a file.
        let temp = path.with_extension(format!("{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&serde_json::to_vec(&stored)?)?;
            fs::rename(&temp, &path)
        };
        write().inspect_err(|_| {
            let _ = fs::remove_file(&temp);
        })?;
        self.trim()
    }

    /// Removes the least recently used re-cuts until the folder holds at most the cap.
    fn trim(&self) -> std::io::Result<()> {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "json"))
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), entry.path()))
            })
            .collect();
        files.sort();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        for (_, len, path) in files {
            if total <= self.cap_bytes {
                break;
            }
            fs::remove_file(&path)?;
            total -= len;
        }
        Ok(())
    }
}
