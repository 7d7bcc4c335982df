//! The bundled `Counterpart.clap` (a debug build, with `assert_process_allocs`), hosted through
//! clack-host, plays the embedded default preset against a real guide (`demo/guide.flac`, a
//! soprano line the preset never trained on, looped to several minutes) at random block sizes.
//!
//! * Offline ("freewheeling") rendering gives exactly the audio of `counterpart render` with
//!   the same preset, guide, settings and seed, hence the same segments; twice in a row, after
//!   a reactivation; and at another sample rate it still plays, the same after a reset.
//! * Real time, with the worker on its own thread, paced at twice real time: the output carries
//!   the companion, has no NaN or infinity and does not clip, through automation (temperature,
//!   freeze, look-ahead mode), a reset and a sample-rate change, and nothing allocates on the
//!   audio thread (the debug plugin aborts if anything does).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::Pckn;
use common::{demo_guide as guide, render_as_the_plugin, repo};
use counterpart_core::engine::{EngineSettings, WorkerMargin};
use counterpart_models::audio_file::{write_wav, AudioFile, SampleFormat};
use counterpart_tests::{assert_clean, bundled_clap, rms, AudioThread, HostedPlugin, CHANNELS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CLAP_ID: &str = "org.counterpart.counterpart";
const MAX_BLOCK: usize = 4096;

/// How [`play`] feeds the plugin.
struct Feed {
    /// The guide goes to the sidechain (the main input is silent), else to the main input.
    sidechain: bool,
    /// Seed of the random block sizes.
    seed: u64,
    /// Run at this multiple of real time, or as fast as possible.
    pace: Option<f64>,
    /// The host's sample rate.
    sample_rate: f64,
}

/// Sends `guide` through the plugin in random blocks of 1–4096 frames, with the parameter
/// events `at_frame` gives for each block, and returns the output's two channels.
fn play(
    audio: &mut AudioThread,
    guide: &[f32],
    feed: &Feed,
    mut at_frame: impl FnMut(usize, &mut AudioThread) -> Vec<ParamValueEvent>,
) -> [Vec<f32>; CHANNELS] {
    let mut rng = ChaCha8Rng::seed_from_u64(feed.seed);
    let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| Vec::with_capacity(guide.len()));
    let started = Instant::now();
    let mut position = 0;
    while position < guide.len() {
        let n = rng.random_range(1..=MAX_BLOCK).min(guide.len() - position);
        let block = &guide[position..position + n];
        let silent = vec![0.0f32; n];
        let (guide_port, other_port) = (
            std::array::from_fn(|_| block.to_vec()),
            std::array::from_fn(|_| silent.clone()),
        );
        let (mut main, mut side): ([Vec<f32>; CHANNELS], [Vec<f32>; CHANNELS]) = if feed.sidechain {
            (other_port, guide_port)
        } else {
            (guide_port, other_port)
        };
        let mut block_out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![f32::NAN; n]);
        let events = at_frame(position, audio);
        audio.process(&mut main, &mut side, &mut block_out, &events);
        for (channel, block) in out.iter_mut().zip(block_out) {
            channel.extend(block);
        }
        position += n;
        if let Some(speed) = feed.pace {
            let due = Duration::from_secs_f64(position as f64 / feed.sample_rate / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    out
}

/// A plugin that takes its guide from the sidechain.
fn sidechained(offline: bool, dry_wet: f64) -> HostedPlugin {
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let mix = plugin.param_id("Dry/Wet");
    plugin.set_param(mix, dry_wet);
    let source = plugin.param_id("Guide Source");
    plugin.set_param(source, 1.0);
    plugin.set_offline(offline);
    plugin
}

fn no_events(_: usize, _: &mut AudioThread) -> Vec<ParamValueEvent> {
    Vec::new()
}

/// `counterpart render` of `guide` with the plugin's default settings and seed, for a host whose
/// largest block is `max_block`, in `dir`: the companion's channels (one for the default mono
/// corpus).
fn render_with_defaults(guide: &[f32], rate: u32, dir: &Path, max_block: usize) -> AudioFile {
    let guide_path = dir.join("guide.wav");
    write_wav(&guide_path, rate, &[guide.to_vec()], SampleFormat::Float32).unwrap();
    let (report, rendered) = render_as_the_plugin(
        &guide_path,
        &dir.join("render.wav"),
        None,
        max_block,
        Some(dir.join("segments.csv")),
    );
    let expected_slots = guide.len() / rate as usize;
    assert!(
        report.slots > expected_slots,
        "{} segments rendered",
        report.slots
    );
    assert!((1..=CHANNELS).contains(&rendered.channels));
    rendered
}

/// nice-plug's CLAP state (a little-endian u64 length, then JSON): its persisted fields, each
/// a JSON string.
fn state_fields(state: &[u8]) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_slice(&state[8..]).expect("JSON state");
    json["fields"].clone()
}

/// Restores the plugin's state with its persisted field `name` set to `value`, as a project
/// saved with that value does when it opens.
fn restore_field(plugin: &mut HostedPlugin, name: &str, value: serde_json::Value) {
    let state = plugin.save_state();
    let mut json: serde_json::Value = serde_json::from_slice(&state[8..]).expect("JSON state");
    json["fields"][name] = serde_json::Value::String(value.to_string());
    let body = serde_json::to_vec(&json).unwrap();
    let mut edited = (body.len() as u64).to_le_bytes().to_vec();
    edited.extend(body);
    plugin.load_state(&edited);
}

/// Zero crossings per second of `x` where it sounds (above -40 dBFS in 10 ms windows): twice
/// the pitch of a pure tone.
fn crossings_per_second(x: &[f32], rate: u32) -> f64 {
    let window = rate as usize / 100;
    let (mut crossings, mut frames) = (0usize, 0usize);
    for chunk in x.chunks(window) {
        if rms(chunk) > 0.01 {
            crossings += chunk
                .windows(2)
                .filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0))
                .count();
            frames += chunk.len();
        }
    }
    crossings as f64 * f64::from(rate) / frames.max(1) as f64
}

