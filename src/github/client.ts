/**
 * The one octokit factory, and the value every request is built from.
 *
 * Requests are built from named parameters only: `Repo` is the two-field `{ owner, repo }` made by
 * `repoOf`, never the run context (whose webhook payload would otherwise travel as body or query).
 *
 * Retries and budget: this is a deploy step, not a long-running bot. So instead of
 * `@octokit/plugin-retry` (retries network failures with 1 s + 4 s of backoff each) and
 * `@octokit/plugin-throttling` (spaces every write 1 s apart; waits out rate limits for up to an
 * hour), one request hook:
 * - a request that gets no answer (connection refused, DNS, reset, no answer within
 *   `REQUEST_TIMEOUT_MS`) marks the API unreachable: one warning, and every later request of this
 *   client fails at once with `GitHubUnreachable`, so an unreachable API costs a run at most one
 *   timeout (under 10 s), not a retry series per request;
 * - a 500/502/503/504, or a rate limit whose `retry-after` is at most `MAX_RETRY_AFTER_S`, is
 *   retried once; a longer rate limit fails with a message that says so;
 * - writes go out as they come, not spaced by a fixed second.
 */
import * as core from '@actions/core'
import { maskDeep } from '../mask.js'
import type { getOctokit } from '@actions/github'

export type Octokit = ReturnType<typeof getOctokit>

declare const repoBrand: unique symbol

/**
 * The repository a request is about, and nothing else. Only `repoOf` makes one, so a run context
 * (or any object that happens to have `owner` and `repo`) cannot be passed where a `Repo` goes.
 */
export interface Repo {
  readonly owner: string
  readonly repo: string
  readonly [repoBrand]: true
}

/** The `{ owner, repo }` of a repository, from anything that names one (e.g. the run context). */
export function repoOf(source: { readonly owner: string; readonly repo: string }): Repo {
  const value = { owner: source.owner, repo: source.repo }
  return value as Repo
}

/** No answer within this long counts as unreachable. */
export const REQUEST_TIMEOUT_MS = 8_000
/** A rate limit asking to wait longer than this is not waited for. */
export const MAX_RETRY_AFTER_S = 3
const RETRY_DELAY_MS = 500
const TRANSIENT = new Set([500, 502, 503, 504])

/** A request refused because an earlier one found the API unreachable in this run. */
export class GitHubUnreachable extends Error {
  override name = 'GitHubUnreachable'
}

/** True for `GitHubUnreachable`: its one warning was already logged. */
export function isUnreachable(error: unknown): error is GitHubUnreachable {
  return error instanceof GitHubUnreachable
}

/** The HTTP status of an octokit error, if it has one. */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) return undefined
  return typeof error.status === 'number' ? error.status : undefined
}

