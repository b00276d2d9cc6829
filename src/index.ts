// ringkv's public API. Each part is re-exported from the module that owns it.
export {}
