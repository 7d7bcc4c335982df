//! Turning a plain-data [`Preset`] into the runtime objects the engine plays with.
//!
//! Runs on a worker thread (or offline): it resamples the corpus to the host rate, builds the
//! decision model and opens an ONNX Runtime session for the encoder, all of which allocate and
//! take time. Every failure is an [`EngineError`] that says what was wrong; nothing panics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;

use super::EngineError;
use crate::action::{CorpusError, CorpusMemory, LabelDistances, SegmentId, SourceRecording};
use crate::decision::{DecisionConfig, DecisionError, DecisionModel};
use crate::perception::{
    Codebook, EncoderOptions, NoteValue, OnnxEncoder, OnsetSnap, SegmentLength, SegmentationConfig,
};
use crate::preset::{self, CorpusFile, Preset, PresetError};

/// Where to look for an encoder a preset names but does not embed: `<name>.onnx` in each folder,
/// in order. The file is accepted only if its SHA-256 is the one the preset records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderSearch {
    /// The folders, searched in order.
    pub dirs: Vec<PathBuf>,
}

impl Default for EncoderSearch {
    /// `$COUNTERPART_ENCODER_DIR`, the folder of the binary holding this code (a plugin's
    /// library) and its `encoders/`, the running executable's folder and its `encoders/`, the
    /// setup folder's `encoders/` (`~/.local/share/counterpart/encoders`), `./models/encoders`,
    /// and the source tree's `models/encoders` (for development builds).
    fn default() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os("COUNTERPART_ENCODER_DIR") {
            dirs.push(PathBuf::from(dir));
        }
        if let Some(dir) = crate::onnx_runtime::binary_dir() {
            dirs.push(dir.join("encoders"));
            dirs.push(dir);
        }
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            dirs.push(exe_dir.join("encoders"));
            dirs.push(exe_dir);
        }
        if let Some(setup) = crate::onnx_runtime::setup_dir() {
            if let Some(home) = setup.parent() {
                dirs.push(home.join("encoders"));
            }
        }
        dirs.push(PathBuf::from("models/encoders"));
        dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/encoders"));
        Self { dirs }
    }
}

impl EncoderSearch {
    /// Searches only `dirs`.
    pub fn in_dirs(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            dirs: dirs.into_iter().collect(),
        }
    }

    /// The verified encoder file for `preset`: the first `<name>.onnx` whose hash matches.
    /// A file with the right name but another hash gives [`PresetError::EncoderMismatch`]
    /// when no other folder holds the right one.
    pub fn find(&self, preset: &Preset) -> Result<PathBuf, EngineError> {
        let file_name = format!("{}.onnx", preset.encoder.name);
        let mut mismatch = None;
        for dir in &self.dirs {
            let path = dir.join(&file_name);
            if !path.is_file() {
                continue;
            }
            match preset.verify_encoder_file(&path) {
                Ok(()) => return Ok(path),
                Err(error @ PresetError::EncoderMismatch { .. }) => {
                    mismatch.get_or_insert(error);
                }
                Err(PresetError::Io { path, source }) => {
                    return Err(EngineError::EncoderIo { path, source })
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(match mismatch {
            Some(error) => error.into(),
            None => EngineError::EncoderNotFound {
                name: preset.encoder.name.clone(),
                sha256: preset.encoder.sha256.clone(),
                searched: self.dirs.clone(),
            },
        })
    }
}

/// Where a played corpus segment comes from, in its original file.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentOrigin {
    /// The corpus file's name.
    pub file: String,
    /// Start of the segment in the file, in seconds.
    pub start_seconds: f64,
    /// End of the segment in the file, in seconds.
    pub end_seconds: f64,
    /// The segment's label.
    pub label: u32,
}

/// A preset turned into runtime objects for one host sample rate. Built on a worker thread;
/// handed to the engine, which takes the parts it needs. Cloning is cheap (the corpus, the
/// decision model's weights and the encoder session are shared), so a plugin keeps one and
/// builds each new engine (another seed, a reset, a re-activation) from a clone.
#[derive(Clone)]
pub struct LoadedPreset {
    /// The preset's name.
    pub name: String,
    /// The codebook (shared read-only).
    pub codebook: Arc<Codebook>,
    /// How the guide is cut into segments, as the corpus was.
    pub segmentation: SegmentationConfig,
    /// Seconds of past audio the encoder sees in front of each segment.
    pub context_seconds: f64,
    /// The decision model.
    pub decision: DecisionModel,
    /// The corpus at the host rate.
    pub corpus: Arc<CorpusMemory>,
    /// Distances between labels, for the navigator's nearest-label substitution.
    pub label_distances: LabelDistances,
    /// How many corpus segments carry each label (K entries), for the sampler.
    pub label_counts: Vec<u32>,
    /// The encoder session (worker thread).
    pub encoder: OnnxEncoder,
    /// Where each corpus segment lies in the preset's corpus files.
    pub origins: CorpusOrigins,
}

/// Maps corpus-memory segments back to the preset's corpus files. A file whose segments leave
/// gaps is split into one recording per contiguous run, so a recording's samples are offset
/// from its file's.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusOrigins {
    /// For each recording: its file index and the offset of its first sample in the file.
    runs: Vec<(usize, u64)>,
    /// Each file's name and native sample rate.
    files: Vec<(String, u32)>,
}

