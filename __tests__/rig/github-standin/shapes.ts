/** Renders the stand-in's records the way api.github.com shapes them (the commonly read fields). */
import type {
  CommentRecord,
  DeploymentRecord,
  DeploymentStatusRecord,
  IssueRecord,
  PullRecord,
  ReactionRecord
} from './records.js'
import type { StandInState } from './state.js'
import type { Urls, UserRecord } from './types.js'

export const REACTIONS = ['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'rocket', 'eyes']

type Json = Record<string, unknown>

function repoApi(urls: Urls, fullName: string): string {
  return `${urls.api}/repos/${fullName}`
}

export function userShape(user: UserRecord, urls: Urls): Json {
  const path = user.type === 'Bot' ? `apps/${user.login.replace(/\[bot\]$/, '')}` : user.login
  return {
    login: user.login,
    id: user.id,
    node_id: `U_${Buffer.from(String(user.id)).toString('base64url')}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
    gravatar_id: '',
    url: `${urls.api}/users/${encodeURIComponent(user.login)}`,
    html_url: `${urls.server}/${path}`,
    type: user.type,
    site_admin: false
  }
}

export function repoShape(state: StandInState, urls: Urls, repository: string): Json {
  const repo = state.repo(repository)
  const [ownerLogin = '', name = ''] = repo.fullName.split('/')
  return {
    id: repo.id,
    node_id: `R_${repo.id}`,
    name,
    full_name: repo.fullName,
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    owner: userShape(state.user(ownerLogin), urls),
    html_url: `${urls.server}/${repo.fullName}`,
    url: repoApi(urls, repo.fullName),
    fork: false,
    default_branch: repo.defaultBranch,
    archived: false,
    disabled: false
  }
}

function authorAssociation(state: StandInState, user: UserRecord, repository: string): string {
  if (user.type === 'Bot') return 'NONE'
  if (repository.split('/')[0]?.toLowerCase() === user.login.toLowerCase()) return 'OWNER'
  return ['admin', 'maintain', 'write', 'triage'].includes(state.roleOf(user.login, repository))
    ? 'COLLABORATOR'
    : 'NONE'
}

function issueHtmlUrl(state: StandInState, urls: Urls, repository: string, number: number): string {
  const kind = state.pull(repository, number) ? 'pull' : 'issues'
  return `${urls.server}/${repository}/${kind}/${number}`
}

function reactionSummary(state: StandInState, url: string, commentId: number): Json {
  const reactions = state.reactionsOn(commentId)
  const summary: Json = { url, total_count: reactions.length }
  for (const content of REACTIONS) {
    summary[content] = reactions.filter(r => r.content === content).length
  }
  return summary
}

export function commentShape(state: StandInState, urls: Urls, comment: CommentRecord): Json {
  const url = `${repoApi(urls, comment.repository)}/issues/comments/${comment.id}`
  return {
    url,
    html_url: `${issueHtmlUrl(state, urls, comment.repository, comment.issueNumber)}#issuecomment-${comment.id}`,
    issue_url: `${repoApi(urls, comment.repository)}/issues/${comment.issueNumber}`,
    id: comment.id,
    node_id: `IC_${comment.id}`,
    user: userShape(comment.user, urls),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    author_association: authorAssociation(state, comment.user, comment.repository),
    body: comment.body,
    reactions: reactionSummary(state, `${url}/reactions`, comment.id),
    performed_via_github_app: null
  }
}

export function reactionShape(urls: Urls, reaction: ReactionRecord): Json {
  return {
    id: reaction.id,
    node_id: `REA_${reaction.id}`,
    user: userShape(reaction.user, urls),
    content: reaction.content,
    created_at: reaction.createdAt
  }
}

function branchShape(
  state: StandInState,
  urls: Urls,
  branch: { ref: string; sha: string; repository: string }
): Json {
  const owner = branch.repository.split('/')[0] ?? ''
  return {
    label: `${owner}:${branch.ref}`,
    ref: branch.ref,
    sha: branch.sha,
    user: userShape(state.user(owner), urls),
    repo: repoShape(state, urls, branch.repository)
  }
}

export function pullShape(state: StandInState, urls: Urls, pull: PullRecord): Json {
  const api = repoApi(urls, pull.repository)
  const html = `${urls.server}/${pull.repository}/pull/${pull.number}`
  const closed = pull.state === 'closed'
  const head = branchShape(state, urls, pull.head)
  const fork = pull.head.repository.toLowerCase() !== pull.repository.toLowerCase()
  return {
    url: `${api}/pulls/${pull.number}`,
    id: pull.id,
    node_id: `PR_${pull.id}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: userShape(pull.user, urls),
    body: pull.body,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: closed ? pull.updatedAt : null,
    merged_at: pull.merged ? pull.updatedAt : null,
    merge_commit_sha: pull.mergeCommitSha,
    head: { ...head, repo: { ...(head['repo'] as Json), fork } },
    base: branchShape(state, urls, { ...pull.base, repository: pull.repository }),
    author_association: authorAssociation(state, pull.user, pull.repository),
    draft: pull.draft,
    merged: pull.merged
  }
}

export function issueShape(state: StandInState, urls: Urls, issue: IssueRecord): Json {
  const api = repoApi(urls, issue.repository)
  return {
    url: `${api}/issues/${issue.number}`,
    repository_url: api,
    comments_url: `${api}/issues/${issue.number}/comments`,
    html_url: `${urls.server}/${issue.repository}/issues/${issue.number}`,
    id: issue.id,
    node_id: `I_${issue.id}`,
    number: issue.number,
    title: issue.title,
    user: userShape(issue.user, urls),
    labels: issue.labels.map((name, index) => ({ id: issue.id * 100 + index, name })),
    state: issue.state,
    locked: false,
    comments: state.commentsOn(issue.number, issue.repository).length,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt,
    author_association: authorAssociation(state, issue.user, issue.repository),
    body: issue.body
  }
}

export function deploymentShape(urls: Urls, deployment: DeploymentRecord): Json {
  const api = repoApi(urls, deployment.repository)
  const url = `${api}/deployments/${deployment.id}`
  return {
    url,
    id: deployment.id,
    node_id: `DE_${deployment.id}`,
    sha: deployment.sha,
    ref: deployment.ref,
    task: deployment.task,
    payload: deployment.payload,
    original_environment: deployment.environment,
    environment: deployment.environment,
    description: deployment.description,
    creator: userShape(deployment.creator, urls),
    created_at: deployment.createdAt,
    updated_at: deployment.updatedAt,
    statuses_url: `${url}/statuses`,
    repository_url: api,
    transient_environment: deployment.transient,
    production_environment: deployment.production
  }
}

export function deploymentStatusShape(
  urls: Urls,
  deployment: DeploymentRecord,
  status: DeploymentStatusRecord
): Json {
  const deploymentUrl = `${repoApi(urls, deployment.repository)}/deployments/${deployment.id}`
  return {
    url: `${deploymentUrl}/statuses/${status.id}`,
    id: status.id,
    node_id: `DES_${status.id}`,
    state: status.state,
    creator: userShape(status.creator, urls),
    description: status.description,
    environment: status.environment,
    target_url: status.targetUrl,
    created_at: status.createdAt,
    updated_at: status.createdAt,
    deployment_url: deploymentUrl,
    repository_url: repoApi(urls, deployment.repository),
    environment_url: status.environmentUrl,
    log_url: status.logUrl
  }
}
