/**
 * Moves the files that must travel: the system `tar` packs them (the fastest packer measured,
 * read from its pipe in large chunks so sshd is not fed tiny writes) into one exec channel per host.
 */
import { spawn } from 'node:child_process'
import { Transform, type Readable } from 'node:stream'

/**
 * 512-byte blocks per tar record. The last record is padded to full size, so a large factor
 * costs up to that many zero bytes on every upload; 10 KB writes are still batched by the pipe.
 */
export const BLOCKING_FACTOR = 20

/** Starts `tar` over the given entries of `root`; the caller pipes `stream` somewhere. */
export function packEntries(
  root: string,
  entries: readonly { readonly path: string }[]
): { stream: Readable; done: Promise<void>; abort: () => void } {
  const child = spawn(
    'tar',
    [
      '-c',
      '-f',
      '-',
      '-b',
      String(BLOCKING_FACTOR),
      '--format=gnu',
      '--no-recursion',
      '--null',
      '-C',
      root,
      '-T',
      '-'
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] }
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  // `-C` is positional: it comes before `-T`, whose names arrive on stdin.
  child.stdin.end(entries.map(e => e.path + '\0').join(''))
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code =>
      code === 0
        ? resolve()
        : reject(new Error(`local tar failed with exit code ${code ?? '?'}: ${stderr.trim()}`))
    )
  })
  return { stream: child.stdout, done, abort: () => child.kill('SIGKILL') }
}

/** Counts bytes flowing through (without consuming them) and reports progress at most every `intervalMs`. */
export function progressMeter(options: {
  expectedBytes: number
  intervalMs: number
  report: (percent: number, bytes: number) => void
}): { stream: Transform; bytes: () => number } {
  let bytes = 0
  let last = Date.now()
  const stream = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      const now = Date.now()
      if (now - last >= options.intervalMs) {
        last = now
        const share = options.expectedBytes > 0 ? bytes / options.expectedBytes : 1
        options.report(Math.min(99, Math.floor(share * 100)), bytes)
      }
      done(null, chunk)
    }
  })
  return { stream, bytes: () => bytes }
}
