//! Reading audio files (WAV, FLAC, Ogg Vorbis, MP3) into float samples with symphonia.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// File extensions read as audio (lowercase).
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

/// Whether `path` names an audio file by its extension (in any case); the file need not exist.
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Why an audio file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The system error.
        source: std::io::Error,
    },
    /// The file is not audio that symphonia can decode, or it is corrupt.
    #[error("cannot decode {path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The file decodes to no samples or has no usable sample rate.
    #[error("{path} holds no audio ({reason})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A WAV file could not be written ([`write_wav`]).
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Sample format of a WAV file written by [`write_wav`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 32-bit float.
    Float32,
    /// 24-bit integer.
    Int24,
    /// 16-bit integer.
    Int16,
}

/// Writes de-interleaved `channels` (float samples in [-1, 1], all of the first channel's
/// length) at `rate` as a WAV file in `format`. Integer formats clamp each sample to [-1, 1]
/// and round it to the nearest step (full scale is 2^(bits-1) - 1).
pub fn write_wav<C: AsRef<[f32]>>(
    path: &Path,
    rate: u32,
    channels: &[C],
    format: SampleFormat,
) -> Result<(), AudioFileError> {
    let error = |e: hound::Error| AudioFileError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let (bits_per_sample, sample_format) = match format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample,
        sample_format,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(error)?;
    let frames = channels.first().map_or(0, |c| c.as_ref().len());
    for i in 0..frames {
        for channel in channels {
            let x = channel.as_ref()[i];
            match format {
                SampleFormat::Float32 => writer.write_sample(x),
                SampleFormat::Int24 => {
                    writer.write_sample((x.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32)
                }
                SampleFormat::Int16 => {
                    writer.write_sample((x.clamp(-1.0, 1.0) * 32_767.0).round() as i16)
                }
            }
            .map_err(error)?;
        }
    }
    writer.finalize().map_err(error)
}

/// Decoded audio: interleaved float samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFile {
    /// Interleaved samples, `frames · channels` values.
    pub samples: Vec<f32>,
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels per frame.
    pub channels: usize,
}

impl AudioFile {
    /// Decodes the whole file at `path`.
    pub fn read(path: &Path) -> Result<Self, AudioFileError> {
        let decode_err = |reason: String| AudioFileError::Decode {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|source| AudioFileError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(|e| decode_err(e.to_string()))?;
        let mut format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| AudioFileError::Empty {
                path: path.to_path_buf(),
                reason: "no audio track".into(),
            })?;
        let track_id = track.id;
        let sample_rate = track
            .codec_params
            .sample_rate
            .ok_or_else(|| AudioFileError::Empty {
                path: path.to_path_buf(),
                reason: "no sample rate".into(),
            })?;
        let mut decoder = symphonia::default::get_codecs()
            .make(&track.codec_params, &DecoderOptions::default())
            .map_err(|e| decode_err(e.to_string()))?;
        let mut samples = Vec::new();
        let mut channels = track.codec_params.channels.map_or(0, |c| c.count());
        let mut buffer: Option<SampleBuffer<f32>> = None;
        loop {
            let packet = match format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    break
                }
                Err(SymphoniaError::ResetRequired) => break,
                Err(e) => return Err(decode_err(e.to_string())),
            };
            if packet.track_id() != track_id {
                continue;
            }
            let decoded = match decoder.decode(&packet) {
                Ok(d) => d,
                // A damaged packet is skipped, as players do.
                Err(SymphoniaError::DecodeError(_)) => continue,
                Err(e) => return Err(decode_err(e.to_string())),
            };
            let spec = *decoded.spec();
            channels = spec.channels.count();
            let buf = match &mut buffer {
                Some(b) if b.capacity() >= decoded.capacity() * channels => b,
                _ => buffer.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            samples.extend_from_slice(buf.samples());
        }
        if samples.is_empty() || channels == 0 {
            return Err(AudioFileError::Empty {
                path: path.to_path_buf(),
                reason: "no samples decoded".into(),
            });
        }
        Ok(Self {
            samples,
            sample_rate,
            channels,
        })
    }

    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels
    }

    /// The mean of the channels.
    pub fn to_mono(&self) -> Vec<f32> {
        if self.channels == 1 {
            return self.samples.clone();
        }
        let inv = 1.0 / self.channels as f32;
        self.samples
            .chunks_exact(self.channels)
            .map(|f| f.iter().sum::<f32>() * inv)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_test_wav(path: &Path, channels: u16, rate: u32, frames: usize) {
        let audio: Vec<Vec<f32>> = (0..channels)
            .map(|c| {
                (0..frames)
                    .map(|i| (i as f32 * 0.01).sin() * 0.5 * (c + 1) as f32 / channels as f32)
                    .collect()
            })
            .collect();
        write_wav(path, rate, &audio, SampleFormat::Int16).unwrap();
    }

    #[test]
    fn wav_round_trip_keeps_rate_channels_and_samples() {
        let dir = std::env::temp_dir().join(format!("cp-audio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stereo.wav");
        write_test_wav(&path, 2, 22_050, 5000);
        let a = AudioFile::read(&path).unwrap();
        assert_eq!((a.sample_rate, a.channels, a.frames()), (22_050, 2, 5000));
        let want = (100.0f32 * 0.01).sin() * 0.25;
        assert!((a.samples[200] - want).abs() < 1e-4);
        let mono = a.to_mono();
        assert_eq!(mono.len(), 5000);
        assert!((mono[100] - 1.5 * want).abs() < 1e-4);
        // A corrupt file is an error, not a panic.
        let bad = dir.join("bad.wav");
        std::fs::write(&bad, b"RIFF....WAVEfmt garbage").unwrap();
        assert!(AudioFile::read(&bad).is_err());
        assert!(AudioFile::read(&dir.join("missing.flac")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
