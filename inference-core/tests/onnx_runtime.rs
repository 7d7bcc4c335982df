//! ONNX Runtime loads without any download and runs the committed tiny model correctly.
//!
//! Needs the library installed by `scripts/install-onnxruntime.sh` (the test command runs it).

use counterpart_core::onnx_runtime::{self, LibrarySource, RuntimeConfig, RuntimeError};
use ort::session::Session;
use ort::value::TensorRef;
use std::path::PathBuf;

fn tiny_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/onnx/tiny-affine.onnx")
}

#[test]
fn tiny_affine_model_gives_hand_computed_output_on_a_worker_thread() {
    let rt = onnx_runtime::environment().unwrap_or_else(|e| panic!("{e}"));
    assert!(rt.library_path().is_file());
    // Sessions are built and run on a worker thread, as in the plugin.
    let y = std::thread::spawn(move || {
        let mut session = Session::builder(rt.env())
            .unwrap()
            .with_intra_threads(1)
            .unwrap()
            .commit_from_file(tiny_model())
            .unwrap();
        let x = [1.0f32, 2.0, 3.0, 4.0, -1.0, 0.0, 0.0, 2.0];
        let outputs = session
            .run(ort::inputs!["x" => TensorRef::from_array_view(([2usize, 4], &x[..])).unwrap()])
            .unwrap();
        let (shape, y) = outputs["y"].try_extract_tensor::<f32>().unwrap();
        assert_eq!(&**shape, &[2, 3]);
        y.to_vec()
    })
    .join()
    .unwrap();
    // W = [[1,0,.5],[0,1,0],[1,1,1],[.5,0,1]], b = [0,-1,.5]
    assert_eq!(y, vec![6.0, 4.0, 8.0, 0.0, -1.0, 2.0]);
}

#[test]
fn a_second_explicit_library_is_refused_once_one_is_loaded() {
    let rt = onnx_runtime::environment().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        rt.source(),
        LibrarySource::EnvVar | LibrarySource::BesideBinary | LibrarySource::Setup
    ));
    let other = RuntimeConfig {
        library_path: Some(tiny_model()),
    };
    match onnx_runtime::environment_with(&other) {
        Err(RuntimeError::AlreadyLoaded { loaded, .. }) => assert_eq!(loaded, rt.library_path()),
        other => panic!("expected AlreadyLoaded, got {other:?}"),
    }
}
