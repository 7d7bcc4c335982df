//! What the worker thread keeps across engine builds and activations: the preset as read, its
//! corpus re-cut for a note value, and its runtime objects at the host's rate (the corpus
//! resampled and its onsets found, the decision model built, the encoder session opened).
//! With the user's recordings in place of the preset's corpus ("Use my recordings…"), it also
//! keeps the preset they make: read, checked, cut and labelled with the preset's own encoder and
//! codebook.
//!
//! An engine for another seed or look-ahead, after a reset or a re-activation, is built from
//! these in milliseconds. Only another preset, sample rate, segment length or tempo loads
//! again, on a loader thread that a newer request cancels and that no host call waits for.
//! Re-cuts are also remembered on disk ([`RecutCache`]), so that reopening a project does not
//! encode the corpus again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use counterpart_core::engine::{recut_cached, EncoderSearch, LoadedPreset, Progress, RecutCache};
use counterpart_core::preset::{Preset, SegmentLengthRecord};
use crossbeam_channel::{Receiver, TryRecvError};

use crate::error::PluginError;
use crate::my_recordings::{self, Job};
use crate::params::SegmentChoice;
use crate::preset_source::PresetSource;
use crate::shared::{Notice, PresetDisplay};

/// The tempo note-value segments are measured at when the host reports none.
pub const DEFAULT_BPM: f64 = 120.0;

/// Everything that decides which runtime objects an engine is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadKey {
    /// The preset.
    pub source: PresetSource,
    /// How many times the user asked to reload it.
    pub reloads: u64,
    /// The user's recordings (files or folders) that replace the preset's corpus; empty: the
    /// preset's own corpus plays.
    pub recordings: Vec<PathBuf>,
    /// The segment control.
    pub segment: SegmentChoice,
    /// For a note-value segment: the tempo it is measured at, in hundredths of a BPM (`None`:
    /// the host reports none).
    pub tempo_centi_bpm: Option<u64>,
    /// The host's sample rate.
    pub rate: u32,
}

impl LoadKey {
    /// The tempo note values are measured at: the host's, else [`DEFAULT_BPM`].
    pub fn bpm(&self) -> f64 {
        Self::bpm_of(self.tempo_centi_bpm)
    }

    /// The tempo note values are measured at for a host tempo of `tempo_centi_bpm` hundredths
    /// of a BPM, else [`DEFAULT_BPM`].
    pub fn bpm_of(tempo_centi_bpm: Option<u64>) -> f64 {
        tempo_centi_bpm.map_or(DEFAULT_BPM, |centi| centi as f64 / 100.0)
    }

    /// What is loaded, for the editor's status line.
    pub fn describe(&self) -> String {
        match self.segment.note() {
            Some(note) => format!(
                "{}, cut into {note} notes at {:.1} BPM",
                self.describe_corpus(),
                self.bpm()
            ),
            None => self.describe_corpus(),
        }
    }

    /// The preset, and the recordings that replace its corpus.
    fn describe_corpus(&self) -> String {
        match self.recordings.len() {
            0 => self.source.describe(),
            1 => format!(
                "{} with your recordings ({})",
                self.source.describe(),
                self.recordings[0].display()
            ),
            n => format!(
                "{} with your recordings ({n} files or folders)",
                self.source.describe()
            ),
        }
    }

    /// Whether `other` plays the same preset as read (only the corpus, segmentation or rate
    /// differs).
    fn same_preset(&self, other: &LoadKey) -> bool {
        self.source == other.source && self.reloads == other.reloads
    }

    /// Whether `other` plays the same preset with the same recordings (only the segmentation or
    /// rate differs).
    fn same_recordings(&self, other: &LoadKey) -> bool {
        self.same_preset(other) && self.recordings == other.recordings
    }

    /// Whether `other` plays the same re-cut corpus (only the rate differs).
    fn same_corpus(&self, other: &LoadKey) -> bool {
        self.same_recordings(other)
            && self.segment == other.segment
            && self.tempo_centi_bpm == other.tempo_centi_bpm
    }
}

