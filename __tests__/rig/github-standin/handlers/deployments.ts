/** Deployments and deployment statuses. */
import {
  bodyObject,
  created,
  idParam,
  notFound,
  ok,
  optionalBoolean,
  optionalString,
  paginated,
  repoParam,
  requiredString,
  validationFailed
} from '../http.js'
import { deploymentShape, deploymentStatusShape } from '../shapes.js'
import { DEPLOYMENT_STATES } from '../records.js'
import type { DeploymentRecord, DeploymentState } from '../records.js'
import { fakeSha } from '../state.js'
import type { StandInState } from '../state.js'
import type { BuiltInHandler, HandlerContext } from '../types.js'

const MAX_STATUS_DESCRIPTION = 140

function existingDeployment({ request, state }: HandlerContext): DeploymentRecord {
  const deployment = state.deployment(repoParam(request), idParam(request, 'deployment_id'))
  if (!deployment) throw notFound()
  return deployment
}

/** A sha as is; a branch of a seeded pull request to its head sha; anything else a stable fake. */
function resolveSha(state: StandInState, repository: string, ref: string): string {
  if (/^[0-9a-f]{40}$/i.test(ref)) return ref.toLowerCase()
  const pull = [...state.pulls.values()].find(
    p => p.head.ref === ref && p.head.repository.toLowerCase() === repository.toLowerCase()
  )
  return pull?.head.sha ?? fakeSha(ref)
}

function checkContexts(body: Readonly<Record<string, unknown>>): void {
  const contexts = body['required_contexts']
  const valid =
    contexts === undefined ||
    (Array.isArray(contexts) && contexts.every(context => typeof context === 'string'))
  if (!valid) throw validationFailed('Deployment', 'required_contexts', 'invalid')
  optionalBoolean('Deployment', body, 'auto_merge')
}

const createDeployment: BuiltInHandler = context => {
  const { request, state, urls } = context
  const body = bodyObject(request)
  const repository = state.repo(repoParam(request)).fullName
  const ref = requiredString('Deployment', body, 'ref')
  checkContexts(body)
  const environment = optionalString('Deployment', body, 'environment') ?? 'production'
  const transient = optionalBoolean('Deployment', body, 'transient_environment')
  const production = optionalBoolean('Deployment', body, 'production_environment')
  const description = optionalString('Deployment', body, 'description')
  const task = optionalString('Deployment', body, 'task')
  const deployment = state.addDeployment({
    repository,
    ref,
    sha: resolveSha(state, repository, ref),
    environment,
    payload: body['payload'] ?? {},
    ...(task === undefined ? {} : { task }),
    ...(description === undefined ? {} : { description }),
    ...(transient === undefined ? {} : { transient }),
    ...(production === undefined ? {} : { production })
  })
  return created(deploymentShape(urls, deployment))
}

const listDeployments: BuiltInHandler = context => {
  const { request, state, urls } = context
  const filters = ['sha', 'ref', 'task', 'environment'] as const
  const deployments = state
    .deploymentsIn(repoParam(request))
    .filter(d => filters.every(f => request.query[f] === undefined || request.query[f] === d[f]))
  return paginated(
    request,
    urls,
    deployments.map(d => deploymentShape(urls, d))
  )
}

const getDeployment: BuiltInHandler = context =>
  ok(deploymentShape(context.urls, existingDeployment(context)))

function isDeploymentState(value: string): value is DeploymentState {
  return (DEPLOYMENT_STATES as readonly string[]).includes(value)
}

/**
 * With `auto_inactive` (default true) a success marks earlier successful deployments to the same
 * environment inactive, except transient and production ones, as GitHub documents.
 */
function deactivateEarlier(state: StandInState, current: DeploymentRecord): void {
  for (const earlier of state.deploymentsIn(current.repository)) {
    if (earlier.id >= current.id || earlier.environment !== current.environment) continue
    if (earlier.transient || earlier.production) continue
    if (state.statusesOf(earlier.id)[0]?.state !== 'success') continue
    state.addDeploymentStatus({ deploymentId: earlier.id, state: 'inactive' })
  }
}

const createStatus: BuiltInHandler = context => {
  const { request, state, urls } = context
  const deployment = existingDeployment(context)
  const body = bodyObject(request)
  const stateName = requiredString('DeploymentStatus', body, 'state')
  if (!isDeploymentState(stateName)) throw validationFailed('DeploymentStatus', 'state', 'invalid')
  const text = (field: string): string => optionalString('DeploymentStatus', body, field) ?? ''
  if (text('description').length > MAX_STATUS_DESCRIPTION) {
    throw validationFailed(
      'DeploymentStatus',
      'description',
      'custom',
      `description is too long (maximum is ${MAX_STATUS_DESCRIPTION} characters)`
    )
  }
  const environment = optionalString('DeploymentStatus', body, 'environment')
  const status = state.addDeploymentStatus({
    deploymentId: deployment.id,
    state: stateName,
    description: text('description'),
    targetUrl: text('target_url') || text('log_url'),
    logUrl: text('log_url') || text('target_url'),
    environmentUrl: text('environment_url'),
    ...(environment === undefined ? {} : { environment })
  })
  const autoInactive = optionalBoolean('DeploymentStatus', body, 'auto_inactive') ?? true
  if (stateName === 'success' && autoInactive) deactivateEarlier(state, deployment)
  return created(deploymentStatusShape(urls, deployment, status))
}

const listStatuses: BuiltInHandler = context => {
  const { request, state, urls } = context
  const deployment = existingDeployment(context)
  const statuses = state.statusesOf(deployment.id)
  return paginated(
    request,
    urls,
    statuses.map(status => deploymentStatusShape(urls, deployment, status))
  )
}

const getStatus: BuiltInHandler = context => {
  const deployment = existingDeployment(context)
  const status = context.state.statuses.get(idParam(context.request, 'status_id'))
  if (status?.deploymentId !== deployment.id) throw notFound()
  return ok(deploymentStatusShape(context.urls, deployment, status))
}

export const deploymentHandlers: Readonly<Record<string, BuiltInHandler>> = {
  'repos/create-deployment': createDeployment,
  'repos/list-deployments': listDeployments,
  'repos/get-deployment': getDeployment,
  'repos/create-deployment-status': createStatus,
  'repos/list-deployment-statuses': listStatuses,
  'repos/get-deployment-status': getStatus
}
