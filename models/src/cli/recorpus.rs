//! `counterpart recorpus`: a preset's trained model with your own recordings as the corpus. The
//! segmentation, encoder, codebook and decision models are kept; the recordings are cut,
//! encoded and labelled exactly as `build-preset --corpus` does (the preset's encoder and
//! codebook, streaming), after a health check, and a label coverage report says what the model
//! will find in them.

use std::path::PathBuf;
use std::time::Instant;

use counterpart_core::action::{
    default_name, find_recordings, with_recordings, LabelDistances, Recording, RecordingPath,
};
use counterpart_core::preset::{CorpusFile, Preset};
use counterpart_models::pipeline::corpus::corpus_from_files;
use counterpart_models::pipeline::encode::EncodingSettings;
use counterpart_models::pipeline::preset_runtime::{preset_encoding, preset_runtime};

use super::encoding::DEFAULT_ENCODER;

/// Labels that were at least this share of the preset's corpus and are missing get a warning.
const COMMON_LABEL: f64 = 0.05;
/// Fewer seconds of recordings than this get a warning.
const SHORT_CORPUS_S: f64 = 60.0;

/// Arguments of `counterpart recorpus`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecorpusArgs {
    /// The preset whose segmentation, encoder, codebook and decision models are kept.
    #[arg(long)]
    preset: PathBuf,
    /// Audio files or folders (searched recursively): WAV, FLAC, Ogg or MP3, any rate, mono or
    /// stereo.
    #[arg(long, required = true, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// Where to write the new preset.
    #[arg(short, long)]
    out: PathBuf,
    /// The new preset's name (default: the source's, "with my recordings").
    #[arg(long)]
    name: Option<String>,
    /// The new preset's author (default: the source's).
    #[arg(long)]
    author: Option<String>,
    /// The new preset's licence (default: the source's).
    #[arg(long)]
    licence: Option<String>,
    /// The encoder file (must match the preset's hash).
    #[arg(long, default_value = DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// Encoding threads (0: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// Builds the new preset, prints the coverage report and writes it.
pub fn run(args: &RecorpusArgs) -> Result<(), String> {
    let started = Instant::now();
    let bytes = std::fs::read(&args.preset)
        .map_err(|e| format!("cannot read {}: {e}", args.preset.display()))?;
    let source = Preset::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let identity = Preset::identity(&bytes).map_err(|e| e.to_string())?;
    let segment_s = source.segmentation.length.seconds();
    let (files, recordings) = check_recordings(&args.corpus, segment_s)?;
    let (codebook, _, source_counts) = preset_runtime(&source, None).map_err(|e| e.to_string())?;
    let encoding = EncodingSettings {
        show_progress: true,
        ..preset_encoding(
            &source,
            &args.encoder,
            args.threads,
            EncodingSettings::default_cache(),
        )
        .map_err(|e| e.to_string())?
    };
    let corpus = corpus_from_files(&files, &codebook, &encoding).map_err(|e| e.to_string())?;
    let preset = recorpused(&source, &identity, corpus, args)?;
    print!("{}", coverage(&source, &source_counts, &preset));
    preset.save(&args.out).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} recording(s), {:.1} s, {} segments, in {:.1} s",
        args.out.display(),
        preset.corpus.len(),
        recordings.iter().map(Recording::seconds).sum::<f64>(),
        preset
            .corpus
            .iter()
            .map(|f| f.segments.len())
            .sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The recordings under `paths` (files as given, folders searched), each readable, not silent
/// and at least two segments long; the first that is not stops the command with the reason.
fn check_recordings(
    paths: &[PathBuf],
    segment_s: f64,
) -> Result<(Vec<RecordingPath>, Vec<Recording>), String> {
    let (files, problems) = find_recordings(paths);
    if let Some(problem) = problems.into_iter().next() {
        return Err(problem);
    }
    let recordings = files
        .iter()
        .map(|file| Recording::read(file, segment_s))
        .collect::<Result<_, _>>()?;
    Ok((files, recordings))
}

/// `source` with `corpus` as its corpus, the name, author and licence asked for, and where it
/// all came from.
fn recorpused(
    source: &Preset,
    source_identity: &str,
    corpus: Vec<CorpusFile>,
    args: &RecorpusArgs,
) -> Result<Preset, String> {
    let name = args.name.clone().unwrap_or_else(|| default_name(source));
    let mut preset =
        with_recordings(source, source_identity, corpus, name).map_err(|e| e.to_string())?;
    if let Some(author) = &args.author {
        preset.info.author = author.clone();
    }
    if let Some(licence) = &args.licence {
        preset.info.licence = licence.clone();
    }
    Ok(preset)
}

/// The label coverage report: which labels the new corpus has, which it lacks, how much of the
/// source preset's corpus (its training targets' labels) those were, and what the navigator
/// plays for them (the nearest present label, its default).
fn coverage(source: &Preset, source_counts: &[u32], preset: &Preset) -> String {
    let k = preset.k();
    let mut counts = vec![0usize; k];
    for segment in preset.corpus.iter().flat_map(|f| &f.segments) {
        counts[segment.label as usize] += 1;
    }
    let source_total = source_counts
        .iter()
        .map(|&c| c as f64)
        .sum::<f64>()
        .max(1.0);
    let share = |label: usize| f64::from(source_counts[label]) / source_total;
    let distances =
        LabelDistances::from_centres(&source.codebook.centres, source.codebook.dim).ok();
    let mut out =
        String::from("label coverage (label: segments here, share of the preset's corpus)\n");
    let present: Vec<String> = (0..k)
        .filter(|&l| counts[l] > 0)
        .map(|l| format!("{l}: {} ({:.1} %)", counts[l], 100.0 * share(l)))
        .collect();
    out.push_str(&format!(
        "  present {}/{k}: {}\n",
        present.len(),
        present.join(", ")
    ));
    let missing: Vec<usize> = (0..k).filter(|&l| counts[l] == 0).collect();
    if missing.is_empty() {
        out.push_str("  missing: none\n");
    }
    let mut missing_share = 0.0;
    for &label in &missing {
        missing_share += share(label);
        let nearest = distances.as_ref().and_then(|d| {
            d.nearest(label as u32, |l| {
                counts.get(l as usize).is_some_and(|&c| c > 0)
            })
        });
        out.push_str(&format!(
            "  missing {label} ({:.1} % of the preset's corpus): plays {}\n",
            100.0 * share(label),
            nearest.map_or_else(
                || "silence".into(),
                |n| format!("label {n} instead (nearest)")
            ),
        ));
    }
    let seconds: f64 = preset.corpus.iter().map(CorpusFile::duration_seconds).sum();
    let common_missing: Vec<String> = missing
        .iter()
        .filter(|&&l| share(l) >= COMMON_LABEL)
        .map(|l| l.to_string())
        .collect();
    if !common_missing.is_empty() || seconds < SHORT_CORPUS_S {
        out.push_str(&format!(
            "warning: {:.0} s of recordings lack {:.1} % of what the model asks for (common \
             labels missing: {}); more or more varied recordings will follow it better\n",
            seconds,
            100.0 * missing_share,
            if common_missing.is_empty() {
                "none".into()
            } else {
                common_missing.join(", ")
            }
        ));
    }
    out
}
