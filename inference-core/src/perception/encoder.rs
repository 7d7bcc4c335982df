//! The frame encoder: a Wav2Vec 2.0 network run by ONNX Runtime.
//!
//! # The encoder contract
//!
//! Any Wav2Vec 2.0 export (base, large, music models such as MERT, or Counterpart's small default
//! encoder) works if it follows this contract; `models/python/export_wav2vec2.py` writes such files
//! from a Hugging Face checkpoint.
//!
//! * **Input** `audio`: float32 `[1, n]`, mono, 16 kHz, `n ≥ 400`, z-scored over the whole input
//!   (see [`super::normalize`]); the runtime does the normalisation, the graph does not.
//! * **Outputs** `layer_<i>`: float32 `[1, frames, dim]`, the hidden states after transformer layer
//!   `i` (`layer_0` is the input of the first transformer layer: the projected convolutional
//!   features plus the positional convolution, before any attention). An export may carry any
//!   subset of layers. `layer_<n+1>`, for a network of `n` transformer layers, is an optional
//!   **output head**: a fixed map of the last layer to vectors of the same size, such as the
//!   default encoder's pitch-class head (`models/python/add_pitch_head.py`).
//! * **Framing**: the convolutional feature encoder has kernels (10,3,3,3,3,2,2) and strides
//!   (5,2,2,2,2,2,2), so `frames = floor((n − 400) / 320) + 1` and frame `j` covers input samples
//!   `[320·j, 320·j + 400)`. The runtime checks the frame count on every call.
//! * **Description**: a JSON object ([`EncoderSpec`]) in a sidecar file next to the model (same
//!   name, extension `.json`: `encoder.onnx` → `encoder.json`), or else in the model's metadata
//!   under the key [`METADATA_KEY`]. It names the input, the exported layers, the default layer and
//!   the hidden size.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::error::{PerceptionError, Result};

/// Hop between encoder frames, in samples at 16 kHz.
pub const FRAME_HOP: usize = 320;
/// Samples seen by one encoder frame at 16 kHz.
pub const RECEPTIVE_FIELD: usize = 400;
/// The `format` value of encoder descriptions that this runtime reads.
pub const SPEC_FORMAT: &str = "counterpart-encoder/1";
/// The model-metadata key that may hold the encoder description.
pub const METADATA_KEY: &str = "counterpart.encoder";

/// Number of frames the encoder returns for `samples` input samples at 16 kHz.
pub fn frame_count(samples: usize) -> usize {
    if samples < RECEPTIVE_FIELD {
        0
    } else {
        (samples - RECEPTIVE_FIELD) / FRAME_HOP + 1
    }
}

/// Description of an encoder export (the sidecar JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderSpec {
    /// Always [`SPEC_FORMAT`].
    pub format: String,
    /// A human-readable name, e.g. `wav2vec2-base` or `counterpart-default`.
    pub name: String,
    /// Input sample rate; must be 16000.
    pub sample_rate: u32,
    /// Name of the audio input.
    pub input: String,
    /// Indices of the exported layers; layer `i` is the output named `layer_<i>`, and layer
    /// `num_transformer_layers + 1`, where present, is the export's output head.
    pub layers: Vec<usize>,
    /// The layer used when the user does not choose one.
    pub default_layer: usize,
    /// Size of a frame vector.
    pub hidden_size: usize,
    /// Number of transformer layers in the full network.
    pub num_transformer_layers: usize,
}

impl EncoderSpec {
    /// The output name of layer `layer`.
    pub fn output_name(layer: usize) -> String {
        format!("layer_{layer}")
    }

    /// Reads the sidecar of `model`, the file with the same name and extension `.json`.
    pub fn from_sidecar(model: &Path) -> Result<Option<Self>> {
        let path = model.with_extension("json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PerceptionError::Spec { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PerceptionError::Io { path, source }),
        }
    }

    fn check(&self, model: &Path) -> Result<()> {
        let bad = |reason: String| {
            Err(PerceptionError::Contract {
                model: model.to_path_buf(),
                reason,
            })
        };
        if self.format != SPEC_FORMAT {
            return bad(format!(
                "format is {:?}, expected {SPEC_FORMAT:?}",
                self.format
            ));
        }
        if self.sample_rate != super::resample::ENCODER_RATE {
            return bad(format!(
                "sample rate {} Hz, expected 16000 Hz",
                self.sample_rate
            ));
        }
        if self.hidden_size == 0 || self.layers.is_empty() {
            return bad("no layers or zero hidden size".into());
        }
        if let Some(&layer) = self
            .layers
            .iter()
            .find(|&&l| l > self.num_transformer_layers + 1)
        {
            return bad(format!(
                "layer {layer} is beyond the {} transformer layers and the output head",
                self.num_transformer_layers
            ));
        }
        if !self.layers.contains(&self.default_layer) {
            return bad(format!(
                "default layer {} is not among the exported layers {:?}",
                self.default_layer, self.layers
            ));
        }
        Ok(())
    }
}

