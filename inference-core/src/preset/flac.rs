//! Lossless corpus audio: FLAC encoding with `flacenc`, decoding with `symphonia`.
//!
//! Samples are handed over channel after channel (`[channels][frames]`), as [`AudioData`]
//! stores them. Decoding checks the stream against what the preset header announces (channels,
//! rate, bits, frames) and against the MD5 the encoder wrote, and never allocates more than the
//! announced frames.
//!
//! [`AudioData`]: super::AudioData

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use flacenc::component::BitRepr;
use flacenc::error::Verify;
use symphonia::core::audio::{AudioBufferRef, Signal};
use symphonia::core::codecs::{Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::default::codecs::FlacDecoder;
use symphonia::default::formats::FlacReader;

/// The shape of a PCM stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PcmLayout {
    /// Number of channels.
    pub channels: usize,
    /// Frames (samples per channel).
    pub frames: usize,
    /// Bits per sample.
    pub bits_per_sample: u8,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

/// Encodes channel-major samples (already checked to fit `layout.bits_per_sample`) as FLAC.
pub(crate) fn encode(samples: &[i32], layout: PcmLayout) -> Result<Vec<u8>, String> {
    if samples.len() != layout.channels * layout.frames {
        return Err(format!(
            "{} samples for {} channels of {} frames",
            samples.len(),
            layout.channels,
            layout.frames
        ));
    }
    let mut interleaved = Vec::with_capacity(samples.len());
    for frame in 0..layout.frames {
        interleaved.extend((0..layout.channels).map(|c| samples[c * layout.frames + frame]));
    }
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| e.to_string())?;
    let source = flacenc::source::MemSource::from_samples(
        &interleaved,
        layout.channels,
        usize::from(layout.bits_per_sample),
        layout.sample_rate as usize,
    );
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| e.to_string())?;
    // flacenc records the short last block as the minimum block size, so the stream no longer
    // reads as fixed-blocksize and symphonia cannot find its first frame. The FLAC format
    // excludes the last block from the minimum: state the fixed size as both bounds.
    stream
        .stream_info_mut()
        .set_block_sizes(config.block_size, config.block_size)
        .map_err(|e| e.to_string())?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| e.to_string())?;
    Ok(sink.into_inner())
}

/// Decodes a FLAC stream that must match `layout` exactly, into channel-major samples.
pub(crate) fn decode(flac: &[u8], layout: PcmLayout) -> Result<Vec<i32>, String> {
    // symphonia's decoder does unchecked integer arithmetic on stream values, which panics in
    // debug builds on crafted input; its state is dropped with the closure, so a panic is only
    // a decoding failure.
    catch_unwind(AssertUnwindSafe(|| decode_unguarded(flac, layout)))
        .unwrap_or_else(|_| Err("the FLAC decoder failed on malformed data".into()))
}

fn decode_unguarded(flac: &[u8], layout: PcmLayout) -> Result<Vec<i32>, String> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(flac.to_vec())), Default::default());
    let mut reader = FlacReader::try_new(source, &FormatOptions::default())
        .map_err(|e| format!("reading the stream header: {e}"))?;
    let params = reader
        .default_track()
        .ok_or("the FLAC stream has no track")?
        .codec_params
        .clone();
    let channels = params.channels.map_or(0, |c| c.count());
    let bits = params.bits_per_sample.unwrap_or(0);
    let rate = params.sample_rate.unwrap_or(0);
    if channels != layout.channels
        || bits != u32::from(layout.bits_per_sample)
        || rate != layout.sample_rate
    {
        return Err(format!(
            "the FLAC stream has {channels} channels of {bits}-bit audio at {rate} Hz, but the \
             header announces {} channels of {}-bit audio at {} Hz",
            layout.channels, layout.bits_per_sample, layout.sample_rate
        ));
    }
    let mut decoder = FlacDecoder::try_new(&params, &DecoderOptions { verify: true })
        .map_err(|e| e.to_string())?;
    let shift = 32 - u32::from(layout.bits_per_sample);
    let mut samples = vec![Vec::new(); layout.channels];
    let mut frames = 0usize;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(format!("reading a frame: {e}")),
        };
        let decoded = decoder
            .decode(&packet)
            .map_err(|e| format!("decoding a frame: {e}"))?;
        let AudioBufferRef::S32(buffer) = decoded else {
            return Err("the FLAC decoder returned a non-integer buffer".into());
        };
        frames = frames.saturating_add(buffer.frames());
        if frames > layout.frames {
            return Err(format!(
                "the FLAC stream holds more than the {} frames announced",
                layout.frames
            ));
        }
        for (channel, out) in samples.iter_mut().enumerate() {
            out.extend(buffer.chan(channel).iter().map(|&s| s >> shift));
        }
    }
    if frames != layout.frames {
        return Err(format!(
            "the FLAC stream holds {frames} frames, but the header announces {}",
            layout.frames
        ));
    }
    match decoder.finalize().verify_ok {
        Some(true) => Ok(samples.concat()),
        Some(false) => Err("the decoded audio does not match the stream's MD5 checksum".into()),
        None => Err("the FLAC stream has no MD5 checksum to verify".into()),
    }
}
