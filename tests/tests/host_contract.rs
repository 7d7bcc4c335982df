//! The bundled `Counterpart.clap` against the CLAP host contract, through the recording test
//! host: every call the plugin makes to the host is checked ([`HostedPlugin::contract`]):
//! `latency.changed` only inside `activate`, main-thread-only host functions only from the
//! main thread, and every `request_restart` followed by a new latency at the next activation.
//!
//! Scenarios, each in Aligned mode (the plugin reports latency):
//! - re-activations at 22.05, 44.1, 48, 96 and 192 kHz in a row, with maximum block sizes from
//!   1 to 16384 frames, each processing blocks of the demo guide, the host's main thread
//!   answering the plugin's callback requests during processing or, every other time, only
//!   after deactivation;
//! - transport fuzzing: play, stop, jumps, loops (jumps back) and tempo changes at random block
//!   boundaries;
//! - a process loop that sleeps between calls, and inputs flagged constant;
//! - Look-ahead and Segment switched while the plugin is active: the plugin asks for a restart
//!   and reports the new latency when the host re-activates it, and until then the companion
//!   plays at the latency announced;
//! - bursts ahead of real time while the host claims real time (200 ms of audio in 10 ms, then
//!   a pause), with parameter changes that force engine rebuilds: no process call may take a
//!   quarter of its block's duration of the audio thread's CPU time, none may wait (sleep,
//!   lock, I/O), and the companion keeps playing.
//!
//! The parameter fuzz (`host_fuzz.rs`) runs the same contract check over its 100 rounds.

mod common;

use std::time::{Duration, Instant};

use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::Pckn;
use clack_host::prelude::ClapId;
use counterpart_tests::{bundled_clap, rms, AudioThread, HostedPlugin, CHANNELS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CLAP_ID: &str = "org.counterpart.counterpart";
/// The plain value of Look-ahead's modes.
const LIVE: f64 = 0.0;
const ALIGNED: f64 = 1.0;
/// The plain value of Segment's eighth notes.
const EIGHTH: f64 = 2.0;

/// The demo guide, mono, looped to `seconds`.
fn guide(seconds: f64) -> Vec<f32> {
    common::demo_guide(seconds).0
}

/// Loads the plugin with the companion made audible: all wet, guide on the sidechain, playing
/// with a stopped transport.
fn load() -> HostedPlugin {
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let values: Vec<(ClapId, f64)> = plugin
        .params()
        .iter()
        .filter_map(|p| match p.name.as_str() {
            "Dry/Wet" | "Play When Stopped" | "Guide Source" => Some((p.id, p.max)),
            "Look-ahead" => Some((p.id, ALIGNED)),
            _ => None,
        })
        .collect();
    plugin.flush_params(&values);
    plugin
}

/// [`play`], paced in real time at `rate` Hz, as a sound card drives a host.
fn play_paced(
    audio: &mut AudioThread,
    guide: &[f32],
    rate: f64,
    frames: usize,
    block: usize,
    events: &[ParamValueEvent],
) -> Vec<f32> {
    let started = Instant::now();
    let mut out = Vec::with_capacity(frames);
    while out.len() < frames {
        let at = out.len();
        let first = if at == 0 { events } else { &[] };
        out.extend(play(audio, guide, at, block.min(frames - at), block, first));
        let due = Duration::from_secs_f64(out.len() as f64 / rate);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
    }
    out
}

/// Processes `frames` of `guide` (from `at`) in blocks of `block`, with `events` in the first
/// block; returns the output's left channel.
fn play(
    audio: &mut AudioThread,
    guide: &[f32],
    at: usize,
    frames: usize,
    block: usize,
    events: &[ParamValueEvent],
) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames);
    let mut done = 0;
    while done < frames {
        let n = block.min(frames - done);
        let input: Vec<f32> = (0..n)
            .map(|i| guide[(at + done + i) % guide.len()])
            .collect();
        let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; n]);
        let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| input.clone());
        let mut block_out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; n]);
        let first = if done == 0 { events } else { &[] };
        audio.process(&mut main, &mut side, &mut block_out, first);
        out.extend_from_slice(&block_out[0]);
        done += n;
    }
    out
}

/// What process calls cost the audio thread.
#[derive(Debug, Default)]
struct CallCost {
    count: usize,
    longest_wall: Duration,
    longest_cpu: Duration,
    /// Calls in which the audio thread waited: slept, blocked on a lock or did I/O.
    waited: usize,
}

impl CallCost {
    /// Notes a call that took `wall` and started when the thread's usage was `before`.
    fn note(&mut self, wall: Duration, before: (Duration, i64)) {
        let after = thread_usage();
        self.count += 1;
        self.longest_wall = self.longest_wall.max(wall);
        self.longest_cpu = self.longest_cpu.max(after.0.saturating_sub(before.0));
        if after.1 > before.1 {
            self.waited += 1;
        }
    }
}

