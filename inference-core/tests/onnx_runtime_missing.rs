//! Without any ONNX Runtime library, loading fails with a message that says what to install and
//! where, instead of panicking. Its own test binary, so no library has been loaded in the process.

use counterpart_core::onnx_runtime::{self, RuntimeConfig};

#[test]
fn missing_library_is_a_clear_error_not_a_panic() {
    let empty = std::env::temp_dir().join(format!("counterpart-no-ort-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    // Point the setup location at an empty folder and clear the override.
    std::env::set_var("COUNTERPART_HOME", &empty);
    std::env::remove_var("ORT_DYLIB_PATH");
    let err = onnx_runtime::environment_with(&RuntimeConfig::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("was not found"), "{msg}");
    assert!(msg.contains("install-onnxruntime.sh"), "{msg}");
    assert!(
        msg.contains(&empty.join("onnxruntime").display().to_string()),
        "{msg}"
    );

    // A file that is not a library is refused with the loader's reason.
    let bogus = empty.join("libonnxruntime.so.1.31.1");
    std::fs::write(&bogus, b"not a shared library").unwrap();
    let err = onnx_runtime::environment_with(&RuntimeConfig {
        library_path: Some(bogus.clone()),
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("could not be loaded"), "{msg}");
    assert!(msg.contains(&bogus.display().to_string()), "{msg}");
    std::fs::remove_dir_all(&empty).ok();
}
