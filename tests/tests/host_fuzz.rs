//! The bundled `Counterpart.clap`, hosted through clack-host, put through what a plugin
//! validator and a busy DAW do to it: 100 rounds, each setting every parameter to a random
//! bound or value, activating, processing 1–8 blocks of random size (white noise or the demo
//! guide) and deactivating; one round in ten also saves and reloads the state. Then, with the
//! last round's structural settings held, the companion must play.
//!
//! It asserts, and prints, how long the host waited: no host-thread call (`activate`,
//! `deactivate`, a parameter flush, state save and load) may take more than 20 ms, and after
//! the first activation a round's host-thread calls together no more than 50 ms, in a release
//! build of the test and the bundle. The debug bundle (the test command's, with
//! `assert_process_allocs`) gets [`DEBUG_FACTOR`] times as long. The audio thread must never
//! allocate (the debug bundle aborts the process if it does), and the output is always finite
//! and never clips (its peak stays within full scale times the output gain, the user's choice
//! up to +12 dB; the guide itself peaks below full scale).
//!
//! A second test activates the plugin again and again once it has loaded: each activation plays
//! at once, from what the worker kept.
//!
//! Release figures: `cargo xtask bundle counterpart --release`, then
//! `COUNTERPART_CLAP=$PWD/target/bundled/Counterpart.clap cargo test --release -p
//! counterpart-tests --test host_fuzz -- --nocapture`.

mod common;

use std::time::{Duration, Instant};

use clack_host::prelude::ClapId;
use counterpart_tests::{
    assert_clean, bundled_clap, rms, AudioThread, HostedPlugin, ParamRange, CHANNELS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CLAP_ID: &str = "org.counterpart.counterpart";
const ROUNDS: usize = 100;
const RATE: f64 = 48_000.0;
const MAX_BLOCK: usize = 512;
/// The longest a single host-thread call may take (release).
const CALL_LIMIT: Duration = Duration::from_millis(20);
/// The longest a round's host-thread calls may take together, after the first activation
/// (release).
const ROUND_LIMIT: Duration = Duration::from_millis(50);
/// How much longer the debug bundle may take: unoptimised Rust in the calls that touch the
/// engine (dropping the audio side, parsing the state's JSON) runs about ten times slower.
const DEBUG_FACTOR: u32 = 5;

/// The limits for this build.
fn limit(release: Duration) -> Duration {
    if cfg!(debug_assertions) {
        release * DEBUG_FACTOR
    } else {
        release
    }
}

/// Points the plugin's re-cut cache at a folder of this process's own, so that the fuzz starts
/// with none cached; once, before either test loads the plugin (whose own copy of the standard
/// library reads the environment without the tests' lock).
fn own_cache() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        let dir = std::env::temp_dir().join(format!("cp-host-fuzz-cache-{}", std::process::id()));
        std::env::set_var("COUNTERPART_CACHE_DIR", dir);
    });
}

/// The demo guide, mono, at its own rate (it is played at 48 kHz unconverted), looped to four
/// minutes.
fn demo_guide() -> Vec<f32> {
    let (mut guide, _) = common::demo_guide(600.0);
    guide.truncate(240 * RATE as usize);
    guide
}

/// The linear gain the plugin's text for an Output Gain value says ("+6.0 dB", "-inf dB").
fn linear_gain(text: &str) -> f64 {
    let db = text.trim_end_matches("dB").trim();
    db.parse::<f64>().map_or(0.0, |db| 10f64.powf(db / 20.0))
}

/// A random bound or value of `param`: min or max half of the time, else anything in range
/// (whole values for stepped parameters).
fn random_value(rng: &mut ChaCha8Rng, param: &ParamRange) -> f64 {
    match rng.random_range(0..4) {
        0 => param.min,
        1 => param.max,
        _ if param.stepped => {
            rng.random_range(param.min.round() as i64..=param.max.round() as i64) as f64
        }
        _ => rng.random_range(param.min..=param.max),
    }
}

/// Processes `blocks`, each `(length, noise)`, feeding white noise or `guide` from its start
/// to the sidechain, and to the main input too unless `main_silent`; returns the output.
fn process(
    audio: &mut AudioThread,
    blocks: &[(usize, bool)],
    guide: &[f32],
    main_silent: bool,
    rng: &mut ChaCha8Rng,
) -> [Vec<f32>; CHANNELS] {
    let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| Vec::new());
    let mut at = 0;
    for &(n, noise) in blocks {
        let input: Vec<f32> = if noise {
            (0..n).map(|_| rng.random_range(-0.05..0.05)).collect()
        } else {
            let block = guide[at..at + n].to_vec();
            at += n;
            block
        };
        let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| {
            if main_silent {
                vec![0.0; n]
            } else {
                input.clone()
            }
        });
        let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| input.clone());
        let mut block_out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; n]);
        audio.process(&mut main, &mut side, &mut block_out, &[]);
        for (all, block) in out.iter_mut().zip(block_out) {
            all.extend(block);
        }
    }
    out
}

