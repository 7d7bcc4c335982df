//! A corpus made of the user's own recordings, for a preset's trained model: finding the audio
//! files, checking that each can be played, storing them as corpus files, and recording where
//! they came from. `counterpart recorpus` and the plugin's "Use my recordings…" both go through
//! here; the segments are then labelled with the preset's own encoder and codebook.
//! Worker threads (file I/O, decoding).

use std::path::{Path, PathBuf};

use crate::audio_file::{has_audio_extension, AudioFile};
use crate::preset::{AudioData, CorpusFile, Preset, PresetError, SegmentRecord};

/// A recording quieter than this at its loudest (dBFS) is refused as silent.
pub const SILENT_DBFS: f64 = -60.0;

/// An audio file the user named, directly or inside a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPath {
    /// The file.
    pub path: PathBuf,
    /// The name it goes by in a preset: its path relative to the folder given, or its file name
    /// for a file given directly. Never an absolute path.
    pub name: String,
}

/// Every audio file that `paths` name: files as given, folders searched recursively (each
/// folder's files sorted). A path that does not exist, a folder that cannot be read or holds no
/// audio file is left out and explained in the second list, one sentence each.
pub fn find_recordings(paths: &[PathBuf]) -> (Vec<RecordingPath>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            match audio_files_under(path) {
                Ok(files) if files.is_empty() => {
                    problems.push(format!("{} holds no audio file", path.display()))
                }
                Ok(files) => found.extend(files),
                Err(e) => problems.push(format!("cannot read the folder {}: {e}", path.display())),
            }
        } else if path.is_file() {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            found.push(RecordingPath {
                path: path.clone(),
                name,
            });
        } else {
            problems.push(format!("{} does not exist", path.display()));
        }
    }
    (found, problems)
}

/// The audio files under `dir`, recursively and sorted, named by their path relative to `dir`.
fn audio_files_under(dir: &Path) -> std::io::Result<Vec<RecordingPath>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if has_audio_extension(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            RecordingPath { path, name }
        })
        .collect())
}

/// A recording, read and checked.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The name it goes by in a preset ([`RecordingPath::name`]).
    pub name: String,
    /// Its audio.
    pub audio: AudioFile,
}

impl Recording {
    /// Reads `source` and checks that it can be played as a corpus with segments of
    /// `segment_s` seconds: decodable, not silent, at least two segments long. The error names
    /// the file, says what is wrong and what to do.
    pub fn read(source: &RecordingPath, segment_s: f64) -> Result<Self, String> {
        let path = source.path.display();
        let audio = AudioFile::read(&source.path).map_err(|e| {
            format!("{path} cannot be used: {e}. Convert it to WAV or FLAC, or leave it out.")
        })?;
        if let Err(e) = crate::perception::resample::check_rate(audio.sample_rate) {
            return Err(format!(
                "{path} cannot be used: {e}. Convert it to 44.1 or 48 kHz, or leave it out."
            ));
        }
        let recording = Self {
            name: source.name.clone(),
            audio,
        };
        let peak = recording
            .audio
            .samples
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0f32, |m, x| m.max(x.abs()));
        let peak_db = 20.0 * f64::from(peak).max(1e-12).log10();
        if peak_db < SILENT_DBFS {
            return Err(format!(
                "{path} is silent (peak {peak_db:.0} dBFS): nothing in it could be played"
            ));
        }
        let seconds = recording.seconds();
        if seconds < 2.0 * segment_s {
            return Err(format!(
                "{path} lasts {seconds:.2} s, shorter than two of the preset's {segment_s} s \
                 segments"
            ));
        }
        Ok(recording)
    }

    /// Its duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.audio.frames() as f64 / f64::from(self.audio.sample_rate.max(1))
    }

    /// The recording as a corpus file with `segments` (in source frames; those past its end are
    /// dropped): 16-bit PCM at its own rate, stereo or mono as recorded (more channels are mixed
    /// to mono).
    pub fn corpus_file(&self, segments: impl IntoIterator<Item = SegmentRecord>) -> CorpusFile {
        let audio = &self.audio;
        let (channels, interleaved) = if audio.channels <= 2 {
            (audio.channels, audio.samples.clone())
        } else {
            (1, audio.to_mono())
        };
        let frames = interleaved.len() / channels;
        let to_i16 = |x: f32| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i32;
        let mut samples = Vec::with_capacity(frames * channels);
        for c in 0..channels {
            samples.extend((0..frames).map(|f| to_i16(interleaved[f * channels + c])));
        }
        CorpusFile {
            name: self.name.clone(),
            sample_rate: audio.sample_rate,
            channels: channels as u16,
            audio: AudioData::Pcm {
                bits_per_sample: 16,
                samples,
            },
            segments: segments
                .into_iter()
                .filter(|s| s.end as usize <= frames)
                .collect(),
        }
    }

    /// The recording as a corpus file with one segment spanning it, to be cut and labelled by
    /// [`recut`](crate::engine::recut) at the preset's segment length.
    pub fn uncut(&self) -> CorpusFile {
        self.corpus_file([SegmentRecord {
            start: 0,
            end: self.audio.frames() as u64,
            label: 0,
        }])
    }
}

