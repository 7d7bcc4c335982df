//! The preset file: a safetensors file with one JSON header in its metadata.
//!
//! Layout:
//! - `__metadata__["counterpart.preset"]`: the JSON header ([`FORMAT_NAME`], format version,
//!   info, segmentation settings, encoder identity without its bytes, codebook shape, decision
//!   configs, the corpus file list, metrics, and a SHA-256 over all tensor data);
//! - `codebook.centres`: F32 `[K, dim]`;
//! - `decision.<i>.weights`: U8 `[n]`, the safetensors blob of decision model `i` (one per
//!   look-ahead, the preferred one first). Version 1 files hold a single model: header field
//!   `decision` instead of `decisions`, tensor `decision.weights`; they still load.
//! - From version 3 the header may hold `character`, the relation's character measured at
//!   build time ([`RelationCharacter`]); versions 1 and 2 never do, and load without it.
//! - `encoder.onnx`: U8 `[n]`, only when the encoder is embedded;
//! - `corpus.<i>.audio`: U8 `[n]` FLAC stream for integer PCM, or F32 `[channels, frames]`;
//! - `corpus.<i>.segments`: U64 `[segments, 2]`, start and end in source samples;
//! - `corpus.<i>.labels`: U32 `[segments]`.
//!
//! Loading checks, in order: the framing (truncation), the marker (foreign files), the
//! version (newer files), the tensor set and the checksum (corruption), then every value
//! (see [`Preset::validate`]). Nothing is allocated beyond what the file holds, except decoded
//! FLAC audio, bounded by [`MAX_CORPUS_SAMPLES`].

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::data::{
    hex, AudioData, CodebookData, CorpusFile, DecisionData, EncoderIdentity, Preset, PresetInfo,
    RelationCharacter, SegmentRecord, SegmentationSettings,
};
use super::error::PresetError;
use super::flac::{self, PcmLayout};
use super::safetensors_guard::{
    check_extent, read_header, FramingError, LENGTH_PREFIX, MAX_HEADER_BYTES,
};
use super::validate::{MAX_CHANNELS, MAX_CORPUS_FILES, MAX_CORPUS_SAMPLES, MAX_DECISION_MODELS};

/// The newest preset format version this build reads, and the one it writes. Version 3 may hold
/// the relation's character; version 2 holds several decision models (one per look-ahead);
/// version 1 held one.
pub const FORMAT_VERSION: u32 = 3;
/// The first format version whose header may hold the relation's character.
const CHARACTER_VERSION: u32 = 3;
/// The safetensors metadata key that holds the preset header.
pub const MARKER_KEY: &str = "counterpart.preset";
/// The `format` field of every preset header.
pub const FORMAT_NAME: &str = "counterpart-preset";

/// The JSON header, as stored under [`MARKER_KEY`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    info: PresetInfo,
    segmentation: SegmentationSettings,
    encoder: EncoderHeader,
    codebook: CodebookHeader,
    /// Version 1: the single decision model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decision: Option<DecisionHeader>,
    /// Version 2 and later: the decision models, the preferred one first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    decisions: Option<Vec<DecisionHeader>>,
    corpus: Vec<CorpusHeader>,
    metrics: serde_json::Value,
    /// Version 3 and later, when measured: the relation's character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    character: Option<RelationCharacter>,
    /// SHA-256 over every tensor, in name order (see [`content_sha256`]).
    content_sha256: String,
}

