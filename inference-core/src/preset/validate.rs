//! Consistency checks on a [`Preset`], run before saving and after loading.

use super::data::{sha256_hex, AudioData, CorpusFile, Preset, SegmentLengthRecord};
use super::error::PresetError;
use super::safetensors_guard::parse_safetensors;

/// Highest sample rate a preset may use, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Most channels a corpus recording may have (the action module plays mono and stereo).
pub const MAX_CHANNELS: u16 = 2;
/// Most corpus samples (over all files and channels) a preset may hold: about 46 minutes of
/// 48 kHz stereo. It bounds the memory a hostile file can make the loader allocate.
pub const MAX_CORPUS_SAMPLES: u64 = 1 << 28;
/// Most corpus files a preset may hold.
pub const MAX_CORPUS_FILES: usize = 4096;
/// Most decision models (one per look-ahead) a preset may hold.
pub const MAX_DECISION_MODELS: usize = 8;
/// Largest alphabet size K a preset may use.
pub const MAX_K: usize = 1 << 16;
/// Largest codebook dimension a preset may use.
pub const MAX_CODEBOOK_DIM: usize = 1 << 16;

impl Preset {
    /// Checks that every part of the preset is consistent: non-empty name and licence, sane
    /// segmentation settings, a well-formed encoder hash (matching the embedded encoder, if
    /// any), a finite codebook, a decision config object with readable safetensors weights, and
    /// corpus files whose audio is finite and in range and whose segments are ordered,
    /// non-overlapping, inside the recording and labelled below K.
    pub fn validate(&self) -> Result<(), PresetError> {
        if self.info.name.trim().is_empty() {
            return invalid("the preset name is empty".into());
        }
        if self.info.licence.trim().is_empty() {
            return invalid("the licence is empty: a preset redistributes its corpus audio".into());
        }
        self.validate_segmentation()?;
        self.validate_encoder()?;
        self.validate_codebook()?;
        self.validate_decision()?;
        self.validate_corpus()?;
        self.validate_character()?;
        if !self.metrics.is_object() {
            return invalid("the metrics must be a JSON object".into());
        }
        Ok(())
    }

    /// Checks that `onnx` is the encoder the preset was made with, by its SHA-256.
    pub fn verify_encoder(&self, onnx: &[u8]) -> Result<(), PresetError> {
        let found = sha256_hex(onnx);
        if found == self.encoder.sha256 {
            Ok(())
        } else {
            Err(PresetError::EncoderMismatch {
                name: self.encoder.name.clone(),
                expected: self.encoder.sha256.clone(),
                found,
            })
        }
    }

