//! The audio-thread path allocates nothing: a counting global allocator watches `process`
//! through jumps, contiguous runs, late fallbacks, silences, crossfade changes and a corpus swap.

mod alloc_counter;

use std::sync::Arc;

use alloc_counter::{take_count, watch, CountingAllocator};

use counterpart_core::action::{
    CorpusMemory, GrainScheduler, SchedulerConfig, SegmentId, SourceRecording,
};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn corpus(frequency: f32, channels: usize) -> Arc<CorpusMemory> {
    let audio: Vec<f32> = (0..96_000)
        .map(|n| (n as f32 * frequency / 48_000.0).sin() * 0.7)
        .collect();
    Arc::new(
        CorpusMemory::build(
            48_000,
            vec![SourceRecording {
                name: "tone".into(),
                sample_rate: 48_000,
                channels: vec![audio; channels],
                boundaries: (0..=20).map(|i| i * 4_800).collect(),
                labels: (0..20).map(|i| i % 4).collect(),
            }],
        )
        .unwrap(),
    )
}

/// Renders `frames` frames in blocks of `block`, counting allocations only inside `process`.
fn process_watched(
    scheduler: &mut GrainScheduler,
    out: &mut [Vec<f32>; 2],
    frames: usize,
    block: usize,
) {
    let mut done = 0;
    while done < frames {
        let size = block.min(frames - done);
        let (left, right) = out.split_at_mut(1);
        let mut views = [&mut left[0][..size], &mut right[0][..size]];
        watch(|| scheduler.process(&mut views)).unwrap();
        done += size;
    }
}

#[test]
fn process_never_allocates_or_frees() {
    // The counter sees allocations made while watching.
    let probe = watch(|| vec![1u8; 16]);
    drop(probe);
    assert_eq!(take_count(), 1);

    let first = corpus(2_000.0, 2);
    let second = corpus(3_000.0, 1);
    let (mut scheduler, mut handle) = GrainScheduler::new(SchedulerConfig::new(48_000)).unwrap();
    let mut out = [vec![0.0f32; 4_096], vec![0.0f32; 4_096]];
    handle.load_corpus(Arc::clone(&first)).unwrap();
    // Jumps, a contiguous pair, a jump back, then silence.
    for (k, id) in [3u32, 9, 10, 2, 15].into_iter().enumerate() {
        handle.play(k as u64 * 4_800, SegmentId(id)).unwrap();
    }
    handle.silence(5 * 4_800).unwrap();
    handle.play(6 * 4_800, SegmentId(7)).unwrap();
    process_watched(&mut scheduler, &mut out, 7 * 4_800, 128);
    // The worker goes quiet: late fallbacks to successors.
    process_watched(&mut scheduler, &mut out, 3 * 4_800, 4_096);
    // A new crossfade length, then a corpus swap while a voice plays.
    handle.set_crossfade(0.01).unwrap();
    handle.load_corpus(Arc::clone(&second)).unwrap();
    let at = scheduler.position() + 1_000;
    handle.play(at, SegmentId(4)).unwrap();
    handle.play(at + 4_800, SegmentId(11)).unwrap();
    process_watched(&mut scheduler, &mut out, 3 * 4_800, 1);
    process_watched(&mut scheduler, &mut out, 4_800, 333);
    assert_eq!(take_count(), 0);
    let counters = scheduler.counters();
    assert!(counters.late_fallbacks >= 2);
    // The old corpus went back to the worker and is freed here.
    assert_eq!(handle.collect_retired(), 1);
    drop(handle);
    assert_eq!(Arc::strong_count(&first), 1);
}