/// The calling thread's CPU time and its voluntary context switches so far (each a wait: a
/// sleep, a lock or I/O; being preempted is an involuntary one).
fn thread_usage() -> (Duration, i64) {
    let mut cpu = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both calls only write into the structures they are given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut cpu);
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
    }
    (
        Duration::new(cpu.tv_sec as u64, cpu.tv_nsec as u32),
        usage.ru_nvcsw,
    )
}

/// Prints and asserts the contract report.
fn check(plugin: &HostedPlugin, scenario: &str) {
    let report = plugin.contract();
    println!(
        "{scenario}: {} activations, {} host calls checked ({} latency.changed, {} \
         request_restart), {} violations",
        report.activations,
        report.calls,
        report.latency_changes,
        report.restarts,
        report.violations.len()
    );
    report.assert_kept(scenario, true);
}

#[test]
fn reactivations_at_every_rate_and_block_size_keep_the_latency_contract() {
    let guide = guide(20.0);
    let mut plugin = load();
    let mut latencies = Vec::new();
    for rate in [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
        for (i, max_block) in [1usize, 64, 512, 4096, 16384].into_iter().enumerate() {
            // Every other activation, the host's main thread is busy until it deactivates.
            plugin.set_pump_while_processing(i % 2 == 0);
            let block = max_block.min(2048);
            // A quarter second of audio, at least two blocks.
            let frames = (rate as usize / 4).max(2 * max_block).min(block * 64);
            plugin.run_audio(rate, max_block as u32, |audio| {
                play(audio, &guide, 0, frames, block, &[])
            });
            latencies.push((rate, max_block, plugin.latency()));
        }
    }
    println!("latency (rate, max block, samples): {latencies:?}");
    check(&plugin, "rates and block sizes");
    // The margin follows the block size: the latency does too, reported at each activation.
    let at_48k: Vec<u32> = latencies
        .iter()
        .filter(|l| l.0 == 48_000.0)
        .map(|l| l.2)
        .collect();
    assert!(at_48k.windows(2).all(|w| w[0] <= w[1]), "{at_48k:?}");
    assert!(at_48k[0] < at_48k[4], "{at_48k:?}");
}

#[test]
fn transport_fuzzing_keeps_the_latency_contract() {
    let guide = guide(30.0);
    let mut plugin = load();
    let mut rng = ChaCha8Rng::seed_from_u64(30);
    for round in 0..4 {
        let block = [64usize, 256, 512, 1024][round];
        plugin.set_pump_while_processing(round % 2 == 0);
        plugin.run_audio(48_000.0, block as u32, |audio| {
            let mut seconds = 0.0f64;
            let mut bpm = 120.0;
            let mut playing = true;
            for _ in 0..200 {
                match rng.random_range(0..10) {
                    0 => playing = !playing,
                    1 => seconds = rng.random_range(0.0..20.0),
                    // A loop: back to its start.
                    2 => seconds = (seconds - 2.0).max(0.0),
                    3 => bpm = rng.random_range(60.0..180.0),
                    _ => {}
                }
                audio.set_transport_state(Some((seconds, bpm)), playing);
                let at = (seconds * 48_000.0) as usize;
                play(audio, &guide, at, block, block, &[]);
                if playing {
                    seconds += block as f64 / 48_000.0;
                }
            }
        });
    }
    check(&plugin, "transport fuzzing");
}

#[test]
fn a_sleeping_process_loop_and_constant_inputs_keep_the_latency_contract() {
    let guide = guide(10.0);
    let mut plugin = load();
    for max_block in [256u32, 1024] {
        plugin.set_pump_while_processing(max_block == 256);
        plugin.run_audio(48_000.0, max_block, |audio| {
            for i in 0..40 {
                play(audio, &guide, i * 256, 256, 256, &[]);
                std::thread::sleep(Duration::from_millis(if i % 10 == 0 { 200 } else { 5 }));
            }
            audio.set_constant_inputs(true);
            let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.25; 256]);
            let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.25; 256]);
            for _ in 0..40 {
                let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; 256]);
                audio.process(&mut main, &mut side, &mut out, &[]);
                assert!(out.iter().flatten().all(|x| x.is_finite()));
            }
            audio.set_constant_inputs(false);
        });
    }
    check(&plugin, "sleeping process loop and constant inputs");
}

