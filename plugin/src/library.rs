//! What the worker thread keeps across engine builds and activations: the preset as read, its
//! corpus re-cut for a note value, and its runtime objects at the host's rate (the corpus
//! resampled and its onsets found, the decision model built, the encoder session opened).
//!
//! An engine for another seed or look-ahead, after a reset or a re-activation, is built from
//! these in milliseconds. Only another preset, sample rate, segment length or tempo loads
//! again, on a loader thread that a newer request cancels and that no host call waits for.
//! Re-cuts are also remembered on disk ([`RecutCache`]), so that reopening a project does not
//! encode the corpus again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use counterpart_core::engine::{resegment_cached, EncoderSearch, LoadedPreset, RecutCache};
use counterpart_core::preset::{Preset, SegmentLength};
use crossbeam_channel::{Receiver, TryRecvError};

use crate::params::SegmentChoice;
use crate::preset_source::PresetSource;
use crate::shared::PresetInfo;

/// The tempo note-value segments are measured at when the host reports none.
pub const DEFAULT_BPM: f64 = 120.0;

/// Everything that decides which runtime objects an engine is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadKey {
    /// The preset.
    pub source: PresetSource,
    /// How many times the user asked to reload it.
    pub reloads: u64,
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
        self.tempo_centi_bpm
            .map_or(DEFAULT_BPM, |centi| centi as f64 / 100.0)
    }

    /// What is loaded, for the editor's status line.
    pub fn describe(&self) -> String {
        match self.segment.note() {
            Some(note) => format!(
                "{}, cut into {note} notes at {:.1} BPM",
                self.source.describe(),
                self.bpm()
            ),
            None => self.source.describe(),
        }
    }

    /// Whether `other` plays the same preset as read (only the segmentation or rate differs).
    fn same_preset(&self, other: &LoadKey) -> bool {
        self.source == other.source && self.reloads == other.reloads
    }

    /// Whether `other` plays the same re-cut corpus (only the rate differs).
    fn same_corpus(&self, other: &LoadKey) -> bool {
        self.same_preset(other)
            && self.segment == other.segment
            && self.tempo_centi_bpm == other.tempo_centi_bpm
    }
}

/// A preset with the editor's view of it.
#[derive(Clone)]
struct Prepared {
    preset: Arc<Preset>,
    info: Arc<PresetInfo>,
    /// The [identity](Preset::identity) of the preset as read (a re-cut keeps its source's).
    identity: Arc<str>,
}

impl Prepared {
    fn new(preset: Preset, identity: &str, source: &PresetSource) -> Self {
        let info = Arc::new(PresetInfo::new(&preset, source.describe()));
        Self {
            preset: Arc::new(preset),
            info,
            identity: identity.into(),
        }
    }
}

/// Runtime objects an engine is built from, for one [`LoadKey`].
pub struct Loaded {
    /// The preset that plays (re-cut or not).
    playing: Prepared,
    /// Its runtime objects, with the decision model for `lookahead`.
    runtime: LoadedPreset,
    lookahead: usize,
    /// Whether the preset as read is cut in note values at a tempo.
    tempo_synced: bool,
}

impl Loaded {
    /// Runtime objects for an engine with look-ahead `lookahead`: a clone sharing the corpus,
    /// the encoder session and the model weights. Worker thread.
    pub fn runtime(&mut self, lookahead: usize) -> Result<LoadedPreset, String> {
        if lookahead != self.lookahead {
            self.runtime = self
                .runtime
                .with_lookahead(&self.playing.preset, lookahead)
                .map_err(|e| format!("cannot load {}: {e}", self.playing.info.source))?;
            self.lookahead = lookahead;
        }
        Ok(self.runtime.clone())
    }

    /// The editor's view of the preset that plays.
    pub fn info(&self) -> Arc<PresetInfo> {
        Arc::clone(&self.playing.info)
    }

    /// Whether the preset as read is cut in note values at a tempo (its engines then follow
    /// the host's tempo).
    pub fn tempo_synced(&self) -> bool {
        self.tempo_synced
    }
}

