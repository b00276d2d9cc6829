// The wire protocol: frame layout and streaming decoder, message ids, error codes, the HELLO exchange.
export {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  FrameKind,
  MAX_MAX_FRAME_BYTES,
  MIN_MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  encodeFrame,
  writeFrameHeader,
} from './frame.ts'
export { ErrorCode, MAX_ERROR_MESSAGE_BYTES, decodeErrorPayload, encodeErrorPayload } from './error-codes.ts'
export { FIRST_APPLICATION_MESSAGE_TYPE, MAX_MESSAGE_TYPE, MessageType, messageTypeName } from './message-types.ts'
export {
  HELLO_FRAME_VERSION,
  type HelloRequest,
  type HelloResponse,
  MAX_NODE_ID_BYTES,
  type VersionRange,
  decodeHelloRequest,
  decodeHelloResponse,
  encodeHelloRequest,
  encodeHelloResponse,
  negotiateVersion,
} from './hello.ts'