/// The first fields of a header, read before the rest to recognise foreign and newer files.
#[derive(Deserialize)]
struct Probe {
    format: Option<String>,
    version: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EncoderHeader {
    name: String,
    sha256: String,
    layer: u32,
    context_seconds: f64,
    embedded: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodebookHeader {
    k: usize,
    dim: usize,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionHeader {
    config: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusHeader {
    name: String,
    sample_rate: u32,
    channels: u16,
    frames: u64,
    codec: AudioCodec,
    segments: u64,
}

/// How a corpus file's audio tensor is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
enum AudioCodec {
    /// A FLAC stream in a U8 tensor.
    Flac { bits_per_sample: u8 },
    /// Raw little-endian F32 samples, `[channels, frames]`.
    Float32,
}

/// What a preset's header says about the timing of the engines built from it, read without its
/// tensors: enough to know the latency such an engine reports before the preset is loaded
/// (see `engine::announced_latency`).
#[derive(Debug, Clone, PartialEq)]
pub struct PresetTiming {
    /// How the corpus is cut, and so the guide.
    pub segmentation: SegmentationSettings,
    /// The decision models' timing, the preferred one first.
    pub models: Vec<ModelTiming>,
}

/// One decision model's timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelTiming {
    /// Segments of look-ahead.
    pub lookahead: usize,
    /// The reaction window in seconds (0: none).
    pub reaction_s: f64,
}

impl PresetTiming {
    /// Reads it from the start of a preset file: `bytes` must hold the length prefix and the
    /// header, and may hold more.
    pub fn from_header_bytes(bytes: &[u8]) -> Result<Self, PresetError> {
        let (_, entries) = read_header(bytes).map_err(|e| PresetError::NotAPreset {
            reason: format!("its header cannot be read ({e})"),
        })?;
        let header = parse_header(marker(&entries)?)?;
        let models = decision_headers(&header)?
            .iter()
            .map(|d| {
                let config: crate::decision::DecisionConfig =
                    serde_json::from_value(d.config.clone()).map_err(|e| {
                        PresetError::Corrupt(format!("a decision model's config is invalid: {e}"))
                    })?;
                Ok(ModelTiming {
                    lookahead: config.lookahead,
                    reaction_s: config.reaction_s,
                })
            })
            .collect::<Result<Vec<_>, PresetError>>()?;
        Ok(Self {
            segmentation: header.segmentation,
            models,
        })
    }

    /// Reads the header of the preset file at `path` only (kilobytes, not the corpus).
    pub fn read(path: impl AsRef<Path>) -> Result<Self, PresetError> {
        Self::from_header_bytes(&header_bytes(path.as_ref())?)
    }
}

/// What a preset's header says about it for a list of presets, read without its tensors (see
/// [`PresetListing::read`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PresetListing {
    /// Name, author, description, licence, date.
    pub info: PresetInfo,
    /// Total corpus duration in seconds, from the header's frame counts.
    pub corpus_seconds: f64,
    /// Which (guide, target) pairs the build trained on, as its metrics record them
    /// (`metrics.data.pairs`: `Primary`, `All` or `Named { guide: "…", target: "…" }`), when
    /// they do.
    pub pairs: Option<String>,
}

impl PresetListing {
    /// Reads it from the start of a preset file: `bytes` must hold the length prefix and the
    /// header, and may hold more.
    pub fn from_header_bytes(bytes: &[u8]) -> Result<Self, PresetError> {
        let (_, entries) = read_header(bytes).map_err(|e| PresetError::NotAPreset {
            reason: format!("its header cannot be read ({e})"),
        })?;
        let header = parse_header(marker(&entries)?)?;
        let corpus_seconds = header
            .corpus
            .iter()
            .filter(|file| file.sample_rate > 0)
            .map(|file| file.frames as f64 / f64::from(file.sample_rate))
            .sum();
        let pairs = header
            .metrics
            .pointer("/data/pairs")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            info: header.info,
            corpus_seconds,
            pairs,
        })
    }

    /// Reads the header of the preset file at `path` only (kilobytes, not the corpus).
    pub fn read(path: impl AsRef<Path>) -> Result<Self, PresetError> {
        Self::from_header_bytes(&header_bytes(path.as_ref())?)
    }
}

