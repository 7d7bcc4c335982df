//! The user's recordings in place of a preset's corpus ("Use my recordings…"), on the loader
//! thread: read and checked (the same checks as `counterpart recorpus`), cut and labelled with
//! the preset's own encoder and codebook through the engine's re-cut, and a notice for the
//! editor on how well they cover the model's labels and which were left out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use counterpart_core::action::{
    default_name, find_recordings, with_recordings, Recording, RecordingPath,
};
use counterpart_core::engine::{recut_cached, EncoderSearch, Progress, RecutCache};
use counterpart_core::preset::{sha256_hex, Preset};

use crate::error::PluginError;
use crate::shared::{Notice, PresetDisplay};

/// Recordings lacking labels that were more than this share of the preset's own corpus, or
/// shorter than [`SHORT_RECORDINGS_S`], get a hint that more would follow the model better.
const COMMON_MISSING: f64 = 0.1;
/// See [`COMMON_MISSING`].
const SHORT_RECORDINGS_S: f64 = 60.0;

/// What a loader thread lends a labelling job.
pub struct Job<'a> {
    /// Set when the job is no longer wanted: it stops after the file it is on.
    pub cancel: &'a AtomicBool,
    /// Counts one step per recording read and one per recording labelled.
    pub progress: &'a Progress,
    /// Where labelled recordings are remembered.
    pub recuts: Option<&'a RecutCache>,
}

/// A preset made of the user's recordings.
pub struct Labelled {
    /// The preset, at its model's segment length.
    pub preset: Preset,
    /// Its identity: the model's, the paths, sizes and modification times.
    pub identity: String,
    /// The label coverage and the recordings left out.
    pub notice: Notice,
}

/// The preset made of the recordings at `paths` (files or folders) with the model of `model`
/// (whose identity and editor view are `identity` and `info`): each recording read and
/// checked, then cut and labelled with the preset's encoder and codebook at its own segment
/// length (remembered on disk, like a re-cut). Recordings that are missing or cannot be played
/// are left out and named in the notice. The inner error, when none can be played or labelling
/// them failed, is the notice that says so (the preset's own corpus then plays); the outer one
/// means the job was cancelled.
pub fn label(
    paths: &[PathBuf],
    (model, identity, info): (&Preset, &str, &PresetDisplay),
    search: &EncoderSearch,
    job: &Job<'_>,
) -> Result<Result<Labelled, String>, PluginError> {
    let cancelled = || job.cancel.load(Ordering::Relaxed);
    let (files, mut problems) = find_recordings(paths);
    let length = model.segmentation.length.clone();
    let segment_s = length.seconds();
    job.progress.plan(files.len());
    // Stored as corpus files as they are read: the decoded audio goes at once.
    let mut corpus = Vec::new();
    let mut used = Vec::new();
    for file in files {
        if cancelled() {
            return Err(PluginError::Cancelled);
        }
        match Recording::read(&file, segment_s) {
            Ok(recording) => {
                corpus.push(recording.uncut());
                used.push(file);
            }
            Err(problem) => problems.push(problem),
        }
        job.progress.step();
    }
    if corpus.is_empty() {
        return Ok(Err(format!(
            "None of your recordings can be played, so the preset's own corpus plays. {}",
            problems.join("; ")
        )));
    }
    let recorded_identity = recordings_identity(identity, &used);
    let labelled = with_recordings(model, identity, corpus, default_name(model))
        .map_err(|e| e.to_string())
        .and_then(|uncut| {
            recut_cached(
                &uncut,
                &recorded_identity,
                length,
                search,
                job.cancel,
                Some(job.progress),
                job.recuts,
            )
            .map(|(labelled, _)| labelled)
            .map_err(|e| e.to_string())
        });
    let labelled = match labelled {
        Ok(labelled) => labelled,
        Err(_) if cancelled() => return Err(PluginError::Cancelled),
        Err(e) => {
            return Ok(Err(format!(
                "Your recordings could not be labelled ({e}), so the preset's own corpus plays."
            )))
        }
    };
    Ok(Ok(Labelled {
        notice: coverage(info, &labelled, &problems),
        preset: labelled,
        identity: recorded_identity,
    }))
}