impl CorpusOrigins {
    /// Where segment `id` of `corpus` (the memory built with these origins) lies in its file.
    pub fn origin(&self, corpus: &CorpusMemory, id: SegmentId) -> Option<SegmentOrigin> {
        let segment = corpus.segment(id)?;
        let &(file, offset) = self.runs.get(segment.source as usize)?;
        let (name, rate) = self.files.get(file)?;
        let rate = f64::from(*rate);
        Some(SegmentOrigin {
            file: name.clone(),
            start_seconds: (offset + segment.source_start) as f64 / rate,
            end_seconds: (offset + segment.source_end) as f64 / rate,
            label: segment.label,
        })
    }

    /// Index, in the preset's corpus, of the file segment `id` comes from.
    pub fn file_index(&self, corpus: &CorpusMemory, id: SegmentId) -> Option<u32> {
        let segment = corpus.segment(id)?;
        self.runs
            .get(segment.source as usize)
            .map(|&(file, _)| file as u32)
    }

    /// The corpus files' names, in preset order.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|(name, _)| name.as_str())
    }
}

impl std::fmt::Debug for LoadedPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPreset")
            .field("name", &self.name)
            .field("k", &self.codebook.k())
            .field("segmentation", &self.segmentation)
            .field("corpus_segments", &self.corpus.segment_count())
            .finish_non_exhaustive()
    }
}

impl LoadedPreset {
    /// Converts `preset` for a host running at `host_rate` Hz with its preferred (first)
    /// decision model; see [`LoadedPreset::load_for`].
    pub fn load(
        preset: &Preset,
        host_rate: u32,
        search: &EncoderSearch,
    ) -> Result<Self, EngineError> {
        Self::load_for(preset, host_rate, search, None)
    }

