//! The guide as the worker hears it: where it rests, where its notes start, and which notes
//! sound. One [`GuideListener`] is fed the guide's audio on the worker's clock and answers all
//! three, so that every part of the engine hears the same guide (worker thread).
//!
//! * [`rests`]: the guide's sounding and silent spans (level with hysteresis);
//! * the onset detector ([`OnsetDetector`], from perception): where its notes start, kept until
//!   the companion's plan takes them;
//! * [`notes`]: the notes sounding over any stretch it has heard, and the note changes tracked
//!   as it streams (live).

mod notes;
mod rests;

use std::collections::VecDeque;

use crate::perception::{OnsetDetector, Pitches};

use notes::GuideNotes;
pub(super) use notes::NoteChange;
pub use rests::{RestDetector, ENTRY_DB, PEAK_SECONDS, SILENCE_DBFS, SOUND_DBFS, TAIL_DB};

/// Onsets no slot took (the guide rested around them) are dropped once they are this far
/// behind the worker's clock, in seconds.
const ONSET_HORIZON_S: u64 = 10;

/// The guide's rests, onsets and notes, heard on the worker's clock. Worker thread.
#[derive(Debug)]
pub(super) struct GuideListener {
    rests: RestDetector,
    onsets: OnsetDetector,
    notes: GuideNotes,
    /// Onsets heard (worker clock) that the companion's plan has not taken yet.
    pending: VecDeque<u64>,
    rate: u32,
}

impl GuideListener {
    /// A listener for a guide at `rate` Hz whose first frame is the worker's frame 0.
    pub(super) fn new(rate: u32) -> Self {
        Self {
            rests: RestDetector::new(rate, 0),
            onsets: OnsetDetector::new(rate),
            notes: GuideNotes::new(rate),
            pending: VecDeque::new(),
            rate,
        }
    }

    /// How many frames may be heard before the note tracker's next hop: a piece given to
    /// [`Self::hear`] ends there at the latest.
    pub(super) fn until_hop(&self) -> usize {
        self.notes.until_hop()
    }

    /// Hears `piece`, whose first frame is the worker's frame `at`. Tracks the guide's note
    /// changes when `track_notes`, and keeps the onsets it finds for the companion's plan when
    /// `keep_onsets` (otherwise none are kept). Returns the onsets found in it.
    pub(super) fn hear(
        &mut self,
        piece: &[f32],
        at: u64,
        track_notes: bool,
        keep_onsets: bool,
    ) -> Vec<u64> {
        self.rests.push(piece);
        self.onsets.push(piece);
        self.notes.push(piece, track_notes);
        let onsets = self.onsets.take_onsets();
        if keep_onsets {
            self.pending.extend(&onsets);
        } else {
            self.pending.clear();
        }
        let horizon = at.saturating_sub(u64::from(self.rate) * ONSET_HORIZON_S);
        while self.pending.front().is_some_and(|&o| o < horizon) {
            self.pending.pop_front();
        }
        onsets
    }

    /// The guide's sounding and silent spans.
    pub(super) fn rests(&self) -> &RestDetector {
        &self.rests
    }

    /// Takes the next kept onset if it lies before guide frame `end`.
    pub(super) fn take_onset_before(&mut self, end: u64) -> Option<u64> {
        self.take_onset_if(|onset| onset < end)
    }

    /// Takes the next kept onset if the onset detector had confirmed it by guide frame `frame`.
    pub(super) fn take_onset_confirmed_by(&mut self, frame: u64) -> Option<u64> {
        let delay = OnsetDetector::delay_at(self.rate);
        self.take_onset_if(|onset| onset + delay <= frame)
    }

    fn take_onset_if(&mut self, take: impl FnOnce(u64) -> bool) -> Option<u64> {
        let onset = self.pending.front().copied().filter(|&onset| take(onset))?;
        self.pending.pop_front();
        Some(onset)
    }

    /// The notes the guide sounds over guide frames `from..until` (`None` when unknown).
    pub(super) fn notes_over(&mut self, from: u64, until: u64) -> Option<Pitches> {
        self.notes.pitches(from, until)
    }

    /// The note changes tracked since the last call.
    pub(super) fn take_note_changes(&mut self) -> Vec<NoteChange> {
        self.notes.take_changes().collect()
    }
}
