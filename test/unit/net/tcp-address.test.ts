import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatTcpAddress, parseTcpAddress } from '../../../src/net/tcp.ts'

test('parses host:port and [v6]:port; formats them back', () => {
  assert.equal(parseTcpAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
  assert.equal(parseTcpAddress('node-a.local:7000'), { host: 'node-a.local', port: 7000 })
  assert.equal(parseTcpAddress('[::1]:65535'), { host: '::1', port: 65535 })
  assert.is(formatTcpAddress('::1', 7000), '[::1]:7000')
  assert.is(formatTcpAddress('10.0.0.1', 7000), '10.0.0.1:7000')
})

test('bad addresses are RangeErrors that show the expected form', () => {
  for (const bad of ['', '7000', ':7000', 'host:', 'host:70000', 'host:-1', 'host:1.5', 'host:port']) {
    assert.throws(() => parseTcpAddress(bad), /address must be 'host:port' with a port between 0 and 65535/, bad)
  }
})

test.run()