/// A preset with the editor's view of it.
#[derive(Clone)]
struct Prepared {
    preset: Arc<Preset>,
    info: Arc<PresetDisplay>,
    /// The [identity](Preset::identity) of the preset as read (a re-cut keeps its source's).
    identity: Arc<str>,
}

impl Prepared {
    /// `preset`, read from `source` (a description), whose identity is `identity`.
    fn new(preset: Preset, identity: &str, source: String) -> Self {
        let info = Arc::new(PresetDisplay::new(&preset, source));
        Self {
            preset: Arc::new(preset),
            info,
            identity: identity.into(),
        }
    }

    /// The same, with `notice` for the editor.
    fn with_notice(&self, notice: Option<Notice>) -> Self {
        Self {
            info: Arc::new(PresetDisplay {
                notice,
                ..PresetDisplay::clone(&self.info)
            }),
            ..self.clone()
        }
    }
}

/// Runtime objects an engine is built from, for one [`LoadKey`].
pub struct Loaded {
    /// The preset that plays (re-cut or not).
    playing: Prepared,
    /// The preset made of the user's recordings, at the preset's own segment length, when they
    /// replace its corpus (what "Save as preset…" writes).
    recorded: Option<Prepared>,
    /// Its runtime objects, with the decision model for `lookahead`.
    runtime: LoadedPreset,
    lookahead: usize,
}

impl Loaded {
    /// Runtime objects for an engine with look-ahead `lookahead`: a clone sharing the corpus,
    /// the encoder session and the model weights. Worker thread.
    pub fn runtime(&mut self, lookahead: usize) -> Result<LoadedPreset, PluginError> {
        if lookahead != self.lookahead {
            self.runtime = self
                .runtime
                .with_lookahead(&self.playing.preset, lookahead)
                .map_err(|e| PluginError::Load {
                    what: self.playing.info.source.clone(),
                    reason: e.to_string(),
                })?;
            self.lookahead = lookahead;
        }
        Ok(self.runtime.clone())
    }

    /// The editor's view of the preset that plays.
    pub fn info(&self) -> Arc<PresetDisplay> {
        Arc::clone(&self.playing.info)
    }

    /// The preset made of the user's recordings, when they play.
    pub fn recorded(&self) -> Option<Arc<Preset>> {
        self.recorded.as_ref().map(|r| Arc::clone(&r.preset))
    }
}

/// What a loader thread is asked to do.
struct LoadRequest {
    key: LoadKey,
    /// The preset as read, when kept.
    read: Option<Prepared>,
    /// The preset made of the user's recordings, when kept.
    recorded: Option<Prepared>,
    /// The re-cut preset, when kept.
    recut: Option<Prepared>,
    /// The look-ahead whose decision model to load.
    lookahead: usize,
    recuts: Option<RecutCache>,
    /// Set when the load is no longer wanted: a corpus re-cut then stops early.
    cancel: Arc<AtomicBool>,
    /// How far reading the recordings and cutting the corpus have got.
    progress: Arc<Progress>,
}

/// What a loader thread sends back: the preset as read (also when the load was cancelled
/// after reading it), and the runtime objects or why there are none.
struct LoadResult {
    read: Option<Prepared>,
    loaded: Result<Loaded, PluginError>,
}

/// A load under way on a loader thread.
struct Loading {
    key: LoadKey,
    thread: JoinHandle<()>,
    result: Receiver<LoadResult>,
    cancel: Arc<AtomicBool>,
}

/// The presets and runtime objects kept, and the load under way. Worker thread.
///
/// One loader thread runs at a time. A request for another key cancels it and waits its turn:
/// the loader stops at its next check (between reading, re-cutting each corpus file and
/// building the runtime objects) and hands back the preset if it has read it, and only the
/// latest request then starts. A burst of requests thus costs one load, whatever its length.
pub struct Library {
    /// The preset as read.
    read: Option<(LoadKey, Prepared)>,
    /// The runtime objects (or the reason there are none) for the last key loaded.
    ready: Option<(LoadKey, Result<Loaded, PluginError>)>,
    loading: Option<Loading>,
    /// The latest request, waiting for a cancelled load to stop, with its look-ahead.
    queued: Option<(LoadKey, usize)>,
    /// How far the load under way has got, for the editor.
    progress: Arc<Progress>,
}

