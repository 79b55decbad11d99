/**
 * The health-check operation on one host: is the release just switched to healthy? A command
 * run in the release directory and/or a URL, fetched by the server itself when it names the
 * server (localhost, 127.0.0.1), else by the runner. Retried with backoff until it passes or the
 * timeout is up; the verdict says what the check saw last.
 */
import { readFileSync } from 'node:fs'
import type { HealthCheck, StatusRanges } from '../../inputs.js'
import type { SshSession } from '../../ssh/session.js'
import { describeTarget } from '../../ssh/target.js'
import { MARK, program, runChecked } from '../program.js'

const HEALTH = program('health', readFileSync(new URL('./health.sh', import.meta.url), 'utf8'))

/** How one check went: which check, and what it saw (a status code, or the output's last lines). */
export interface Verdict {
  readonly healthy: boolean
  readonly check: string
  readonly saw: string
}

/** Waits before the next try: 0.5 s, doubling, at most 5 s. */
export function backoff(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 5000)
}

export function inRanges(code: number, ranges: StatusRanges): boolean {
  return ranges.some(([low, high]) => code >= low && code <= high)
}

export function describeRanges(ranges: StatusRanges): string {
  return ranges.map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(',')
}

/** The URL for one host: `{host}` replaced by its name (an IPv6 address in brackets). */
export function urlFor(template: string, host: string): string {
  return template.replaceAll('{host}', host.includes(':') ? `[${host}]` : host)
}

/** True when the URL names the server itself, so the server must fetch it. */
export function fetchedByServer(url: string): boolean {
  const name = new URL(url).hostname
  return name === 'localhost' || name === '127.0.0.1' || name === '[::1]'
}

interface Options {
  readonly remotePath: string
  readonly release: string
  readonly check: HealthCheck
  /** Retry notes. */
  readonly log: (text: string) => void
}

/** The status code `url` answers when the runner fetches it (0: no answer). */
export async function fetchStatus(url: string, seconds: number): Promise<number> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(seconds * 1000)
    })
    await response.body?.cancel()
    return response.status
  } catch {
    return 0
  }
}

function statusVerdict(check: string, code: number, ranges: StatusRanges): Verdict {
  return {
    healthy: inRanges(code, ranges),
    check,
    saw: code === 0 ? 'no HTTP answer' : `HTTP status ${code} (expected ${describeRanges(ranges)})`
  }
}

async function onServer(
  session: SshSession,
  options: Options,
  what: 'command' | 'url',
  value: string,
  seconds: number
): Promise<{ value: number; error: string }> {
  let error = ''
  const out = await runChecked(
    session,
    HEALTH,
    'the health check',
    [options.remotePath, options.release, what, value, String(seconds)],
    { onStderr: text => (error += text) }
  )
  const said = new RegExp(`^${MARK.GD_HEALTH} (\\d+)$`, 'm').exec(out.toString('utf8'))?.[1]
  const lines = error
    .split('\n')
    .map(l => l.trimEnd())
    .filter(l => l !== '')
  return { value: Number(said ?? 1), error: lines.slice(-5).join('\n') }
}

/** One try of every check given: the command first, then the URL. */
async function tryOnce(session: SshSession, options: Options, seconds: number): Promise<Verdict> {
  const { check } = options
  if (check.command !== undefined) {
    const name = `health-check-command \`${check.command.trim().split('\n')[0] ?? ''}\``
    const ran = await onServer(session, options, 'command', check.command, seconds)
    if (ran.value !== 0) {
      return {
        healthy: false,
        check: name,
        saw: `exit ${ran.value}${ran.error ? `, its last output:\n${ran.error}` : ', no output'}`
      }
    }
  }
  if (check.url !== undefined) {
    const url = urlFor(check.url, session.target.host)
    if (fetchedByServer(url)) {
      const got = await onServer(session, options, 'url', url, seconds)
      const verdict = statusVerdict(
        `health-check-url ${url} (fetched on the server)`,
        got.value,
        check.expect
      )
      if (!verdict.healthy) return verdict
    } else {
      const code = await fetchStatus(url, seconds)
      const verdict = statusVerdict(`health-check-url ${url}`, code, check.expect)
      if (!verdict.healthy) return verdict
    }
  }
  return { healthy: true, check: 'health check', saw: 'healthy' }
}

/**
 * Checks `release` on one host until it passes or `check.timeoutSeconds` is up, waiting longer
 * between tries (see backoff). Returns the last verdict; a lost connection throws.
 */
export async function waitHealthy(session: SshSession, options: Options): Promise<Verdict> {
  const deadline = Date.now() + options.check.timeoutSeconds * 1000
  for (let attempt = 0; ; attempt++) {
    const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000))
    const verdict = await tryOnce(session, options, Math.min(left, 30))
    const wait = backoff(attempt)
    if (verdict.healthy || Date.now() + wait > deadline) return verdict
    options.log(
      `${describeTarget(session.target)}: ${verdict.check}: ${verdict.saw.split('\n')[0] ?? ''}; trying again in ${wait / 1000} s`
    )
    await new Promise(resolve => setTimeout(resolve, wait))
  }
}
