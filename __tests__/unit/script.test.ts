/** The script runner streams with backpressure and keeps only a tail. */
import { describe, expect, it } from '@jest/globals'
import os from 'node:os'
import { Writable } from 'node:stream'
import { runScript, Tail } from '../../src/build/script.js'

describe('runScript', () => {
  it('streams 300 MB of output through a slow sink without holding it in memory', async () => {
    let received = 0
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length
        setImmediate(done) // a consumer slower than the producer
      }
    })
    const before = process.memoryUsage().rss
    let peak = before
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
    const result = await runScript({
      script: 'head -c 300000000 /dev/zero | tr "\\0" "x"; echo; echo last-line',
      cwd: os.tmpdir(),
      output: sink
    })
    clearInterval(timer)
    expect(result.exitCode).toBe(0)
    expect(received).toBeGreaterThan(300_000_000)
    expect(result.tail.endsWith('last-line')).toBe(true)
    expect(peak - before).toBeLessThan(100 * 1024 * 1024)
  })

  it('reports the exit code of the failing command', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() })
    const result = await runScript({
      script: 'echo one\nexit 42\necho never',
      cwd: os.tmpdir(),
      output: sink
    })
    expect(result.exitCode).toBe(42)
    expect(result.tail).toBe('one')
  })
})

describe('Tail', () => {
  it('keeps the last lines only', () => {
    const tail = new Tail(3)
    for (let i = 1; i <= 10; i++) tail.push(Buffer.from(`line ${i}\n`))
    expect(tail.toString()).toBe('line 8\nline 9\nline 10')
  })
})