impl Library {
    /// An empty library whose loads report how far they have got to `progress`.
    pub fn new(progress: Arc<Progress>) -> Self {
        Self {
            read: None,
            ready: None,
            loading: None,
            queued: None,
            progress,
        }
    }

    /// What is ready for `key`: the runtime objects, or why they could not be loaded; `None`
    /// when `key` has not been loaded (yet).
    pub fn ready(&mut self, key: &LoadKey) -> Option<Result<&mut Loaded, PluginError>> {
        match &mut self.ready {
            Some((ready, result)) if ready == key => Some(result.as_mut().map_err(|e| e.clone())),
            _ => None,
        }
    }

    /// Forgets a load that failed, so that the next request tries again: an activation retries
    /// a preset file that was missing or unreadable (a drive mounted since, a file restored).
    pub fn forget_failure(&mut self) {
        if matches!(self.ready, Some((_, Err(_)))) {
            self.ready = None;
        }
    }

    /// Whether no loader thread runs.
    pub fn is_idle(&self) -> bool {
        self.loading.is_none()
    }

    /// Whether `key` is being loaded, or waits its turn.
    pub fn loading(&self, key: &LoadKey) -> bool {
        match (&self.queued, &self.loading) {
            (Some((queued, _)), _) => queued == key,
            (None, Some(loading)) => &loading.key == key,
            (None, None) => false,
        }
    }

    /// Asks for `key` to be loaded, with the decision model for `lookahead`: at once, or when
    /// the load under way, which this cancels, has stopped.
    pub fn request(&mut self, key: &LoadKey, lookahead: usize) -> Result<(), PluginError> {
        match &self.loading {
            Some(loading) if loading.key == *key && !loading.cancel.load(Ordering::Relaxed) => {
                self.queued = None;
                Ok(())
            }
            Some(loading) => {
                loading.cancel.store(true, Ordering::Relaxed);
                self.queued = Some((key.clone(), lookahead));
                Ok(())
            }
            None => self.start(key, lookahead),
        }
    }

    /// Starts loading `key` on a loader thread, reusing the preset as read and the re-cut
    /// corpus when only the segmentation or the rate changed.
    fn start(&mut self, key: &LoadKey, lookahead: usize) -> Result<(), PluginError> {
        let read = self
            .read
            .as_ref()
            .filter(|(read, _)| read.same_preset(key))
            .map(|(_, prepared)| prepared.clone());
        let kept = match &self.ready {
            Some((ready, Ok(loaded))) => Some((ready, loaded)),
            _ => None,
        };
        let recorded = kept
            .filter(|(ready, _)| ready.same_recordings(key))
            .and_then(|(_, loaded)| loaded.recorded.clone());
        let recut = kept
            .filter(|(ready, _)| key.segment.note().is_some() && ready.same_corpus(key))
            .map(|(_, loaded)| loaded.playing.clone());
        self.progress.restart();
        let request = LoadRequest {
            key: key.clone(),
            read,
            recorded,
            recut,
            lookahead,
            recuts: RecutCache::platform(),
            cancel: Arc::new(AtomicBool::new(false)),
            progress: Arc::clone(&self.progress),
        };
        let cancel = Arc::clone(&request.cancel);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("counterpart-loader".into())
            .spawn(move || {
                let _ = tx.send(load(request));
            })
            .map_err(|e| PluginError::LoaderThread(e.to_string()))?;
        self.loading = Some(Loading {
            key: key.clone(),
            thread,
            result: rx,
            cancel,
        });
        Ok(())
    }

