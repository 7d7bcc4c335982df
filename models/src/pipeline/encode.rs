//! Encoding stems the streaming way: each track is encoded by the run-time perception core
//! ([`encode_clip`], i.e. [`counterpart_core::perception::SegmentEncoderCore`]) into one pooled
//! vector per segment (quantised into tokens by [`crate::pipeline::tokenise`]).
//!
//! Encoding is the slow part, so the segment vectors of each track are cached on disk, keyed by
//! the SHA-256 of the track's audio files, of the encoder file, of the encoder layer and of the
//! segmentation settings. Tracks are encoded in parallel, one encoder per worker thread with one
//! intra-op thread each; every track is encoded by exactly the same computation whatever thread
//! runs it, and results are stored by track index, so the output does not depend on the number of
//! threads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use counterpart_core::perception::resample::RESAMPLER_ID;
use counterpart_core::perception::{
    encode_clip, EncoderOptions, EncoderSpec, OnnxEncoder, Segment, SegmentEncoderConfig,
};
use counterpart_core::preset::sha256_hex;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::data::layout::{needed_tracks, PairSelection, StemsSet};
use crate::data::stems::track_key;
use crate::pipeline::PipelineError;

/// Magic bytes of a cached track file.
const CACHE_MAGIC: &[u8; 8] = b"CPSEGV01";
/// Magic bytes of a cached track file with reaction windows.
const CACHE_MAGIC_WINDOWS: &[u8; 8] = b"CPSEGW01";

/// How tracks are encoded.
#[derive(Debug, Clone)]
pub struct EncodingSettings {
    /// The ONNX encoder.
    pub encoder: PathBuf,
    /// Encoder layer (the encoder's default when `None`).
    pub layer: Option<usize>,
    /// Segmentation, context and reaction window, as at run time. The window (when not 0) is
    /// encoded for the tracks that are guides ([`TrackJob::windows`]) only.
    pub config: SegmentEncoderConfig,
    /// Worker threads (each with its own encoder); 0 means one per core.
    pub threads: usize,
    /// Folder of the vector cache; `None` disables caching.
    pub cache: Option<PathBuf>,
    /// Draw a progress bar on stderr.
    pub show_progress: bool,
}

impl EncodingSettings {
    /// The default cache folder: `$XDG_CACHE_HOME/counterpart/segments`, else
    /// `~/.cache/counterpart/segments`.
    pub fn default_cache() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("counterpart").join("segments"))
    }
}

/// One track to encode: the audio files summed to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackJob {
    /// Piece id.
    pub piece: String,
    /// Stem names (several are summed).
    pub stems: Vec<String>,
    /// Whether the track's reaction windows are encoded too (a guide, with a window set).
    pub windows: bool,
}

/// The segments of one encoded track and their pooled vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTrack {
    /// Working (native) sample rate of the track.
    pub sample_rate: u32,
    /// The segments, at the working rate, in order.
    pub segments: Vec<Segment>,
    /// The pooled vectors, `segments.len() · dim` values.
    pub vectors: Vec<f32>,
    /// The pooled vectors of each segment's reaction window, `segments.len() · dim` values, or
    /// none when the track was encoded without windows.
    pub windows: Vec<f32>,
    /// Vector size.
    pub dim: usize,
}

