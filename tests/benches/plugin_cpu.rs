//! CPU cost of the real plugin, driven through a CLAP host (clack-host), with the embedded
//! default preset and the demo guide at 48 kHz:
//!
//! * `plugin/process_128`: audio-thread time per 128-frame stereo block while the engine
//!   plays, on the real-time path (criterion; the plugin takes the offline path only when the
//!   host says it renders offline, which this host never does);
//! * the worker thread's real-time factor: its CPU time (from `/proc`) over the duration of the
//!   audio it handled, measured over a minute of guide played at four times real time, then
//!   over a minute of silence, as a share of the first (printed).
//!
//! Build the plugin first; for release figures, `cargo xtask bundle counterpart --release` and
//! `COUNTERPART_CLAP=target/bundled/Counterpart.clap cargo bench -p counterpart-tests`.

use std::path::Path;
use std::time::{Duration, Instant};

use counterpart_models::audio_file::AudioFile;
use counterpart_tests::{bundled_clap, AudioThread, HostedPlugin, CHANNELS};
use criterion::Criterion;

const RATE: f64 = 48_000.0;
const BLOCK: usize = 128;

fn guide() -> Vec<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/guide.flac");
    AudioFile::read(&path).expect("demo/guide.flac").to_mono()
}

/// CPU seconds used so far by the plugin's worker thread (Linux `/proc`).
fn worker_cpu_seconds() -> Option<f64> {
    let ticks = 100.0; // USER_HZ on Linux
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        // Thread names are cut to 15 bytes: "counterpart-worker" reads "counterpart-wor".
        if "counterpart-worker".starts_with(name.trim()) && name.trim().len() >= 15 {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit(") ").next()?.split(' ').collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            return Some((utime + stime) / ticks);
        }
    }
    None
}

/// Plays `frames` of `guide` (looped) through the plugin's sidechain in 128-frame blocks, at
/// `speed` times real time (as fast as possible when `None`).
fn feed(audio: &mut AudioThread, guide: &[f32], start: usize, frames: usize, speed: Option<f64>) {
    let began = Instant::now();
    let mut main: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; BLOCK]);
    let mut side: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; BLOCK]);
    let mut out: [Vec<f32>; CHANNELS] = std::array::from_fn(|_| vec![0.0; BLOCK]);
    let mut done = 0;
    while done < frames {
        for channel in &mut side {
            for (i, x) in channel.iter_mut().enumerate() {
                *x = guide[(start + done + i) % guide.len()];
            }
        }
        main.iter_mut().for_each(|c| c.fill(0.0));
        audio.process(&mut main, &mut side, &mut out, &[]);
        done += BLOCK;
        if let Some(speed) = speed {
            let due = Duration::from_secs_f64(done as f64 / RATE / speed);
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
}

/// What the benchmark thread asks the audio thread to do.
enum AudioRequest {
    /// Process this many 128-frame blocks and report the time they took.
    Blocks(u64),
    /// Stop.
    Done,
}

fn main() {
    let guide = guide();
    let mut plugin = HostedPlugin::load(&bundled_clap(), "org.counterpart.counterpart");
    let source = plugin.param_id("Guide Source");
    plugin.set_param(source, 1.0);
    let (commands, command_rx) = std::sync::mpsc::channel::<AudioRequest>();
    let (times_tx, times) = std::sync::mpsc::channel::<Duration>();
    let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        // Criterion runs on its own thread and has the audio thread process the blocks it
        // times, as a host's audio thread would.
        scope.spawn(move || {
            // Wait until the engine plays and the worker has been measured.
            ready.recv().unwrap();
            let mut criterion = Criterion::default().configure_from_args();
            // The host never says it renders offline (CLAP render mode: real time), so the audio
            // thread takes the real-time path however fast the bench calls it: it captures the
            // guide and renders grains; the worker thread decides.
            println!("plugin/process_128 measures the real-time path (the host claims real time)");
            criterion.bench_function("plugin/process_128", |b| {
                b.iter_custom(|iterations| {
                    commands.send(AudioRequest::Blocks(iterations)).unwrap();
                    times.recv().unwrap()
                })
            });
            commands.send(AudioRequest::Done).unwrap();
            criterion.final_summary();
        });
        plugin.run_audio(RATE, BLOCK as u32, move |audio| {
            // Let the engine load and start playing (real time).
            feed(audio, &guide, 0, (8.0 * RATE) as usize, Some(1.0));
            let cpu_before = worker_cpu_seconds();
            let seconds = 60.0;
            feed(audio, &guide, 0, (seconds * RATE) as usize, Some(4.0));
            let cpu_playing = worker_cpu_seconds();
            // A silent guide: once the rest begins, the worker skips the encoder and the
            // decoder and only keeps its clock.
            let silence = vec![0.0f32; BLOCK];
            feed(audio, &silence, 0, (2.0 * RATE) as usize, Some(4.0));
            let cpu_silent_before = worker_cpu_seconds();
            feed(audio, &silence, 0, (seconds * RATE) as usize, Some(4.0));
            match (
                cpu_before,
                cpu_playing,
                cpu_silent_before,
                worker_cpu_seconds(),
            ) {
                (Some(before), Some(playing), Some(silent_before), Some(silent)) => {
                    let (busy, idle) = (playing - before, silent - silent_before);
                    println!(
                        "worker thread: {busy:.2} s CPU for {seconds} s of guide: real-time \
                         factor {:.4}; {idle:.2} s for {seconds} s of silence: {:.1} % of \
                         the playing figure",
                        busy / seconds,
                        100.0 * idle / busy.max(1e-9)
                    )
                }
                _ => println!("worker thread: not found in /proc/self/task"),
            }
            ready_tx.send(()).unwrap();
            let mut position = 0;
            while let Ok(AudioRequest::Blocks(n)) = command_rx.recv() {
                let started = Instant::now();
                for _ in 0..n {
                    feed(audio, &guide, position, BLOCK, None);
                    position += BLOCK;
                }
                times_tx.send(started.elapsed()).unwrap();
            }
        });
    });
}