/// Writes `seconds` of high sine tones (A6, C7, E7, a quarter second each) at 44.1 kHz, far
/// above anything in the default preset's corpus.
fn write_tones(path: &Path, seconds: f64) {
    let rate = 44_100u32;
    let tones: Vec<f32> = (0..(seconds * f64::from(rate)) as usize)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f = [1760.0, 2093.0, 2637.0][(t * 4.0) as usize % 3];
            ((std::f64::consts::TAU * f * t).sin() * 0.4) as f32
        })
        .collect();
    write_wav(path, rate, &[tones], SampleFormat::Int24).unwrap();
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cp-host-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The worker margin the plugin fits to a host whose largest block is `max_block` at `rate`, in
/// frames.
fn margin(rate: u32, max_block: usize) -> f64 {
    let crossfade = EngineSettings::default().crossfade_seconds;
    let margin = WorkerMargin::for_host(max_block, rate, crossfade).unwrap();
    (margin.seconds() * f64::from(rate)).round()
}

/// The default preset's latency in Aligned mode with [`MAX_BLOCK`]-frame blocks: one 0.5 s
/// segment, the worker margin and the half-segment onset shift.
fn aligned_latency(rate: u32) -> usize {
    aligned_latency_with(rate, MAX_BLOCK)
}

/// [`aligned_latency`] for a host whose largest block is `max_block`.
fn aligned_latency_with(rate: u32, max_block: usize) -> usize {
    let r = f64::from(rate);
    ((0.5 * r).round() + margin(rate, max_block) + (0.25 * r).round()) as usize
}

