//! The streaming segment encoder with a transparent test encoder: frame `j` is the peak of its
//! 400 input samples, so a click shows exactly which segment its frames were pooled into.

use std::sync::Arc;
use std::time::{Duration, Instant};

use counterpart_core::perception::encoder::{frame_count, FRAME_HOP, RECEPTIVE_FIELD};
use counterpart_core::perception::{
    encode_clip, Codebook, FrameEncoder, Frames, SegmentEncoder, SegmentEncoderConfig,
    SegmentEncoderCore, SegmentLength, SegmentationConfig,
};

/// Frame = [peak |x|, mean x] over the frame's 400 samples.
struct PeakEncoder;

impl FrameEncoder for PeakEncoder {
    fn hidden_size(&self) -> usize {
        2
    }

    fn encode(&mut self, audio: &[f32]) -> counterpart_core::perception::Result<Frames> {
        let n = frame_count(audio.len());
        let data = (0..n)
            .flat_map(|j| {
                let span = &audio[j * FRAME_HOP..j * FRAME_HOP + RECEPTIVE_FIELD];
                let peak = span.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let mean = span.iter().sum::<f32>() / span.len() as f32;
                [peak, mean]
            })
            .collect();
        Frames::new(data, n, 2)
    }
}

fn config(seconds: f64) -> SegmentEncoderConfig {
    SegmentEncoderConfig {
        segmentation: SegmentationConfig {
            length: SegmentLength::Seconds(seconds),
            onset_snap: None,
        },
        context_s: 1.5,
        reaction_s: 0.0,
    }
}

/// Low noise with single-sample clicks at the given positions.
fn clicks(len: usize, at: &[usize]) -> Vec<f32> {
    let mut x: Vec<f32> = (0..len)
        .map(|i| 1e-3 * ((i as f32 * 12.9898).sin() * 43_758.547).fract())
        .collect();
    for &p in at {
        x[p] = 0.9;
    }
    x
}

#[test]
fn a_click_lands_in_the_segment_that_contains_it_even_after_a_minute() {
    // 0.35 s segments at 44.1 kHz: 15435 samples, 5600 at 16 kHz, not a whole number of frames.
    let rate = 44_100u32;
    let seg = 15_435usize;
    // Clicks 30 ms inside segments spread over a minute, early and late in their segment. Every
    // window is z-scored: the noise alone peaks below 1.8, a click far higher.
    let click_segments = [0usize, 3, 7, 50, 51, 120, 171];
    let at: Vec<usize> = click_segments
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            if i % 2 == 0 {
                k * seg + 1323
            } else {
                (k + 1) * seg - 1323
            }
        })
        .collect();
    let audio = clicks(rate as usize * 61, &at);
    let (segments, _) = encode_clip(&audio, rate, &config(0.35), PeakEncoder, None).unwrap();
    assert_eq!(segments.len(), audio.len() / seg);
    let mut quiet_max = 0.0f32;
    let mut click_min = f32::INFINITY;
    for s in &segments {
        assert_eq!(s.segment.end, (s.segment.index + 1) * seg as u64);
        // The mean over the segment's 17 frames of each frame's peak.
        let peak = s.vector[0];
        if click_segments.contains(&(s.segment.index as usize)) {
            click_min = click_min.min(peak);
        } else {
            quiet_max = quiet_max.max(peak);
        }
    }
    assert!(quiet_max < 2.0, "a quiet segment got a click: {quiet_max}");
    assert!(click_min > 4.0, "a click was missed: {click_min}");
}

#[test]
fn streaming_in_odd_blocks_gives_the_offline_vectors() {
    let rate = 48_000u32;
    let audio = clicks(rate as usize * 8, &[10_000, 100_000, 200_001, 333_333]);
    let (offline, _) = encode_clip(&audio, rate, &config(0.25), PeakEncoder, None).unwrap();
    let mut core = SegmentEncoderCore::new(&config(0.25), rate, PeakEncoder, None).unwrap();
    let mut live = Vec::new();
    let mut i = 0;
    let mut step = 1;
    while i < audio.len() {
        let end = (i + step).min(audio.len());
        core.push(&audio[i..end], &mut live).unwrap();
        i = end;
        step = step * 13 % 3001 + 1;
    }
    core.finish(&mut live).unwrap();
    assert_eq!(live, offline);
    assert_eq!(live.len(), 32);
}