    /// Converts `preset` for a host running at `host_rate` Hz, with the decision model for
    /// look-ahead `lookahead` (the preferred, first one for `None`), finding the encoder
    /// (embedded, or by name through `search`, verified by hash). A look-ahead the preset has
    /// no model for is a [`EngineError::NoModelForLookahead`]. Worker thread: allocates and may
    /// take a while (corpus resampling, model and session loading).
    pub fn load_for(
        preset: &Preset,
        host_rate: u32,
        search: &EncoderSearch,
        lookahead: Option<usize>,
    ) -> Result<Self, EngineError> {
        preset.validate()?;
        let decision_data = decision_data(preset, lookahead)?;
        let k = preset.k();
        let codebook = Arc::new(Codebook::new(
            k,
            preset.codebook.dim,
            preset.codebook.centres.clone(),
        )?);
        let segmentation = segmentation_config(&preset.segmentation);
        segmentation.length.seconds()?;

        let decision = decision_model(decision_data, k)?;

        let (recordings, origins) = corpus_recordings(&preset.corpus)?;
        let corpus =
            CorpusMemory::build(host_rate, recordings).map_err(|source| EngineError::Corpus {
                file: match &source {
                    CorpusError::NoSources => "(none)".into(),
                    _ => source_index(&source)
                        .and_then(|i| origins.get(i))
                        .map_or_else(|| "?".into(), |&(file, _)| preset.corpus[file].name.clone()),
                },
                source,
            })?;
        let mut label_counts = vec![0u32; k];
        for segment in corpus.segments() {
            label_counts[segment.label as usize] += 1;
        }
        let label_distances = LabelDistances::from_centres(codebook.centres(), codebook.dim())?;

        let encoder = open_encoder(preset, search)?;
        if encoder.spec().hidden_size != codebook.dim() {
            return Err(EngineError::Mismatch(format!(
                "encoder `{}` gives vectors of size {}, the codebook's have {}",
                preset.encoder.name,
                encoder.spec().hidden_size,
                codebook.dim()
            )));
        }
        Ok(Self {
            name: preset.info.name.clone(),
            codebook,
            segmentation,
            context_seconds: preset.encoder.context_seconds,
            decision,
            corpus: Arc::new(corpus),
            label_distances,
            label_counts,
            encoder,
            origins: CorpusOrigins {
                runs: origins,
                files: preset
                    .corpus
                    .iter()
                    .map(|file| (file.name.clone(), file.sample_rate))
                    .collect(),
            },
        })
    }

    /// A copy with the decision model for look-ahead `lookahead` of `preset`, the preset this
    /// was loaded from; everything else is shared. Worker thread: builds the model (a few
    /// milliseconds), which is all a change of look-ahead needs.
    pub fn with_lookahead(&self, preset: &Preset, lookahead: usize) -> Result<Self, EngineError> {
        let decision = decision_model(decision_data(preset, Some(lookahead))?, self.k())?;
        Ok(Self {
            decision,
            ..self.clone()
        })
    }

    /// The alphabet size K.
    pub fn k(&self) -> usize {
        self.codebook.k()
    }

    /// Where corpus segment `id` lies in its original corpus file.
    pub fn origin(&self, id: SegmentId) -> Option<SegmentOrigin> {
        self.origins.origin(&self.corpus, id)
    }
}

/// The decision model data of `preset` for `lookahead` (its preferred one for `None`).
fn decision_data(
    preset: &Preset,
    lookahead: Option<usize>,
) -> Result<&preset::DecisionData, EngineError> {
    preset
        .decision_for(lookahead)
        .ok_or_else(|| EngineError::NoModelForLookahead {
            wanted: lookahead.unwrap_or(0),
            available: preset.lookaheads(),
        })
}

/// Builds the decision model `data` describes, for a codebook of `k` labels.
fn decision_model(data: &preset::DecisionData, k: usize) -> Result<DecisionModel, EngineError> {
    let config: DecisionConfig =
        serde_json::from_value(data.config.clone()).map_err(DecisionError::Json)?;
    if config.vocab_size != k {
        return Err(EngineError::Mismatch(format!(
            "the decision model has {} labels but the codebook {k}",
            config.vocab_size
        )));
    }
    Ok(DecisionModel::from_bytes(
        &config,
        data.weights.clone(),
        &Device::Cpu,
    )?)
}

