/**
 * GitHub deployments for activations (DESIGN.md §6): one deployment per activation, ref = the
 * commit sha, no auto-merge, no required contexts; statuses in_progress → success / failure /
 * inactive carry `environment_url` and `log_url`.
 */
import { DeployError } from '../errors.js'
import { shorten } from '../format.js'
import type { Octokit, Repo } from './client.js'

/** GitHub refuses deployment status descriptions longer than this. */
export const MAX_STATUS_DESCRIPTION = 140

export type DeploymentStatusState = 'in_progress' | 'success' | 'failure' | 'inactive' | 'error'

export interface NewDeployment {
  readonly sha: string
  readonly environment: string
  readonly release: string
  readonly description: string
  /** This activation goes back to an earlier release (`payload.rollback`, read by DORA). */
  readonly rollback?: boolean
}

export interface DeploymentStatusUpdate {
  readonly state: DeploymentStatusState
  readonly environmentUrl?: string
  readonly logUrl: string
  readonly description: string
}

/** What gated-deploy stores in a deployment's payload. */
export interface DeploymentPayload {
  readonly release: string
  readonly rollback: boolean
}

/** Reads a deployment payload written by `createDeployment` (or anything else, leniently). */
export function readPayload(payload: unknown): Partial<DeploymentPayload> {
  let value = payload
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown
    } catch {
      return {}
    }
  }
  if (typeof value !== 'object' || value === null) return {}
  const { release, rollback } = value as Record<string, unknown>
  return {
    ...(typeof release === 'string' ? { release } : {}),
    ...(typeof rollback === 'boolean' ? { rollback } : {})
  }
}

/** Creates the deployment for one activation and returns its id. */
export async function createDeployment(
  octokit: Octokit,
  repo: Repo,
  deployment: NewDeployment
): Promise<number> {
  const payload: DeploymentPayload = {
    release: deployment.release,
    rollback: deployment.rollback ?? false
  }
  const { data } = await octokit.rest.repos.createDeployment({
    owner: repo.owner,
    repo: repo.repo,
    ref: deployment.sha,
    task: 'deploy',
    environment: deployment.environment,
    description: shorten(deployment.description, MAX_STATUS_DESCRIPTION),
    auto_merge: false,
    required_contexts: [],
    payload: { ...payload },
    transient_environment: false,
    production_environment: deployment.environment === 'production'
  })
  if (!('id' in data)) {
    throw new DeployError(
      `GitHub did not create a deployment of ${deployment.sha.slice(0, 12)} to "${deployment.environment}": ${data.message ?? 'no reason given'}`
    )
  }
  return data.id
}

/** Adds a status to a deployment; the description is cut to GitHub's 140 characters. */
export async function setDeploymentStatus(
  octokit: Octokit,
  repo: Repo,
  deploymentId: number,
  update: DeploymentStatusUpdate
): Promise<void> {
  await octokit.rest.repos.createDeploymentStatus({
    owner: repo.owner,
    repo: repo.repo,
    deployment_id: deploymentId,
    state: update.state,
    log_url: update.logUrl,
    description: shorten(update.description, MAX_STATUS_DESCRIPTION),
    ...(update.environmentUrl === undefined ? {} : { environment_url: update.environmentUrl })
  })
}
