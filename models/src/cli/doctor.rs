//! `counterpart doctor`: whether ONNX Runtime can be found and loaded, and where it came from.
//! It takes no arguments.

/// Loads ONNX Runtime and prints the library it was loaded from.
pub fn run() -> Result<(), String> {
    let runtime = counterpart_core::onnx_runtime::environment().map_err(|e| e.to_string())?;
    println!(
        "ONNX Runtime loaded from {}",
        runtime.library_path().display()
    );
    Ok(())
}
