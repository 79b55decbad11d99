/**
 * outputUntil: how the lock exec finds GD-READY in its stdout, wherever the chunks split it, and
 * without joining the output again per chunk (a listing of 20,000 files made that quadratic).
 */
import { describe, expect, it } from '@jest/globals'
import { outputUntil } from '../../src/deploy/lock/lock.js'

const MARKER = '\nGD-READY\n'

/** Feeds `chunks` in order; the index of the chunk that returned output, and that output. */
function feed(chunks: readonly string[]): { at: number; output: string | undefined } {
  const watch = outputUntil(MARKER)
  for (const [i, chunk] of chunks.entries()) {
    const output = watch(Buffer.from(chunk))
    if (output) return { at: i, output: output.toString('utf8') }
  }
  return { at: -1, output: undefined }
}

describe('outputUntil', () => {
  it('returns everything up to the chunk holding the marker', () => {
    expect(feed(['GD-BEGIN\nGD-LOCKED\n', 'GD-BASE x', MARKER + 'after'])).toEqual({
      at: 2,
      output: `GD-BEGIN\nGD-LOCKED\nGD-BASE x${MARKER}after`
    })
  })

  it('finds a marker split over two chunks at every position', () => {
    for (let cut = 1; cut < MARKER.length; cut++) {
      const chunks = ['head', MARKER.slice(0, cut), MARKER.slice(cut)]
      expect(feed(chunks)).toEqual({ at: 2, output: `head${MARKER}` })
    }
  })

  it('finds a marker spread over one-byte chunks', () => {
    expect(feed(['x', ...MARKER.split('')])).toEqual({ at: MARKER.length, output: `x${MARKER}` })
  })

  it('does not see a marker in pieces that never meet, or a marker without its newlines', () => {
    expect(feed(['\nGD-RE', 'x', 'ADY\n']).at).toBe(-1)
    expect(feed(['GD-READY', 'GD-READY\n']).at).toBe(-1)
  })

  it('keeps up with a 6 MB output in 4 KB chunks (joined once, not per chunk)', () => {
    const watch = outputUntil(MARKER)
    const chunk = Buffer.alloc(4096, 'a')
    const start = performance.now()
    let early = 0
    for (let i = 0; i < 1500; i++) if (watch(chunk)) early++
    const output = watch(Buffer.from(MARKER))
    // The quadratic version took ~1 s here; linear work is a few ms, so 0.2 s is a safe bound.
    expect(performance.now() - start).toBeLessThan(200)
    expect(early).toBe(0)
    expect(output?.length).toBe(1500 * 4096 + MARKER.length)
  })
})