/// The length prefix and header of the preset file at `path`, without its tensors.
fn header_bytes(path: &Path) -> Result<Vec<u8>, PresetError> {
    use std::io::Read;
    let io = |source| PresetError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut prefix = [0u8; LENGTH_PREFIX];
    file.read_exact(&mut prefix)
        .map_err(|_| PresetError::Truncated {
            expected: LENGTH_PREFIX as u64,
            found: 0,
        })?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_BYTES {
        return Err(PresetError::NotAPreset {
            reason: format!("its header would be {header_len} bytes long"),
        });
    }
    let mut bytes = prefix.to_vec();
    file.take(header_len).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// One tensor to write.
struct OwnedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Preset {
    /// Validates the preset and encodes it as preset file bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PresetError> {
        self.validate()?;
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "codebook.centres".to_owned(),
            OwnedTensor {
                dtype: Dtype::F32,
                shape: vec![self.codebook.k, self.codebook.dim],
                data: f32_bytes(&self.codebook.centres),
            },
        );
        for (index, decision) in self.decisions.iter().enumerate() {
            tensors.insert(
                decision_tensor_name(FORMAT_VERSION, index),
                byte_tensor(decision.weights.clone()),
            );
        }
        if let Some(onnx) = &self.encoder.embedded {
            tensors.insert("encoder.onnx".to_owned(), byte_tensor(onnx.clone()));
        }
        let mut corpus = Vec::with_capacity(self.corpus.len());
        for (index, file) in self.corpus.iter().enumerate() {
            let (codec, audio) = encode_audio(file).map_err(|reason| {
                PresetError::Invalid(format!("corpus file {index} (`{}`): {reason}", file.name))
            })?;
            tensors.insert(format!("corpus.{index}.audio"), audio);
            let (segments, labels) = segment_tensors(&file.segments);
            tensors.insert(format!("corpus.{index}.segments"), segments);
            tensors.insert(format!("corpus.{index}.labels"), labels);
            corpus.push(CorpusHeader {
                name: file.name.clone(),
                sample_rate: file.sample_rate,
                channels: file.channels,
                frames: file.frames() as u64,
                codec,
                segments: file.segments.len() as u64,
            });
        }
        let header = Header {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            info: self.info.clone(),
            segmentation: self.segmentation.clone(),
            encoder: EncoderHeader {
                name: self.encoder.name.clone(),
                sha256: self.encoder.sha256.clone(),
                layer: self.encoder.layer,
                context_seconds: self.encoder.context_seconds,
                embedded: self.encoder.embedded.is_some(),
            },
            codebook: CodebookHeader {
                k: self.codebook.k,
                dim: self.codebook.dim,
            },
            decision: None,
            decisions: Some(
                self.decisions
                    .iter()
                    .map(|d| DecisionHeader {
                        config: d.config.clone(),
                    })
                    .collect(),
            ),
            corpus,
            metrics: self.metrics.clone(),
            character: self.character.clone(),
            content_sha256: content_sha256(
                tensors
                    .iter()
                    .map(|(name, tensor)| (name.as_str(), tensor.data.as_slice())),
            ),
        };
        let header = serde_json::to_string(&header)
            .map_err(|e| PresetError::Invalid(format!("the header cannot be written: {e}")))?;
        let views = tensors
            .iter()
            .map(|(name, tensor)| {
                safetensors::tensor::TensorView::new(
                    tensor.dtype,
                    tensor.shape.clone(),
                    &tensor.data,
                )
                .map(|view| (name.as_str(), view))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PresetError::Invalid(format!("a tensor cannot be written: {e}")))?;
        safetensors::serialize(
            views,
            Some(HashMap::from([(MARKER_KEY.to_owned(), header)])),
        )
        .map_err(|e| PresetError::Invalid(format!("the file cannot be written: {e}")))
    }

    /// Reads and fully validates a preset from file bytes.
    ///
    /// Refuses foreign files ([`PresetError::NotAPreset`]), newer format versions
    /// ([`PresetError::NewerVersion`]), cut-off files ([`PresetError::Truncated`]), damaged
    /// ones ([`PresetError::Corrupt`]), an embedded encoder that does not match its recorded
    /// hash ([`PresetError::EncoderMismatch`]) and inconsistent contents
    /// ([`PresetError::Invalid`]). Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PresetError> {
        let found = bytes.len() as u64;
        let (header_len, entries) = read_header(bytes).map_err(|e| match e {
            FramingError::TooShort => PresetError::Truncated {
                expected: LENGTH_PREFIX as u64,
                found,
            },
            FramingError::HeaderCut { expected }
                if matches!(bytes.get(LENGTH_PREFIX), None | Some(b'{')) =>
            {
                PresetError::Truncated { expected, found }
            }
            FramingError::HeaderNotJson(reason) if contains(bytes, MARKER_KEY.as_bytes()) => {
                PresetError::Corrupt(format!("the header is not valid JSON: {reason}"))
            }
            other => PresetError::NotAPreset {
                reason: format!("it is not a safetensors file ({other})"),
            },
        })?;
        let header = parse_header(marker(&entries)?)?;
        check_extent(bytes, header_len, &entries).map_err(|e| match e {
            FramingError::DataCut { expected } => PresetError::Truncated { expected, found },
            other => PresetError::Corrupt(other.to_string()),
        })?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| {
            PresetError::Corrupt(format!("the safetensors structure is invalid: {e}"))
        })?;
        check_tensor_names(&header, &tensors)?;
        let mut views: Vec<_> = tensors.iter().collect();
        views.sort_by(|a, b| a.0.cmp(b.0));
        let checksum = content_sha256(views.iter().map(|(name, view)| (*name, view.data())));
        if checksum != header.content_sha256 {
            return Err(PresetError::Corrupt(
                "the tensor data does not match its checksum".into(),
            ));
        }
        let preset = assemble(header, &tensors)?;
        preset.validate()?;
        Ok(preset)
    }

    /// Validates the preset and writes it to `path` atomically: to a temporary file beside it,
    /// then renamed over it.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PresetError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let file_name = path.file_name().ok_or_else(|| PresetError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temp, path)
        };
        write().map_err(|source| {
            // Best effort: the temporary file may not exist.
            let _ = fs::remove_file(&temp);
            PresetError::Io {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// The JSON header of the valid preset file `bytes` (metrics included), as stored.
    pub fn header_json(bytes: &[u8]) -> Result<serde_json::Value, PresetError> {
        Self::from_bytes(bytes)?;
        let (_, entries) = read_header(bytes).map_err(|e| PresetError::Corrupt(e.to_string()))?;
        serde_json::from_str(marker(&entries).unwrap_or("null"))
            .map_err(|e| PresetError::Corrupt(format!("the header is not valid JSON: {e}")))
    }

    /// The identity of the preset file `bytes`, as 64 hexadecimal digits: the SHA-256 of its
    /// header, which records every setting and segment and the checksum of all its tensor data
    /// (checked when the file is loaded, see [`Preset::from_bytes`]). Equal files have equal
    /// identities, and it costs a small part of hashing the whole file. It keys what is
    /// computed from a preset, such as a re-cut corpus.
    pub fn identity(bytes: &[u8]) -> Result<String, PresetError> {
        let (header_len, _) =
            read_header(bytes).map_err(|e| PresetError::Corrupt(e.to_string()))?;
        Ok(super::sha256_hex(&bytes[..LENGTH_PREFIX + header_len]))
    }

    /// Reads and fully validates the preset file at `path` (see [`Preset::from_bytes`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PresetError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| PresetError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Checks that the ONNX file at `path` is the encoder the preset was made with.
    pub fn verify_encoder_file(&self, path: impl AsRef<Path>) -> Result<(), PresetError> {
        let path = path.as_ref();
        let onnx = fs::read(path).map_err(|source| PresetError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.verify_encoder(&onnx)
    }
}

/// The preset header's JSON text in a safetensors header's `entries` (its metadata entry
/// [`MARKER_KEY`]).
fn marker(entries: &serde_json::Map<String, serde_json::Value>) -> Result<&str, PresetError> {
    entries
        .get("__metadata__")
        .and_then(|metadata| metadata.get(MARKER_KEY))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| PresetError::NotAPreset {
            reason: format!("the safetensors metadata has no `{MARKER_KEY}` entry"),
        })
}

fn parse_header(marker: &str) -> Result<Header, PresetError> {
    let probe: Probe = serde_json::from_str(marker)
        .map_err(|e| PresetError::Corrupt(format!("the preset header is not valid JSON: {e}")))?;
    if probe.format.as_deref() != Some(FORMAT_NAME) {
        return Err(PresetError::NotAPreset {
            reason: format!("its header does not declare the format `{FORMAT_NAME}`"),
        });
    }
    let version = probe
        .version
        .ok_or_else(|| PresetError::Corrupt("the preset header has no version".into()))?;
    if version > FORMAT_VERSION {
        return Err(PresetError::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(PresetError::Corrupt(
            "format version 0 does not exist".into(),
        ));
    }
    let header: Header = serde_json::from_str(marker)
        .map_err(|e| PresetError::Corrupt(format!("the preset header is malformed: {e}")))?;
    if header.character.is_some() && version < CHARACTER_VERSION {
        return Err(PresetError::Corrupt(format!(
            "a version {version} header has no `character` (it came with version \
             {CHARACTER_VERSION})"
        )));
    }
    let models = decision_headers(&header)?.len();
    if models > MAX_DECISION_MODELS {
        return Err(PresetError::Invalid(format!(
            "the preset has {models} decision models, more than {MAX_DECISION_MODELS}"
        )));
    }
    Ok(header)
}

/// The decision model headers of a version-checked header: `decision` in version 1,
/// `decisions` (at least one) from version 2.
fn decision_headers(header: &Header) -> Result<&[DecisionHeader], PresetError> {
    match (header.version, &header.decision, &header.decisions) {
        (1, Some(one), None) => Ok(std::slice::from_ref(one)),
        (1, _, _) => Err(PresetError::Corrupt(
            "a version 1 header must have one `decision` and no `decisions`".into(),
        )),
        (_, None, Some(many)) if !many.is_empty() => Ok(many),
        (version, _, _) => Err(PresetError::Corrupt(format!(
            "a version {version} header must have a non-empty `decisions` list and no \
             `decision`"
        ))),
    }
}

/// The tensor holding the weights of decision model `index` in a file of format `version`.
fn decision_tensor_name(version: u32, index: usize) -> String {
    if version == 1 {
        "decision.weights".to_owned()
    } else {
        format!("decision.{index}.weights")
    }
}

/// Checks that the file holds exactly the tensors its header calls for.
fn check_tensor_names(header: &Header, tensors: &SafeTensors<'_>) -> Result<(), PresetError> {
    if header.corpus.len() > MAX_CORPUS_FILES {
        return Err(PresetError::Invalid(format!(
            "the corpus has {} recordings, more than {MAX_CORPUS_FILES}",
            header.corpus.len()
        )));
    }
    let mut expected = vec!["codebook.centres".to_owned()];
    for index in 0..decision_headers(header)?.len() {
        expected.push(decision_tensor_name(header.version, index));
    }
    if header.encoder.embedded {
        expected.push("encoder.onnx".to_owned());
    }
    for index in 0..header.corpus.len() {
        for part in ["audio", "segments", "labels"] {
            expected.push(format!("corpus.{index}.{part}"));
        }
    }
    expected.sort();
    let mut found: Vec<_> = tensors.names().into_iter().map(str::to_owned).collect();
    found.sort();
    if let Some(missing) = expected.iter().find(|n| found.binary_search(n).is_err()) {
        return Err(PresetError::Corrupt(format!(
            "the tensor `{missing}` is missing"
        )));
    }
    if let Some(extra) = found.iter().find(|n| expected.binary_search(n).is_err()) {
        return Err(PresetError::Corrupt(format!("unexpected tensor `{extra}`")));
    }
    Ok(())
}

/// Builds the preset from a checked header and tensor set.
fn assemble(header: Header, tensors: &SafeTensors<'_>) -> Result<Preset, PresetError> {
    let centres = tensor(tensors, "codebook.centres", Dtype::F32)?;
    if centres.shape() != [header.codebook.k, header.codebook.dim] {
        return Err(PresetError::Corrupt(format!(
            "the codebook tensor has shape {:?}, but the header announces [{}, {}]",
            centres.shape(),
            header.codebook.k,
            header.codebook.dim
        )));
    }
    let decisions = decision_headers(&header)?
        .iter()
        .enumerate()
        .map(|(index, d)| {
            Ok(DecisionData {
                config: d.config.clone(),
                weights: byte_tensor_data(tensors, &decision_tensor_name(header.version, index))?,
            })
        })
        .collect::<Result<Vec<_>, PresetError>>()?;
    let embedded = if header.encoder.embedded {
        Some(byte_tensor_data(tensors, "encoder.onnx")?)
    } else {
        None
    };
    let mut total_samples: u64 = 0;
    for file in &header.corpus {
        let channels = u64::from(file.channels.clamp(1, MAX_CHANNELS));
        total_samples = total_samples.saturating_add(channels.saturating_mul(file.frames));
    }
    if total_samples > MAX_CORPUS_SAMPLES {
        return Err(PresetError::Invalid(format!(
            "the corpus announces {total_samples} samples, more than the limit of \
             {MAX_CORPUS_SAMPLES}"
        )));
    }
    let corpus = header
        .corpus
        .into_iter()
        .enumerate()
        .map(|(index, file)| {
            read_corpus_file(index, file, tensors).map_err(|e| match e {
                PresetError::Corrupt(reason) => {
                    PresetError::Corrupt(format!("corpus file {index}: {reason}"))
                }
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Preset {
        info: header.info,
        segmentation: header.segmentation,
        encoder: EncoderIdentity {
            name: header.encoder.name,
            sha256: header.encoder.sha256,
            layer: header.encoder.layer,
            context_seconds: header.encoder.context_seconds,
            embedded,
        },
        codebook: CodebookData {
            k: header.codebook.k,
            dim: header.codebook.dim,
            centres: le_f32s(centres.data()),
        },
        decisions,
        corpus,
        metrics: header.metrics,
        character: header.character,
    })
}

fn read_corpus_file(
    index: usize,
    file: CorpusHeader,
    tensors: &SafeTensors<'_>,
) -> Result<CorpusFile, PresetError> {
    if !(1..=MAX_CHANNELS).contains(&file.channels) {
        return Err(PresetError::Invalid(format!(
            "corpus file {index} (`{}`) has {} channels; only 1 to {MAX_CHANNELS} are supported",
            file.name, file.channels
        )));
    }
    let channels = usize::from(file.channels);
    // Bounded by MAX_CORPUS_SAMPLES, checked by the caller.
    let frames = file.frames as usize;
    let audio_name = format!("corpus.{index}.audio");
    let audio = match file.codec {
        AudioCodec::Flac { bits_per_sample } => {
            if !(8..=24).contains(&bits_per_sample) || !bits_per_sample.is_multiple_of(4) {
                return Err(PresetError::Corrupt(format!(
                    "{bits_per_sample} bits per sample cannot be stored as FLAC"
                )));
            }
            let layout = PcmLayout {
                channels,
                frames,
                bits_per_sample,
                sample_rate: file.sample_rate,
            };
            let stream = tensor(tensors, &audio_name, Dtype::U8)?;
            let samples = flac::decode(stream.data(), layout)
                .map_err(|reason| PresetError::Corrupt(format!("its FLAC audio: {reason}")))?;
            AudioData::Pcm {
                bits_per_sample,
                samples,
            }
        }
        AudioCodec::Float32 => {
            let view = tensor(tensors, &audio_name, Dtype::F32)?;
            if view.shape() != [channels, frames] {
                return Err(PresetError::Corrupt(format!(
                    "the audio tensor has shape {:?}, but the header announces [{channels}, \
                     {frames}]",
                    view.shape()
                )));
            }
            AudioData::Float(le_f32s(view.data()))
        }
    };
    let segments = tensor(tensors, &format!("corpus.{index}.segments"), Dtype::U64)?;
    let labels = tensor(tensors, &format!("corpus.{index}.labels"), Dtype::U32)?;
    let count = file.segments as usize;
    if segments.shape() != [count, 2] || labels.shape() != [count] {
        return Err(PresetError::Corrupt(format!(
            "the segment tensors have shapes {:?} and {:?}, but the header announces {count} \
             segments",
            segments.shape(),
            labels.shape()
        )));
    }
    let bounds = le_u64s(segments.data());
    let segments = bounds
        .chunks_exact(2)
        .zip(le_u32s(labels.data()))
        .map(|(span, label)| SegmentRecord {
            start: span[0],
            end: span[1],
            label,
        })
        .collect();
    Ok(CorpusFile {
        name: file.name,
        sample_rate: file.sample_rate,
        channels: file.channels,
        audio,
        segments,
    })
}

fn encode_audio(file: &CorpusFile) -> Result<(AudioCodec, OwnedTensor), String> {
    let channels = usize::from(file.channels);
    let frames = file.frames();
    match &file.audio {
        AudioData::Pcm {
            bits_per_sample,
            samples,
        } => {
            let layout = PcmLayout {
                channels,
                frames,
                bits_per_sample: *bits_per_sample,
                sample_rate: file.sample_rate,
            };
            let stream = flac::encode(samples, layout)
                .map_err(|reason| format!("FLAC encoding failed: {reason}"))?;
            Ok((
                AudioCodec::Flac {
                    bits_per_sample: *bits_per_sample,
                },
                byte_tensor(stream),
            ))
        }
        AudioData::Float(samples) => Ok((
            AudioCodec::Float32,
            OwnedTensor {
                dtype: Dtype::F32,
                shape: vec![channels, frames],
                data: f32_bytes(samples),
            },
        )),
    }
}

fn segment_tensors(segments: &[SegmentRecord]) -> (OwnedTensor, OwnedTensor) {
    let mut bounds = Vec::with_capacity(segments.len() * 16);
    let mut labels = Vec::with_capacity(segments.len() * 4);
    for segment in segments {
        bounds.extend_from_slice(&segment.start.to_le_bytes());
        bounds.extend_from_slice(&segment.end.to_le_bytes());
        labels.extend_from_slice(&segment.label.to_le_bytes());
    }
    (
        OwnedTensor {
            dtype: Dtype::U64,
            shape: vec![segments.len(), 2],
            data: bounds,
        },
        OwnedTensor {
            dtype: Dtype::U32,
            shape: vec![segments.len()],
            data: labels,
        },
    )
}

/// SHA-256 over `(name, data)` pairs, each as the name, a zero byte, the data length as a
/// little-endian u64, and the data. Pairs must come in name order.
fn content_sha256<'a>(tensors: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (name, data) in tensors {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((data.len() as u64).to_le_bytes());
        hasher.update(data);
    }
    hex(&hasher.finalize())
}

fn tensor<'a>(
    tensors: &SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
) -> Result<safetensors::tensor::TensorView<'a>, PresetError> {
    let view = tensors
        .tensor(name)
        .map_err(|e| PresetError::Corrupt(format!("the tensor `{name}`: {e}")))?;
    if view.dtype() != dtype {
        return Err(PresetError::Corrupt(format!(
            "the tensor `{name}` has type {:?}, not {dtype:?}",
            view.dtype()
        )));
    }
    Ok(view)
}

fn byte_tensor_data(tensors: &SafeTensors<'_>, name: &str) -> Result<Vec<u8>, PresetError> {
    let view = tensor(tensors, name, Dtype::U8)?;
    if view.shape().len() != 1 {
        return Err(PresetError::Corrupt(format!(
            "the tensor `{name}` has shape {:?}, not one dimension",
            view.shape()
        )));
    }
    Ok(view.data().to_vec())
}

fn byte_tensor(data: Vec<u8>) -> OwnedTensor {
    OwnedTensor {
        dtype: Dtype::U8,
        shape: vec![data.len()],
        data,
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn le_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn le_u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn le_u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
