/**
 * The one octokit factory: GITHUB_API_URL from the runner, retries with backoff for 5xx and
 * rate limits handled by the throttling plugin. Domain verbs live beside it (gate, comments,
 * deployments) and take this client.
 */
import * as core from '@actions/core'
import type { getOctokit } from '@actions/github'

export type Octokit = ReturnType<typeof getOctokit>

export interface Repo {
  readonly owner: string
  readonly repo: string
}

/** A throttling callback: warn, and retry once after GitHub's requested wait. */
function onLimit(kind: string) {
  return (
    retryAfter: number,
    options: { method: string; url: string },
    _octokit: unknown,
    retryCount: number
  ): boolean => {
    core.warning(
      `GitHub API ${kind} on ${options.method} ${options.url}; retrying in ${retryAfter} s.`
    )
    return retryCount < 1
  }
}

/**
 * Loads octokit (a separate chunk of the bundle, ~25 ms to evaluate) only when there is a
 * token to use it with.
 */
export async function createOctokit(token: string): Promise<Octokit> {
  const [{ getOctokit }, { retry }, { throttling }] = await Promise.all([
    import('@actions/github'),
    import('@octokit/plugin-retry'),
    import('@octokit/plugin-throttling')
  ])
  return getOctokit(
    token,
    {
      retry: { retries: 2 },
      throttle: {
        onRateLimit: onLimit('rate limit'),
        onSecondaryRateLimit: onLimit('secondary rate limit')
      }
    },
    retry,
    throttling
  )
}

/** The HTTP status of an octokit error, if it has one. */
export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}
