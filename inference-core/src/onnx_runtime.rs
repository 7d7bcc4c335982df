//! Finding and loading the ONNX Runtime shared library, without any download.
//!
//! `ort` is built with `load-dynamic`, so nothing is linked or fetched at build time: the library
//! (the `libonnxruntime` shipped in the `onnxruntime` wheel on PyPI) is opened at run time. The
//! search stops at the first hit, in this order:
//!
//! 1. an explicit path: [`RuntimeConfig::library_path`], else the `ORT_DYLIB_PATH` variable;
//! 2. a copy next to the binary that contains this code (the plugin's `.so` inside its bundle, or
//!    beside the `.clap` file; the CLI's executable);
//! 3. the setup location, [`setup_dir`], where `scripts/install-onnxruntime.sh` puts it.
//!
//! ONNX Runtime allows one environment per process, ever, so the loaded runtime is a process-wide
//! singleton shared by every plugin instance. Call [`environment`] from a worker thread only: it
//! opens files and may take tens of milliseconds.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The ONNX Runtime version that the setup step installs and that `ort` was built against.
pub const ORT_VERSION: &str = "1.31.1";

/// File names of the library that are looked for in each candidate directory, best first.
#[cfg(target_os = "linux")]
const LIBRARY_NAMES: &[&str] = &[
    "libonnxruntime.so.1.31.1",
    "libonnxruntime.so.1",
    "libonnxruntime.so",
];
#[cfg(target_os = "macos")]
const LIBRARY_NAMES: &[&str] = &["libonnxruntime.1.31.1.dylib", "libonnxruntime.dylib"];
#[cfg(target_os = "windows")]
const LIBRARY_NAMES: &[&str] = &["onnxruntime.dll"];
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
const LIBRARY_NAMES: &[&str] = &["libonnxruntime.so"];

/// Where the runtime library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// [`RuntimeConfig::library_path`].
    Config,
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// Next to the plugin or program binary.
    BesideBinary,
    /// The setup location ([`setup_dir`]).
    Setup,
}

/// How to find the runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// An explicit library path that overrides every other place.
    pub library_path: Option<PathBuf>,
}

/// Why ONNX Runtime could not be made available. The message says what to install and where.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// No candidate file exists.
    #[error(
        "ONNX Runtime {ORT_VERSION} was not found. Looked for {names} in: {searched}. \
         Install it with `bash scripts/install-onnxruntime.sh` (it puts the library from the \
         `onnxruntime=={ORT_VERSION}` wheel on PyPI into {setup}), copy the library next to the \
         plugin, or set ORT_DYLIB_PATH to its full path.",
        names = LIBRARY_NAMES.join(" or "),
        searched = .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        setup = setup_dir().map(|p| p.display().to_string()).unwrap_or_else(|| "~/.local/share/counterpart/onnxruntime".into()),
    )]
    NotFound {
        /// Every directory or file that was tried.
        searched: Vec<PathBuf>,
    },
    /// A file exists but is not a usable ONNX Runtime library (wrong version, corrupt, foreign).
    #[error(
        "ONNX Runtime at {path} could not be loaded: {reason}. Counterpart needs ONNX Runtime \
         {ORT_VERSION} or newer 1.x; reinstall it with `bash scripts/install-onnxruntime.sh`."
    )]
    Load {
        /// The file that failed.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// A different library was already loaded into this process (the choice is process-wide).
    #[error(
        "ONNX Runtime was already loaded from {loaded} in this process; it cannot also be loaded \
         from {requested}"
    )]
    AlreadyLoaded {
        /// The library in use.
        loaded: PathBuf,
        /// The library that was asked for.
        requested: PathBuf,
    },
}

/// The process-wide ONNX Runtime: its environment and where its library came from.
#[derive(Debug)]
pub struct OnnxRuntime {
    env: ort::environment::Environment,
    library_path: PathBuf,
    source: LibrarySource,
}

impl OnnxRuntime {
    /// The environment that sessions are built from.
    pub fn env(&self) -> &ort::environment::Environment {
        &self.env
    }

    /// The library file in use.
    pub fn library_path(&self) -> &Path {
        &self.library_path
    }

    /// How the library was found.
    pub fn source(&self) -> LibrarySource {
        self.source
    }
}

static RUNTIME: OnceLock<OnnxRuntime> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The process-wide runtime, loaded with the default search on first use.
pub fn environment() -> Result<&'static OnnxRuntime, RuntimeError> {
    environment_with(&RuntimeConfig::default())
}