#[test]
fn offline_render_equals_counterpart_render_and_repeats_across_reactivation() {
    let (guide, rate) = guide(200.0);
    let dir = scratch("engine");
    let rendered = render_with_defaults(&guide, rate, &dir, MAX_BLOCK);
    let channels = rendered.channels;

    let mut plugin = sidechained(true, 1.0);
    let feed = |seed| Feed {
        sidechain: true,
        seed,
        pace: None,
        sample_rate: f64::from(rate),
    };
    let first = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed(1), no_events)
    });
    assert_eq!(plugin.latency() as usize, aligned_latency(rate));

    assert_clean(&first, 1.0, "offline render");
    assert!(rms(&first[0]) > 0.01, "the companion is silent");
    for (c, channel) in first.iter().enumerate() {
        let mismatched = channel
            .iter()
            .enumerate()
            .filter(|&(i, &x)| x != rendered.samples[i * channels + c.min(channels - 1)])
            .count();
        assert_eq!(
            mismatched,
            0,
            "channel {c}: the plugin's offline render differs from `counterpart render` at \
             {mismatched} of {} samples",
            channel.len()
        );
    }

    // Reactivated (and at other block sizes), the same seed gives the same output.
    let second = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed(2), no_events)
    });
    assert!(first == second, "a second offline render differs");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn aligned_dry_output_is_the_input_delayed_by_the_reported_latency_bit_for_bit() {
    let (guide, rate) = guide(12.0);
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let mix = plugin.param_id("Dry/Wet");
    plugin.set_param(mix, 0.0);
    plugin.set_offline(true);
    let feed = Feed {
        sidechain: false,
        seed: 9,
        pace: None,
        sample_rate: f64::from(rate),
    };
    let out = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    let latency = plugin.latency() as usize;
    assert_eq!(latency, aligned_latency(rate));
    for channel in &out {
        let delayed = std::iter::repeat_n(0.0, latency).chain(guide.iter().copied());
        let mismatched = channel.iter().zip(delayed).filter(|(a, b)| *a != b).count();
        assert_eq!(
            mismatched, 0,
            "the dry path is not the input delayed by {latency}"
        );
    }
    println!("Aligned, Dry/Wet 0: output = input delayed by {latency} samples, bit for bit");
}

/// A bounce half dry, half wet: the plugin runs its worker on the audio thread and waits for
/// its engine, so the companion is exactly `counterpart render`'s, and the dry guide lies at
/// the latency reported from the first sample.
#[test]
fn a_bounce_equals_counterpart_render_with_the_dry_path_delayed() {
    let (guide, rate) = guide(40.0);
    let dir = scratch("bounce");
    let rendered = render_with_defaults(&guide, rate, &dir, 1024);
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    let mix = plugin.param_id("Dry/Wet");
    plugin.set_param(mix, 0.5);
    plugin.set_offline(true);
    let out = plugin.run_audio(f64::from(rate), 1024, |audio| {
        let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| Vec::new());
        for block in guide.chunks(1024) {
            let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| block.to_vec());
            let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; block.len()]);
            let mut block_out: [Vec<f32>; CHANNELS] =
                std::array::from_fn(|_| vec![f32::NAN; block.len()]);
            audio.process(&mut main, &mut side, &mut block_out, &[]);
            for (channel, block) in out.iter_mut().zip(block_out) {
                channel.extend(block);
            }
        }
        out
    });
    let latency = plugin.latency() as usize;
    assert_eq!(latency, aligned_latency_with(rate, 1024));
    assert_clean(&out, 1.0, "bounce");
    // The output is half the guide delayed by the latency plus half of `counterpart render`'s
    // companion (after the first second, where the engine fades in).
    let start = rate as usize;
    let mut worst = 0.0f32;
    for (c, channel) in out.iter().enumerate() {
        for (i, &x) in channel.iter().enumerate().skip(start) {
            let dry = guide[i - latency];
            let wet = rendered.samples[i * rendered.channels + c.min(rendered.channels - 1)];
            worst = worst.max((x - 0.5 * dry - 0.5 * wet).abs());
        }
    }
    let companion = rms(&rendered.samples[start..]);
    println!(
        "bounce: latency {latency}, largest deviation from 0.5 x guide delayed + \
         0.5 x counterpart render {worst:e} (companion RMS {companion:.3})"
    );
    assert!(companion > 0.01, "the rendered companion is silent");
    assert!(
        worst < 1e-6,
        "the bounce differs from counterpart render by {worst}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn offline_render_at_another_rate_plays_and_repeats_after_a_reset() {
    let (guide, rate) = guide(60.0);
    assert_ne!(rate, 48_000);
    // The guide, played at 48 kHz, is simply heard faster; the engine runs at 48 kHz.
    let mut plugin = sidechained(true, 1.0);
    let feed = |seed| Feed {
        sidechain: true,
        seed,
        pace: None,
        sample_rate: 48_000.0,
    };
    let [first, second] = plugin.run_audio(48_000.0, MAX_BLOCK as u32, |audio| {
        let first = play(audio, &guide, &feed(3), no_events);
        audio.reset();
        let second = play(audio, &guide, &feed(4), no_events);
        [first, second]
    });
    assert_clean(&first, 1.0, "48 kHz render");
    assert!(rms(&first[0]) > 0.01, "the companion is silent at 48 kHz");
    assert!(
        first == second,
        "after a reset, the same guide gives other audio"
    );
}

