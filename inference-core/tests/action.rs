//! Behaviour of the action module on synthetic corpora: reconstruction, crossfades, label
//! fidelity, determinism, late-worker fallback and corpus swaps.

use std::f64::consts::TAU;
use std::sync::Arc;

use counterpart_core::action::{
    CorpusMemory, GrainScheduler, Label, LabelDistances, MissingLabelPolicy, Navigator,
    NavigatorConfig, ProcessError, ScheduleError, SchedulerConfig, SchedulerHandle, SegmentId,
    SourceRecording,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RATE: u32 = 48_000;
/// 40 ms at 48 kHz.
const FADE: u64 = 1_920;

fn sine(frames: usize, frequency: f64, amplitude: f64, phase: f64) -> Vec<f32> {
    (0..frames)
        .map(|n| (amplitude * (TAU * frequency * n as f64 / f64::from(RATE) + phase).sin()) as f32)
        .collect()
}

fn noise(frames: usize, amplitude: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..frames)
        .map(|_| rng.random_range(-amplitude..=amplitude))
        .collect()
}

/// A recording cut into segments of `segment` frames, labelled by `label(i)`.
fn recording(
    name: &str,
    channels: Vec<Vec<f32>>,
    segment: u64,
    label: impl Fn(usize) -> Label,
) -> SourceRecording {
    let frames = channels[0].len() as u64;
    let boundaries: Vec<u64> = (0..=frames / segment).map(|i| i * segment).collect();
    let labels = (0..boundaries.len() - 1).map(label).collect();
    SourceRecording {
        name: name.into(),
        sample_rate: RATE,
        channels,
        boundaries,
        labels,
    }
}

fn corpus(recordings: Vec<SourceRecording>) -> Arc<CorpusMemory> {
    Arc::new(CorpusMemory::build(RATE, recordings).unwrap())
}

fn start_scheduler(corpus: &Arc<CorpusMemory>) -> (GrainScheduler, SchedulerHandle) {
    let (scheduler, mut handle) = GrainScheduler::new(SchedulerConfig::new(RATE)).unwrap();
    handle.load_corpus(Arc::clone(corpus)).unwrap();
    (scheduler, handle)
}

/// Renders `frames` frames on `channels` channels in blocks whose sizes cycle through `blocks`.
fn render(
    scheduler: &mut GrainScheduler,
    channels: usize,
    frames: usize,
    blocks: &[usize],
) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0.0f32; frames]; channels];
    let mut done = 0;
    let mut block = blocks.iter().cycle();
    while done < frames {
        let size = (*block.next().unwrap()).min(frames - done);
        let mut views: Vec<&mut [f32]> =
            out.iter_mut().map(|c| &mut c[done..done + size]).collect();
        scheduler.process(&mut views).unwrap();
        done += size;
    }
    out
}

/// Asserts that `rendered` equals the start of `expected`, bit for bit.
fn assert_bit_exact(rendered: &[f32], expected: &[f32]) {
    assert!(expected.len() >= rendered.len());
    for (n, (x, y)) in rendered.iter().zip(expected).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "frame {n}: {x} != {y}");
    }
}