    /// Takes in a load that has finished, and starts the one queued. Returns whether a load
    /// finished.
    pub fn poll(&mut self) -> bool {
        let Some(loading) = &self.loading else {
            return false;
        };
        let result = match loading.result.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => LoadResult {
                read: None,
                loaded: Err(PluginError::LoaderStopped),
            },
        };
        let Some(loading) = self.loading.take() else {
            return false;
        };
        let _ = loading.thread.join();
        if let Some(read) = result.read {
            self.read = Some((loading.key.clone(), read));
        }
        if !loading.cancel.load(Ordering::Relaxed) {
            self.ready = Some((loading.key, result.loaded));
        }
        if let Some((key, lookahead)) = self.queued.take() {
            if let Err(message) = self.start(&key, lookahead) {
                self.ready = Some((key, Err(message)));
            }
        }
        true
    }

    /// Cancels the load under way and waits for it (it stops at its next check): the plugin
    /// is going.
    pub fn shut_down(&mut self) {
        self.queued = None;
        if let Some(loading) = self.loading.take() {
            loading.cancel.store(true, Ordering::Relaxed);
            let _ = loading.thread.join();
        }
    }
}

/// Reads the preset (unless kept), re-cuts its corpus if the segment control asks for it
/// (unless kept, or remembered on disk), and turns it into runtime objects (loader thread).
/// Stops early when cancelled.
fn load(request: LoadRequest) -> LoadResult {
    let fresh = request.read.is_none();
    let read = match request.read.clone() {
        Some(read) => read,
        None => match request.key.source.read() {
            Ok((preset, identity)) => {
                Prepared::new(preset, &identity, request.key.source.describe())
                    .with_notice(request.key.source.notice())
            }
            Err(message) => {
                return LoadResult {
                    read: None,
                    loaded: Err(message),
                }
            }
        },
    };
    let loaded = prepare(&request, &read);
    LoadResult {
        read: fresh.then_some(read),
        loaded,
    }
}