/// What a loader thread is asked to do.
struct LoadRequest {
    key: LoadKey,
    /// The preset as read, when kept.
    read: Option<Prepared>,
    /// The re-cut preset, when kept.
    recut: Option<Prepared>,
    /// The look-ahead whose decision model to load.
    lookahead: usize,
    recuts: Option<RecutCache>,
    /// Set when the load is no longer wanted: a corpus re-cut then stops early.
    cancel: Arc<AtomicBool>,
}

/// What a loader thread sends back: the preset as read (also when the load was cancelled
/// after reading it), and the runtime objects or why there are none.
struct LoadResult {
    read: Option<Prepared>,
    loaded: Result<Loaded, String>,
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
#[derive(Default)]
pub struct Library {
    /// The preset as read.
    read: Option<(LoadKey, Prepared)>,
    /// The runtime objects (or the reason there are none) for the last key loaded.
    ready: Option<(LoadKey, Result<Loaded, String>)>,
    loading: Option<Loading>,
    /// The latest request, waiting for a cancelled load to stop, with its look-ahead.
    queued: Option<(LoadKey, usize)>,
}

impl Library {
    /// What is ready for `key`: the runtime objects, or why they could not be loaded; `None`
    /// when `key` has not been loaded (yet).
    pub fn ready(&mut self, key: &LoadKey) -> Option<Result<&mut Loaded, String>> {
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
    pub fn request(&mut self, key: &LoadKey, lookahead: usize) -> Result<(), String> {
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
    fn start(&mut self, key: &LoadKey, lookahead: usize) -> Result<(), String> {
        let read = self
            .read
            .as_ref()
            .filter(|(read, _)| read.same_preset(key))
            .map(|(_, prepared)| prepared.clone());
        let recut = match &self.ready {
            Some((ready, Ok(loaded))) if key.segment.note().is_some() && ready.same_corpus(key) => {
                Some(loaded.playing.clone())
            }
            _ => None,
        };
        let request = LoadRequest {
            key: key.clone(),
            read,
            recut,
            lookahead,
            recuts: RecutCache::platform(),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        let cancel = Arc::clone(&request.cancel);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("counterpart-loader".into())
            .spawn(move || {
                let _ = tx.send(load(request));
            })
            .map_err(|e| format!("cannot start the loader thread: {e}"))?;
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
                loaded: Err("the preset loader stopped unexpectedly".into()),
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
            Ok((preset, identity)) => Prepared::new(preset, &identity, &request.key.source),
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
fn prepare(request: &LoadRequest, read: &Prepared) -> Result<Loaded, String> {
    let key = &request.key;
    let cancelled = || request.cancel.load(Ordering::Relaxed);
    if cancelled() {
        return Err("cancelled".into());
    }
    let search = EncoderSearch::default();
    let playing = match (key.segment.note(), &request.recut) {
        (None, _) => read.clone(),
        (Some(_), Some(recut)) => recut.clone(),
        (Some(note), None) => {
            let length = SegmentLength::TempoSynced {
                note,
                bpm: key.bpm(),
            };
            let (recut, _) = resegment_cached(
                &read.preset,
                &read.identity,
                length,
                &search,
                &request.cancel,
                request.recuts.as_ref(),
            )
            .map_err(|e| format!("cannot cut {}: {e}", key.describe()))?;
            Prepared::new(recut, &read.identity, &key.source)
        }
    };
    if cancelled() {
        return Err("cancelled".into());
    }
    let runtime =
        LoadedPreset::load_for(&playing.preset, key.rate, &search, Some(request.lookahead))
            .map_err(|e| format!("cannot load {}: {e}", key.source.describe()))?;
    let tempo_synced = matches!(
        read.preset.segmentation.length,
        SegmentLength::TempoSynced { .. }
    );
    Ok(Loaded {
        playing,
        runtime,
        lookahead: request.lookahead,
        tempo_synced,
    })
}
