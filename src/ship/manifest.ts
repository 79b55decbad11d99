/**
 * The local side of a release: walks the artifact (dotfiles included, `.git` and `exclude`d
 * paths left out), and records every directory, file (size, mode, sha256) and symlink.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { Dirent } from 'node:fs'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
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

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
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

/** Files up to this size are read whole (one read); larger ones are streamed. */
const READ_WHOLE_BYTES = 4 << 20

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
  const entries = await mapLimit(found, 16, async (item): Promise<Entry> => {
    const full = path.join(options.root, item.rel)
    if (item.type === 'dir') return { type: 'dir', path: item.rel, mode: item.mode }
    if (item.type === 'symlink')
      return { type: 'symlink', path: item.rel, target: await readlink(full) }
    const sha256 =
      item.size <= READ_WHOLE_BYTES
        ? createHash('sha256')
            .update(await readFile(full))
            .digest('hex')
        : await sha256File(full)
    return { type: 'file', path: item.rel, mode: item.mode, size: item.size, sha256 }
  })
  const files = entries.filter(e => e.type === 'file')
  return { entries, files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) }
}
