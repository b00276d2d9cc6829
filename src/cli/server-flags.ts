// The Node.js flags a ringkv node process runs with.
//
// A node keeps only 10-20 MB of JavaScript objects alive, but under load it moves ~100 MB/s through
// its young generation and promotes a few MB/s of it. V8 sizes the old generation's next full-GC
// limit from the live size, so left alone it settles near 25 MB and runs a full mark-compact two to
// five times a second, whose concurrent marking cost a quarter of a node's CPU in the mixed benchmark.
// Presizing the heap moves that limit out of the way: a handful of full GCs per minute, at the price
// of up to this much resident memory per node (it is touched only as it fills).
export const SERVER_HEAP_MB = 256

export const SERVER_NODE_FLAGS: readonly string[] = [`--initial-heap-size=${SERVER_HEAP_MB}`]

/** Whether this process was started with a presized heap (flags in the bin's shebang count). */
export function heapPresized(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((flag) => flag.startsWith('--initial-heap-size') || flag.startsWith('--initial_heap_size'))
}
