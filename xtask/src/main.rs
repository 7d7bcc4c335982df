//! Developer tasks.
//!
//! - `cargo xtask bundle counterpart [--release] [--features standalone]`: builds the plugin with
//!   nice-plug-xtask into `target/bundled/Counterpart.clap` and `Counterpart.vst3`, then copies the
//!   ONNX Runtime library into the VST3 bundle and beside the CLAP file, so the bundles work on a
//!   machine without the setup step, and the factory presets (`models/presets/*.cpreset` other
//!   than the embedded `default.cpreset`) into `Counterpart.vst3/Contents/Resources/presets/`
//!   and `counterpart-presets/` beside the CLAP file.
//! - `cargo xtask screenshot [--out FILE.png] [--settle SECONDS] [--release]`: builds the
//!   standalone app, opens its editor under a private Xvfb display with the dummy audio backend,
//!   waits `--settle` seconds (default 12) for the embedded default preset to load and the engine
//!   to make some decisions, and saves the editor window as a PNG (default
//!   `target/screenshots/editor.png`), so a GUI change can be looked at without a screen.
//! - `cargo xtask release`: every release artefact in one cargo invocation, the plugin bundles
//!   with the standalone app and the `counterpart` CLI, so the dependencies they share compile
//!   once, with one feature set (two invocations compile most of them twice). `./setup.sh` uses
//!   it.
//! - Any other nice-plug-xtask command is passed through.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The plugin package and its bundle name (see `bundler.toml`).
const PLUGIN_PACKAGE: &str = "counterpart";
const BUNDLE_NAME: &str = "Counterpart";
/// The standalone binary of the plugin package. It cannot be called `counterpart`, which is the
/// CLI's name, so nice-plug-xtask does not find it by itself.
const STANDALONE_BIN: &str = "counterpart-standalone";
/// The package of the `counterpart` command-line tool.
const CLI_PACKAGE: &str = "counterpart-models";

fn main() -> nice_plug_xtask::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("screenshot") => return screenshot(&args[1..]),
        Some("release") => return release(),
        _ => {}
    }
    nice_plug_xtask::main_with_args("cargo xtask", args.iter().cloned())?;
    if args.first().map(String::as_str) == Some("bundle") && bundles_plugin(&args[1..]) {
        finish_plugin_bundle(&args[1..])?;
    }
    Ok(())
}

/// Builds the plugin (with its standalone app) and the CLI in one release build, then bundles the
/// plugin as `cargo xtask bundle counterpart --release --features standalone` would.
fn release() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let packages = [PLUGIN_PACKAGE.to_string(), CLI_PACKAGE.to_string()];
    let features = format!("{PLUGIN_PACKAGE}/standalone");
    nice_plug_xtask::build(
        &packages,
        &["--release".into(), "--features".into(), features],
    )?;
    let bundle_args = [
        "--release".to_string(),
        "--features".into(),
        "standalone".into(),
    ];
    nice_plug_xtask::bundle(&target_dir(), PLUGIN_PACKAGE, &bundle_args, false)?;
    finish_plugin_bundle(&bundle_args)
}

/// Whether the bundle command names the plugin package (as the first free argument or `-p`).
fn bundles_plugin(args: &[String]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        a == PLUGIN_PACKAGE
            && (i == 0
                || args[i - 1] == "-p"
                || args[i - 1] == "--package"
                || !args[i - 1].starts_with('-'))
    })
}

fn finish_plugin_bundle(args: &[String]) -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let target = target_dir();
    let profile = profile_dir(args);
    let bundled = target.join("bundled");

    // nice-plug-xtask bundles `target/<profile>/counterpart` as the plugin's standalone binary,
    // but that file is the CLI. Put the real standalone there, or nothing.
    let wrong_standalone = bundled.join(BUNDLE_NAME);
    if wrong_standalone.is_file() {
        std::fs::remove_file(&wrong_standalone)?;
    }
    let standalone = target.join(&profile).join(STANDALONE_BIN);
    if args.iter().any(|a| a.contains("standalone")) && standalone.is_file() {
        std::fs::copy(
            &standalone,
            bundled.join(format!("{BUNDLE_NAME} Standalone")),
        )?;
    }

    let ort = onnx_runtime_library()?;
    let name = ort.file_name().expect("library path has a file name");
    let vst3_dir = bundled
        .join(format!("{BUNDLE_NAME}.vst3"))
        .join("Contents")
        .join(vst3_arch_dir());
    for dir in [bundled.as_path(), vst3_dir.as_path()] {
        std::fs::create_dir_all(dir)?;
        std::fs::copy(&ort, dir.join(name))?;
    }
    eprintln!("Copied {} into the bundles", ort.display());
    let vst3_resources = bundled
        .join(format!("{BUNDLE_NAME}.vst3"))
        .join("Contents")
        .join("Resources")
        .join("presets");
    copy_factory_presets(&[bundled.join(FACTORY_PRESET_DIR), vst3_resources])?;
    for entry in std::fs::read_dir(&bundled)? {
        println!("{}", entry?.path().display());
    }
    Ok(())
}

