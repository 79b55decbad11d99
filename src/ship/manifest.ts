/**
 * The local side of a release: walks the artifact (dotfiles included, `.git` and `exclude`d
 * paths left out), and records every directory, file (size, mode, sha256) and symlink.
 */
import { createHash } from 'node:crypto'
import type { Dirent } from 'node:fs'
import { lstat, open, readdir, readFile, readlink } from 'node:fs/promises'
import path from 'node:path'
import { compileExclude, isExcluded } from './glob.js'

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

/**
 * Hashes a large file through one reused buffer: no fresh memory per chunk (page faults and GC
 * are what made hashing hold up the event loop), and the loop gets a turn after every megabyte,
 * so the SSH handshake running alongside is not kept waiting.
 */
async function sha256Chunked(file: string, buffer: Buffer): Promise<string> {
  const hash = createHash('sha256')
  const handle = await open(file, 'r')
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
    }
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}

/** Returns a scheduler that runs at most `limit` of the tasks given to it at a time. */
function limiter(limit: number): <R>(task: () => Promise<R>) => Promise<R> {
  let running = 0
  const waiting: (() => void)[] = []
  return async <R>(task: () => Promise<R>): Promise<R> => {
    if (running >= limit) await new Promise<void>(resolve => waiting.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

/** Paths under any of `sharedPaths` live on the server in shared/ and are never shipped. */
export function underShared(relativePath: string, sharedPaths: readonly string[]): boolean {
  return sharedPaths.some(
    shared => relativePath === shared || relativePath.startsWith(shared + '/')
  )
}

interface Found {
  readonly type: 'dir' | 'file' | 'symlink'
  readonly rel: string
  readonly mode: number
  readonly size: number
}

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** Lists a tree depth-first in name order, every directory before what it holds; lstat in parallel. */
async function walk(
  dir: string,
  prefix: string,
  skip: (rel: string, isDir: boolean) => boolean
): Promise<Found[]> {
  const dirents = (await readdir(dir, { withFileTypes: true })).sort(byName)
  const parts = await Promise.all(
    dirents.map(async (dirent): Promise<Found[]> => {
      const rel = prefix ? `${prefix}/${dirent.name}` : dirent.name
      const full = path.join(dir, dirent.name)
      if (skip(rel, dirent.isDirectory())) return []
      if (dirent.isSymbolicLink()) return [{ type: 'symlink', rel, mode: 0, size: 0 }]
      if (!dirent.isDirectory() && !dirent.isFile()) return [] // sockets, fifos and devices are not shipped
      const stat = await lstat(full)
      if (dirent.isFile()) return [{ type: 'file', rel, mode: stat.mode & 0o7777, size: stat.size }]
      return [
        { type: 'dir', rel, mode: stat.mode & 0o7777, size: 0 },
        ...(await walk(full, rel, skip))
      ]
    })
  )
  return parts.flat()
}

/** Files up to this size are read whole (one read); larger ones go through `sha256Chunked`. */
const READ_WHOLE_BYTES = 256 << 10
const CHUNK_BYTES = 1 << 20
/** Many small files at once (each one read), a few large ones (each its own reused buffer). */
const SMALL_AT_ONCE = 16
const LARGE_AT_ONCE = 4

export async function buildManifest(options: {
  root: string
  exclude: readonly string[]
  sharedPaths: readonly string[]
}): Promise<Manifest> {
  const rules = ['.git/', ...options.exclude].map(compileExclude)
  const found = await walk(
    options.root,
    '',
    (rel, isDir) => isExcluded(rules, rel, isDir) || underShared(rel, options.sharedPaths)
  )
  const small = limiter(SMALL_AT_ONCE)
  const large = limiter(LARGE_AT_ONCE)
  const buffers: Buffer[] = []
  const hashLarge = async (file: string): Promise<string> => {
    const buffer = buffers.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES)
    try {
      return await sha256Chunked(file, buffer)
    } finally {
      buffers.push(buffer)
    }
  }
  const hashSmall = async (file: string): Promise<string> =>
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex')
  const entries = await Promise.all(
    found.map(async (item): Promise<Entry> => {
      const full = path.join(options.root, item.rel)
      if (item.type === 'dir') return { type: 'dir', path: item.rel, mode: item.mode }
      if (item.type === 'symlink')
        return { type: 'symlink', path: item.rel, target: await small(() => readlink(full)) }
      const sha256 =
        item.size <= READ_WHOLE_BYTES
          ? await small(() => hashSmall(full))
          : await large(() => hashLarge(full))
      return { type: 'file', path: item.rel, mode: item.mode, size: item.size, sha256 }
    })
  )
  const files = entries.filter(e => e.type === 'file')
  return { entries, files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) }
}
