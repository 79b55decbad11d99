/**
 * Moves the files that must travel as one tar stream into one exec channel per host: the system
 * `tar` packs the small files, directories and links (the fastest packer measured for many small
 * files), and big files are read and written into the stream here, after tar's members.
 */
import { spawn } from 'node:child_process'
import { constants, readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { errorMessage } from '../errors.js'
import type { FileEntry, ScannedEntry } from './manifest.js'
import { ArchiveEnd, BLOCK, fileHeader, padding } from './tar-format.js'

/**
 * 512-byte blocks per tar record. The last record is padded to full size, so a large factor
 * costs up to that many zero bytes on every upload; 10 KB writes are still batched by the pipe.
 */
export const BLOCKING_FACTOR = 20

/**
 * Files at least this big are written into the stream here, after the system tar's members: a
 * pipe from tar costs more CPU per byte (tar's writes and our reads, 64 KB at a time) than
 * reading the file directly, and on a big upload the runner's CPU sets the pace.
 */
export const DIRECT_BYTES = 1 << 20

/** Bytes read from a big file at a time. */
const READ_BYTES = 1 << 20

/**
 * Starts `tar` over the given entries of `root`; the caller pipes `stream` somewhere. `done` may
 * fail (a file gone since the walk) while the caller still waits for the server's answer: it is
 * marked handled here, so that failure is the caller's to read when it awaits `done`, not an
 * unhandled rejection that ends the process with the lock held.
 */
export function packEntries(
  root: string,
  entries: readonly ScannedEntry[]
): { stream: Readable; done: Promise<void>; abort: () => void } {
  const packed = packStream(root, entries)
  packed.done.catch(() => undefined)
  return packed
}

function packStream(
  root: string,
  entries: readonly ScannedEntry[]
): { stream: Readable; done: Promise<void>; abort: () => void } {
  const direct = entries.filter(isDirect)
  if (direct.length === 0) return systemTar(root, entries)
  const rest = entries.filter(e => !isDirect(e))
  const tar = rest.length > 0 ? systemTar(root, rest) : undefined
  // Awaited below; when the stream is stopped first, nothing else waits for it.
  tar?.done.catch(() => undefined)
  let aborted = false
  let failure: Error | undefined
  async function* archive(): AsyncGenerator<Buffer> {
    let length = 0
    if (tar) {
      const end = new ArchiveEnd()
      for await (const chunk of tar.stream as AsyncIterable<Buffer>) {
        for (const piece of end.take(chunk)) {
          length += piece.length
          yield piece
        }
      }
      await tar.done
      if (!end.ended) throw new Error('local tar ended without the end of its archive')
    }
    for (const file of direct) {
      if (aborted) return
      for await (const piece of directMember(root, file, why => (failure ??= new Error(why)))) {
        length += piece.length
        yield piece
      }
    }
    // Two zero blocks, then zeros to a whole record, as tar ends an archive (a GNU tar reading
    // with -B waits for the rest of a record).
    const record = BLOCKING_FACTOR * BLOCK
    const tail = 2 * BLOCK
    yield Buffer.alloc(tail + ((record - ((length + tail) % record)) % record))
  }
  const stream = Readable.from(archive(), { objectMode: false, highWaterMark: 2 * READ_BYTES })
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', reject)
    stream.on('end', () => (failure ? reject(failure) : resolve()))
    stream.on('close', () => {
      if (!stream.readableEnded)
        reject(new Error(aborted ? 'the upload was stopped' : 'the upload stream closed early'))
    })
  })
  return {
    stream,
    done,
    abort: () => {
      aborted = true
      tar?.abort()
      stream.destroy()
    }
  }
}

/** The members in the order the archive holds them: the system tar's, then the big files. */
export function archiveOrder<T extends ScannedEntry>(entries: readonly T[]): T[] {
  return [...entries.filter(e => !isDirect(e)), ...entries.filter(e => isDirect(e))]
}

function isDirect(entry: ScannedEntry): entry is Omit<FileEntry, 'sha256'> {
  return entry.type === 'file' && entry.size >= DIRECT_BYTES
}

/**
 * One big file as a tar member: its header, `size` bytes (as the walk found it) and padding.
 * A file that cannot be opened is left out and one that shrank is padded with zeros, as GNU tar
 * does; `failed` is told either way, so the upload fails once the archive is whole (the server
 * is never left reading a cut stream).
 */
async function* directMember(
  root: string,
  file: Omit<FileEntry, 'sha256'>,
  failed: (why: string) => void
): AsyncGenerator<Buffer> {
  let handle: FileHandle
  try {
    // The walk found a regular file: a link put in its place since is not followed, and a FIFO
    // is not waited on for a writer (O_NONBLOCK; GNU tar opens so too).
    handle = await open(
      path.join(root, file.path),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
    )
  } catch (error: unknown) {
    failed(`cannot send ${file.path} from the artifact: ${errorMessage(error)}`)
    return
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) {
      // A directory, FIFO or device put in its place: left out, as one that cannot be opened.
      failed(`cannot send ${file.path} from the artifact: it is no longer a regular file`)
      return
    }
    yield fileHeader(file.path, { mode: stat.mode, size: file.size, mtime: stat.mtimeMs / 1000 })
    let left = file.size
    while (left > 0) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, left))
      let read = 0
      try {
        // Synchronous: from the page cache it takes a fraction of a millisecond, less than
        // the thread-pool round trip of the promise API costs.
        read = readSync(handle.fd, buffer, 0, buffer.length, null)
      } catch (error: unknown) {
        failed(`cannot send ${file.path} from the artifact: ${errorMessage(error)}`)
      }
      if (read === 0) {
        failed(
          `${file.path} in the artifact shrank by ${left} bytes while it was sent: something changed it during the deploy`
        )
        for (; left > 0; left -= READ_BYTES) yield Buffer.alloc(Math.min(READ_BYTES, left))
        break
      }
      left -= read
      yield read === buffer.length ? buffer : buffer.subarray(0, read)
    }
    yield Buffer.alloc(padding(file.size))
  } finally {
    await handle.close()
  }
}

/** The system tar over `entries`, its archive whole. */
function systemTar(
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
