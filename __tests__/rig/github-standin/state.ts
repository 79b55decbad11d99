/**
 * The stand-in's in-memory GitHub: what the handlers write and later calls read, and what a test
 * seeds. Repositories are named `owner/repo` (case-insensitive); every id comes from one counter,
 * so an id of the wrong kind (a deployment id used as a comment id) is a 404, as on GitHub.
 */
import type { Role, UserRecord } from './types.js'
import type {
  Author,
  CommentRecord,
  CommentSeed,
  CommitRecord,
  DeploymentRecord,
  DeploymentSeed,
  DeploymentStatusRecord,
  DeploymentStatusSeed,
  IssueRecord,
  IssueSeed,
  PullRecord,
  PullSeed,
  ReactionRecord,
  RepoRecord
} from './records.js'

export interface StateOptions {
  readonly repository: string
  readonly identity: Author
  readonly defaultRole: Role
}

const FIRST_ID = 1_000_001
/** github-actions[bot]'s real user id. */
export const ACTIONS_BOT: UserRecord = { login: 'github-actions[bot]', id: 41898282, type: 'Bot' }

function key(repository: string): string {
  return repository.toLowerCase()
}

/** A stable fake 40-hex sha for a ref name that is not a sha. */
export function fakeSha(ref: string): string {
  if (/^[0-9a-f]{40}$/i.test(ref)) return ref.toLowerCase()
  let hash = 0x811c9dc5
  let out = ''
  while (out.length < 40) {
    for (const char of `${ref}:${out.length}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619)
    out += (hash >>> 0).toString(16).padStart(8, '0')
  }
  return out.slice(0, 40)
}

export class StandInState {
  readonly defaultRepository: string
  identity: UserRecord
  defaultRole: Role
  readonly repos = new Map<string, RepoRecord>()
  readonly users = new Map<string, UserRecord>()
  readonly roles = new Map<string, Role>()
  readonly comments = new Map<number, CommentRecord>()
  readonly reactions = new Map<number, ReactionRecord>()
  readonly pulls = new Map<string, PullRecord>()
  readonly issues = new Map<string, IssueRecord>()
  readonly deployments = new Map<number, DeploymentRecord>()
  readonly statuses = new Map<number, DeploymentStatusRecord>()
  /** By lower-case sha. */
  readonly commits = new Map<string, CommitRecord>()
  private nextId = FIRST_ID
  private lastTime = 0

  constructor(private readonly options: StateOptions) {
    this.defaultRepository = options.repository
    this.defaultRole = options.defaultRole
    this.identity = this.user(options.identity)
  }

  /** Forgets everything written or seeded; identity and default role go back to the options. */
  clear(): void {
    for (const map of [this.repos, this.users, this.roles, this.comments, this.reactions])
      map.clear()
    for (const map of [this.pulls, this.issues, this.deployments, this.statuses]) map.clear()
    this.commits.clear()
    this.nextId = FIRST_ID
    this.identity = this.user(this.options.identity)
    this.defaultRole = this.options.defaultRole
  }

  newId(): number {
    return this.nextId++
  }

  /** Now, to the second like GitHub's timestamps, strictly later than the previous call. */
  now(): string {
    this.lastTime = Math.max(Math.floor(Date.now() / 1000) * 1000, this.lastTime + 1000)
    return new Date(this.lastTime).toISOString().replace(/\.\d{3}Z$/, 'Z')
  }

  /** Sets who the token belongs to: the author of what the stand-in creates, and `GET /user`. */
  setIdentity(author: Author): UserRecord {
    this.identity = this.user(author)
    return this.identity
  }

  user(author: Author): UserRecord {
    const login = typeof author === 'string' ? author : author.login
    const known = this.users.get(login.toLowerCase())
    if (known) return known
    const given = typeof author === 'object' ? author : { login }
    const record: UserRecord = {
      login,
      id: given.id ?? this.newId(),
      type: given.type ?? (login.endsWith('[bot]') ? 'Bot' : 'User')
    }
    this.users.set(login.toLowerCase(), record)
    return record
  }

  repo(repository: string = this.defaultRepository): RepoRecord {
    const found = this.repos.get(key(repository))
    if (found) return found
    return this.addRepo({ fullName: repository })
  }

  addRepo(seed: { fullName: string; private?: boolean; defaultBranch?: string }): RepoRecord {
    const record: RepoRecord = {
      id: this.newId(),
      fullName: seed.fullName,
      private: seed.private ?? false,
      defaultBranch: seed.defaultBranch ?? 'main'
    }
    this.repos.set(key(seed.fullName), record)
    return record
  }

  /** The role of `login` on `repository` (default: the default repository). */
  setRole(login: string, role: Role, repository: string = this.defaultRepository): void {
    this.roles.set(`${key(repository)}:${login.toLowerCase()}`, role)
  }

  roleOf(login: string, repository: string): Role {
    const seeded = this.roles.get(`${key(repository)}:${login.toLowerCase()}`)
    if (seeded) return seeded
    const owner = repository.split('/')[0] ?? ''
    return owner.toLowerCase() === login.toLowerCase() ? 'admin' : this.defaultRole
  }

  nextNumber(repository: string): number {
    let max = 0
    for (const map of [this.pulls, this.issues]) {
      for (const record of map.values()) {
        if (key(record.repository) === key(repository)) max = Math.max(max, record.number)
      }
    }
    return max + 1
  }

  addPull(seed: PullSeed): PullRecord {
    const repository = this.repo(seed.repository).fullName
    const time = this.now()
    const record: PullRecord = {
      id: this.newId(),
      repository,
      number: seed.number ?? this.nextNumber(repository),
      title: seed.title ?? 'Update the app',
      body: seed.body ?? null,
      state: seed.state ?? 'open',
      user: this.user(seed.user ?? 'octocat'),
      head: {
        sha: seed.head.sha,
        ref: seed.head.ref ?? 'feature',
        repository: seed.head.repository ?? repository
      },
      base: { ref: seed.base?.ref ?? 'main', sha: seed.base?.sha ?? fakeSha(`base:${repository}`) },
      draft: seed.draft ?? false,
      merged: seed.merged ?? false,
      mergeCommitSha: seed.mergeCommitSha ?? null,
      createdAt: time,
      updatedAt: time
    }
    this.pulls.set(`${key(repository)}#${record.number}`, record)
    return record
  }

  pull(repository: string, number: number): PullRecord | undefined {
    return this.pulls.get(`${key(repository)}#${number}`)
  }

  addIssue(seed: IssueSeed): IssueRecord {
    const repository = this.repo(seed.repository).fullName
    const time = this.now()
    const state = seed.state ?? 'open'
    const record: IssueRecord = {
      id: this.newId(),
      repository,
      number: seed.number ?? this.nextNumber(repository),
      title: seed.title,
      body: seed.body ?? null,
      state,
      labels: [...(seed.labels ?? [])],
      user: this.user(seed.user ?? this.identity),
      createdAt: time,
      updatedAt: time,
      closedAt: state === 'closed' ? time : null
    }
    this.issues.set(`${key(repository)}#${record.number}`, record)
    return record
  }

  issue(repository: string, number: number): IssueRecord | undefined {
    return this.issues.get(`${key(repository)}#${number}`)
  }

  addComment(seed: CommentSeed): CommentRecord {
    const time = this.now()
    const record: CommentRecord = {
      id: this.newId(),
      repository: this.repo(seed.repository).fullName,
      issueNumber: seed.issueNumber,
      body: seed.body,
      user: this.user(seed.user ?? this.identity),
      createdAt: time,
      updatedAt: time
    }
    this.comments.set(record.id, record)
    return record
  }

  /** A comment of `repository`, or undefined (also when the id is another repo's comment). */
  comment(repository: string, id: number): CommentRecord | undefined {
    const record = this.comments.get(id)
    return record && key(record.repository) === key(repository) ? record : undefined
  }

  commentsOn(issueNumber: number, repository: string = this.defaultRepository): CommentRecord[] {
    return [...this.comments.values()].filter(
      c => c.issueNumber === issueNumber && key(c.repository) === key(repository)
    )
  }

  addReaction(commentId: number, content: string, author: Author): ReactionRecord {
    const record: ReactionRecord = {
      id: this.newId(),
      commentId,
      content,
      user: this.user(author),
      createdAt: this.now()
    }
    this.reactions.set(record.id, record)
    return record
  }

  reactionsOn(commentId: number): ReactionRecord[] {
    return [...this.reactions.values()].filter(r => r.commentId === commentId)
  }

  /** A commit with its date, as GraphQL's `Deployment.commit { committedDate }` shows it. */
  addCommit(sha: string, committedDate: string): CommitRecord {
    const record: CommitRecord = { sha: sha.toLowerCase(), committedDate }
    this.commits.set(record.sha, record)
    return record
  }

  commit(sha: string): CommitRecord | undefined {
    return this.commits.get(sha.toLowerCase())
  }

  addDeployment(seed: DeploymentSeed): DeploymentRecord {
    const time = seed.createdAt ?? this.now()
    const environment = seed.environment ?? 'production'
    const record: DeploymentRecord = {
      id: this.newId(),
      repository: this.repo(seed.repository).fullName,
      sha: seed.sha ?? fakeSha(seed.ref),
      ref: seed.ref,
      task: seed.task ?? 'deploy',
      environment,
      description: seed.description ?? null,
      payload: seed.payload ?? {},
      creator: this.user(seed.creator ?? this.identity),
      transient: seed.transient ?? false,
      production: seed.production ?? environment === 'production',
      createdAt: time,
      updatedAt: time
    }
    this.deployments.set(record.id, record)
    return record
  }

  deployment(repository: string, id: number): DeploymentRecord | undefined {
    const record = this.deployments.get(id)
    return record && key(record.repository) === key(repository) ? record : undefined
  }

  /** Deployments of `repository`, newest first, as GitHub lists them. */
  deploymentsIn(repository: string = this.defaultRepository): DeploymentRecord[] {
    return [...this.deployments.values()]
      .filter(d => key(d.repository) === key(repository))
      .sort((a, b) => b.id - a.id)
  }

  addDeploymentStatus(seed: DeploymentStatusSeed): DeploymentStatusRecord {
    const deployment = this.deployments.get(seed.deploymentId)
    if (!deployment) throw new Error(`no deployment ${seed.deploymentId} to add a status to`)
    const record: DeploymentStatusRecord = {
      id: this.newId(),
      deploymentId: seed.deploymentId,
      state: seed.state,
      description: seed.description ?? '',
      environment: seed.environment ?? deployment.environment,
      targetUrl: seed.targetUrl ?? seed.logUrl ?? '',
      logUrl: seed.logUrl ?? seed.targetUrl ?? '',
      environmentUrl: seed.environmentUrl ?? '',
      creator: this.user(seed.creator ?? this.identity),
      createdAt: seed.createdAt ?? this.now()
    }
    this.statuses.set(record.id, record)
    deployment.updatedAt = record.createdAt
    return record
  }

  /** Statuses of a deployment, newest first. */
  statusesOf(deploymentId: number): DeploymentStatusRecord[] {
    return [...this.statuses.values()]
      .filter(s => s.deploymentId === deploymentId)
      .sort((a, b) => b.id - a.id)
  }
}
