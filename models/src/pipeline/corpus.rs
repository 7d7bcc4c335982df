//! The corpus of a preset: the audio the navigator plays, with the segments and labels
//! perception gives it, as 16-bit PCM. Made of the target stems of a build's training pieces, or
//! of any folder of recordings (`build-preset --corpus`, `recorpus`), each tokenised the
//! streaming way.

use std::path::{Path, PathBuf};

use counterpart_core::action::{find_recordings, Recording, RecordingPath};
use counterpart_core::audio_file::AudioFile;
use counterpart_core::perception::Codebook;
use counterpart_core::preset::{CorpusFile, SegmentRecord};

use crate::data::layout::{
    LayoutKind, PairSelection, PieceSource, StemSource, StemsSet, TrackPair,
};
use crate::pipeline::encode::{encode_tracks, EncodedSet, EncodingSettings, TrackJob};
use crate::pipeline::PipelineError;

/// A corpus file from decoded audio and its encoded segments' labels (stored as
/// [`Recording::corpus_file`] stores the user's recordings).
fn corpus_file(
    name: String,
    audio: AudioFile,
    segments: &[counterpart_core::perception::Segment],
    labels: &[u32],
) -> CorpusFile {
    Recording { name, audio }.corpus_file(segments.iter().zip(labels).map(|(s, &label)| {
        SegmentRecord {
            start: s.start,
            end: s.end,
            label,
        }
    }))
}

/// The corpus made of the target tracks of the training and validation pieces.
pub(crate) fn corpus_from_targets(
    set: &StemsSet,
    train_ids: &[String],
    val_ids: &[String],
    selection: &PairSelection,
    encoded: &EncodedSet,
    codebook: &Codebook,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let mut out = Vec::new();
    for piece in set
        .pieces
        .iter()
        .filter(|p| train_ids.contains(&p.id) || val_ids.contains(&p.id))
    {
        let mut targets: Vec<Vec<String>> = Vec::new();
        for TrackPair { target, .. } in piece.pairs(selection) {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        for target in targets {
            let key = crate::data::stems::track_key(&target);
            let track = encoded
                .pieces
                .get(&piece.id)
                .and_then(|t| t.get(&key))
                .ok_or_else(|| {
                    PipelineError::Invalid(format!(
                        "piece {}: track {key} was not encoded",
                        piece.id
                    ))
                })?;
            let audio = piece.load_track(&target)?;
            let labels = track.tokens(codebook)?;
            out.push(corpus_file(
                format!("{}/{key}", piece.id),
                audio,
                &track.segments,
                &labels,
            ));
        }
    }
    Ok(out)
}

/// The corpus made of every audio file under `dir` (recursively), each tokenised the streaming
/// way.
pub fn corpus_from_folder(
    dir: &Path,
    codebook: &Codebook,
    encoding: &EncodingSettings,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let (files, problems) = find_recordings(&[dir.to_path_buf()]);
    if let Some(problem) = problems.into_iter().next() {
        return Err(PipelineError::Invalid(format!("corpus folder: {problem}")));
    }
    corpus_from_files(&files, codebook, encoding)
}

/// The corpus made of `files`, each tokenised the streaming way, as `build-preset --corpus`
/// does.
pub fn corpus_from_files(
    files: &[RecordingPath],
    codebook: &Codebook,
    encoding: &EncodingSettings,
) -> Result<Vec<CorpusFile>, PipelineError> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let set = StemsSet {
        root: PathBuf::new(),
        kind: LayoutKind::Folders,
        pieces: vec![PieceSource {
            id: "corpus".into(),
            stems: files
                .iter()
                .map(|f| StemSource {
                    name: f.name.clone(),
                    files: vec![f.path.clone()],
                })
                .collect(),
            pairs: Vec::new(),
        }],
    };
    let jobs: Vec<TrackJob> = names
        .iter()
        .map(|n| TrackJob {
            piece: "corpus".into(),
            stems: vec![n.clone()],
            windows: false,
        })
        .collect();
    let tracks = encode_tracks(&set, &jobs, encoding)?;
    let mut out = Vec::new();
    for (file, track) in files.iter().zip(&tracks) {
        let audio = AudioFile::read(&file.path)?;
        out.push(corpus_file(
            file.name.clone(),
            audio,
            &track.segments,
            &track.tokens(codebook)?,
        ));
    }
    Ok(out)
}