#[test]
fn real_time_playback_is_clean_through_automation_reset_and_rate_change() {
    let mut plugin = sidechained(false, 0.5);
    let temperature = plugin.param_id("Temperature");
    let freeze = plugin.param_id("Freeze");
    let lookahead = plugin.param_id("Look-ahead");
    // Both legs are long enough that the companion is heard even when the debug build's preset
    // loads (at the start, after the rate change, the reset and each look-ahead switch) are slow
    // on a loaded machine: a 15 s leg at 48 kHz once left only a fraction of it audible in CI.
    // The guide's samples go to the host unconverted, so at 44.1 and 48 kHz its 22.05 kHz seconds
    // last half as long: each leg is about 50 s of host time, the last 30 s after every rebuild.
    for rate in [44_100.0, 48_000.0] {
        let (guide, _) = guide(100.0);
        let feed = Feed {
            sidechain: true,
            seed: 5,
            pace: Some(2.0),
            sample_rate: rate,
        };
        let mut reset_done = false;
        let out = plugin.run_audio(rate, MAX_BLOCK as u32, |audio| {
            play(audio, &guide, &feed, |frame, audio| {
                let t = frame as f64 / rate;
                if t > 20.0 && !reset_done {
                    reset_done = true;
                    audio.reset();
                }
                // Automation: the temperature sweeps, freeze toggles, and the look-ahead mode
                // switches to live and back (each switch rebuilds the engine).
                vec![
                    ParamValueEvent::new(0, temperature, Pckn::match_all(), (t / 60.0) % 1.0),
                    ParamValueEvent::new(
                        0,
                        freeze,
                        Pckn::match_all(),
                        f64::from(u8::from((8.0..10.0).contains(&t))),
                    ),
                    ParamValueEvent::new(
                        0,
                        lookahead,
                        Pckn::match_all(),
                        f64::from(u8::from(!(12.0..14.0).contains(&t))),
                    ),
                ]
            })
        });
        assert_clean(&out, 1.0, "real-time playback");
        // The main input is silent, so the output is the companion's half of the mix. How much
        // of the leg it fills depends on how fast the debug build reloads the preset after each
        // rebuild on a loaded machine, so the test asks that it is heard (a loud second) and
        // says how much of the leg it filled.
        let second = rate as usize;
        let levels: Vec<f64> = out[0].chunks(second).map(rms).collect();
        let loud = |from: usize| levels[from..].iter().filter(|&&l| l > 0.01).count();
        assert!(
            loud(21) > 0,
            "at {rate} Hz the companion is silent after the reset (per-second RMS {levels:.3?})"
        );
        // And over the whole leg past the engine's start, as loud as before the legs grew.
        let level = rms(&out[0][(6.0 * rate) as usize..]);
        assert!(
            level > 0.005,
            "at {rate} Hz the companion is too quiet (RMS {level})"
        );
        eprintln!(
            "at {rate} Hz the companion was heard in {} of {} seconds, {} of the {} after the reset \
             (RMS {level:.4})",
            loud(0),
            levels.len(),
            loud(21),
            levels.len() - 21
        );
    }
}