/// Opens the encoder `preset` names (embedded, or found through `search` and verified by hash),
/// at the preset's layer, on one thread (worker thread).
pub(super) fn open_encoder(
    preset: &Preset,
    search: &EncoderSearch,
) -> Result<OnnxEncoder, EngineError> {
    let options = EncoderOptions {
        layer: Some(preset.encoder.layer as usize),
        intra_threads: 1,
    };
    Ok(match &preset.encoder.embedded {
        Some(bytes) => {
            preset.verify_encoder(bytes)?;
            OnnxEncoder::load_from_memory(bytes, &preset.encoder.name, &options)?
        }
        None => OnnxEncoder::load(&search.find(preset)?, &options)?,
    })
}

/// The perception segmentation a preset's settings describe.
pub fn segmentation_config(settings: &preset::SegmentationSettings) -> SegmentationConfig {
    let length = match settings.length {
        preset::SegmentLengthRecord::Uniform { seconds } => SegmentLength::Seconds(seconds),
        preset::SegmentLengthRecord::TempoSynced { note, bpm } => SegmentLength::Tempo {
            bpm,
            note: NoteValue::new(note.numerator, note.denominator),
        },
    };
    SegmentationConfig {
        length,
        onset_snap: settings
            .onset_snap_seconds
            .filter(|&s| s > 0.0)
            .map(|max_shift_s| OnsetSnap {
                max_shift_s,
                ..OnsetSnap::default()
            }),
    }
}

/// One [`SourceRecording`] per contiguous run of segments of each corpus file (a file whose
/// segments leave gaps is split at the gaps: the audio in a gap is never played), with the
/// file index and the run's offset in the file.
/// A recording's corpus file index and its offset in that file, in native samples.
type Run = (usize, u64);

fn corpus_recordings(
    files: &[CorpusFile],
) -> Result<(Vec<SourceRecording>, Vec<Run>), EngineError> {
    let mut recordings = Vec::new();
    let mut origins = Vec::new();
    for (index, file) in files.iter().enumerate() {
        if file.segments.is_empty() {
            continue;
        }
        let channels = file.channels_f32();
        let mut run_start = 0;
        for i in 1..=file.segments.len() {
            let ends_run =
                i == file.segments.len() || file.segments[i].start != file.segments[i - 1].end;
            if !ends_run {
                continue;
            }
            let run = &file.segments[run_start..i];
            let first = run[0].start;
            let last = run[run.len() - 1].end;
            let (lo, hi) = (first as usize, last as usize);
            if hi > file.frames() {
                return Err(EngineError::Mismatch(format!(
                    "corpus file `{}` has segments past its {} frames",
                    file.name,
                    file.frames()
                )));
            }
            let mut boundaries: Vec<u64> = run.iter().map(|s| s.start - first).collect();
            boundaries.push(last - first);
            recordings.push(SourceRecording {
                name: file.name.clone(),
                sample_rate: file.sample_rate,
                channels: channels.iter().map(|c| c[lo..hi].to_vec()).collect(),
                boundaries,
                labels: run.iter().map(|s| s.label).collect(),
            });
            origins.push((index, first));
            run_start = i;
        }
    }
    if recordings.is_empty() {
        return Err(EngineError::Mismatch("the corpus has no segment".into()));
    }
    Ok((recordings, origins))
}

fn source_index(error: &CorpusError) -> Option<usize> {
    match *error {
        CorpusError::InvalidSampleRate { source_index }
        | CorpusError::ChannelCount { source_index, .. }
        | CorpusError::ChannelLengths { source_index }
        | CorpusError::NonFinite { source_index, .. }
        | CorpusError::Silent { source_index }
        | CorpusError::NoSegments { source_index }
        | CorpusError::LabelCount { source_index, .. }
        | CorpusError::BoundariesNotIncreasing { source_index, .. }
        | CorpusError::BoundaryOutOfRange { source_index, .. }
        | CorpusError::SegmentTooShort { source_index, .. }
        | CorpusError::Resample { source_index, .. } => Some(source_index),
        _ => None,
    }
}
