/**
 * The local side of a release: walks the artifact (dotfiles included, `.git` and `exclude`d
 * paths left out), and records every directory, file (size, mode, sha256) and symlink.
 */
import { createHash } from 'node:crypto'
import {
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  type Dirent
} from 'node:fs'
import path from 'node:path'
import { compileExclude } from './glob.js'

export type Entry =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | {
      readonly type: 'file'
      readonly path: string
      readonly mode: number
      readonly size: number
      readonly sha256: string
    }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }

export interface Manifest {
  /** Sorted by path; every directory comes before what it holds. */
  readonly entries: readonly Entry[]
  readonly files: number
  readonly bytes: number
}

const SLICE_MS = 4
/** Files up to this size are read whole; larger ones through one reused buffer. */
const READ_WHOLE_BYTES = 256 << 10
const CHUNK_BYTES = 1 << 20

/**
 * Gives the event loop a turn every few milliseconds. The walk and the hashing are synchronous
 * (5x faster here than promise-based fs for 2,000 small files: 0.1 s instead of 0.46 s; each
 * async call is several thread-pool round trips), but the SSH handshake runs alongside and
 * must not wait long for its packets to be read.
 */
class TimeSlices {
  private since = performance.now()

  async pause(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return
    await new Promise<void>(resolve => setImmediate(resolve))
    this.since = performance.now()
  }
}

async function sha256(
  file: string,
  size: number,
  buffer: Buffer,
  slices: TimeSlices
): Promise<string> {
  const hash = createHash('sha256')
  if (size <= READ_WHOLE_BYTES) return hash.update(readFileSync(file)).digest('hex')
  const fd = openSync(file, 'r')
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null)
      if (read === 0) break
      hash.update(buffer.subarray(0, read))
      await slices.pause()
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

/** Paths under any of `sharedPaths` live on the server in shared/ and are never shipped. */
export function underShared(relativePath: string, sharedPaths: readonly string[]): boolean {
  return sharedPaths.some(
    shared => relativePath === shared || relativePath.startsWith(shared + '/')
  )
}

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** Appends the entries under `dir` depth-first in name order, every directory before what it holds. */
async function walk(
  dir: string,
  prefix: string,
  skip: (rel: string, isDir: boolean) => boolean,
  into: Entry[],
  work: { buffer: Buffer; slices: TimeSlices }
): Promise<void> {
  for (const dirent of readdirSync(dir, { withFileTypes: true }).sort(byName)) {
    const rel = prefix ? `${prefix}/${dirent.name}` : dirent.name
    const full = path.join(dir, dirent.name)
    if (skip(rel, dirent.isDirectory())) continue
    if (dirent.isSymbolicLink()) {
      into.push({ type: 'symlink', path: rel, target: readlinkSync(full) })
    } else if (dirent.isDirectory()) {
      into.push({ type: 'dir', path: rel, mode: lstatSync(full).mode & 0o7777 })
      await walk(full, rel, skip, into, work)
    } else if (dirent.isFile()) {
      const stat = lstatSync(full)
      const sha = await sha256(full, stat.size, work.buffer, work.slices)
      into.push({ type: 'file', path: rel, mode: stat.mode & 0o7777, size: stat.size, sha256: sha })
    } // sockets, fifos and devices are not shipped
    await work.slices.pause()
  }
}

export async function buildManifest(options: {
  root: string
  exclude: readonly string[]
  sharedPaths: readonly string[]
}): Promise<Manifest> {
  const rules = compileExclude([...options.exclude, '.git/']) // last: a `!` cannot bring .git back
  const entries: Entry[] = []
  await walk(
    options.root,
    '',
    (rel, isDir) => rules.excludes(rel, isDir) || underShared(rel, options.sharedPaths),
    entries,
    { buffer: Buffer.allocUnsafe(CHUNK_BYTES), slices: new TimeSlices() }
  )
  const files = entries.filter(e => e.type === 'file')
  return { entries, files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) }
}
