//! Every error crossing into JavaScript carries a stable `code` (the JS error's `code` property):
//! engine errors keep their own (`ERR_CORRUPTION`, `ERR_LOCKED`, ...), and the glue's argument
//! checks use `ERR_INVALID_ARGUMENT`.

use ringkv_engine::Error as EngineError;

pub type JsResult<T> = napi::Result<T, String>;

pub fn to_js(e: EngineError) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

pub fn invalid(message: impl Into<String>) -> napi::Error<String> {
    napi::Error::new("ERR_INVALID_ARGUMENT".to_string(), message.into())
}

pub fn closed() -> napi::Error<String> {
    to_js(EngineError::Closed)
}

/// napi's own failures (a JS value of the wrong type, ...) keep their message under our code.
pub fn from_napi(e: napi::Error) -> napi::Error<String> {
    napi::Error::new("ERR_INVALID_ARGUMENT".to_string(), e.reason.clone())
}
