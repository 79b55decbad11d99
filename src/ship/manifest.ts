/**
 * The local side of a release: walks the artifact (dotfiles included, `.git` and `exclude`d
 * paths left out), and records every directory, file (size, mode, sha256) and symlink.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
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

export async function buildManifest(options: {
  root: string
  exclude: readonly string[]
  sharedPaths: readonly string[]
}): Promise<Manifest> {
  const rules = ['.git/', ...options.exclude].map(compileExclude)
  const found: { type: 'dir' | 'file' | 'symlink'; rel: string; mode: number; size: number }[] = []
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort()
    for (const name of names) {
      const rel = prefix ? `${prefix}/${name}` : name
      const full = path.join(dir, name)
      const stat = await lstat(full)
      const isDir = stat.isDirectory()
      if (isExcluded(rules, rel, isDir) || underShared(rel, options.sharedPaths)) continue
      if (isDir) {
        found.push({ type: 'dir', rel, mode: stat.mode & 0o7777, size: 0 })
        await walk(full, rel)
      } else if (stat.isSymbolicLink()) {
        found.push({ type: 'symlink', rel, mode: 0, size: 0 })
      } else if (stat.isFile()) {
        found.push({ type: 'file', rel, mode: stat.mode & 0o7777, size: stat.size })
      }
      // sockets, fifos and devices are not shipped
    }
  }
  await walk(options.root, '')
  const entries = await mapLimit(found, 8, async (item): Promise<Entry> => {
    const full = path.join(options.root, item.rel)
    if (item.type === 'dir') return { type: 'dir', path: item.rel, mode: item.mode }
    if (item.type === 'symlink')
      return { type: 'symlink', path: item.rel, target: await readlink(full) }
    return {
      type: 'file',
      path: item.rel,
      mode: item.mode,
      size: item.size,
      sha256: await sha256File(full)
    }
  })
  const files = entries.filter(e => e.type === 'file')
  return { entries, files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) }
}