/// The process-wide runtime, loaded with `config` on first use.
///
/// A failed load is not remembered, so a later call retries (after the user installed the
/// library, say). Once loaded, the runtime stays for the life of the process; asking for another
/// explicit library afterwards is an error.
pub fn environment_with(config: &RuntimeConfig) -> Result<&'static OnnxRuntime, RuntimeError> {
    if let Some(rt) = RUNTIME.get() {
        return check_same(rt, config);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return check_same(rt, config);
    }
    let (path, source) = locate(config)?;
    let env = ort::init_from(&path)
        .map_err(|e| RuntimeError::Load {
            path: path.clone(),
            reason: e.to_string(),
        })?
        .with_name("counterpart")
        .build()
        .map_err(|e| RuntimeError::Load {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    tracing::info!(path = %path.display(), ?source, "loaded ONNX Runtime");
    Ok(RUNTIME.get_or_init(|| OnnxRuntime {
        env,
        library_path: path,
        source,
    }))
}

fn check_same(
    rt: &'static OnnxRuntime,
    config: &RuntimeConfig,
) -> Result<&'static OnnxRuntime, RuntimeError> {
    match &config.library_path {
        Some(p) if !same_file(p, &rt.library_path) => Err(RuntimeError::AlreadyLoaded {
            loaded: rt.library_path.clone(),
            requested: p.clone(),
        }),
        _ => Ok(rt),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Finds the library file without loading it, following the documented search order.
pub fn locate(config: &RuntimeConfig) -> Result<(PathBuf, LibrarySource), RuntimeError> {
    let mut searched = Vec::new();
    let explicit = config
        .library_path
        .clone()
        .map(|p| (p, LibrarySource::Config))
        .or_else(|| {
            std::env::var_os("ORT_DYLIB_PATH")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), LibrarySource::EnvVar))
        });
    if let Some((path, source)) = explicit {
        // An explicit choice is final: falling back silently would hide the user's mistake.
        if path.is_file() {
            return Ok((path, source));
        }
        return Err(RuntimeError::NotFound {
            searched: vec![path],
        });
    }
    let candidates = binary_dir()
        .map(|d| (d, LibrarySource::BesideBinary))
        .into_iter()
        .chain(setup_dir().map(|d| (d, LibrarySource::Setup)));
    for (dir, source) in candidates {
        for name in LIBRARY_NAMES {
            let path = dir.join(name);
            if path.is_file() {
                return Ok((path, source));
            }
        }
        searched.push(dir);
    }
    Err(RuntimeError::NotFound { searched })
}

/// The directory that the setup step installs the library into:
/// `$COUNTERPART_HOME/onnxruntime`, else `$XDG_DATA_HOME/counterpart/onnxruntime`, else
/// `~/.local/share/counterpart/onnxruntime`.
pub fn setup_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = nonempty("COUNTERPART_HOME") {
        return Some(home.join("onnxruntime"));
    }
    let data = nonempty("XDG_DATA_HOME")
        .or_else(|| nonempty("HOME").map(|h| h.join(".local").join("share")))?;
    Some(data.join("counterpart").join("onnxruntime"))
}

/// The directory of the binary (shared library or executable) that contains this code: for a
/// plugin, the folder of its `.clap` or of the library inside its `.vst3` bundle.
pub fn binary_dir() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        // SAFETY: `dladdr` only reads the loader's tables for an address inside this image; the
        // returned file name is a NUL-terminated string owned by the loader.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let addr = binary_dir as *const libc::c_void;
        if unsafe { libc::dladdr(addr, &mut info) } != 0 && !info.dli_fname.is_null() {
            let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
            let path = PathBuf::from(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
            );
            if let Some(dir) = path
                .canonicalize()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                return Some(dir);
            }
        }
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_path_is_a_clear_error() {
        let config = RuntimeConfig {
            library_path: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1.31.1")),
        };
        let err = locate(&config).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/libonnxruntime.so.1.31.1"),
            "{msg}"
        );
        assert!(msg.contains("install-onnxruntime.sh"), "{msg}");
    }

    #[test]
    fn binary_dir_is_this_test_binary() {
        let dir = binary_dir().expect("dladdr finds the test binary");
        let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
        assert_eq!(Some(dir.as_path()), exe.parent());
    }
}