#[test]
fn the_worker_thread_encodes_what_the_audio_thread_captures() {
    let rate = 44_100u32;
    let audio = clicks(rate as usize * 4, &[30_000, 90_000]);
    let (offline, _) = encode_clip(&audio, rate, &config(0.5), PeakEncoder, None).unwrap();
    let centres: Vec<f32> = (0..16).flat_map(|i| [i as f32 * 0.4, 0.0]).collect();
    let codebook = Arc::new(Codebook::new(16, 2, centres).unwrap());
    let (mut capture, worker) =
        SegmentEncoder::spawn(config(0.5), rate, 10.0, Some(codebook.clone()), || {
            Ok(PeakEncoder)
        })
        .unwrap();
    // Host-sized blocks, as the audio thread would deliver them, faster than real time (the ring
    // holds all of it, so nothing is dropped).
    for block in audio.chunks(256) {
        capture.push(block);
        std::thread::sleep(Duration::from_micros(50));
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < offline.len() - 1 && Instant::now() < deadline {
        if let Ok(r) = worker.results().recv_timeout(Duration::from_millis(100)) {
            got.push(r.unwrap());
        }
    }
    // Live, the last segment waits for the resampler's next chunk; all the others are there.
    assert!(
        got.len() >= offline.len() - 1,
        "{} of {}",
        got.len(),
        offline.len()
    );
    for (g, o) in got.iter().zip(&offline) {
        assert_eq!(g.segment, o.segment);
        assert_eq!(g.vector, o.vector);
        assert_eq!(g.token, Some(codebook.quantise(&o.vector).unwrap()));
    }
}

#[test]
fn bad_settings_are_errors() {
    let mut bad = config(0.5);
    bad.context_s = -1.0;
    assert!(SegmentEncoderCore::new(&bad, 44_100, PeakEncoder, None).is_err());
    assert!(SegmentEncoderCore::new(&config(0.5), 44_101, PeakEncoder, None).is_err());
    let cb = Arc::new(Codebook::new(16, 3, vec![0.0; 48]).unwrap());
    assert!(SegmentEncoderCore::new(&config(0.5), 44_100, PeakEncoder, Some(cb)).is_err());
    let mut core = SegmentEncoderCore::new(&config(0.5), 44_100, PeakEncoder, None).unwrap();
    assert!(core.push(&[0.0, f32::NAN], &mut Vec::new()).is_err());
}

#[test]
fn an_overrun_ring_keeps_segments_on_the_host_timeline() {
    let rate = 44_100u32;
    let audio = clicks(rate as usize * 4, &[30_000]);
    let (offline, _) = encode_clip(&audio, rate, &config(0.5), PeakEncoder, None).unwrap();
    // A 50 ms ring written as fast as possible: most of the audio does not fit.
    let (mut capture, worker) =
        SegmentEncoder::spawn(config(0.5), rate, 0.05, None, || Ok(PeakEncoder)).unwrap();
    for block in audio.chunks(256) {
        capture.push(block);
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < offline.len() - 1 && Instant::now() < deadline {
        if let Ok(r) = worker.results().recv_timeout(Duration::from_millis(100)) {
            got.push(r.unwrap());
        }
    }
    // Lost samples come back as silence, so segment boundaries stay where the host put them.
    assert!(got.len() >= offline.len() - 1);
    for (g, o) in got.iter().zip(&offline) {
        assert_eq!(g.segment, o.segment);
    }
    assert!(got.iter().zip(&offline).any(|(g, o)| g.vector != o.vector));
}

#[test]
fn reaction_windows_come_before_their_segment_see_only_their_start_and_stream_like_one_call() {
    // 0.5 s segments at 48 kHz with 80 ms reaction windows; a click 40 ms into segment 3 is in
    // its window, one 200 ms in only in the whole segment.
    let rate = 48_000u32;
    let seg = 24_000usize;
    let config = SegmentEncoderConfig {
        reaction_s: 0.08,
        ..config(0.5)
    };
    let audio = clicks(rate as usize * 4, &[3 * seg + 1920, 5 * seg + 9600]);
    let (out, _) = encode_clip(&audio, rate, &config, PeakEncoder, None).unwrap();
    let (partial, whole): (Vec<_>, Vec<_>) = out.iter().partition(|s| s.partial);
    assert_eq!((whole.len(), partial.len()), (8, 8));
    // Each window right after the segment before it, and before its own segment.
    for (i, s) in out.iter().enumerate() {
        let index = s.segment.index as usize;
        if s.partial {
            assert_eq!(
                (s.segment.start, s.segment.end),
                ((index * seg) as u64, (index * seg + 3840) as u64)
            );
            assert!(
                index == 0 || !out[i - 1].partial && out[i - 1].segment.index as usize == index - 1
            );
        } else {
            assert!(out[i - 1].partial && out[i - 1].segment.index as usize == index);
        }
    }
    let peak = |index: usize, partial: bool| {
        out.iter()
            .find(|s| s.partial == partial && s.segment.index as usize == index)
            .unwrap()
            .vector[0]
    };
    assert!(
        peak(3, true) > 2.0 * peak(2, true),
        "the click 40 ms in is in segment 3's window"
    );
    assert!(
        peak(5, true) < 0.5 * peak(5, false),
        "the click 200 ms in is not in its window"
    );

    // Audio after a window does not change it.
    let mut changed = audio.clone();
    changed[4 * seg + 3840 + 1000..]
        .iter_mut()
        .for_each(|x| *x = -*x * 3.0);
    let (again, _) = encode_clip(&changed, rate, &config, PeakEncoder, None).unwrap();
    let window = |out: &[counterpart_core::perception::EncodedSegment], index: u64| {
        out.iter()
            .find(|s| s.partial && s.segment.index == index)
            .unwrap()
            .vector
            .clone()
    };
    assert_eq!(window(&out, 4), window(&again, 4));

    // Streaming in odd blocks gives the same windows and segments as one call.
    let mut core = SegmentEncoderCore::new(&config, rate, PeakEncoder, None).unwrap();
    let mut streamed = Vec::new();
    for block in audio.chunks(1013) {
        core.push(block, &mut streamed).unwrap();
    }
    core.finish(&mut streamed).unwrap();
    assert_eq!(streamed, out);

    // Windows too short for an encoder frame, or longer than allowed, are refused.
    for bad in [0.01, 0.5, f64::NAN] {
        let config = SegmentEncoderConfig {
            reaction_s: bad,
            ..config
        };
        assert!(SegmentEncoderCore::new(&config, rate, PeakEncoder, None).is_err());
    }
}

#[test]
fn a_window_asked_for_at_an_onset_is_encoded_as_a_segments_window_starting_there() {
    // 16 kHz (no resampling), 0.5 s segments, 60 ms windows and 0.2 s of context; the window
    // asked for at 0.7 s, 0.2 s into segment 1.
    let rate = 16_000u32;
    let config = SegmentEncoderConfig {
        context_s: 0.2,
        reaction_s: 0.06,
        ..config(0.5)
    };
    let (at, shift) = (11_200usize, 3_200usize);
    let audio = clicks(rate as usize * 3, &[at + 300, at + 2_000, 20_000]);
    let mut core = SegmentEncoderCore::new(&config, rate, PeakEncoder, None).unwrap();
    let mut out = Vec::new();
    core.push(&audio[..at], &mut out).unwrap();
    core.request_window(1, at as u64);
    // Asked for after its segment came out whole, or before one asked already: dropped.
    core.request_window(1, at as u64 - 10);
    for block in audio[at..].chunks(517) {
        core.push(block, &mut out).unwrap();
    }
    core.request_window(0, 1_000);
    core.push(&[0.0; 20_000], &mut out).unwrap();
    let asked: Vec<_> = out.iter().filter(|s| s.onset).collect();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].partial);
    assert_eq!(
        (
            asked[0].segment.index,
            asked[0].segment.start,
            asked[0].segment.end
        ),
        (1, at as u64, at as u64 + 960)
    );
    // In the order the audio ends: after segment 1's own window, before segment 1 whole.
    let i = out.iter().position(|s| s.onset).unwrap();
    assert!(out[i - 1].partial && !out[i - 1].onset && out[i - 1].segment.index == 1);
    assert!(!out[i + 1].partial && out[i + 1].segment.index == 1);
    // The same vector as the window of a segment that starts there: segment 1 of the audio
    // from 0.2 s on.
    let (shifted, _) = encode_clip(&audio[shift..], rate, &config, PeakEncoder, None).unwrap();
    let there = shifted
        .iter()
        .find(|s| s.partial && s.segment.index == 1)
        .unwrap();
    assert_eq!(there.segment.start as usize + shift, at);
    assert_eq!(asked[0].vector, there.vector);
    assert!(asked[0].vector[0] > 0.5, "the click 19 ms in is heard");
}