/// The runtime objects for `request`, from the preset as `read`.
fn prepare(request: &LoadRequest, read: &Prepared) -> Result<Loaded, PluginError> {
    let key = &request.key;
    let cancelled = || request.cancel.load(Ordering::Relaxed);
    if cancelled() {
        return Err(PluginError::Cancelled);
    }
    let search = EncoderSearch::default();
    let recorded = match (key.recordings.is_empty(), &request.recorded) {
        (true, _) => Ok(None),
        (false, Some(recorded)) => Ok(Some(recorded.clone())),
        (false, None) => {
            let job = Job {
                cancel: &request.cancel,
                progress: &request.progress,
                recuts: request.recuts.as_ref(),
            };
            my_recordings::label(
                &key.recordings,
                (&read.preset, &read.identity, &read.info),
                &search,
                &job,
            )?
            .map(|labelled| {
                let source = format!(
                    "your recordings, with the model of {}",
                    key.source.describe()
                );
                Some(
                    Prepared::new(labelled.preset, &labelled.identity, source)
                        .with_notice(Some(labelled.notice)),
                )
            })
        }
    };
    // When none of the recordings can be played, the preset's own corpus plays, with a notice
    // saying why.
    let (recorded, base) = match recorded {
        Ok(Some(recorded)) => (Some(recorded.clone()), recorded),
        Ok(None) => (None, read.clone()),
        Err(text) => (
            None,
            read.with_notice(Some(Notice {
                text,
                warning: true,
            })),
        ),
    };
    let playing = match (key.segment.note(), &request.recut) {
        (None, _) => base,
        (Some(_), Some(recut)) => recut.clone(),
        (Some(note), None) => {
            let length = SegmentLengthRecord::TempoSynced {
                note,
                bpm: key.bpm(),
            };
            let (recut, _) = recut_cached(
                &base.preset,
                &base.identity,
                length,
                &search,
                &request.cancel,
                Some(&request.progress),
                request.recuts.as_ref(),
            )
            .map_err(|e| PluginError::Cut {
                what: key.describe(),
                reason: e.to_string(),
            })?;
            Prepared::new(recut, &base.identity, base.info.source.clone())
                .with_notice(base.info.notice.clone())
        }
    };
    if cancelled() {
        return Err(PluginError::Cancelled);
    }
    let runtime =
        LoadedPreset::load_for(&playing.preset, key.rate, &search, Some(request.lookahead))
            .map_err(|e| PluginError::Load {
                what: key.describe(),
                reason: e.to_string(),
            })?;
    Ok(Loaded {
        playing,
        recorded,
        runtime,
        lookahead: request.lookahead,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::*;

    /// Writes `seconds` of high sine tones (A6, C7, E7, a quarter second each) at 44.1 kHz.
    fn write_tones(path: &Path, seconds: f32) {
        use counterpart_core::audio_file::{write_wav, SampleFormat};
        let tones: Vec<f32> = (0..(seconds * 44_100.0) as usize)
            .map(|i| {
                let t = i as f32 / 44_100.0;
                let f = [1760.0, 2093.0, 2637.0][(t * 4.0) as usize % 3];
                (std::f32::consts::TAU * f * t).sin() * 0.4
            })
            .collect();
        write_wav(path, 44_100, &[tones], SampleFormat::Int16).unwrap();
    }

    /// Loads `key` and waits for the result.
    fn load(library: &mut Library, key: &LoadKey) -> Loaded {
        library.request(key, 1).unwrap();
        let started = Instant::now();
        while library.ready(key).is_none() {
            assert!(started.elapsed() < Duration::from_secs(300), "load hangs");
            library.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
        match library.ready.take() {
            Some((_, Ok(loaded))) => loaded,
            Some((_, Err(e))) => panic!("{e}"),
            None => unreachable!(),
        }
    }

    #[test]
    fn recordings_play_with_the_presets_model_and_missing_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("cp-library-rec-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("takes")).unwrap();
        write_tones(&dir.join("takes/tones.wav"), 6.0);
        let mut library = Library::new(Arc::default());
        let key = |recordings: Vec<PathBuf>| LoadKey {
            source: PresetSource::Default,
            reloads: 0,
            recordings,
            segment: SegmentChoice::Preset,
            tempo_centi_bpm: None,
            rate: 48_000,
        };

        // A folder of takes and a file that has gone: the takes play, the missing file is named.
        let loaded = load(
            &mut library,
            &key(vec![dir.join("takes"), dir.join("gone.wav")]),
        );
        let info = loaded.info();
        assert_eq!(info.corpus_files, ["tones.wav"]);
        let notice = info.notice.clone().expect("a notice");
        assert!(notice.warning);
        assert!(notice.text.contains("gone.wav"), "{}", notice.text);
        assert!(notice.text.contains("of the model's"), "{}", notice.text);
        assert!(info.source.contains("your recordings"), "{}", info.source);
        let recorded = loaded.recorded().expect("the preset to save");
        let segments: usize = recorded.corpus.iter().map(|f| f.segments.len()).sum();
        assert!(segments >= 10, "{segments} segments");
        assert_eq!(segments, info.label_counts.iter().sum::<usize>());
        let provenance = &recorded.metrics["recorpus"];
        assert_eq!(provenance["files"][0]["path"], "tones.wav");
        assert_eq!(provenance["files"][0]["seconds"], 6.0);
        assert_eq!(
            recorded.segmentation.length,
            library.read.as_ref().unwrap().1.preset.segmentation.length
        );

        // Nothing usable: the preset's own corpus plays, and the notice says why.
        let loaded = load(&mut library, &key(vec![dir.join("gone.wav")]));
        let info = loaded.info();
        assert!(info.corpus_files.len() > 1, "the preset's own corpus");
        assert!(loaded.recorded().is_none());
        let notice = info.notice.clone().expect("a notice");
        assert!(notice.warning && notice.text.contains("None of your recordings"));
        assert!(
            notice.text.contains("gone.wav does not exist"),
            "{}",
            notice.text
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