    /// The character's shares lie in 0..=1, its rates, ratio and seconds are finite and not
    /// negative.
    fn validate_character(&self) -> Result<(), PresetError> {
        let Some(c) = &self.character else {
            return Ok(());
        };
        let shares = [
            ("onset_coincidence", c.onset_coincidence),
            ("a_onset_coverage", c.a_onset_coverage),
            ("presence", c.presence),
            ("b_sounding", c.b_sounding),
            ("changes_within_beat", c.changes_within_beat),
        ];
        for (name, value) in shares {
            if let Some(v) = value.filter(|v| !(0.0..=1.0).contains(v)) {
                return invalid(format!(
                    "the character's {name} {v} is not a share (0 to 1)"
                ));
            }
        }
        let amounts = [
            ("seconds", Some(c.seconds)),
            ("b_onsets_per_s", Some(c.b_onsets_per_s)),
            ("a_onsets_per_s", Some(c.a_onsets_per_s)),
            ("note_rate_ratio", c.note_rate_ratio),
        ];
        for (name, value) in amounts {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return invalid(format!(
                    "the character's {name} {v} is negative or not finite"
                ));
            }
        }
        Ok(())
    }

    fn validate_segmentation(&self) -> Result<(), PresetError> {
        let settings = &self.segmentation;
        match settings.length {
            SegmentLengthRecord::Uniform { seconds } => {
                if !(seconds.is_finite() && seconds > 0.0) {
                    return invalid(format!("the segment length {seconds} s is not positive"));
                }
            }
            SegmentLengthRecord::TempoSynced { note, bpm } => {
                if note.numerator == 0 || note.denominator == 0 {
                    return invalid(format!("the note value {note} is not a positive fraction"));
                }
                if !(bpm.is_finite() && bpm > 0.0) {
                    return invalid(format!("the tempo {bpm} BPM is not positive"));
                }
            }
        }
        let seconds = settings.length.seconds();
        if !(seconds.is_finite() && seconds > 0.0) {
            return invalid(format!("the segment length {seconds} s is not positive"));
        }
        if let Some(snap) = settings.onset_snap_seconds {
            if !(snap.is_finite() && snap >= 0.0) {
                return invalid(format!("the onset snapping distance {snap} s is negative"));
            }
        }
        check_sample_rate(settings.analysis_sample_rate, "the analysis sample rate")
            .map_err(PresetError::Invalid)
    }

    fn validate_encoder(&self) -> Result<(), PresetError> {
        let encoder = &self.encoder;
        if encoder.name.trim().is_empty() {
            return invalid("the encoder name is empty".into());
        }
        let well_formed = encoder.sha256.len() == 64
            && encoder
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return invalid(format!(
                "the encoder hash `{}` is not 64 lowercase hexadecimal digits",
                encoder.sha256
            ));
        }
        if !(encoder.context_seconds.is_finite() && encoder.context_seconds > 0.0) {
            return invalid(format!(
                "the encoder context {} s is not positive",
                encoder.context_seconds
            ));
        }
        match &encoder.embedded {
            Some(onnx) => self.verify_encoder(onnx),
            None => Ok(()),
        }
    }

    fn validate_codebook(&self) -> Result<(), PresetError> {
        let codebook = &self.codebook;
        if !(1..=MAX_K).contains(&codebook.k) {
            return invalid(format!("K = {} is not between 1 and {MAX_K}", codebook.k));
        }
        if !(1..=MAX_CODEBOOK_DIM).contains(&codebook.dim) {
            return invalid(format!(
                "the codebook dimension {} is not between 1 and {MAX_CODEBOOK_DIM}",
                codebook.dim
            ));
        }
        if codebook.centres.len() != codebook.k * codebook.dim {
            return invalid(format!(
                "the codebook has {} values, not K × dimension = {} × {}",
                codebook.centres.len(),
                codebook.k,
                codebook.dim
            ));
        }
        if let Some(index) = codebook.centres.iter().position(|v| !v.is_finite()) {
            return invalid(format!(
                "codebook centre {} has a non-finite value at coordinate {}",
                index / codebook.dim,
                index % codebook.dim
            ));
        }
        Ok(())
    }

    fn validate_decision(&self) -> Result<(), PresetError> {
        if self.decisions.is_empty() {
            return invalid("the preset has no decision model".into());
        }
        if self.decisions.len() > MAX_DECISION_MODELS {
            return invalid(format!(
                "the preset has {} decision models, more than {MAX_DECISION_MODELS}",
                self.decisions.len()
            ));
        }
        let mut seen = Vec::new();
        for (index, decision) in self.decisions.iter().enumerate() {
            if !decision.config.is_object() {
                return invalid(format!(
                    "decision model {index}: its config must be a JSON object"
                ));
            }
            if let Some(l) = decision.lookahead() {
                if seen.contains(&l) {
                    return invalid(format!(
                        "decision model {index}: another model already has look-ahead {l}"
                    ));
                }
                seen.push(l);
            } else if self.decisions.len() > 1 {
                return invalid(format!(
                    "decision model {index}: its config names no look-ahead, which a preset \
                     with several models needs to tell them apart"
                ));
            }
            parse_safetensors(&decision.weights).map_err(|reason| {
                PresetError::Invalid(format!(
                    "decision model {index}: the weights are not a safetensors blob: {reason}"
                ))
            })?;
        }
        Ok(())
    }

    fn validate_corpus(&self) -> Result<(), PresetError> {
        if self.corpus.is_empty() {
            return invalid("the corpus has no recording".into());
        }
        if self.corpus.len() > MAX_CORPUS_FILES {
            return invalid(format!(
                "the corpus has {} recordings, more than {MAX_CORPUS_FILES}",
                self.corpus.len()
            ));
        }
        let mut total: u64 = 0;
        for (index, file) in self.corpus.iter().enumerate() {
            validate_file(file, self.k()).map_err(|reason| {
                PresetError::Invalid(format!("corpus file {index} (`{}`): {reason}", file.name))
            })?;
            total = total.saturating_add(file.audio.sample_count() as u64);
        }
        if total > MAX_CORPUS_SAMPLES {
            return invalid(format!(
                "the corpus has {total} samples, more than the limit of {MAX_CORPUS_SAMPLES}"
            ));
        }
        Ok(())
    }
}

