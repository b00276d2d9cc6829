// The HTTP/JSON API every ringkv node serves (DESIGN section 9), for curl and other languages.
//
//   server.ts    startHttpServer: node:http plumbing, request bodies, replies, parser errors, shutdown
//   routes.ts    one handler per route; validates a request, calls the KvService, builds the reply
//   encoding.ts  path keys, query parameters, bytes inside JSON (utf8 or base64)
//   errors.ts    error code -> HTTP status, the JSON error body, Retry-After
//
// Routes ({key} is the rest of the path, percent-decoded to bytes; "/" inside a key needs no escaping):
//
//   GET|HEAD /kv/{key}?r=&pr=&timeout=&encoding=
//     200  the value as the body (application/octet-stream), X-Ringkv-Context: <context>
//     300  several siblings: JSON {found, encoding, siblings: [{value, timestamp, expiresAt}], context}
//          (values in base64 unless encoding=utf8), X-Ringkv-Context as well
//     404  {error: {code: "ERR_NOT_FOUND"}} with X-Ringkv-Context (pass it to a write that follows a delete)
//     With "Accept: application/json": always 200 with that JSON body (found: false and no siblings when
//     the key is absent), whatever the number of siblings.
//   PUT|POST /kv/{key}?w=&pw=&dw=&ttl=&timeout=   body = the value (any bytes, any Content-Type)
//     204  X-Ringkv-Context: <the new context>. Send the context of the read the write follows in
//          X-Ringkv-Context; without one the write becomes a sibling of what is there.
//   DELETE /kv/{key}?w=&pw=&dw=&timeout=   X-Ringkv-Context optional, as for PUT
//     204
//   GET|HEAD /kv?prefix=&start=&end=&after=&limit=&timeout=&encoding=
//     200  {encoding, entries: [{key, value | siblings, context}], next}
//          `value` when the key has one sibling, `siblings` otherwise; `next` is null on the last page, else
//          the key to pass as `after`. Keys and values in UTF-8 text by default (see encoding.ts for
//          bytes that are not UTF-8: they come as keyBase64/valueBase64/nextBase64); encoding=base64 for
//          base64 throughout, and then prefix/start/end/after are read as base64 too.
//   GET|HEAD /status   {nodeId, version, members: [{id, address, http}], ring: {version, checksum, q, n} | null}
//   GET|HEAD /health   200 "ok"
//
// Query options: r, pr, w, pw, dw are one|quorum|all or a number 1..200; timeout is ms (1..3600000); ttl is
// ms (>= 1); limit is 1..10000 (default 100). A bad value, a parameter given twice or one the route does not
// take is a 400 naming the parameter (details.parameter).
//
// Errors are always JSON {error: {code, message, details?}}; the status comes from the code (errors.ts).
// Unknown route: 404 ERR_UNKNOWN_ROUTE. Wrong method: 405 ERR_METHOD_NOT_ALLOWED with Allow. A body above
// maxBodyBytes: 413 ERR_BODY_TOO_LARGE, and the connection is closed without reading the rest.
//
//   curl -i --data-binary @photo.jpg http://127.0.0.1:8080/kv/photos/1
//   curl -i http://127.0.0.1:8080/kv/photos/1 -o photo.jpg
//   curl -i -X PUT --data-binary 'v2' -H 'X-Ringkv-Context: <context>' 'http://127.0.0.1:8080/kv/a?w=all'
//   curl 'http://127.0.0.1:8080/kv?prefix=photos/&limit=10'
export {
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_HEADER_BYTES,
  startHttpServer,
  type HttpServer,
  type HttpServerOptions,
} from './server.ts'
export { CONTEXT_HEADER, MAX_TIMEOUT_MS, MAX_TTL_MS, type NodeInfo, type RingSummary } from './routes.ts'
export { statusForCode } from './errors.ts'
export { type BytesEncoding } from './encoding.ts'
