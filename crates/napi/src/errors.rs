//! Every error crossing into JavaScript carries a stable code. napi-rs fixes the native error's own
//! `code` to its `Status`, so the code travels as a `[ERR_X] ` prefix of the message, which the
//! TypeScript layer (src/engine/engine.ts) lifts into `RingkvError.code`. Engine errors keep their
//! own codes (`ERR_CORRUPTION`, `ERR_LOCKED`, ...); the glue's argument checks use
//! `ERR_INVALID_ARGUMENT`.

use napi::Status;
use ringkv_engine::Error as EngineError;

fn coded(code: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("[{code}] {message}"))
}

pub fn to_js(e: EngineError) -> napi::Error {
    coded(e.code(), e)
}

pub fn invalid(message: impl Into<String>) -> napi::Error {
    coded("ERR_INVALID_ARGUMENT", message.into())
}

pub fn closed() -> napi::Error {
    to_js(EngineError::Closed)
}

/// napi's own failures (a JS value of the wrong type, ...) keep their message under our code.
pub fn from_napi(e: napi::Error) -> napi::Error {
    coded("ERR_INVALID_ARGUMENT", e.reason.clone())
}