/// The host-thread calls of the scenario, by kind.
#[derive(Default)]
struct Calls {
    /// Each call's kind and duration.
    all: Vec<(&'static str, Duration)>,
}

impl Calls {
    fn note(&mut self, kind: &'static str, took: Duration) -> Duration {
        self.all.push((kind, took));
        took
    }

    fn of(&self, kind: &str) -> Vec<Duration> {
        self.all
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|&(_, d)| d)
            .collect()
    }

    fn longest(&self) -> (&'static str, Duration) {
        self.all
            .iter()
            .copied()
            .max_by_key(|&(_, d)| d)
            .unwrap_or(("none", Duration::ZERO))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and maximum, in milliseconds.
fn spread(mut durations: Vec<Duration>) -> String {
    durations.sort();
    match (durations.get(durations.len() / 2), durations.last()) {
        (Some(&median), Some(&max)) => {
            format!("median {:.2} ms, max {:.2} ms", ms(median), ms(max))
        }
        _ => "none".into(),
    }
}

#[test]
fn a_parameter_fuzz_never_makes_the_host_wait_and_the_companion_then_plays() {
    own_cache();
    let guide = demo_guide();
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let params = plugin.params();
    let gain_index = params
        .iter()
        .position(|p| p.name == "Output Gain")
        .expect("an Output Gain parameter");
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut calls = Calls::default();
    let mut round_times = Vec::new();
    let mut first_activation = Duration::ZERO;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let values: Vec<(ClapId, f64)> = params
            .iter()
            .map(|p| (p.id, random_value(&mut rng, p)))
            .collect();
        let mut host = calls.note("flush", plugin.flush_params(&values));
        if round % 10 == 9 {
            let t = Instant::now();
            let state = plugin.save_state();
            host += calls.note("state save", t.elapsed());
            let t = Instant::now();
            plugin.load_state(&state);
            host += calls.note("state load", t.elapsed());
        }
        let blocks: Vec<(usize, bool)> = (0..rng.random_range(1..=8))
            .map(|_| (rng.random_range(1..=MAX_BLOCK), rng.random_bool(0.5)))
            .collect();
        let seed = rng.random();
        let from = rng.random_range(0..guide.len() / 2);
        let (out, times) = plugin.run_audio_timed(RATE, MAX_BLOCK as u32, |audio| {
            process(
                audio,
                &blocks,
                &guide[from..],
                false,
                &mut ChaCha8Rng::seed_from_u64(seed),
            )
        });
        let gain = linear_gain(&plugin.value_text(params[gain_index].id, values[gain_index].1));
        assert_clean(&out, gain.max(1.0), &format!("round {round}"));
        host += calls.note("activate", times.activate);
        host += calls.note("deactivate", times.deactivate);
        if round == 0 {
            first_activation = times.activate;
        } else {
            round_times.push(host);
        }
    }
    let fuzz_time = started.elapsed();

    // The last round's settings held (look-ahead, segment, seed and the rest), made audible:
    // all wet at unity gain, not frozen, playing with no transport; the guide comes in on the
    // sidechain, so that the output is the companion alone.
    let held: Vec<(ClapId, f64)> = params
        .iter()
        .filter_map(|p| {
            let value = match p.name.as_str() {
                "Dry/Wet" => p.max,
                "Output Gain" => plugin.text_value(p.id, "0 dB"),
                "Freeze" => p.min,
                "Play When Stopped" | "Guide Source" => p.max,
                _ => return None,
            };
            Some((p.id, value))
        })
        .collect();
    plugin.flush_params(&held);
    let settings: Vec<String> = params
        .iter()
        .map(|p| format!("{} {}", p.name, plugin.param_value(p.id)))
        .collect();
    let waited = Instant::now();
    let (heard, seconds) = plugin.run_audio(RATE, MAX_BLOCK as u32, |audio| {
        // Up to four minutes of the guide, paced at four times real time (a minute) so that a
        // re-cut the final settings ask for has time to finish (about 20 s in the debug build):
        // the companion must be heard by then.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let second = RATE as usize;
        let block_time = Duration::from_secs_f64(MAX_BLOCK as f64 / RATE / 4.0);
        let mut at = 0;
        while at + second <= guide.len() {
            let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| Vec::new());
            for _ in 0..second / MAX_BLOCK {
                let t = Instant::now();
                let block = process(audio, &[(MAX_BLOCK, false)], &guide[at..], true, &mut rng);
                at += MAX_BLOCK;
                for (all, part) in out.iter_mut().zip(block) {
                    all.extend(part);
                }
                std::thread::sleep(block_time.saturating_sub(t.elapsed()));
            }
            assert_clean(&out, 1.0, "after the fuzz");
            if rms(&out[0]) > 0.005 {
                return (true, at / second);
            }
        }
        (false, at / second)
    });
    let (longest_kind, longest) = calls.longest();
    let round_limit = limit(ROUND_LIMIT);
    let call_limit = limit(CALL_LIMIT);
    eprintln!(
        "{ROUNDS} rounds in {:.2} s ({} build; limits: call {:.0} ms, round {:.0} ms)\n\
         first activate: {:.2} ms\n\
         activate after the first: {}\n\
         deactivate: {}\n\
         parameter flush: {}\n\
         state save: {}; state load: {}\n\
         a round's host-thread calls after the first: {}\n\
         longest host call: {longest_kind} {:.2} ms\n\
         after the fuzz the companion was heard after {seconds} s of guide ({:.1} s of wall \
         time), with {}",
        fuzz_time.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        ms(call_limit),
        ms(round_limit),
        ms(first_activation),
        spread(calls.of("activate")[1..].to_vec()),
        spread(calls.of("deactivate")),
        spread(calls.of("flush")),
        spread(calls.of("state save")),
        spread(calls.of("state load")),
        spread(round_times.clone()),
        ms(longest),
        waited.elapsed().as_secs_f64(),
        settings.join(", "),
    );
    assert!(
        longest <= call_limit,
        "the host waited {:.1} ms in {longest_kind}",
        ms(longest)
    );
    let slowest_round = round_times.iter().max().copied().unwrap_or_default();
    assert!(
        slowest_round <= round_limit,
        "a round's host calls took {:.1} ms",
        ms(slowest_round)
    );
    assert!(
        fuzz_time <= round_limit * ROUNDS as u32 + Duration::from_secs(10),
        "the fuzz took {:.1} s",
        fuzz_time.as_secs_f64()
    );
    assert!(
        heard,
        "the companion is silent after the fuzz, with {settings:?}"
    );
    let contract = plugin.contract();
    eprintln!(
        "CLAP contract over the fuzz: {} activations, {} host calls checked ({} latency.changed, \
         {} request_restart), {} violations",
        contract.activations,
        contract.calls,
        contract.latency_changes,
        contract.restarts,
        contract.violations.len()
    );
    // Each round sets new parameters before it re-activates: a restart asked for in one round
    // may find the latency of the next round's settings unchanged.
    contract.assert_kept("the parameter fuzz", false);
}

