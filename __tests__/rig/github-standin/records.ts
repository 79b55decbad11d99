/** The records the stand-in keeps, and what a test passes to seed them. */
import type { UserRecord, UserType } from './types.js'

export interface RepoRecord {
  readonly id: number
  readonly fullName: string
  readonly private: boolean
  readonly defaultBranch: string
}

export interface CommentRecord {
  readonly id: number
  readonly repository: string
  readonly issueNumber: number
  body: string
  readonly user: UserRecord
  readonly createdAt: string
  updatedAt: string
}

export interface ReactionRecord {
  readonly id: number
  readonly commentId: number
  readonly content: string
  readonly user: UserRecord
  readonly createdAt: string
}

export interface PullRecord {
  readonly id: number
  readonly repository: string
  readonly number: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  readonly user: UserRecord
  head: { ref: string; sha: string; repository: string }
  base: { ref: string; sha: string }
  draft: boolean
  merged: boolean
  mergeCommitSha: string | null
  readonly createdAt: string
  updatedAt: string
}

export interface IssueRecord {
  readonly id: number
  readonly repository: string
  readonly number: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  labels: string[]
  readonly user: UserRecord
  readonly createdAt: string
  updatedAt: string
  closedAt: string | null
}

export interface DeploymentRecord {
  readonly id: number
  readonly repository: string
  readonly sha: string
  readonly ref: string
  readonly task: string
  readonly environment: string
  readonly description: string | null
  readonly payload: unknown
  readonly creator: UserRecord
  readonly transient: boolean
  readonly production: boolean
  readonly createdAt: string
  updatedAt: string
}

export const DEPLOYMENT_STATES = [
  'error',
  'failure',
  'inactive',
  'in_progress',
  'queued',
  'pending',
  'success'
] as const
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number]

export interface DeploymentStatusRecord {
  readonly id: number
  readonly deploymentId: number
  readonly state: DeploymentState
  readonly description: string
  readonly environment: string
  readonly targetUrl: string
  readonly logUrl: string
  readonly environmentUrl: string
  readonly creator: UserRecord
  readonly createdAt: string
}

/** Who wrote a seeded record: a login, or a full user (e.g. `{ login: 'x[bot]', type: 'Bot' }`). */
export type Author =
  string | { readonly login: string; readonly type?: UserType; readonly id?: number }

export interface PullSeed {
  readonly number?: number
  readonly repository?: string
  readonly title?: string
  readonly body?: string
  readonly state?: 'open' | 'closed'
  readonly user?: Author
  /** `repository` is the head repo; a different one makes a fork PR. */
  readonly head: { readonly sha: string; readonly ref?: string; readonly repository?: string }
  readonly base?: { readonly ref?: string; readonly sha?: string }
  readonly draft?: boolean
  readonly merged?: boolean
  readonly mergeCommitSha?: string
}

export interface CommentSeed {
  readonly issueNumber: number
  readonly body: string
  readonly repository?: string
  /** Default: the token's own identity. */
  readonly user?: Author
}

export interface IssueSeed {
  readonly title: string
  readonly number?: number
  readonly repository?: string
  readonly body?: string
  readonly state?: 'open' | 'closed'
  readonly labels?: readonly string[]
  readonly user?: Author
}

export interface DeploymentSeed {
  readonly ref: string
  readonly sha?: string
  readonly repository?: string
  readonly environment?: string
  readonly task?: string
  readonly description?: string
  readonly payload?: unknown
  readonly creator?: Author
  readonly transient?: boolean
  readonly production?: boolean
  /** ISO time; default: the stand-in's clock. */
  readonly createdAt?: string
}

export interface DeploymentStatusSeed {
  readonly deploymentId: number
  readonly state: DeploymentState
  readonly description?: string
  readonly environment?: string
  readonly targetUrl?: string
  readonly logUrl?: string
  readonly environmentUrl?: string
  readonly creator?: Author
  /** ISO time; default: the stand-in's clock. */
  readonly createdAt?: string
}

/** A commit GitHub knows, for `Deployment.commit` in GraphQL. */
export interface CommitRecord {
  readonly sha: string
  readonly committedDate: string
}