/// The identity of the preset made of `recordings` with the model of the preset `identity`: a
/// hash of both, with each file's path, size and modification time, so that a recording edited
/// since is labelled again.
fn recordings_identity(identity: &str, recordings: &[RecordingPath]) -> String {
    let mut key = format!("counterpart-recordings/1\n{identity}\n");
    for recording in recordings {
        let meta = std::fs::metadata(&recording.path).ok();
        let modified = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        key.push_str(&format!(
            "{}\t{}\t{}\t{modified}\n",
            recording.name,
            recording.path.display(),
            meta.map_or(0, |m| m.len()),
        ));
    }
    sha256_hex(key.as_bytes())
}

/// The editor's notice on the recordings that play: how many of the model's labels they cover,
/// what share of the preset's own corpus the missing ones were (each plays its nearest label
/// instead), and the recordings that were left out.
fn coverage(model: &PresetDisplay, recorded: &Preset, problems: &[String]) -> Notice {
    let k = model.label_counts.len();
    let mut counts = vec![0usize; k];
    for segment in recorded.corpus.iter().flat_map(|f| &f.segments) {
        if let Some(count) = counts.get_mut(segment.label as usize) {
            *count += 1;
        }
    }
    let total = model.label_counts.iter().sum::<usize>().max(1) as f64;
    let missing: usize = (0..k)
        .filter(|&l| counts[l] == 0)
        .map(|l| model.label_counts[l])
        .sum();
    let present = counts.iter().filter(|&&c| c > 0).count();
    let seconds: f64 = recorded.corpus.iter().map(|f| f.duration_seconds()).sum();
    let mut notice = format!(
        "{} recording{} ({:.0} s) cover {present} of the model's {k} labels",
        recorded.corpus.len(),
        if recorded.corpus.len() == 1 { "" } else { "s" },
        seconds
    );
    if present < k {
        notice.push_str(&format!(
            "; the missing ones were {:.1} % of the preset's own corpus and play their nearest \
             label",
            100.0 * missing as f64 / total
        ));
    }
    notice.push('.');
    if missing as f64 / total > COMMON_MISSING || seconds < SHORT_RECORDINGS_S {
        notice.push_str(" More or more varied recordings will follow the model better.");
    }
    if !problems.is_empty() {
        notice.push_str(&format!(" Left out: {}", problems.join("; ")));
    }
    Notice {
        text: notice,
        warning: !problems.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset_source::PresetSource;

    #[test]
    fn coverage_names_missing_labels_short_corpora_and_left_out_files() {
        let (preset, _) = PresetSource::Default.read().unwrap();
        let model = PresetDisplay::new(&preset, "default".into());
        let notice = coverage(&model, &preset, &[]);
        assert!(!notice.warning);
        assert!(
            notice
                .text
                .contains(&format!("cover {k} of the model's {k} labels", k = model.k)),
            "{}",
            notice.text
        );
        let mut one_label = preset.clone();
        one_label.corpus.truncate(1);
        let file = &mut one_label.corpus[0];
        file.segments.truncate(4);
        let label = file.segments[0].label;
        file.segments.iter_mut().for_each(|s| s.label = label);
        let notice = coverage(&model, &one_label, &["x.wav is silent".into()]);
        assert!(notice.warning);
        assert!(
            notice.text.contains("cover 1 of the model's"),
            "{}",
            notice.text
        );
        assert!(
            notice.text.contains("More or more varied"),
            "{}",
            notice.text
        );
        assert!(
            notice.text.ends_with("Left out: x.wav is silent"),
            "{}",
            notice.text
        );
    }
}