fn validate_file(file: &CorpusFile, k: usize) -> Result<(), String> {
    if file.name.trim().is_empty() {
        return Err("the recording has no name".into());
    }
    check_sample_rate(file.sample_rate, "the sample rate")?;
    if !(1..=MAX_CHANNELS).contains(&file.channels) {
        return Err(format!(
            "{} channels; only 1 to {MAX_CHANNELS} are supported",
            file.channels
        ));
    }
    let samples = file.audio.sample_count();
    if samples == 0 || !samples.is_multiple_of(usize::from(file.channels)) {
        return Err(format!(
            "{samples} samples do not make whole frames of {} channels",
            file.channels
        ));
    }
    match &file.audio {
        AudioData::Pcm {
            bits_per_sample,
            samples,
        } => {
            let bits = *bits_per_sample;
            if !(8..=24).contains(&bits) || !bits.is_multiple_of(4) {
                return Err(format!(
                    "{bits} bits per sample; PCM audio needs 8, 12, 16, 20 or 24"
                ));
            }
            let max = (1i32 << (bits - 1)) - 1;
            if let Some(index) = samples.iter().position(|s| !(-max - 1..=max).contains(s)) {
                return Err(format!(
                    "sample {index} ({}) does not fit in {bits} bits",
                    samples[index]
                ));
            }
        }
        AudioData::Float(samples) => {
            if let Some(index) = samples.iter().position(|s| !s.is_finite()) {
                return Err(format!("sample {index} is not finite"));
            }
        }
    }
    if file.segments.is_empty() {
        return Err("the recording has no segment".into());
    }
    let frames = file.frames() as u64;
    let mut previous_end = 0;
    for (index, segment) in file.segments.iter().enumerate() {
        if segment.start >= segment.end {
            return Err(format!(
                "segment {index} is empty or reversed ({}..{})",
                segment.start, segment.end
            ));
        }
        if segment.start < previous_end {
            return Err(format!(
                "segment {index} starts at {}, before the previous one ends at {previous_end}",
                segment.start
            ));
        }
        if segment.end > frames {
            return Err(format!(
                "segment {index} ends at {}, past the recording's {frames} frames",
                segment.end
            ));
        }
        if segment.label as usize >= k {
            return Err(format!(
                "segment {index} has label {}, but K = {k}",
                segment.label
            ));
        }
        previous_end = segment.end;
    }
    Ok(())
}

fn check_sample_rate(rate: u32, what: &str) -> Result<(), String> {
    if (1..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(format!(
            "{what} {rate} Hz is not between 1 and {MAX_SAMPLE_RATE} Hz"
        ))
    }
}

fn invalid(reason: String) -> Result<(), PresetError> {
    Err(PresetError::Invalid(reason))
}