#[test]
fn switching_look_ahead_or_segment_while_active_asks_for_a_restart_and_reports_it_then() {
    let guide = guide(30.0);
    let mut plugin = load();
    let lookahead = plugin.param_id("Look-ahead");
    let segment = plugin.param_id("Segment");
    let rate = 48_000.0;
    let second = rate as usize;
    // Aligned: the companion plays at the latency announced.
    plugin.run_audio(rate, 512, |audio| {
        play_paced(audio, &guide, rate, 4 * second, 512, &[])
    });
    let aligned = plugin.latency();
    assert!(aligned > 0);
    let restarts = |plugin: &HostedPlugin| plugin.contract().restarts;
    for (param, value, what) in [
        (lookahead, LIVE, "Look-ahead to Live"),
        (lookahead, ALIGNED, "Look-ahead back to Aligned"),
        (segment, EIGHTH, "Segment to eighth notes"),
    ] {
        let before = plugin.latency();
        let asked = restarts(&plugin);
        let event = ParamValueEvent::new(0, param, Pckn::match_all(), value);
        let heard = plugin.run_audio(rate, 512, |audio| {
            play_paced(audio, &guide, rate, 2 * second, 512, &[]);
            let out = play_paced(audio, &guide, rate, 3 * second, 512, &[event]);
            rms(&out[second..])
        });
        // Until the host restarts the plugin, the latency is the one announced.
        assert_eq!(
            plugin.latency(),
            before,
            "{what}: the latency moved while active"
        );
        assert!(
            restarts(&plugin) > asked,
            "{what}: the plugin did not ask for a restart"
        );
        assert!(heard > 0.005, "{what}: the companion stopped ({heard})");
        // The host restarts the plugin: the new latency is reported in activate.
        plugin.run_audio(rate, 512, |audio| {
            play_paced(audio, &guide, rate, second, 512, &[])
        });
        let after = plugin.latency();
        println!("{what}: latency {before} -> {after} samples after the restart");
        assert_ne!(before, after, "{what}");
    }
    check(&plugin, "Look-ahead and Segment switched while active");
}

#[test]
fn bursts_ahead_of_real_time_never_block_the_audio_thread() {
    let guide = guide(30.0);
    let mut plugin = load();
    let seed = plugin.param_id("Seed");
    let rate = 48_000.0;
    let block = 512usize;
    let block_time = Duration::from_secs_f64(block as f64 / rate);
    let (calls, heard) = plugin.run_audio(rate, block as u32, |audio| {
        let mut calls = CallCost::default();
        let mut heard = Vec::new();
        let mut at = 0;
        // 10 s of audio: 50 bursts of 200 ms, each processed as fast as possible, then a
        // pause of 190 ms; every 10th burst changes the seed, which rebuilds the engine.
        for burst in 0..50 {
            let started = Instant::now();
            let mut out = Vec::new();
            for i in 0..(rate as usize / 5) / block {
                let events = if i == 0 && burst % 10 == 5 {
                    vec![ParamValueEvent::new(
                        0,
                        seed,
                        Pckn::match_all(),
                        f64::from(burst),
                    )]
                } else {
                    Vec::new()
                };
                let input: Vec<f32> = (0..block).map(|i| guide[(at + i) % guide.len()]).collect();
                let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; block]);
                let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| input.clone());
                let mut block_out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; block]);
                let (wall, usage) = (Instant::now(), thread_usage());
                audio.process(&mut main, &mut side, &mut block_out, &events);
                calls.note(wall.elapsed(), usage);
                out.extend_from_slice(&block_out[0]);
                at += block;
            }
            heard.push(rms(&out));
            std::thread::sleep(Duration::from_millis(200).saturating_sub(started.elapsed()));
        }
        (calls, heard)
    });
    let playing = heard.iter().filter(|&&r| r > 0.005).count();
    println!("companion level per burst: {heard:.3?}");
    println!(
        "bursts: {} process calls; longest {:.3} ms of wall time (preemption by the other \
         threads included), {:.3} ms of the audio thread's CPU time (a quarter block is {:.3} \
         ms); {} calls waited (slept, locked or did I/O); companion heard in {playing} of {} \
         bursts",
        calls.count,
        calls.longest_wall.as_secs_f64() * 1e3,
        calls.longest_cpu.as_secs_f64() * 1e3,
        block_time.as_secs_f64() * 250.0,
        calls.waited,
        heard.len()
    );
    // Each call's own work is measured as the audio thread's CPU time (which inference would
    // fill), and any wait as a voluntary context switch (a sleep, a lock or I/O): neither
    // depends on how the machine's cores are shared, unlike wall time.
    assert!(
        calls.longest_cpu <= block_time / 4,
        "a process call took {:.3} ms of CPU time",
        calls.longest_cpu.as_secs_f64() * 1e3
    );
    assert_eq!(calls.waited, 0, "process calls waited");
    // Once loaded, the companion plays on: only a rebuilt engine's first segment and margin
    // (at most four bursts) are silent.
    let first = heard
        .iter()
        .position(|&r| r > 0.005)
        .expect("the companion never played");
    let longest_gap = heard[first..]
        .split(|&r| r > 0.005)
        .map(<[f64]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest_gap <= 4,
        "the companion stopped for {longest_gap} bursts: {heard:.3?}"
    );
    check(&plugin, "bursts ahead of real time");
}
