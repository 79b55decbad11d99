/**
 * Dependency cache around the build. The cache is a speed-up, never a reason to fail or stall
 * a run: without the runner's cache service it says so in one line and the run goes on.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { CacheSettings } from '../inputs.js'
import { errorMessage } from '../errors.js'

/** Lock files whose contents decide the default cache key, in the working directory. */
export const LOCK_FILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
  'composer.lock',
  'Gemfile.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'requirements.txt',
  'Cargo.lock',
  'go.sum',
  'mix.lock'
] as const

/** The explicit key, or one derived from the lock files present; undefined when there are none. */
export function cacheKey(settings: CacheSettings, workingDirectory: string): string | undefined {
  if (settings.key !== undefined) return settings.key
  const hash = createHash('sha256')
  let found = 0
  for (const name of LOCK_FILES) {
    const file = path.join(workingDirectory, name)
    if (!existsSync(file)) continue
    hash.update(name).update('\0').update(readFileSync(file)).update('\0')
    found++
  }
  if (found === 0) return undefined
  const os = process.env.RUNNER_OS ?? process.platform
  return `gated-deploy-${os}-${hash.digest('hex').slice(0, 32)}`
}

export type CacheOutcome =
  | {
      readonly state: 'hit' | 'miss' | 'restored-partial'
      readonly key: string
      readonly matchedKey?: string
    }
  | { readonly state: 'skipped'; readonly reason: string }

function serviceAvailable(): boolean {
  // Same test as @actions/cache isFeatureAvailable(), without loading the library when it is absent.
  return process.env.ACTIONS_CACHE_SERVICE_V2
    ? Boolean(process.env.ACTIONS_RESULTS_URL)
    : Boolean(process.env.ACTIONS_CACHE_URL)
}

export async function restoreCache(
  settings: CacheSettings,
  workingDirectory: string
): Promise<CacheOutcome> {
  const key = cacheKey(settings, workingDirectory)
  if (key === undefined) {
    return {
      state: 'skipped',
      reason: `no cache-key and no lock file (${LOCK_FILES.slice(0, 3).join(', ')}, …) to derive one`
    }
  }
  if (!serviceAvailable())
    return { state: 'skipped', reason: 'the runner offers no cache service here' }
  try {
    const cache = await import('@actions/cache')
    const paths = settings.paths.map(p => path.resolve(workingDirectory, p))
    const matched = await cache.restoreCache(paths, key, [...settings.restoreKeys])
    if (matched === undefined) return { state: 'miss', key }
    return { state: matched === key ? 'hit' : 'restored-partial', key, matchedKey: matched }
  } catch (error: unknown) {
    return { state: 'skipped', reason: `restore failed: ${errorMessage(error)}` }
  }
}

/** Saves after a green build unless the exact key was restored. Never throws. */
export async function saveCache(
  settings: CacheSettings,
  workingDirectory: string,
  restored: CacheOutcome
): Promise<string> {
  if (restored.state === 'skipped') return `cache not saved: ${restored.reason}`
  if (restored.state === 'hit') return `cache up to date (${restored.key})`
  try {
    const cache = await import('@actions/cache')
    const paths = settings.paths.map(p => path.resolve(workingDirectory, p))
    await cache.saveCache(paths, restored.key)
    return `cache saved as ${restored.key}`
  } catch (error: unknown) {
    return `cache not saved: ${errorMessage(error)}`
  }
}

export function describeRestore(outcome: CacheOutcome): string {
  switch (outcome.state) {
    case 'skipped':
      return `cache skipped: ${outcome.reason}`
    case 'hit':
      return `cache hit (${outcome.key})`
    case 'restored-partial':
      return `cache restored from ${outcome.matchedKey ?? '?'} (no exact hit for ${outcome.key})`
    case 'miss':
      return `cache miss (${outcome.key})`
  }
}
