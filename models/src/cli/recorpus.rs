//! `counterpart recorpus`: a preset's trained model with your own recordings as the corpus. The
//! segmentation, encoder, codebook and decision models are kept; the recordings are cut,
//! encoded and labelled exactly as `build-preset --corpus` does (the preset's encoder and
//! codebook, streaming), after a health check, and a label coverage report says what the model
//! will find in them.

use std::path::PathBuf;
use std::time::Instant;

use counterpart_core::action::LabelDistances;
use counterpart_core::preset::{sha256_hex, CorpusFile, Preset};
use counterpart_models::audio_file::AudioFile;
use counterpart_models::build_preset::{
    audio_files_under, corpus_from_files, preset_encoding, preset_runtime,
};
use counterpart_models::tokenise::EncodingSettings;

/// A recording quieter than this at its loudest (dBFS) is refused as silent.
const SILENT_DBFS: f64 = -60.0;
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
    #[arg(long, default_value = crate::DEFAULT_ENCODER)]
    encoder: PathBuf,
    /// Encoding threads (0: one per core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// One recording to use, checked.
struct Recording {
    path: PathBuf,
    name: String,
    seconds: f64,
}

/// Builds the new preset, prints the coverage report and writes it.
pub fn run(args: &RecorpusArgs) -> Result<(), String> {
    let started = Instant::now();
    let bytes = std::fs::read(&args.preset)
        .map_err(|e| format!("cannot read {}: {e}", args.preset.display()))?;
    let source = Preset::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let segment_s = source.segmentation.length.seconds();
    let recordings = check_recordings(&args.corpus, segment_s)?;
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
    let files: Vec<(PathBuf, String)> = recordings
        .iter()
        .map(|r| (r.path.clone(), r.name.clone()))
        .collect();
    let corpus = corpus_from_files(&files, &codebook, &encoding).map_err(|e| e.to_string())?;
    let preset = recorpused(&source, &sha256_hex(&bytes), corpus, &recordings, args)?;
    print!("{}", coverage(&source, &source_counts, &preset));
    preset.save(&args.out).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} recording(s), {:.1} s, {} segments, in {:.1} s",
        args.out.display(),
        preset.corpus.len(),
        recordings.iter().map(|r| r.seconds).sum::<f64>(),
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
/// and at least a segment long; the first that is not stops the command with the reason.
fn check_recordings(paths: &[PathBuf], segment_s: f64) -> Result<Vec<Recording>, String> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            found.extend(audio_files_under(path).map_err(|e| e.to_string())?);
        } else if path.is_file() {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            found.push((path.clone(), name));
        } else {
            return Err(format!("{} does not exist", path.display()));
        }
    }
    found
        .into_iter()
        .map(|(path, name)| {
            let audio = AudioFile::read(&path).map_err(|e| {
                format!(
                    "{} cannot be used: {e}. Convert it to WAV or FLAC, or leave it out.",
                    path.display()
                )
            })?;
            let seconds = audio.frames() as f64 / f64::from(audio.sample_rate.max(1));
            let peak = audio
                .samples
                .iter()
                .filter(|x| x.is_finite())
                .fold(0.0f32, |m, x| m.max(x.abs()));
            let peak_db = 20.0 * f64::from(peak).max(1e-12).log10();
            if peak_db < SILENT_DBFS {
                return Err(format!(
                    "{} is silent (peak {peak_db:.0} dBFS): nothing in it could be played",
                    path.display()
                ));
            }
            if seconds < 2.0 * segment_s {
                return Err(format!(
                    "{} lasts {seconds:.2} s, shorter than two of the preset's {segment_s} s \
                     segments",
                    path.display()
                ));
            }
            Ok(Recording {
                path,
                name,
                seconds,
            })
        })
        .collect()
}

/// `source` with `corpus` as its corpus, the new identity, and where it all came from.
fn recorpused(
    source: &Preset,
    source_sha256: &str,
    corpus: Vec<CorpusFile>,
    recordings: &[Recording],
    args: &RecorpusArgs,
) -> Result<Preset, String> {
    let mut preset = source.clone();
    preset.corpus = corpus;
    preset.info.name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}, with my recordings", source.info.name));
    if let Some(author) = &args.author {
        preset.info.author = author.clone();
    }
    if let Some(licence) = &args.licence {
        preset.info.licence = licence.clone();
    }
    let files: Vec<serde_json::Value> = recordings
        .iter()
        .map(|r| serde_json::json!({"path": r.name, "seconds": (r.seconds * 1e3).round() / 1e3}))
        .collect();
    if let Some(metrics) = preset.metrics.as_object_mut() {
        metrics.insert(
            "recorpus".into(),
            serde_json::json!({
                "model_from": {"name": source.info.name, "sha256": source_sha256},
                "files": files,
            }),
        );
    }
    preset.validate().map_err(|e| e.to_string())?;
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

/// Where the recordings given as `paths` are: for tests of the naming rule.
#[cfg(test)]
fn names(paths: &[PathBuf]) -> Vec<String> {
    check_recordings(paths, 0.0)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_name_files_by_relative_path_and_files_by_name() {
        let dir = std::env::temp_dir().join(format!("cp-recorpus-names-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("takes")).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        for name in ["takes/a.wav", "b.wav"] {
            let mut w = hound::WavWriter::create(dir.join(name), spec).unwrap();
            for i in 0..8000 {
                w.write_sample(((i as f32 * 0.05).sin() * 10_000.0) as i16)
                    .unwrap();
            }
            w.finalize().unwrap();
        }
        assert_eq!(names(std::slice::from_ref(&dir)), ["b.wav", "takes/a.wav"]);
        assert_eq!(names(&[dir.join("takes/a.wav")]), ["a.wav"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