/// `source` with `corpus` made of the user's recordings: the segmentation, encoder, codebook and
/// decision models are kept. It is called `name`, and records the model it reuses (the source's
/// name and [identity](Preset::identity)) and each recording's name and duration, under
/// `metrics.recorpus`.
pub fn with_recordings(
    source: &Preset,
    source_identity: &str,
    corpus: Vec<CorpusFile>,
    name: String,
) -> Result<Preset, PresetError> {
    let files: Vec<serde_json::Value> = corpus
        .iter()
        .map(|file| {
            let seconds = (file.duration_seconds() * 1e3).round() / 1e3;
            serde_json::json!({"path": file.name, "seconds": seconds})
        })
        .collect();
    let mut preset = source.clone();
    preset.corpus = corpus;
    preset.info.name = name;
    if !preset.metrics.is_object() {
        preset.metrics = serde_json::json!({});
    }
    if let Some(metrics) = preset.metrics.as_object_mut() {
        metrics.insert(
            "recorpus".into(),
            serde_json::json!({
                "model_from": {"name": source.info.name, "identity": source_identity},
                "files": files,
            }),
        );
    }
    preset.validate()?;
    Ok(preset)
}

/// The name a preset made of the user's recordings gets unless they choose one.
pub fn default_name(source: &Preset) -> String {
    format!("{}, with my recordings", source.info.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_file::{write_wav, SampleFormat};

    /// Writes `frames` of a sine (`amplitude` of full scale) at `rate`, mono, 16-bit.
    fn write_sine(path: &Path, rate: u32, frames: usize, amplitude: f32) {
        let sine: Vec<f32> = (0..frames)
            .map(|i| (i as f32 * 0.05).sin() * amplitude)
            .collect();
        write_wav(path, rate, &[sine], SampleFormat::Int16).unwrap();
    }

    fn write_test_wav(path: &Path, seconds: f32, amplitude: f32) {
        write_sine(path, 8000, (seconds * 8000.0) as usize, amplitude);
    }

    #[test]
    fn folders_name_files_by_relative_path_files_by_name_and_problems_are_explained() {
        let dir = std::env::temp_dir().join(format!("cp-recordings-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("takes")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        write_test_wav(&dir.join("takes/a.wav"), 1.0, 0.5);
        write_test_wav(&dir.join("b.WAV"), 1.0, 0.5);
        std::fs::write(dir.join("notes.txt"), "not audio").unwrap();
        let names = |paths: &[PathBuf]| -> Vec<String> {
            find_recordings(paths)
                .0
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(std::slice::from_ref(&dir)), ["b.WAV", "takes/a.wav"]);
        assert_eq!(names(&[dir.join("takes/a.wav")]), ["a.wav"]);
        let (found, problems) = find_recordings(&[
            dir.join("missing.wav"),
            dir.join("empty"),
            dir.join("b.WAV"),
        ]);
        assert_eq!(found.len(), 1);
        assert!(problems[0].contains("missing.wav") && problems[0].contains("does not exist"));
        assert!(problems[1].contains("holds no audio file"), "{problems:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn silent_short_and_corrupt_recordings_are_refused_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("cp-recordings-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = |name: &str| RecordingPath {
            path: dir.join(name),
            name: name.into(),
        };
        write_test_wav(&dir.join("good.wav"), 2.0, 0.5);
        write_test_wav(&dir.join("silent.wav"), 2.0, 0.0);
        write_test_wav(&dir.join("short.wav"), 0.5, 0.5);
        std::fs::write(dir.join("broken.wav"), b"RIFF....WAVEfmt garbage").unwrap();
        write_sine(
            &dir.join("odd-rate.wav"),
            7_000,
            14_000,
            10_000.0 / 32_767.0,
        );
        let good = Recording::read(&source("good.wav"), 0.5).unwrap();
        assert!((good.seconds() - 2.0).abs() < 1e-3);
        let uncut = good.uncut();
        assert_eq!(uncut.segments.len(), 1);
        assert_eq!(uncut.segments[0].end, 16_000);
        assert_eq!((uncut.sample_rate, uncut.channels), (8000, 1));
        let error = |name| Recording::read(&source(name), 0.5).unwrap_err();
        assert!(error("silent.wav").contains("silent"));
        assert!(error("short.wav").contains("shorter than two"));
        assert!(
            error("odd-rate.wav").contains("7000 Hz"),
            "{}",
            error("odd-rate.wav")
        );
        let broken = error("broken.wav");
        assert!(broken.contains("broken.wav") && broken.contains("Convert it"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
