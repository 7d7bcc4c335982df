//! The encoding settings several subcommands share: the committed default encoder, the segment
//! encoder's configuration from a segment length and a context, and the encoding resources
//! (threads, the segment-vector cache).

use std::path::PathBuf;

use counterpart_core::perception::{SegmentEncoderConfig, SegmentLength, SegmentationConfig};
use counterpart_models::pipeline::encode::EncodingSettings;

/// The committed default encoder (in this source tree).
pub const DEFAULT_ENCODER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/encoders/counterpart-default.onnx"
);

/// Encoding resources.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Encoding threads (0: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Folder of the segment-vector cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Do not cache segment vectors.
    #[arg(long)]
    no_cache: bool,
}

impl RunArgs {
    /// The segment-vector cache folder: `--cache`, else the default one; none with
    /// `--no-cache`.
    pub fn cache(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            self.cache.clone().or_else(EncodingSettings::default_cache)
        }
    }
}

/// The segment encoder's configuration for segments of `segment` seconds with `context` seconds
/// of past context: fixed-length segments, no onset snapping, no reaction window.
pub fn segment_config(segment: f64, context: f64) -> SegmentEncoderConfig {
    SegmentEncoderConfig {
        segmentation: SegmentationConfig {
            length: SegmentLength::Seconds(segment),
            onset_snap: None,
        },
        context_s: context,
        reaction_s: 0.0,
    }
}
