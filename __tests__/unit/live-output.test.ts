/**
 * LiveOutput: how the lock exec finds its marker lines (GD-READY, GD-STAGED, GD-DONE) in its
 * stdout while it runs, wherever the chunks split them.
 */
import { describe, expect, it } from '@jest/globals'
import { LiveOutput, type Found } from '../../src/deploy/live-output.js'

/** Feeds `chunks` in order, then ends; where `marker` was found after `from`. */
async function feed(
  chunks: readonly string[],
  marker = 'GD-READY',
  from = 0
): Promise<{ found: Found | undefined; output: LiveOutput }> {
  const output = new LiveOutput()
  const found = output.next(marker, from)
  for (const chunk of chunks) output.push(Buffer.from(chunk))
  output.end()
  return { found: await found, output }
}

describe('LiveOutput', () => {
  it('finds a marker line and gives the bytes before and after it', async () => {
    const { found, output } = await feed([
      'GD-BEGIN\nGD-LOCKED\n',
      'GD-BASE x',
      '\nGD-READY\nafter'
    ])
    expect(found).toEqual({ start: 28, end: 38 })
    expect(output.slice(0, found?.start ?? 0).toString()).toBe('GD-BEGIN\nGD-LOCKED\nGD-BASE x')
    expect(output.slice(found?.end ?? 0).toString()).toBe('after')
  })

  it('finds a marker split over two chunks at every position', async () => {
    const marker = '\nGD-READY\n'
    for (let cut = 1; cut < marker.length; cut++) {
      const { found } = await feed(['head', marker.slice(0, cut), marker.slice(cut), 'tail'])
      expect(found).toEqual({ start: 4, end: 4 + marker.length })
    }
  })

  it('finds a marker spread over one-byte chunks', async () => {
    const { found } = await feed(['x', ...'\nGD-DONE\n'.split('')], 'GD-DONE')
    expect(found).toEqual({ start: 1, end: 10 })
  })

  it('answers undefined when the program ends without the marker, or only with pieces of it', async () => {
    expect((await feed(['\nGD-RE', 'x', 'ADY\n'])).found).toBeUndefined()
    expect((await feed(['GD-READY', 'GD-READY\n'])).found).toBeUndefined()
    expect((await feed([])).found).toBeUndefined()
  })

  it('looks only from the offset it is given, so each reply finds its own marker', async () => {
    const text = '\nGD-DONE\nsecond\nGD-DONE\n'
    const first = await feed([text], 'GD-DONE', 0)
    expect(first.found).toEqual({ start: 0, end: 9 })
    const second = await feed([text], 'GD-DONE', 9)
    expect(second.found).toEqual({ start: 15, end: 24 })
    expect(second.output.slice(9, second.found?.start).toString()).toBe('second')
  })

  it('finds a marker that arrived before the wait began', async () => {
    const output = new LiveOutput()
    output.push(Buffer.from('abc\nGD-STAGED\n'))
    expect(await output.next('GD-STAGED', 0)).toEqual({ start: 3, end: 14 })
  })

  it('refuses a second wait while one is pending', async () => {
    const output = new LiveOutput()
    const first = output.next('A', 0)
    await expect(output.next('B', 0)).rejects.toThrow(/already waiting/)
    output.end()
    expect(await first).toBeUndefined()
  })
})