impl EncodedTrack {
    fn to_bytes(&self) -> Vec<u8> {
        let floats = self.vectors.len() + self.windows.len();
        let mut out = Vec::with_capacity(32 + self.segments.len() * 24 + floats * 4);
        out.extend_from_slice(if self.windows.is_empty() {
            CACHE_MAGIC
        } else {
            CACHE_MAGIC_WINDOWS
        });
        out.extend_from_slice(&self.sample_rate.to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.segments.len() as u64).to_le_bytes());
        for s in &self.segments {
            for v in [s.index, s.start, s.end] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for v in self.vectors.iter().chain(&self.windows) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (rest, with_windows) = match bytes.strip_prefix(CACHE_MAGIC) {
            Some(rest) => (rest, false),
            None => (bytes.strip_prefix(CACHE_MAGIC_WINDOWS)?, true),
        };
        let u32_at =
            |b: &[u8], i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let u64_at =
            |b: &[u8], i: usize| Some(u64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?));
        let sample_rate = u32_at(rest, 0)?;
        let dim = u32_at(rest, 4)? as usize;
        let n = usize::try_from(u64_at(rest, 8)?).ok()?;
        let seg_bytes = n.checked_mul(24)?;
        let vec_bytes = n.checked_mul(dim)?.checked_mul(4)?;
        let copies = if with_windows { 2 } else { 1 };
        if dim == 0 || rest.len() != 16 + seg_bytes + copies * vec_bytes {
            return None;
        }
        let segments = (0..n)
            .map(|i| {
                let o = 16 + 24 * i;
                Some(Segment {
                    index: u64_at(rest, o)?,
                    start: u64_at(rest, o + 8)?,
                    end: u64_at(rest, o + 16)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let floats = |from: usize| -> Vec<f32> {
            rest[from..from + vec_bytes]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        };
        Some(Self {
            sample_rate,
            segments,
            vectors: floats(16 + seg_bytes),
            windows: if with_windows {
                floats(16 + seg_bytes + vec_bytes)
            } else {
                Vec::new()
            },
            dim,
        })
    }
}

fn hash_file(path: &Path) -> Result<String, PipelineError> {
    let bytes = std::fs::read(path).map_err(|e| PipelineError::io(path, e))?;
    Ok(sha256_hex(&bytes))
}

/// The cache key of a track: SHA-256 over the encoder's hash, the layer read (`None` for the
/// encoder's default layer, whether it was named or not), the resampler to 16 kHz, the settings
/// and the hashes of the track's files.
fn cache_key(
    encoder_sha: &str,
    layer: Option<usize>,
    config: &SegmentEncoderConfig,
    files: &[PathBuf],
) -> Result<String, PipelineError> {
    let mut h = Sha256::new();
    h.update(b"counterpart-segments/1\n");
    h.update(encoder_sha.as_bytes());
    h.update(format!("\nlayer={layer:?}\nresampler={RESAMPLER_ID}\n").as_bytes());
    h.update(serde_json::to_vec(config).expect("config serialises"));
    for f in files {
        h.update(b"\nfile=");
        h.update(hash_file(f)?.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Encodes `jobs` of `set` the streaming way, from the cache where possible. Results are in job
/// order.
pub fn encode_tracks(
    set: &StemsSet,
    jobs: &[TrackJob],
    settings: &EncodingSettings,
) -> Result<Vec<EncodedTrack>, PipelineError> {
    let encoder_sha = hash_file(&settings.encoder)?;
    // `eval` names the preset's layer and `build-preset` leaves it to the encoder: both must find
    // the same cache entries.
    let layer = match settings.layer {
        Some(layer) if layer == default_layer(settings)? => None,
        other => other,
    };
    let threads = match settings.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, jobs.len().max(1));
    let bar = if settings.show_progress {
        ProgressBar::new(jobs.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} tracks encoded {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let next = AtomicUsize::new(0);
    let cached = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<EncodedTrack, PipelineError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut encoder: Option<OnnxEncoder> = None;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let r = encode_job(
                        set,
                        job,
                        settings,
                        (&encoder_sha, layer),
                        &mut encoder,
                        &cached,
                    );
                    let failed = r.is_err();
                    results.lock().expect("no panic while holding the lock")[i] = Some(r);
                    bar.inc(1);
                    if failed {
                        // Let the other workers finish their current track and stop.
                        next.store(jobs.len(), Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    tracing::info!(
        tracks = jobs.len(),
        from_cache = cached.load(Ordering::SeqCst),
        threads,
        "encoded"
    );
    let results = results.into_inner().expect("workers joined");
    if let Some(err) = results.iter().position(|r| matches!(r, Some(Err(_)))) {
        let mut results = results;
        return Err(results[err].take().expect("checked").expect_err("checked"));
    }
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| PipelineError::Invalid("a track was not encoded".into()))?)
        .collect()
}

/// The encoder's default layer, from its sidecar when it has one (no ONNX session is opened),
/// else from the model's metadata.
fn default_layer(settings: &EncodingSettings) -> Result<usize, PipelineError> {
    Ok(match EncoderSpec::from_sidecar(&settings.encoder)? {
        Some(spec) => spec.default_layer,
        None => open_encoder(settings)?.spec().default_layer,
    })
}

/// Opens the encoder `settings` name, on one thread.
fn open_encoder(settings: &EncodingSettings) -> Result<OnnxEncoder, PipelineError> {
    Ok(OnnxEncoder::load(
        &settings.encoder,
        &EncoderOptions {
            layer: settings.layer,
            intra_threads: 1,
        },
    )?)
}

fn encode_job(
    set: &StemsSet,
    job: &TrackJob,
    settings: &EncodingSettings,
    (encoder_sha, layer): (&str, Option<usize>),
    encoder: &mut Option<OnnxEncoder>,
    cached: &AtomicUsize,
) -> Result<EncodedTrack, PipelineError> {
    let piece = set
        .pieces
        .iter()
        .find(|p| p.id == job.piece)
        .ok_or_else(|| PipelineError::Invalid(format!("no piece {}", job.piece)))?;
    let mut files = Vec::new();
    for name in &job.stems {
        let stem = piece.stem(name).ok_or_else(|| {
            PipelineError::Invalid(format!("piece {}: no stem called {name}", piece.id))
        })?;
        files.extend(stem.files.iter().cloned());
    }
    // Only guides hear a window: the other tracks keep the cache entries they had without one.
    let config = SegmentEncoderConfig {
        reaction_s: if job.windows {
            settings.config.reaction_s
        } else {
            0.0
        },
        ..settings.config
    };
    let cache_file = match &settings.cache {
        Some(dir) => Some(dir.join(format!(
            "{}.seg",
            cache_key(encoder_sha, layer, &config, &files)?
        ))),
        None => None,
    };
    if let Some(path) = &cache_file {
        if let Some(track) = std::fs::read(path)
            .ok()
            .and_then(|b| EncodedTrack::from_bytes(&b))
        {
            cached.fetch_add(1, Ordering::SeqCst);
            return Ok(track);
        }
    }
    let audio = piece.load_track(&job.stems)?;
    let enc = match encoder.take() {
        Some(e) => e,
        None => open_encoder(settings)?,
    };
    let (encoded, enc) = encode_clip(&audio.to_mono(), audio.sample_rate, &config, enc, None)?;
    let dim = enc.spec().hidden_size;
    *encoder = Some(enc);
    let (partial, whole): (Vec<_>, Vec<_>) = encoded.into_iter().partition(|s| s.partial);
    let mut windows = Vec::new();
    if config.reaction_s > 0.0 {
        // One window per segment, matched by index (the stream's last window may belong to the
        // unfinished segment, which has no whole token).
        let by_index: BTreeMap<u64, &[f32]> = partial
            .iter()
            .map(|w| (w.segment.index, w.vector.as_slice()))
            .collect();
        for seg in &whole {
            let window = by_index.get(&seg.segment.index).ok_or_else(|| {
                PipelineError::Invalid(format!(
                    "{} {}: segment {} is shorter than the {} s reaction window",
                    job.piece,
                    track_key(&job.stems),
                    seg.segment.index,
                    config.reaction_s
                ))
            })?;
            windows.extend_from_slice(window);
        }
    }
    let track = EncodedTrack {
        sample_rate: audio.sample_rate,
        segments: whole.iter().map(|s| s.segment).collect(),
        vectors: whole
            .iter()
            .flat_map(|s| s.vector.iter().copied())
            .collect(),
        windows,
        dim,
    };
    if let Some(path) = &cache_file {
        write_cache(path, &track);
    }
    Ok(track)
}

/// Writes a cache entry atomically (temp file + rename); a failure only costs a re-encode later.
fn write_cache(path: &Path, track: &EncodedTrack) {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&track.to_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!("could not cache {}: {e}", path.display());
    }
}

/// The encoded tracks of a stems set: per piece, per track key.
#[derive(Debug, Clone, Default)]
pub struct EncodedSet {
    /// `pieces[piece id][track key]`.
    pub pieces: BTreeMap<String, BTreeMap<String, EncodedTrack>>,
}

impl EncodedSet {
    /// Encodes every stem of every piece, and every summed stem set that `selection`'s pairs
    /// name, restricted to `pieces` when given. The pairs' guides are encoded with their
    /// reaction windows when the settings have one.
    pub fn encode(
        set: &StemsSet,
        selection: &PairSelection,
        pieces: Option<&[String]>,
        settings: &EncodingSettings,
    ) -> Result<Self, PipelineError> {
        let mut jobs = Vec::new();
        for piece in set
            .pieces
            .iter()
            .filter(|p| pieces.is_none_or(|keep| keep.contains(&p.id)))
        {
            let pairs = piece.pairs(selection);
            for stems in needed_tracks(piece, &pairs) {
                let windows =
                    settings.config.reaction_s > 0.0 && pairs.iter().any(|p| p.guide == stems);
                jobs.push(TrackJob {
                    piece: piece.id.clone(),
                    stems,
                    windows,
                });
            }
        }
        let tracks = encode_tracks(set, &jobs, settings)?;
        let mut out = Self::default();
        for (job, track) in jobs.into_iter().zip(tracks) {
            out.pieces
                .entry(job.piece)
                .or_default()
                .insert(track_key(&job.stems), track);
        }
        Ok(out)
    }

    /// All pooled vectors of the given pieces (all when `None`), vector-major, and their size.
    pub fn vectors(&self, pieces: Option<&[String]>) -> (Vec<f32>, usize) {
        let mut out = Vec::new();
        let mut dim = 0;
        for (id, tracks) in &self.pieces {
            if pieces.is_some_and(|keep| !keep.contains(id)) {
                continue;
            }
            // Single stems only: a sum of stems would count their material twice.
            for (key, t) in tracks {
                if !key.contains('+') {
                    out.extend_from_slice(&t.vectors);
                    dim = t.dim;
                }
            }
        }
        (out, dim)
    }

    /// The pooled vectors of the given `(piece id, track key)` tracks, vector-major, and their
    /// size (tracks not encoded are skipped).
    pub fn track_vectors(&self, tracks: &[(String, String)]) -> (Vec<f32>, usize) {
        let mut out = Vec::new();
        let mut dim = 0;
        for (piece, key) in tracks {
            if let Some(t) = self.pieces.get(piece).and_then(|p| p.get(key)) {
                out.extend_from_slice(&t.vectors);
                dim = t.dim;
            }
        }
        (out, dim)
    }
}