#[test]
fn a_note_value_segment_recuts_the_corpus_and_sets_the_latency() {
    let (guide, rate) = guide(30.0);
    let mut plugin = sidechained(true, 1.0);
    let segment = plugin.param_id("Segment");
    // Eighth notes (the third choice) at the default 120 BPM: 0.25 s segments.
    plugin.set_param(segment, 2.0);
    let feed = Feed {
        sidechain: true,
        seed: 6,
        pace: None,
        sample_rate: f64::from(rate),
    };
    let out = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    assert_clean(&out, 1.0, "eighth-note segments");
    assert!(rms(&out[0]) > 0.01, "the re-cut corpus is silent");
    // The segment, the margin and the half-segment onset shift.
    let r = f64::from(rate);
    let expected_latency = (0.25 * r).round() + margin(rate, MAX_BLOCK) + (0.125 * r).round();
    assert_eq!(f64::from(plugin.latency()), expected_latency);
}

#[test]
fn an_invalid_preset_file_passes_dry_audio_and_a_re_activation_retries_it() {
    let dir = scratch("bad");
    let bad = dir.join("broken.cpreset");
    std::fs::write(&bad, b"not a preset at all").unwrap();
    let mut plugin = HostedPlugin::load(&bundled_clap(), CLAP_ID);
    // The project remembers a preset file that has since been damaged.
    restore_field(&mut plugin, "preset-path", serde_json::json!(bad));
    plugin.set_offline(true);
    let (guide, rate) = guide(5.0);
    let feed = Feed {
        sidechain: false,
        seed: 7,
        pace: None,
        sample_rate: f64::from(rate),
    };
    let out = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    for channel in &out {
        assert!(channel == &guide, "the dry signal does not pass unchanged");
    }
    // The user restores the file: the next activation loads it, and the companion plays.
    std::fs::copy(repo().join("models/presets/default.cpreset"), &bad).unwrap();
    let (mix, source) = (plugin.param_id("Dry/Wet"), plugin.param_id("Guide Source"));
    plugin.set_param(mix, 1.0);
    plugin.set_param(source, 1.0);
    let feed = Feed {
        sidechain: true,
        ..feed
    };
    let out = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    assert!(
        rms(&out[0]) > 0.01,
        "the restored preset is not played after re-activation"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn real_time_playback_follows_a_looping_transport() {
    let (guide, rate) = guide(40.0);
    let rate = f64::from(rate);
    let mut plugin = sidechained(false, 1.0);
    let feed = Feed {
        sidechain: true,
        seed: 8,
        pace: Some(2.0),
        sample_rate: rate,
    };
    let out = plugin.run_audio(rate, MAX_BLOCK as u32, |audio| {
        // 100 BPM; the host loops 4.8 s to 12 s of song time after a start at 1.37 s, so the
        // engine starts off the grid and jumps back every 7.2 s.
        let (bpm, loop_start, loop_end) = (100.0, 4.8, 12.0);
        play(audio, &guide, &feed, |frame, audio| {
            let mut seconds = 1.37 + frame as f64 / rate;
            while seconds >= loop_end {
                seconds -= loop_end - loop_start;
            }
            audio.set_transport(Some((seconds, bpm)));
            Vec::new()
        })
    });
    assert_clean(&out, 1.0, "looping transport");
    let start = (10.0 * rate) as usize;
    let level = rms(&out[0][start..]);
    assert!(level > 0.01, "the companion is silent (RMS {level})");
}

#[test]
fn the_companion_stops_with_the_transport_and_rests_with_a_silent_guide() {
    // The demo guide for 20 s, then 8 s of silence; the transport stops from 12 s to 15 s of
    // the feed (the guide goes on: a live input), then plays on from where it stopped. The
    // first 8 s leave the debug build's preset load time on a loaded machine.
    let (mut guide, rate) = guide(20.0);
    guide.truncate(20 * rate as usize);
    guide.extend(vec![0.0; 8 * rate as usize]);
    let rate_f = f64::from(rate);
    let mut plugin = sidechained(false, 1.0);
    let feed = Feed {
        sidechain: true,
        seed: 3,
        pace: Some(2.0),
        sample_rate: rate_f,
    };
    let out = plugin.run_audio(rate_f, MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, |frame, audio| {
            let seconds = frame as f64 / rate_f;
            let (song, playing) = match seconds {
                s if s < 12.0 => (s, true),
                s if s < 15.0 => (12.0, false),
                s => (s - 3.0, true),
            };
            audio.set_transport_state(Some((song, 120.0)), playing);
            Vec::new()
        })
    });
    assert_clean(&out, 1.0, "transport stop");
    let at = |s: f64| (s * rate_f) as usize;
    let level = |from: f64, to: f64| {
        let window = at(0.05);
        out[0][at(from)..at(to)]
            .chunks(window)
            .map(|w| 20.0 * rms(w).max(1e-10).log10())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    // The last block before the stop may be up to 4096 frames long, then a 50 ms fade.
    let stopped = level(12.0 + 4096.0 / rate_f + 0.05, 15.0);
    let before = rms(&out[0][at(8.0)..at(12.0)]);
    let again = rms(&out[0][at(16.0)..at(20.0)]);
    // The guide is silent from 20 s: after the hold, the segment and latency, nothing plays.
    let latency = aligned_latency(rate) as f64 / rate_f;
    let rest = level(20.0 + 0.25 + 0.5 + latency + 0.1, 28.0);
    println!(
        "transport: companion RMS {before:.4} playing, loudest 50 ms {stopped:.1} dBFS stopped, \
         RMS {again:.4} playing again; silent guide: loudest 50 ms {rest:.1} dBFS after the hold"
    );
    assert!(before > 0.01 && again > 0.01, "the companion plays");
    assert!(
        stopped <= -60.0,
        "the companion plays on with the transport stopped"
    );
    assert!(rest <= -60.0, "the companion plays on a silent guide");
}

#[test]
fn the_users_recordings_play_are_saved_with_the_project_and_a_missing_one_leaves_the_preset() {
    let dir = scratch("recordings");
    std::fs::create_dir_all(dir.join("takes")).unwrap();
    write_tones(&dir.join("takes/tones.wav"), 20.0);
    let gone = dir.join("gone.wav");
    let (guide, rate) = guide(20.0);
    let feed = Feed {
        sidechain: true,
        seed: 9,
        pace: None,
        sample_rate: f64::from(rate),
    };
    // How high the companion sounds with the preset's own corpus, for comparison.
    let mut plugin = sidechained(true, 1.0);
    let own = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    let own_crossings = crossings_per_second(&own[0], rate);

    // The project's recordings: a folder of takes and a file that has since gone.
    let recordings = vec![dir.join("takes"), gone.clone()];
    restore_field(&mut plugin, "recordings", serde_json::json!(recordings));
    let out = plugin.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    assert_clean(&out, 1.0, "the user's recordings");
    assert!(rms(&out[0]) > 0.01, "the user's recordings are not heard");
    let mine = crossings_per_second(&out[0], rate);
    println!("zero crossings per second: preset's corpus {own_crossings:.0}, the tones {mine:.0}");
    assert!(
        mine > 3000.0 && own_crossings < 2000.0,
        "the companion does not play the tones ({mine:.0} vs {own_crossings:.0} crossings/s)"
    );

    // Saved with the project and reopened in a new instance, missing file included.
    let state = plugin.save_state();
    let saved: Vec<PathBuf> =
        serde_json::from_str(state_fields(&state)["recordings"].as_str().unwrap()).unwrap();
    assert_eq!(saved, recordings);
    let mut reopened = sidechained(true, 1.0);
    reopened.load_state(&state);
    let again = reopened.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    assert_eq!(again, out, "the reopened project plays differently");

    // Only the missing file: the preset's own corpus plays on.
    restore_field(&mut reopened, "recordings", serde_json::json!([gone]));
    let fallback = reopened.run_audio(f64::from(rate), MAX_BLOCK as u32, |audio| {
        play(audio, &guide, &feed, no_events)
    });
    assert_eq!(
        fallback, own,
        "the preset's corpus does not play when the recording is gone"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