/// The frame vectors of one encoder call: `count` frames of `dim` values, frame-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    data: Vec<f32>,
    count: usize,
    dim: usize,
}

impl Frames {
    /// Wraps `data` (`count · dim` values, frame-major).
    pub fn new(data: Vec<f32>, count: usize, dim: usize) -> Result<Self> {
        if data.len() != count * dim {
            return Err(PerceptionError::InvalidConfig(format!(
                "{} values cannot be {count} frames of {dim}",
                data.len()
            )));
        }
        Ok(Self { data, count, dim })
    }

    /// Number of frames.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size of a frame vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Frame `j`.
    pub fn frame(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// All values, frame-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
}

/// Something that turns normalised 16 kHz audio into frames that follow the framing of the encoder
/// contract. Runs on the worker thread (or offline).
pub trait FrameEncoder: Send {
    /// Size of a frame vector.
    fn hidden_size(&self) -> usize;
    /// Encodes `audio` (16 kHz, z-scored, at least [`RECEPTIVE_FIELD`] samples) into
    /// [`frame_count`]`(audio.len())` frames.
    fn encode(&mut self, audio: &[f32]) -> Result<Frames>;
}

fn onnx_error(model: &Path, e: &dyn std::fmt::Display) -> PerceptionError {
    PerceptionError::Onnx {
        model: model.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Options for loading an encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderOptions {
    /// The layer to read; the description's default layer when `None`.
    pub layer: Option<usize>,
    /// Threads that ONNX Runtime may use inside one call.
    pub intra_threads: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            layer: None,
            intra_threads: 1,
        }
    }
}

/// A Wav2Vec 2.0 ONNX export run by ONNX Runtime. Worker thread (each call allocates).
///
/// Cloning is cheap: clones share one session (opening one takes a while) and take turns
/// running it, so engines rebuilt from the same loaded preset need not open it again.
#[derive(Clone)]
pub struct OnnxEncoder {
    session: Arc<Mutex<Session>>,
    spec: EncoderSpec,
    layer: usize,
    output: String,
    path: PathBuf,
}

impl std::fmt::Debug for OnnxEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEncoder")
            .field("path", &self.path)
            .field("spec", &self.spec)
            .field("layer", &self.layer)
            .finish()
    }
}