/// The factory presets' folder beside the CLAP file (the preset library looks for it there).
const FACTORY_PRESET_DIR: &str = "counterpart-presets";
/// The preset compiled into the plugin, not copied.
const EMBEDDED_PRESET: &str = "default.cpreset";

/// Copies `models/presets/*.cpreset`, except the embedded default, into each of `dirs` (created,
/// emptied of older presets first).
fn copy_factory_presets(dirs: &[PathBuf]) -> nice_plug_xtask::Result<()> {
    let mut presets: Vec<PathBuf> = std::fs::read_dir("models/presets")?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cpreset"))
        .filter(|path| path.file_name().is_some_and(|name| name != EMBEDDED_PRESET))
        .collect();
    presets.sort();
    for dir in dirs {
        if dir.is_dir() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        for preset in &presets {
            let name = preset.file_name().expect("listed files have names");
            std::fs::copy(preset, dir.join(name))?;
        }
    }
    eprintln!(
        "Copied {} factory preset(s) into the bundles",
        presets.len()
    );
    Ok(())
}

/// The ONNX Runtime library from the setup location, installing it there first if needed.
fn onnx_runtime_library() -> nice_plug_xtask::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let out = Command::new("bash")
        .arg("scripts/install-onnxruntime.sh")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "scripts/install-onnxruntime.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    anyhow::ensure!(
        path.is_file(),
        "scripts/install-onnxruntime.sh printed {}, which is not a file",
        path.display()
    );
    Ok(path)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("target").to_path_buf())
}

fn profile_dir(args: &[String]) -> String {
    let mut profile = "debug".to_string();
    for (i, a) in args.iter().enumerate() {
        if a == "--release" {
            profile = "release".into();
        } else if let Some(p) = a.strip_prefix("--profile=") {
            profile = p.into();
        } else if a == "--profile" {
            if let Some(p) = args.get(i + 1) {
                profile = p.clone();
            }
        }
    }
    profile
}

/// The VST3 bundle's architecture folder for this machine.
fn vst3_arch_dir() -> &'static str {
    if cfg!(target_os = "macos") {
        "MacOS"
    } else if cfg!(target_os = "windows") {
        if cfg!(target_arch = "aarch64") {
            "arm64-win"
        } else {
            "x86_64-win"
        }
    } else if cfg!(target_arch = "aarch64") {
        "aarch64-linux"
    } else {
        "x86_64-linux"
    }
}

/// Kills and reaps a child process when dropped, so nothing outlives the task.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long the screenshot waits after the window appears: the default preset loads in a few
/// seconds, and the timeline should show some decisions.
const DEFAULT_SETTLE: Duration = Duration::from_secs(12);

/// The `--settle` option's value: a non-negative number of seconds.
fn parse_settle(value: Option<&String>) -> nice_plug_xtask::Result<Duration> {
    let value = value.ok_or_else(|| anyhow::anyhow!("--settle needs a number of seconds"))?;
    value
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| anyhow::anyhow!("--settle takes seconds (e.g. 8 or 2.5), not {value}"))
}

/// Renders the editor of the standalone app under Xvfb and saves it as a PNG.
fn screenshot(args: &[String]) -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let mut out = PathBuf::from("target/screenshots/editor.png");
    let mut release = false;
    let mut settle = DEFAULT_SETTLE;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => {
                out = PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow::anyhow!("--out needs a path"))?,
                )
            }
            "--settle" => settle = parse_settle(it.next())?,
            "--release" => release = true,
            other => {
                anyhow::bail!(
                    "unknown screenshot option {other}; use --out FILE.png, --settle SECONDS and --release"
                )
            }
        }
    }
    for tool in ["Xvfb", "xwininfo", "import"] {
        anyhow::ensure!(
            Command::new("sh").args(["-c", &format!("command -v {tool}")]).stdout(Stdio::null()).status()?.success(),
            "{tool} is missing: run `bash scripts/install-system-deps.sh` (packages xvfb, x11-utils, imagemagick)"
        );
    }
    let mut build = Command::new("cargo");
    build.args(["build", "-p", PLUGIN_PACKAGE, "--features", "standalone"]);
    if release {
        build.arg("--release");
    }
    anyhow::ensure!(
        build.status()?.success(),
        "building the standalone app failed"
    );
    let binary = target_dir()
        .join(if release { "release" } else { "debug" })
        .join(STANDALONE_BIN);

    // A display number nobody uses.
    let display = (90..190)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .ok_or_else(|| anyhow::anyhow!("no free X display number between :90 and :189"))?;
    let display = format!(":{display}");
    let _xvfb = KillOnDrop(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    std::thread::sleep(Duration::from_millis(500));
    let _app = KillOnDrop(
        Command::new(&binary)
            .args(["--backend", "dummy"])
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Wait for the window (asking `import` for a window that does not exist yet would make it
    // wait for a mouse click), then let the preset load and the engine run for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Command::new("xwininfo")
        .args(["-display", &display, "-name", BUNDLE_NAME])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?
        .success()
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the editor window did not appear within 60 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(settle);
    let grabbed = Command::new("import")
        .args(["-display", &display, "-window", BUNDLE_NAME])
        .arg(&out)
        .status()?
        .success();
    anyhow::ensure!(grabbed, "capturing the editor window failed");
    println!("{}", out.display());
    Ok(())
}
