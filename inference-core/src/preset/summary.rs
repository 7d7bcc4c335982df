//! A human-readable overview of a preset, for `counterpart inspect` and the plugin's GUI.

use std::fmt;

use super::data::{Preset, SegmentationSettings};
use super::safetensors_guard::parse_safetensors;

/// What a preset holds, in numbers: see [`Preset::summary`]. Its `Display` prints one fact per
/// line.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetSummary {
    /// The preset's name.
    pub name: String,
    /// Its author.
    pub author: String,
    /// Its licence.
    pub licence: String,
    /// When it was made.
    pub created: String,
    /// Its description.
    pub description: String,
    /// The alphabet size K.
    pub k: usize,
    /// The codebook dimension.
    pub codebook_dim: usize,
    /// The segmentation settings.
    pub segmentation: SegmentationSettings,
    /// The encoder's name.
    pub encoder_name: String,
    /// SHA-256 of the encoder's ONNX file.
    pub encoder_sha256: String,
    /// The encoder layer used.
    pub encoder_layer: u32,
    /// Size of the embedded encoder in bytes, if embedded.
    pub encoder_embedded_bytes: Option<usize>,
    /// Number of values in the preferred (first) decision model's weights.
    pub decision_parameters: u64,
    /// Size of all decision models' weights blobs in bytes.
    pub decision_bytes: usize,
    /// Look-ahead of each decision model, in stored order (`None` where the config names none).
    pub decision_lookaheads: Vec<Option<usize>>,
    /// Number of corpus recordings.
    pub corpus_files: usize,
    /// Total corpus duration in seconds.
    pub corpus_seconds: f64,
    /// Total number of segments.
    pub segments: usize,
    /// How many segments carry each label, indexed by label (K entries).
    pub label_counts: Vec<usize>,
    /// The top-level metrics, as `(name, value)` in the order the JSON object keeps them.
    pub metrics: Vec<(String, String)>,
}

impl PresetSummary {
    /// Number of distinct labels the corpus uses.
    pub fn labels_used(&self) -> usize {
        self.label_counts.iter().filter(|&&count| count > 0).count()
    }
}

impl Preset {
    /// Summarises the preset: identity, settings, model size, corpus and label usage, metrics.
    pub fn summary(&self) -> PresetSummary {
        let mut label_counts = vec![0; self.k()];
        for segment in self.corpus.iter().flat_map(|file| &file.segments) {
            if let Some(count) = label_counts.get_mut(segment.label as usize) {
                *count += 1;
            }
        }
        let decision_parameters = self
            .decisions
            .first()
            .and_then(|d| parse_safetensors(&d.weights).ok())
            .map(|weights| {
                weights
                    .iter()
                    .map(|(_, view)| view.shape().iter().map(|&d| d as u64).product::<u64>())
                    .sum()
            })
            .unwrap_or(0);
        let metrics = self
            .metrics
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        PresetSummary {
            name: self.info.name.clone(),
            author: self.info.author.clone(),
            licence: self.info.licence.clone(),
            created: self.info.created.clone(),
            description: self.info.description.clone(),
            k: self.k(),
            codebook_dim: self.codebook.dim,
            segmentation: self.segmentation.clone(),
            encoder_name: self.encoder.name.clone(),
            encoder_sha256: self.encoder.sha256.clone(),
            encoder_layer: self.encoder.layer,
            encoder_embedded_bytes: self.encoder.embedded.as_ref().map(Vec::len),
            decision_parameters,
            decision_bytes: self.decisions.iter().map(|d| d.weights.len()).sum(),
            decision_lookaheads: self.decisions.iter().map(|d| d.lookahead()).collect(),
            corpus_files: self.corpus.len(),
            corpus_seconds: self.corpus.iter().map(|f| f.duration_seconds()).sum(),
            segments: self.corpus.iter().map(|f| f.segments.len()).sum(),
            label_counts,
            metrics,
        }
    }
}

impl fmt::Display for PresetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "name:         {}", self.name)?;
        writeln!(f, "author:       {}", self.author)?;
        writeln!(f, "licence:      {}", self.licence)?;
        writeln!(f, "created:      {}", self.created)?;
        if !self.description.is_empty() {
            writeln!(f, "description:  {}", self.description)?;
        }
        let settings = &self.segmentation;
        write!(f, "segmentation: {}", settings.length)?;
        if let Some(snap) = settings.onset_snap_seconds {
            write!(f, ", onsets snapped within {snap} s")?;
        }
        writeln!(f, ", analysed at {} Hz", settings.analysis_sample_rate)?;
        writeln!(
            f,
            "codebook:     K = {}, {} dimensions",
            self.k, self.codebook_dim
        )?;
        write!(
            f,
            "encoder:      {} (layer {}, SHA-256 {})",
            self.encoder_name, self.encoder_layer, self.encoder_sha256
        )?;
        match self.encoder_embedded_bytes {
            Some(bytes) => writeln!(f, ", embedded ({})", Bytes(bytes))?,
            None => writeln!(f, ", not embedded")?,
        }
        let lookaheads: Vec<String> = self
            .decision_lookaheads
            .iter()
            .map(|l| l.map_or_else(|| "?".into(), |l| l.to_string()))
            .collect();
        writeln!(
            f,
            "decision:     {} model(s), look-ahead {} (the first is the default), {} parameters \
             in the first, {} in all",
            self.decision_lookaheads.len(),
            lookaheads.join(", "),
            self.decision_parameters,
            Bytes(self.decision_bytes)
        )?;
        writeln!(
            f,
            "corpus:       {} file(s), {:.1} s, {} segments",
            self.corpus_files, self.corpus_seconds, self.segments
        )?;
        write!(f, "labels:       {} of {} used", self.labels_used(), self.k)?;
        let busiest = self
            .label_counts
            .iter()
            .enumerate()
            .max_by_key(|&(label, &count)| (count, std::cmp::Reverse(label)));
        match busiest {
            Some((label, &count)) if self.segments > 0 => writeln!(
                f,
                "; label {label} is the most frequent ({:.1}% of segments)",
                100.0 * count as f64 / self.segments as f64
            )?,
            _ => writeln!(f)?,
        }
        for (name, value) in &self.metrics {
            writeln!(f, "metric:       {name} = {value}")?;
        }
        Ok(())
    }
}

/// A byte count printed with a binary unit.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0 as f64;
        if bytes >= f64::from(1 << 20) {
            write!(f, "{:.1} MiB", bytes / f64::from(1 << 20))
        } else if bytes >= 1024.0 {
            write!(f, "{:.1} KiB", bytes / 1024.0)
        } else {
            write!(f, "{} B", self.0)
        }
    }
}
