/** Real webhook payloads from @octokit/webhooks-examples, to use as GITHUB_EVENT_PATH. */
import { createRequire } from 'node:module'

interface WebhookDefinition {
  readonly name: string
  readonly examples: readonly Record<string, unknown>[]
}

const require = createRequire(import.meta.url)
const definitions =
  require('@octokit/webhooks-examples/api.github.com/index.json') as WebhookDefinition[]

/** A deep copy of the first example of `event` (with `action`, when given). */
export function examplePayload(event: string, action?: string): Record<string, unknown> {
  const definition = definitions.find(d => d.name === event)
  const example = definition?.examples.find(e => action === undefined || e.action === action)
  if (!example)
    throw new Error(
      `@octokit/webhooks-examples has no ${event}${action ? `.${action}` : ''} example`
    )
  return structuredClone(example)
}

/**
 * A pull_request payload (`action`, default opened) for PR `number` whose head is `sha`, from
 * `headRepo` (another repository makes it a fork's).
 */
export function pullRequestPayload(
  number: number,
  sha: string,
  options: { headRepo?: string; action?: string } = {}
): Record<string, unknown> {
  const payload = examplePayload('pull_request', options.action ?? 'opened')
  const pr = payload.pull_request as {
    number: number
    head: { sha: string; repo: { full_name: string } }
    base: { repo: { full_name: string } }
  }
  payload.number = number
  pr.number = number
  pr.head.sha = sha
  pr.head.repo.full_name = options.headRepo ?? pr.base.repo.full_name
  return payload
}
