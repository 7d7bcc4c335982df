//! `counterpart fit-codebook`: a k-means codebook fitted on exactly the vectors that are quantised
//! at run time: pooled segment vectors of a stems set, encoded the streaming way with the run-time
//! segmentation and context.

use std::collections::HashMap;
use std::path::Path;

use counterpart_core::perception::{encode_clip, FrameEncoder, OnnxEncoder, SegmentEncoderConfig};

use crate::audio_file::AudioFile;
use crate::data::stems::Manifest;
use crate::pipeline::kmeans::{fit, KMeansConfig, KMeansFit};
use crate::pipeline::PipelineError;

/// Encodes every stem of the selected pieces (all when `pieces` is `None`) and returns the pooled
/// segment vectors, vector-major, with their size.
pub fn collect_vectors<E: FrameEncoder>(
    root: &Path,
    pieces: Option<&[String]>,
    config: &SegmentEncoderConfig,
    encoder: &mut E,
) -> Result<(Vec<f32>, usize), PipelineError> {
    let manifest = Manifest::read(root)?;
    let mut vectors = Vec::new();
    for piece in manifest
        .pieces
        .iter()
        .filter(|p| pieces.is_none_or(|keep| keep.contains(&p.id)))
    {
        for stem in &piece.stems {
            let file = AudioFile::read(&root.join(&piece.id).join(&stem.file))?;
            let (segments, _) = encode_clip(
                &file.to_mono(),
                file.sample_rate,
                config,
                &mut *encoder,
                None,
            )?;
            for s in segments {
                vectors.extend_from_slice(&s.vector);
            }
        }
    }
    if vectors.is_empty() {
        return Err(PipelineError::Invalid(
            "nothing to fit: no segment in the selected pieces".into(),
        ));
    }
    Ok((vectors, encoder.hidden_size()))
}

/// Fits a codebook on the stems set at `root` with `encoder` and records how it was made in the
/// codebook's metadata.
pub fn fit_codebook(
    root: &Path,
    pieces: Option<&[String]>,
    config: &SegmentEncoderConfig,
    encoder: &mut OnnxEncoder,
    kmeans: &KMeansConfig,
) -> Result<KMeansFit, PipelineError> {
    let (vectors, dim) = collect_vectors(root, pieces, config, encoder)?;
    let mut fitted = fit(&vectors, dim, kmeans)?;
    let mut meta = HashMap::new();
    meta.insert("encoder".into(), encoder.spec().name.clone());
    meta.insert("layer".into(), encoder.layer().to_string());
    meta.insert(
        "segment_encoder_config".into(),
        serde_json::to_string(config).expect("config serialises"),
    );
    meta.insert("kmeans_seed".into(), kmeans.seed.to_string());
    meta.insert("vectors".into(), (vectors.len() / dim).to_string());
    fitted.codebook = fitted.codebook.with_metadata(meta);
    Ok(fitted)
}
