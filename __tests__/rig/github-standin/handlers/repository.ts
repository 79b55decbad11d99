/** Repositories, identity, collaborator permissions, pull requests and issues. */
import {
  bodyObject,
  created,
  idParam,
  notFound,
  ok,
  optionalString,
  paginated,
  pathParam,
  repoParam,
  requiredString,
  validationFailed
} from '../http.js'
import { issueShape, pullShape, repoShape, userShape } from '../shapes.js'
import type { IssueRecord, PullRecord } from '../records.js'
import type { StandInState } from '../state.js'
import type { BuiltInHandler, HandlerContext, Role } from '../types.js'

const ROLES: readonly Role[] = ['none', 'read', 'triage', 'write', 'maintain', 'admin']

/** The permission API's coarse level: maintain counts as write, triage as read. */
function permissionLevel(role: Role): 'admin' | 'write' | 'read' | 'none' {
  if (role === 'maintain') return 'write'
  if (role === 'triage') return 'read'
  return role
}

const getPermission: BuiltInHandler = ({ request, state, urls }) => {
  const repository = state.repo(repoParam(request)).fullName
  const user = state.user(pathParam(request, 'username'))
  const role = state.roleOf(user.login, repository)
  const atLeast = (minimum: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(minimum)
  const permissions = {
    admin: atLeast('admin'),
    maintain: atLeast('maintain'),
    push: atLeast('write'),
    triage: atLeast('triage'),
    pull: atLeast('read')
  }
  return ok({
    permission: permissionLevel(role),
    role_name: role,
    user: { ...userShape(user, urls), permissions, role_name: role }
  })
}

function existingPull({ request, state }: HandlerContext): PullRecord {
  const pull = state.pull(repoParam(request), idParam(request, 'pull_number'))
  if (!pull) throw notFound()
  return pull
}

const getPull: BuiltInHandler = context =>
  ok(pullShape(context.state, context.urls, existingPull(context)))

/** Pull requests whose head is the commit or that merged it, newest first. */
const pullsForCommit: BuiltInHandler = ({ request, state, urls }) => {
  const repository = repoParam(request).toLowerCase()
  const sha = pathParam(request, 'commit_sha').toLowerCase()
  const pulls = [...state.pulls.values()]
    .filter(p => p.repository.toLowerCase() === repository)
    .filter(p => p.head.sha.toLowerCase() === sha || p.mergeCommitSha?.toLowerCase() === sha)
    .sort((a, b) => b.number - a.number)
  return paginated(
    request,
    urls,
    pulls.map(p => pullShape(state, urls, p))
  )
}

function labelNames(body: Readonly<Record<string, unknown>>): string[] | undefined {
  const labels = body['labels']
  if (labels === undefined) return undefined
  if (!Array.isArray(labels)) throw validationFailed('Issue', 'labels', 'invalid')
  return (labels as unknown[]).map(label => {
    if (typeof label === 'string') return label
    const name =
      typeof label === 'object' && label !== null ? (label as { name?: unknown }).name : undefined
    if (typeof name !== 'string') throw validationFailed('Issue', 'labels', 'invalid')
    return name
  })
}

const createIssue: BuiltInHandler = ({ request, state, urls }) => {
  const body = bodyObject(request)
  const text = optionalString('Issue', body, 'body')
  const labels = labelNames(body)
  const issue = state.addIssue({
    repository: repoParam(request),
    title: requiredString('Issue', body, 'title'),
    user: state.identity,
    ...(text === undefined ? {} : { body: text }),
    ...(labels === undefined ? {} : { labels })
  })
  return created(issueShape(state, urls, issue))
}

/** A pull request read through the issues API: an issue with a `pull_request` key. */
function pullAsIssue(state: StandInState, context: HandlerContext, pull: PullRecord): object {
  const issue: IssueRecord = {
    ...pull,
    labels: [],
    closedAt: pull.state === 'closed' ? pull.updatedAt : null
  }
  const shape = issueShape(state, context.urls, issue)
  const html = `${context.urls.server}/${pull.repository}/pull/${pull.number}`
  return {
    ...shape,
    html_url: html,
    pull_request: {
      url: `${context.urls.api}/repos/${pull.repository}/pulls/${pull.number}`,
      html_url: html
    }
  }
}

function existingIssue({ request, state }: HandlerContext): IssueRecord {
  const issue = state.issue(repoParam(request), idParam(request, 'issue_number'))
  if (!issue) throw notFound()
  return issue
}

const getIssue: BuiltInHandler = context => {
  const { request, state, urls } = context
  const pull = state.pull(repoParam(request), idParam(request, 'issue_number'))
  if (pull) return ok(pullAsIssue(state, context, pull))
  return ok(issueShape(state, urls, existingIssue(context)))
}

const updateIssue: BuiltInHandler = context => {
  const { request, state, urls } = context
  const issue = existingIssue(context)
  const body = bodyObject(request)
  const next = optionalString('Issue', body, 'state')
  if (next !== undefined && next !== 'open' && next !== 'closed') {
    throw validationFailed('Issue', 'state', 'invalid')
  }
  issue.title = optionalString('Issue', body, 'title') ?? issue.title
  issue.body = optionalString('Issue', body, 'body') ?? issue.body
  issue.labels = labelNames(body) ?? issue.labels
  issue.updatedAt = state.now()
  if (next !== undefined && next !== issue.state) {
    issue.state = next
    issue.closedAt = next === 'closed' ? issue.updatedAt : null
  }
  return ok(issueShape(state, urls, issue))
}

const getAuthenticatedUser: BuiltInHandler = ({ state, urls }) =>
  ok({ ...userShape(state.identity, urls), name: null, company: null, email: null })

const getRepo: BuiltInHandler = ({ request, state, urls }) =>
  ok(repoShape(state, urls, repoParam(request)))

export const repositoryHandlers: Readonly<Record<string, BuiltInHandler>> = {
  'repos/get': getRepo,
  'users/get-authenticated': getAuthenticatedUser,
  'repos/get-collaborator-permission-level': getPermission,
  'pulls/get': getPull,
  'repos/list-pull-requests-associated-with-commit': pullsForCommit,
  'issues/create': createIssue,
  'issues/get': getIssue,
  'issues/update': updateIssue
}
