//! The one ONNX Runtime environment of the process.
//!
//! The runtime library is loaded at run time (`ort`'s `load-dynamic`), not
//! linked, so the binary builds without downloading anything and runs with
//! the `libonnxruntime.so` that `scripts/fetch-model` unpacks next to the
//! models. ONNX Runtime allows one environment per process; every model
//! session (embedder, reranker) shares it.

use std::path::Path;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::EmbedError;

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `lib` (once; later calls return the first result).
pub fn init_runtime(lib: &Path) -> Result<Environment, EmbedError> {
    ENV.get_or_init(|| {
        if !lib.exists() {
            return Err(format!(
                "ONNX Runtime library {} not found: run scripts/fetch-model, or set ORT_DYLIB_PATH",
                lib.display()
            ));
        }
        ort::init_from(lib)
            .map_err(|e| format!("loading {}: {e}", lib.display()))?
            .with_name("engram")
            .build()
            .map_err(|e| format!("starting ONNX Runtime: {e}"))
    })
    .clone()
    .map_err(EmbedError::Setup)
}