impl OnnxEncoder {
    /// Loads the model at `path` with its description, through the process-wide ONNX Runtime.
    pub fn load(path: &Path, options: &EncoderOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(PerceptionError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file"),
            });
        }
        let session = Self::builder(path, options)?
            .commit_from_file(path)
            .map_err(|e| onnx_error(path, &e))?;
        let spec = EncoderSpec::from_sidecar(path)?;
        Self::from_session(session, spec, path, options)
    }

    /// Loads a model from the bytes of its ONNX file (for example an encoder embedded in a
    /// preset). Its description must be in the model's metadata under [`METADATA_KEY`]; `label`
    /// names the model in errors.
    pub fn load_from_memory(bytes: &[u8], label: &str, options: &EncoderOptions) -> Result<Self> {
        let path = Path::new(label);
        let session = Self::builder(path, options)?
            .commit_from_memory(bytes)
            .map_err(|e| onnx_error(path, &e))?;
        Self::from_session(session, None, path, options)
    }

    fn builder(
        path: &Path,
        options: &EncoderOptions,
    ) -> Result<ort::session::builder::SessionBuilder> {
        let rt = crate::onnx_runtime::environment()?;
        Session::builder(rt.env())
            .map_err(|e| onnx_error(path, &e))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| onnx_error(path, &e))?
            .with_intra_threads(options.intra_threads.max(1))
            .map_err(|e| onnx_error(path, &e))
    }

    /// Reads the description (`spec`, or else the model's metadata), checks the contract and
    /// picks the layer.
    fn from_session(
        session: Session,
        spec: Option<EncoderSpec>,
        path: &Path,
        options: &EncoderOptions,
    ) -> Result<Self> {
        let spec = match spec {
            Some(spec) => spec,
            None => {
                let meta = session.metadata().map_err(|e| onnx_error(path, &e))?;
                let json = meta
                    .custom(METADATA_KEY)
                    .ok_or_else(|| PerceptionError::Contract {
                        model: path.to_path_buf(),
                        reason: format!(
                        "no description: neither {} nor the metadata key {METADATA_KEY:?} exists",
                        path.with_extension("json").display()
                    ),
                    })?;
                serde_json::from_str(&json).map_err(|source| PerceptionError::Spec {
                    path: path.to_path_buf(),
                    source,
                })?
            }
        };
        spec.check(path)?;
        let layer = options.layer.unwrap_or(spec.default_layer);
        let output = EncoderSpec::output_name(layer);
        let contract = |reason: String| PerceptionError::Contract {
            model: path.to_path_buf(),
            reason,
        };
        if !spec.layers.contains(&layer) {
            return Err(contract(format!(
                "layer {layer} was not exported; available layers: {:?}",
                spec.layers
            )));
        }
        if !session.inputs().iter().any(|i| i.name() == spec.input) {
            return Err(contract(format!(
                "the model has no input named {:?}",
                spec.input
            )));
        }
        if !session.outputs().iter().any(|o| o.name() == output) {
            return Err(contract(format!(
                "the model has no output named {output:?}"
            )));
        }
        Ok(Self {
            session: Arc::new(Mutex::new(session)),
            spec,
            layer,
            output,
            path: path.to_path_buf(),
        })
    }

    /// The model's description.
    pub fn spec(&self) -> &EncoderSpec {
        &self.spec
    }

    /// The layer being read.
    pub fn layer(&self) -> usize {
        self.layer
    }
}

impl FrameEncoder for OnnxEncoder {
    fn hidden_size(&self) -> usize {
        self.spec.hidden_size
    }

    fn encode(&mut self, audio: &[f32]) -> Result<Frames> {
        let expected = frame_count(audio.len());
        if expected == 0 {
            return Err(PerceptionError::InvalidConfig(format!(
                "the encoder needs at least {RECEPTIVE_FIELD} samples, got {}",
                audio.len()
            )));
        }
        let path = &self.path;
        let onnx = |e: &dyn std::fmt::Display| PerceptionError::Onnx {
            model: path.clone(),
            reason: e.to_string(),
        };
        let input =
            TensorRef::from_array_view(([1usize, audio.len()], audio)).map_err(|e| onnx(&e))?;
        // A clone that panicked while running leaves a session that is still usable.
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = session
            .run(ort::inputs![self.spec.input.as_str() => input])
            .map_err(|e| onnx(&e))?;
        let (shape, data) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| onnx(&e))?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        if dims != [1, expected as i64, self.spec.hidden_size as i64] {
            return Err(PerceptionError::Contract {
                model: path.clone(),
                reason: format!(
                    "output {} has shape {dims:?} for {} samples, expected [1, {expected}, {}]",
                    self.output,
                    audio.len(),
                    self.spec.hidden_size
                ),
            });
        }
        Frames::new(data.to_vec(), expected, self.spec.hidden_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_follows_the_wav2vec2_formula() {
        assert_eq!(frame_count(399), 0);
        assert_eq!(frame_count(400), 1);
        assert_eq!(frame_count(719), 1);
        assert_eq!(frame_count(720), 2);
        // 15 s at 16 kHz: 749 frames, as in the paper's pipeline.
        assert_eq!(frame_count(240_000), 749);
    }

    fn spec(layers: Vec<usize>, default_layer: usize) -> EncoderSpec {
        EncoderSpec {
            format: SPEC_FORMAT.into(),
            name: "test".into(),
            sample_rate: 16_000,
            input: "audio".into(),
            layers,
            default_layer,
            hidden_size: 128,
            num_transformer_layers: 4,
        }
    }

    #[test]
    fn the_spec_accepts_an_output_head_and_refuses_layers_beyond_it() {
        let model = Path::new("encoder.onnx");
        assert!(spec(vec![0, 4], 4).check(model).is_ok());
        assert!(spec(vec![4, 5], 5).check(model).is_ok());
        let err = spec(vec![4, 6], 4).check(model).unwrap_err().to_string();
        assert!(err.contains("layer 6 is beyond"), "{err}");
        assert!(spec(vec![4, 5], 3).check(model).is_err());
    }
}
