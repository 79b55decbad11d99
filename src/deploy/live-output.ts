/**
 * A running program's stdout as it arrives, searched for marker lines while the program runs: the
 * lock exec answers in steps (the inspection, the listing, each command's reply) long before it
 * ends. Linear in the output: each chunk is searched once, where a marker can newly end.
 */

/** Where a marker line was found: its start (the newline before it) and just past its end. */
export interface Found {
  readonly start: number
  readonly end: number
}

interface Waiter {
  readonly needle: Buffer
  readonly from: number
  /** Searched up to here (a marker found later must end after it). */
  searched: number
  readonly resolve: (found: Found | undefined) => void
}

export class LiveOutput {
  /** Where the program's stderr goes live while set (hook output during a switch). */
  onStderr: ((text: string) => void) | undefined
  private readonly chunks: Buffer[] = []
  private size = 0
  private ended = false
  private waiter: Waiter | undefined

  /** Bytes received so far. */
  get length(): number {
    return this.size
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    this.check()
  }

  /** The program ended: a marker still awaited will not come. */
  end(): void {
    this.ended = true
    this.check()
  }

  /**
   * The first `\n<marker>\n` starting at or after `from`; undefined when the program ends
   * without printing it. One wait at a time.
   */
  next(marker: string, from: number): Promise<Found | undefined> {
    if (this.waiter) return Promise.reject(new Error('internal: already waiting for a marker'))
    return new Promise(resolve => {
      this.waiter = {
        needle: Buffer.from(`\n${marker}\n`),
        from,
        searched: from,
        resolve
      }
      this.check()
    })
  }

  /** The bytes from `from` to `to` (default: all so far). */
  slice(from: number, to = this.size): Buffer {
    const parts: Buffer[] = []
    let at = 0
    for (const chunk of this.chunks) {
      const next = at + chunk.length
      if (next > from && at < to) {
        parts.push(chunk.subarray(Math.max(0, from - at), Math.min(chunk.length, to - at)))
      }
      at = next
      if (at >= to) break
    }
    return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts)
  }

  private check(): void {
    const waiter = this.waiter
    if (!waiter) return
    const start = Math.max(waiter.from, waiter.searched - waiter.needle.length + 1)
    const index = this.slice(start).indexOf(waiter.needle)
    if (index >= 0) {
      this.waiter = undefined
      const at = start + index
      waiter.resolve({ start: at, end: at + waiter.needle.length })
    } else if (this.ended) {
      this.waiter = undefined
      waiter.resolve(undefined)
    } else {
      waiter.searched = this.size
    }
  }
}
