// MemoryBacking: the memory store's sorted map of bytes, checked against a plain model.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { MemoryBacking } from '../../../src/storage/index.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const key = fc.uint8Array({ maxLength: 4, max: 3 }).chain((k) => fc.constantFrom(k, Uint8Array.from([...k, 0xff]), Uint8Array.from([0x80, ...k])))

type Op = { t: 'put'; key: Uint8Array; value: number } | { t: 'delete'; key: Uint8Array }
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('put' as const), key, value: fc.nat(255) }),
  fc.record({ t: fc.constant('delete' as const), key }),
)

test('puts, deletes and ranges agree with a model; ranges are in byte order', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), key, fc.option(key, { nil: undefined }), fc.option(fc.nat(10), { nil: undefined }), (ops, start, end, limit) => {
      const backing = new MemoryBacking()
      const model = new Map<string, number>()
      for (const o of ops) {
        if (o.t === 'put') {
          backing.put(o.key, Uint8Array.of(o.value))
          model.set(hex(o.key), o.value)
        } else {
          backing.delete(o.key)
          model.delete(hex(o.key))
        }
      }
      assert.is(backing.size, model.size)
      for (const [k, v] of model) assert.equal([...backing.get(Buffer.from(k, 'hex'))!], [v])
      const expected = [...model.entries()]
        .map(([k, v]) => [Buffer.from(k, 'hex'), v] as const)
        .sort(([a], [b]) => Buffer.compare(a, b))
        .filter(([k]) => Buffer.compare(k, Buffer.from(start)) >= 0 && (end === undefined || Buffer.compare(k, Buffer.from(end)) < 0))
        .slice(0, limit)
        .map(([k, v]) => `${hex(k)}=${v}`)
      assert.equal(backing.range(start, end, limit).map((e) => `${hex(e.key)}=${e.value[0]}`), expected)
    }),
  )
})

test('values are copied in: the writer reusing its buffer does not change what is stored', () => {
  const backing = new MemoryBacking()
  const value = Uint8Array.of(1, 2, 3)
  const k = Uint8Array.of(9)
  backing.put(k, value)
  value[0] = 7
  k[0] = 8
  assert.equal([...backing.get(Uint8Array.of(9))!], [1, 2, 3])
  assert.is(backing.get(Uint8Array.of(8)), undefined)
})

test.run()