fn max_step(signal: &[f32]) -> f32 {
    signal
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn contiguous_run_rebuilds_the_corpus_bit_exactly() {
    let left = noise(96_000, 0.9, 1);
    let right = sine(96_000, 331.0, 0.7, 0.3);
    let memory = corpus(vec![recording("stereo", vec![left, right], 4_800, |i| {
        (i % 5) as Label
    })]);
    let segments = memory.segments();
    for blocks in [&[128usize][..], &[1, 7, 4_096, 333, 64, 2_047]] {
        let (mut scheduler, mut handle) = start_scheduler(&memory);
        // Segments 3..15 back to back, each at its own boundary.
        let origin = 10_000u64;
        for (k, id) in (3..15u32).enumerate() {
            handle
                .play(origin + k as u64 * 4_800, SegmentId(id))
                .unwrap();
        }
        let out = render(&mut scheduler, 2, origin as usize + 12 * 4_800, blocks);
        // After the fade-in from silence, every frame is the corpus frame, bit for bit.
        let start = segments[3].start as usize;
        let from = (origin + FADE / 2) as usize;
        for (channel, rendered) in out.iter().enumerate() {
            let expected = &memory.channel(channel)[start + from - origin as usize..];
            assert_bit_exact(&rendered[from..], expected);
        }
        assert_eq!(scheduler.counters().late_fallbacks, 0);
        assert_eq!(scheduler.counters().late_commands, 0);
    }
}

#[test]
fn renders_do_not_depend_on_block_sizes() {
    let memory = corpus(vec![recording(
        "noise",
        vec![noise(200_000, 0.8, 2)],
        6_000,
        |i| (i % 4) as Label,
    )]);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let plan: Vec<u32> = (0..25).map(|_| rng.random_range(0..33)).collect();
    let outputs: Vec<Vec<Vec<f32>>> = [&[128usize][..], &[1, 4_096, 17, 999]]
        .iter()
        .map(|blocks| {
            let (mut scheduler, mut handle) = start_scheduler(&memory);
            for (k, &id) in plan.iter().enumerate() {
                handle.play(k as u64 * 6_000, SegmentId(id)).unwrap();
            }
            render(&mut scheduler, 1, 25 * 6_000, blocks)
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn crossfade_gains_are_equal_power_with_half_power_at_the_midpoint() {
    // Frames 0..20 000 hold a constant 0.4, the rest is silence: a voice's gain is then its
    // output divided by 0.4.
    let mut audio = vec![0.4f32; 20_000];
    audio.extend(vec![0.0f32; 20_000]);
    let memory = corpus(vec![recording("steps", vec![audio], 4_000, |i| i as Label)]);
    let jump_at = 14_000u64;
    let gains = |first: u32, second: u32| {
        let (mut scheduler, mut handle) = start_scheduler(&memory);
        handle.play(10_000, SegmentId(first)).unwrap();
        handle.play(jump_at, SegmentId(second)).unwrap();
        let out = render(&mut scheduler, 1, 20_000, &[128]);
        let start = (jump_at - FADE / 2) as usize;
        out[0][start..start + FADE as usize + 1]
            .iter()
            .map(|x| x / 0.4)
            .collect::<Vec<f32>>()
    };
    let fade_out = gains(1, 7);
    let fade_in = gains(7, 1);
    assert!(fade_out[0] > 0.999_999 && fade_in[0] == 0.0);
    assert!(fade_out[FADE as usize] == 0.0 && fade_in[FADE as usize] > 0.999_999);
    for j in 0..=FADE as usize {
        let power = fade_out[j] * fade_out[j] + fade_in[j] * fade_in[j];
        assert!((power - 1.0).abs() < 1e-5, "frame {j}: power {power}");
        let expected = (std::f64::consts::FRAC_PI_2 * j as f64 / FADE as f64).sin();
        assert!((f64::from(fade_in[j]) - expected).abs() < 1e-5, "frame {j}");
    }
    let half = FADE as usize / 2;
    assert!((fade_in[half] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert!((fade_out[half] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
}

#[test]
fn jumps_between_unrelated_segments_are_continuous() {
    let a = recording("a", vec![sine(96_000, 220.0, 0.8, 0.0)], 16_800, |_| 0);
    let b = recording("b", vec![sine(96_000, 347.0, 0.8, 1.9)], 16_800, |_| 1);
    let memory = corpus(vec![a, b]);
    let count = memory.segment_count() as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut plan = vec![0u32];
    while plan.len() < 30 {
        let next = rng.random_range(0..count);
        if Some(next)
            != memory
                .successor(SegmentId(*plan.last().unwrap()))
                .map(|s| s.0)
        {
            plan.push(next);
        }
    }
    let (mut scheduler, mut handle) = start_scheduler(&memory);
    for (k, &id) in plan.iter().enumerate() {
        handle
            .play(FADE + k as u64 * 16_800, SegmentId(id))
            .unwrap();
    }
    let out = render(&mut scheduler, 1, (FADE + 30 * 16_800) as usize, &[128]);
    // A 347 Hz sine at 0.8 moves by at most 0.036 per frame.
    let natural = (0.8 * TAU * 347.0 / f64::from(RATE)) as f32;
    // Overlapping voices may add their slopes, at most by √2 with equal-power gains.
    let rendered = max_step(&out[0][FADE as usize..]);
    assert!(
        rendered < natural * 1.5,
        "max step {rendered} (natural {natural})"
    );
    // Butt-splicing the same segments would click.
    let spliced: Vec<f32> = plan
        .iter()
        .flat_map(|&id| {
            let s = memory.segments()[id as usize];
            memory.channel(0)[s.start as usize..s.end as usize].to_vec()
        })
        .collect();
    assert!(max_step(&spliced) > 0.3);
}

#[test]
fn overlapping_crossfades_of_normalised_audio_do_not_clip() {
    // Full-scale material: a constant +1 region and a full-scale noise region.
    let mut audio = vec![1.0f32; 48_000];
    audio.extend(noise(48_000, 1.0, 4));
    let memory = corpus(vec![recording("loud", vec![audio], 4_800, |i| i as Label)]);
    let count = memory.segment_count() as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut scheduler, mut handle) = start_scheduler(&memory);
    // Without the guard, two voices at +1 overlapping at the midpoint would reach √2.
    handle.play(0, SegmentId(2)).unwrap();
    handle.play(4_800, SegmentId(6)).unwrap();
    for k in 2..80u64 {
        handle
            .play(k * 4_800, SegmentId(rng.random_range(0..count)))
            .unwrap();
    }
    let out = render(&mut scheduler, 1, 80 * 4_800, &[128]);
    let peak = out[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(peak <= 1.0, "peak {peak}");
    // The guard changes gains smoothly: the constant region stays free of steps.
    assert!(max_step(&out[0][..8_600]) < 0.01);
}

#[test]
fn late_worker_falls_back_to_the_successor() {
    let memory = corpus(vec![recording(
        "noise",
        vec![noise(96_000, 0.5, 6)],
        4_800,
        |i| (i % 3) as Label,
    )]);
    let (mut scheduler, mut handle) = start_scheduler(&memory);
    handle.play(0, SegmentId(2)).unwrap();
    // The worker falls silent for four segments.
    let out = render(&mut scheduler, 1, 4 * 4_800, &[128]);
    let start = memory.segments()[2].start as usize;
    assert_bit_exact(
        &out[0][FADE as usize..],
        &memory.channel(0)[start + FADE as usize..],
    );
    let counters = handle.telemetry().counters();
    assert_eq!(counters.late_fallbacks, 3);
    assert_eq!(handle.now_playing().map(|(id, _)| id), Some(SegmentId(5)));

    // The decision for the slot that began at 14 400 arrives 600 frames late: it is applied at
    // once, aligned with its slot, with a full crossfade.
    assert_eq!(counters.position, 19_200);
    let (mut scheduler, mut handle) = start_scheduler(&memory);
    handle.play(0, SegmentId(2)).unwrap();
    render(&mut scheduler, 1, 15_000, &[128]);
    handle.play(14_400, SegmentId(12)).unwrap();
    let out = render(&mut scheduler, 1, 4_800, &[128]);
    let counters = scheduler.counters();
    assert_eq!(counters.late_commands, 1);
    let target = memory.segments()[12].start as usize;
    let aligned = target + (15_000 - 14_400) + FADE as usize;
    assert_bit_exact(&out[0][FADE as usize..], &memory.channel(0)[aligned..]);
    assert_eq!(handle.now_playing().map(|(id, _)| id), Some(SegmentId(13)));

    // A decision for a slot that is already over is dropped.
    handle.play(14_400, SegmentId(0)).unwrap();
    render(&mut scheduler, 1, 128, &[128]);
    assert_eq!(scheduler.counters().dropped_commands, 1);
}

#[test]
fn navigated_segments_carry_the_requested_labels() {
    let labels = 12u32;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Labels 10 and 11 never occur in the corpus.
    let corpus_labels: Vec<Label> = (0..300).map(|_| rng.random_range(0..10)).collect();
    let memory = corpus(vec![recording(
        "corpus",
        vec![noise(300 * 2_400, 0.5, 8)],
        2_400,
        |i| corpus_labels[i],
    )]);
    let centres: Vec<f32> = (0..labels).map(|l| (l as f32).powf(1.3)).collect();
    let table = LabelDistances::from_centres(&centres, 1).unwrap();
    for continuity in [0.0, 0.5, 1.0] {
        for no_immediate_repeat in [false, true] {
            for policy in [
                MissingLabelPolicy::Silence,
                MissingLabelPolicy::NearestLabel(table.clone()),
            ] {
                let config = NavigatorConfig {
                    continuity,
                    no_immediate_repeat,
                    missing_label: policy.clone(),
                    seed: 11,
                    ..NavigatorConfig::default()
                };
                let mut navigator = Navigator::new(Arc::clone(&memory), config).unwrap();
                let mut previous = None;
                for _ in 0..2_000 {
                    let label = rng.random_range(0..labels);
                    let decision = navigator.decide(label).unwrap();
                    if label < 10 {
                        let id = decision.segment.expect("the label exists");
                        assert_eq!(memory.segments()[id.index()].label, label);
                        if no_immediate_repeat {
                            assert_ne!(Some(id), previous);
                        }
                    } else if policy == MissingLabelPolicy::Silence {
                        assert_eq!(decision.segment, None);
                    } else {
                        let nearest = table.nearest(label, |l| l < 10).unwrap();
                        let id = decision.segment.unwrap();
                        assert_eq!(memory.segments()[id.index()].label, nearest);
                    }
                    previous = decision.segment;
                }
                let stats = navigator.stats();
                assert!(stats.missing_labels > 0);
                if continuity == 1.0 {
                    assert!(stats.successors > 0);
                }
            }
        }
    }
}

/// Drives navigator and scheduler slot by slot, as the worker will, and records what was heard.
fn perform(
    memory: &Arc<CorpusMemory>,
    seed: u64,
    requests: &[Label],
) -> (Vec<Option<SegmentId>>, Vec<f32>, Vec<Option<Label>>) {
    let slot = 2_400u64;
    let config = NavigatorConfig {
        continuity: 0.7,
        seed,
        ..NavigatorConfig::default()
    };
    let mut navigator = Navigator::new(Arc::clone(memory), config).unwrap();
    let (mut scheduler, mut handle) = start_scheduler(memory);
    let mut chosen = Vec::new();
    let mut heard = Vec::new();
    let mut audio = Vec::new();
    for (k, &label) in requests.iter().enumerate() {
        let at = FADE + k as u64 * slot;
        let decision = navigator.decide(label).unwrap();
        match decision.segment {
            Some(id) => handle.play(at, id).unwrap(),
            None => handle.silence(at).unwrap(),
        }
        chosen.push(decision.segment);
        let until_middle = (at + slot / 2 - scheduler.position()) as usize;
        audio.extend(render(&mut scheduler, 1, until_middle, &[128]).remove(0));
        heard.push(handle.now_playing().map(|(_, provenance)| provenance.label));
        handle.collect_retired();
    }
    (chosen, audio, heard)
}

#[test]
fn performance_is_deterministic_for_a_seed_and_plays_the_requested_labels() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let corpus_labels: Vec<Label> = (0..200).map(|_| rng.random_range(0..6)).collect();
    let memory = corpus(vec![recording(
        "corpus",
        vec![noise(200 * 2_400, 0.5, 13)],
        2_400,
        |i| corpus_labels[i],
    )]);
    let requests: Vec<Label> = (0..150).map(|_| rng.random_range(0..6)).collect();
    let (first, audio, heard) = perform(&memory, 42, &requests);
    let (again, audio_again, _) = perform(&memory, 42, &requests);
    let (other, _, _) = perform(&memory, 43, &requests);
    assert_eq!(first, again);
    assert_eq!(audio, audio_again);
    assert_ne!(first, other);
    // In the middle of every slot, the segment sounding carries the label asked for.
    for (label, heard) in requests.iter().zip(&heard) {
        assert_eq!(*heard, Some(*label));
    }
}

#[test]
fn stereo_corpus_renders_stereo_and_mono_corpus_fills_both_channels() {
    let left = sine(48_000, 200.0, 0.5, 0.0);
    let right = sine(48_000, 300.0, 0.5, 0.0);
    let stereo = corpus(vec![recording(
        "stereo",
        vec![left.clone(), right.clone()],
        4_800,
        |_| 0,
    )]);
    let (mut scheduler, mut handle) = start_scheduler(&stereo);
    handle.play(0, SegmentId(0)).unwrap();
    let out = render(&mut scheduler, 2, 9_600, &[256]);
    assert_eq!(&out[0][FADE as usize..], &left[FADE as usize..9_600]);
    assert_eq!(&out[1][FADE as usize..], &right[FADE as usize..9_600]);

    let mono = corpus(vec![recording("mono", vec![left.clone()], 4_800, |_| 0)]);
    let (mut scheduler, mut handle) = start_scheduler(&mono);
    handle.play(0, SegmentId(0)).unwrap();
    let out = render(&mut scheduler, 2, 9_600, &[256]);
    assert_eq!(out[0], out[1]);
}

#[test]
fn corpus_swap_hands_the_old_corpus_back_to_the_worker() {
    let old = corpus(vec![recording(
        "old",
        vec![noise(48_000, 0.5, 14)],
        4_800,
        |_| 0,
    )]);
    let new = corpus(vec![recording(
        "new",
        vec![sine(48_000, 440.0, 0.5, 0.0)],
        4_800,
        |_| 1,
    )]);
    let (mut scheduler, mut handle) = start_scheduler(&old);
    handle.play(0, SegmentId(0)).unwrap();
    render(&mut scheduler, 1, 4_000, &[128]);
    handle.load_corpus(Arc::clone(&new)).unwrap();
    handle.play(4_800, SegmentId(3)).unwrap();
    render(&mut scheduler, 1, 5_000, &[128]);
    // The old corpus faded out and came back: only the test holds it now.
    assert_eq!(handle.collect_retired(), 1);
    assert_eq!(Arc::strong_count(&old), 1);
    assert_eq!(
        handle.now_playing().map(|(id, p)| (id, p.source)),
        Some((SegmentId(3), "new"))
    );
}

#[test]
fn bad_requests_get_errors() {
    let memory = corpus(vec![recording(
        "x",
        vec![noise(48_000, 0.5, 15)],
        4_800,
        |_| 0,
    )]);
    let (mut scheduler, mut handle) = GrainScheduler::new(SchedulerConfig::new(RATE)).unwrap();
    assert_eq!(handle.play(0, SegmentId(0)), Err(ScheduleError::NoCorpus));
    handle.load_corpus(Arc::clone(&memory)).unwrap();
    assert!(matches!(
        handle.play(0, SegmentId(10)),
        Err(ScheduleError::UnknownSegment { .. })
    ));
    handle.play(100, SegmentId(1)).unwrap();
    assert!(matches!(
        handle.play(50, SegmentId(1)),
        Err(ScheduleError::OutOfOrder { .. })
    ));
    assert!(matches!(
        handle.set_crossfade(0.0),
        Err(ScheduleError::Crossfade(_))
    ));
    let (_, mut other) = GrainScheduler::new(SchedulerConfig::new(44_100)).unwrap();
    assert!(matches!(
        other.load_corpus(memory),
        Err(ScheduleError::SampleRate { .. })
    ));
    let mut a = vec![0.0f32; 64];
    let mut b = vec![0.0f32; 63];
    assert_eq!(
        scheduler.process(&mut [&mut a[..], &mut b[..]]),
        Err(ProcessError::ChannelLengths)
    );
    assert_eq!(
        scheduler.process(&mut []),
        Err(ProcessError::ChannelCount(0))
    );
}