/** An error without an HTTP answer: the request never reached GitHub or got nothing back. */
function noAnswer(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  if ('name' in error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return true
  // @octokit/request turns a failed fetch into a RequestError (status 500) without a response.
  return 'request' in error && (!('response' in error) || error.response === undefined)
}

function headerOf(error: unknown, name: string): string | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined
  const response = error.response
  if (typeof response !== 'object' || response === null || !('headers' in response)) {
    return undefined
  }
  const headers = response.headers
  if (typeof headers !== 'object' || headers === null) return undefined
  const value: unknown = (headers as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
}

/** Seconds GitHub asks to wait on a rate limit (403/429), or undefined when it is not one. */
function rateLimitWait(error: unknown): number | undefined {
  const status = httpStatus(error)
  if (status !== 403 && status !== 429) return undefined
  const retryAfter = headerOf(error, 'retry-after')
  if (retryAfter !== undefined) return Number(retryAfter) || 0
  if (headerOf(error, 'x-ratelimit-remaining') !== '0') return undefined
  const reset = Number(headerOf(error, 'x-ratelimit-reset'))
  return Number.isFinite(reset) ? Math.max(0, reset - Math.floor(Date.now() / 1000)) : undefined
}

/** The system error code (`ECONNREFUSED`, `ETIMEDOUT`, …) down the cause chain, else the message. */
function causeOf(error: unknown): string {
  for (let current: unknown = error, depth = 0; depth < 5; depth++) {
    if (typeof current !== 'object' || current === null) break
    if ('code' in current && typeof current.code === 'string') return current.code
    if ('name' in current && current.name === 'TimeoutError') {
      return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
    }
    current = 'cause' in current ? current.cause : undefined
  }
  return error instanceof Error ? error.message : String(error)
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** What a request is addressed with, not what it says: never masked. */
const ADDRESSING = new Set([
  'method',
  'url',
  'baseUrl',
  'headers',
  'request',
  'mediaType',
  'owner',
  'repo'
])

/**
 * Adds the retry and unreachable-API rules of this module's header to a client, and masks every
 * secret in what each request says (comment and issue bodies, deployment descriptions and
 * payloads): the runner masks the log, not what the action sends.
 */
export function applyRequestPolicy(octokit: Octokit, apiUrl: string): void {
  // Set by whichever request finds the API unreachable first, read by every other (a function:
  // a request in flight must see what another one set meanwhile).
  let found: string | undefined
  const unreachableSoFar = (): string | undefined => found
  octokit.hook.wrap('request', async (request, options) => {
    for (const [key, value] of Object.entries(options)) {
      if (!ADDRESSING.has(key)) options[key] = maskDeep(value)
    }
    const what = `${options.method} ${options.url}`
    const before = unreachableSoFar()
    if (before !== undefined) {
      throw new GitHubUnreachable(`GitHub API unreachable (${before}); skipped ${what}`)
    }
    const callerSignal = options.request?.signal
    for (let attempt = 0; ; attempt++) {
      // Set in place: before-after-hook hands the inner hooks the options object it was given,
      // not the one passed on, so a copy would not reach the fetch.
      options.request = {
        ...options.request,
        signal: callerSignal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS)
      }
      try {
        return await request(options)
      } catch (error: unknown) {
        if (noAnswer(error)) {
          // Requests in flight at the same time all fail: the first says so, once.
          const earlier = unreachableSoFar()
          if (earlier !== undefined) {
            throw new GitHubUnreachable(`GitHub API unreachable (${earlier}) on ${what}`)
          }
          const unreachable = causeOf(error)
          found = unreachable
          core.warning(
            `GitHub API at ${apiUrl} cannot be reached (${unreachable} on ${what}): nothing more is reported to GitHub in this run. The deploy itself is not affected.`
          )
          throw new GitHubUnreachable(`GitHub API unreachable (${unreachable}) on ${what}`)
        }
        const wait = rateLimitWait(error)
        if (wait !== undefined && wait > MAX_RETRY_AFTER_S) {
          throw new Error(
            `GitHub API rate limit on ${what}: GitHub asks to wait ${wait} s, longer than a deploy step should (${httpStatus(error)})`,
            { cause: error }
          )
        }
        const status = httpStatus(error) ?? 0
        if (attempt > 0 || (wait === undefined && !TRANSIENT.has(status))) throw error
        core.info(`GitHub API ${status} on ${what}; retrying once.`)
        await sleep(wait === undefined ? RETRY_DELAY_MS : wait * 1000)
      }
    }
  })
}

/** `${{ github.token }}` passed through unexpanded (e.g. by a local runner): not a token. */
export function isUnexpandedExpression(token: string): boolean {
  return /^\$\{\{.*\}\}$/s.test(token.trim())
}

/**
 * Loads octokit (a separate chunk of the bundle, ~25 ms to evaluate) only when there is a token
 * to use it with. An unexpanded expression is no token: a notice, and no client.
 */
export async function createOctokit(
  token: string,
  apiUrl: string = process.env.GITHUB_API_URL ?? 'https://api.github.com'
): Promise<Octokit | undefined> {
  if (isUnexpandedExpression(token)) {
    core.notice(
      `\`github-token\` is the unexpanded expression ${token.trim()}: no token, so nothing is reported to GitHub. Pass a real token (a local runner does not expand expressions).`
    )
    return undefined
  }
  const { getOctokit } = await import('@actions/github')
  const octokit = getOctokit(token, { baseUrl: apiUrl })
  applyRequestPolicy(octokit, apiUrl)
  return octokit
}
