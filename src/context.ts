/** What the runner tells about this run: event, commit, repository, actor, URLs. */
import { existsSync, readFileSync } from 'node:fs'

export interface RunContext {
  readonly eventName: string
  /** The commit built and shipped: the PR head on pull_request events, else GITHUB_SHA. */
  readonly sha: string
  readonly owner: string
  readonly repo: string
  readonly actor: string
  /** GITHUB_RUN_ID: the same across re-run attempts of one workflow run. */
  readonly runId: string
  readonly runAttempt: number
  readonly runUrl: string
  readonly apiUrl: string
  readonly payload: Readonly<Record<string, unknown>>
}

function readPayload(file: string | undefined): Record<string, unknown> {
  if (!file || !existsSync(file)) return {}
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'))
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}
}

function field(value: unknown, ...keys: string[]): unknown {
  let current = value
  for (const key of keys) {
    if (typeof current !== 'object' || current === null) return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

export function stringField(value: unknown, ...keys: string[]): string | undefined {
  const found = field(value, ...keys)
  return typeof found === 'string' ? found : undefined
}

export function readContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const payload = readPayload(env.GITHUB_EVENT_PATH)
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '').split('/')
  const serverUrl = env.GITHUB_SERVER_URL ?? 'https://github.com'
  const headSha = stringField(payload, 'pull_request', 'head', 'sha')
  return {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    sha: headSha ?? env.GITHUB_SHA ?? '',
    owner,
    repo,
    actor: env.GITHUB_ACTOR ?? '',
    runId: env.GITHUB_RUN_ID ?? '',
    runAttempt: Number(env.GITHUB_RUN_ATTEMPT ?? 1) || 1,
    runUrl: `${serverUrl}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID ?? ''}`,
    apiUrl: env.GITHUB_API_URL ?? 'https://api.github.com',
    payload
  }
}
