//! Re-cutting a preset's corpus at another segment length, for the plugin's segment-length
//! control.
//!
//! The new segments are labelled exactly as a live guide is: the preset's own encoder, with
//! the same past context, streaming through the file ([`encode_clip`]), then the preset's
//! codebook. The decision model is kept as it is: it was trained on tokens of the preset's own
//! length, so other lengths change the music it makes, which is the point of the control.
//! Worker thread: encodes the whole corpus (about 1/100 of its duration with the default
//! encoder), checking between corpus files whether the caller has cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::loaded_preset::{open_encoder, segmentation_config};
use super::{EncoderSearch, EngineError, Progress, RecutCache};
use crate::perception::{encode_clip, Codebook, SegmentEncoderConfig};
use crate::preset::{CorpusFile, Preset, SegmentLengthRecord, SegmentRecord};

/// A copy of `preset` whose corpus is cut into segments of `length` and labelled with the
/// preset's encoder and codebook. Audio outside the preset's own segments (gaps it left out)
/// stays out. Setting `cancel` makes it return [`EngineError::Cancelled`] after the corpus file it
/// is encoding (a second or so), so that a plugin being deactivated need not wait for the rest.
/// `progress` plans one step per corpus file and counts them as they are done.
pub fn recut(
    preset: &Preset,
    length: SegmentLengthRecord,
    search: &EncoderSearch,
    cancel: &AtomicBool,
    progress: Option<&Progress>,
) -> Result<Preset, EngineError> {
    preset.validate()?;
    let mut out = preset.clone();
    out.segmentation.length = length.clone();
    let segmentation = segmentation_config(&out.segmentation);
    segmentation.length.seconds()?;
    let config = SegmentEncoderConfig {
        segmentation,
        context_s: preset.encoder.context_seconds,
        reaction_s: 0.0,
    };
    let codebook = Arc::new(Codebook::new(
        preset.k(),
        preset.codebook.dim,
        preset.codebook.centres.clone(),
    )?);
    let mut encoder = open_encoder(preset, search)?;
    if let Some(progress) = progress {
        progress.plan(out.corpus.len());
    }
    for file in &mut out.corpus {
        if cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        file.segments = recut_file(file, &config, &mut encoder, &codebook)?;
        if let Some(progress) = progress {
            progress.step();
        }
    }
    out.corpus.retain(|file| !file.segments.is_empty());
    if out.corpus.is_empty() {
        return Err(EngineError::Mismatch(format!(
            "no corpus recording is long enough for segments of {length}"
        )));
    }
    out.validate()?;
    Ok(out)
}

/// [`recut`], remembered in `cache` under the preset's [identity](Preset::identity): a
/// re-cut stored there is read back instead of encoded again. Returns the re-cut and whether
/// it came from the cache. A cache that cannot be written is reported in the log, and the
/// re-cut is returned all the same.
pub fn recut_cached(
    preset: &Preset,
    identity: &str,
    length: SegmentLengthRecord,
    search: &EncoderSearch,
    cancel: &AtomicBool,
    progress: Option<&Progress>,
    cache: Option<&RecutCache>,
) -> Result<(Preset, bool), EngineError> {
    if let Some(recut) = cache.and_then(|c| c.get(identity, preset, &length)) {
        return Ok((recut, true));
    }
    let recut = recut(preset, length, search, cancel, progress)?;
    if let Some(cache) = cache {
        if let Err(error) = cache.put(identity, &recut) {
            tracing::warn!(
                "cannot remember the re-cut corpus in {}: {error}",
                cache.dir().display()
            );
        }
    }
    Ok((recut, false))
}

/// The new segments of one corpus file, inside the runs its old segments covered.
fn recut_file(
    file: &CorpusFile,
    config: &SegmentEncoderConfig,
    encoder: &mut crate::perception::OnnxEncoder,
    codebook: &Arc<Codebook>,
) -> Result<Vec<SegmentRecord>, EngineError> {
    if file.segments.is_empty() {
        return Ok(Vec::new());
    }
    let runs = runs(&file.segments);
    let channels = file.channels_f32();
    let frames = channels.first().map_or(0, Vec::len);
    let scale = 1.0 / channels.len().max(1) as f32;
    let mono: Vec<f32> = (0..frames)
        .map(|i| channels.iter().map(|c| c[i]).sum::<f32>() * scale)
        .collect();
    let (encoded, _) = encode_clip(
        &mono,
        file.sample_rate,
        config,
        encoder,
        Some(Arc::clone(codebook)),
    )?;
    Ok(encoded
        .iter()
        .filter_map(|segment| {
            let (start, end) = (segment.segment.start, segment.segment.end);
            let inside = runs.iter().any(|&(lo, hi)| start >= lo && end <= hi);
            Some(SegmentRecord {
                start,
                end,
                label: segment.token?,
            })
            .filter(|_| inside)
        })
        .collect())
}

/// The contiguous runs `[start, end)` that `segments` (in order) cover.
fn runs(segments: &[SegmentRecord]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for segment in segments {
        match runs.last_mut() {
            Some(run) if run.1 == segment.start => run.1 = segment.end,
            _ => runs.push((segment.start, segment.end)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(start: u64, end: u64) -> SegmentRecord {
        SegmentRecord {
            start,
            end,
            label: 0,
        }
    }

    #[test]
    fn runs_merge_contiguous_segments() {
        let segments = [
            record(0, 10),
            record(10, 20),
            record(30, 40),
            record(40, 45),
        ];
        assert_eq!(runs(&segments), vec![(0, 20), (30, 45)]);
        assert!(runs(&[]).is_empty());
    }
}