#[test]
fn after_the_first_load_a_re_activation_plays_again_at_once() {
    own_cache();
    let guide = demo_guide();
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    // All wet, the guide on the sidechain: the output is the companion alone. Offline, the
    // host waits for the engine in the first block: that block's time is the build's.
    let (mix, source) = (plugin.param_id("Dry/Wet"), plugin.param_id("Guide Source"));
    plugin.flush_params(&[(mix, 1.0), (source, 1.0)]);
    plugin.set_offline(true);
    // Returns the first block's processing time and the output's level past `skip` frames.
    let round = |plugin: &mut HostedPlugin, blocks: usize| {
        plugin.run_audio_timed(RATE, MAX_BLOCK as u32, |audio| {
            let mut first = Duration::ZERO;
            let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| Vec::new());
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            for b in 0..blocks {
                let t = Instant::now();
                let block = process(
                    audio,
                    &[(MAX_BLOCK, false)],
                    &guide[b * MAX_BLOCK..],
                    true,
                    &mut rng,
                );
                if b == 0 {
                    first = t.elapsed();
                }
                for (all, part) in out.iter_mut().zip(block) {
                    all.extend(part);
                }
            }
            assert_clean(&out, 1.0, "re-activation");
            (first, rms(&out[0]))
        })
    };
    // The first activation loads the preset; four seconds of guide make the companion heard.
    let seconds = 4 * RATE as usize / MAX_BLOCK;
    let ((first_load, level), first_times) = round(&mut plugin, seconds);
    assert!(level > 0.005, "the companion is silent (RMS {level})");
    let mut waits = Vec::new();
    let mut host = Vec::new();
    for _ in 0..20 {
        let ((wait, _), times) = round(&mut plugin, 5);
        waits.push(wait);
        host.push(times.activate + times.deactivate);
    }
    // It still plays.
    let ((_, level), _) = round(&mut plugin, seconds);
    assert!(
        level > 0.005,
        "the companion is silent after re-activations (RMS {level})"
    );
    eprintln!(
        "first activation: host calls {:.2} ms, engine ready after {:.0} ms (preset read, corpus \
         resampled, sessions opened)\n\
         20 re-activations (activate, 5 blocks of {MAX_BLOCK}, deactivate): host calls {}; \
         engine ready after {}",
        ms(first_times.activate + first_times.deactivate),
        ms(first_load),
        spread(host.clone()),
        spread(waits.clone()),
    );
    let slowest = host.iter().max().copied().unwrap_or_default();
    assert!(
        slowest <= limit(ROUND_LIMIT),
        "a re-activation's host calls took {:.1} ms",
        ms(slowest)
    );
    // The engine is rebuilt from what was kept, not loaded again: well under the first load.
    let slowest_wait = waits.iter().max().copied().unwrap_or_default();
    assert!(
        slowest_wait * 4 < first_load,
        "a re-activation waited {:.0} ms for its engine, the first load {:.0} ms",
        ms(slowest_wait),
        ms(first_load)
    );
}
