//! What the host tests share: the repository, the demo guide, and `counterpart render` with the
//! plugin's own default settings and seed, the reference a bounce must equal.

// Each test binary uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use counterpart::CounterpartParams;
use counterpart_core::engine::{EngineConfig, Margin};
use counterpart_models::audio_file::AudioFile;
use counterpart_models::render::{render, RenderOptions, RenderReport, SampleFormat};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The demo guide, mono, looped to at least `seconds`, and its sample rate.
pub fn demo_guide(seconds: f64) -> (Vec<f32>, u32) {
    let file = AudioFile::read(&repo().join("demo/guide.flac")).expect("demo/guide.flac");
    let once = file.to_mono();
    let frames = (seconds * f64::from(file.sample_rate)) as usize;
    let looped = once
        .iter()
        .copied()
        .cycle()
        .take(frames.max(once.len()))
        .collect();
    (looped, file.sample_rate)
}

/// Renders `guide` to `out` with the default preset and the plugin's default settings and
/// seed, in blocks of `block_size` (with the margin the plugin fits to a host whose largest
/// block is that), at `lookahead` (the plugin's default when `None`); also writes the played
/// segments to `segments_out` when given. Returns the report and the file.
pub fn render_as_the_plugin(
    guide: &Path,
    out: &Path,
    lookahead: Option<usize>,
    block_size: usize,
    segments_out: Option<PathBuf>,
) -> (RenderReport, AudioFile) {
    let params = CounterpartParams::default();
    let report = render(&RenderOptions {
        preset: repo().join("models/presets/default.cpreset"),
        guide: guide.to_owned(),
        out: out.to_owned(),
        mix: None,
        segments_out,
        // The plugin's stream as it comes out: the host moves it.
        compensate_latency: false,
        config: EngineConfig {
            lookahead: Some(lookahead.unwrap_or(params.lookahead.value().segments())),
            settings: params.engine_settings(),
            seed: params.seed.value() as u64,
            worker_margin: Margin::Host {
                max_block: block_size,
            },
            ..EngineConfig::default()
        },
        block_size,
        sample_rate: None,
        format: SampleFormat::Float32,
        encoder_dirs: Vec::new(),
    })
    .expect("counterpart render");
    (report, AudioFile::read(out).expect("the rendered file"))
}
