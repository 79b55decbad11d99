/** Public types of the GitHub REST API stand-in. */
import type { StandInState } from './state.js'

/** One operation in GitHub's published OpenAPI description. */
export interface OpenApiRoute {
  readonly method: string
  /** Path template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}/comments`. */
  readonly path: string
  readonly operationId: string
  /** Names of the query parameters the description documents for this operation. */
  readonly query: readonly string[]
  /**
   * Names of the JSON request body's properties; `'*'` when the body is not checked by name (a
   * string, an array, an open object); `null` when the operation documents no body.
   */
  readonly body: readonly string[] | '*' | null
}

/** A request as the stand-in saw it, before it was answered. */
export interface IncomingCall {
  readonly method: string
  /** Path without query string and without a GHES `/api/v3` prefix. */
  readonly path: string
  /** The URL exactly as requested (path and query). */
  readonly rawUrl: string
  /** `''`, or `'/api/v3'` when the client used the GHES prefix. */
  readonly prefix: string
  /** `null` when the method and path are not in GitHub's description. */
  readonly operationId: string | null
  /** The matched path template, `null` when none matched. */
  readonly route: string | null
  /** Path parameters, URL-decoded. */
  readonly params: Readonly<Record<string, string>>
  /** Query parameters (the last value wins when one is repeated). */
  readonly query: Readonly<Record<string, string>>
  /** Lower-cased header names; repeated headers joined with `, `. Authorization is kept. */
  readonly headers: Readonly<Record<string, string>>
  /** The token from `Authorization: token …` or `Bearer …`, `null` when none was sent. */
  readonly token: string | null
  /** Parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  readonly body: unknown
}

/** How the stand-in answered. */
export type Outcome =
  'handled' | 'overridden' | 'not-implemented' | 'violation' | 'unauthorized' | 'handler-error'

/** A request and the status it got. */
export interface RecordedRequest extends IncomingCall {
  readonly status: number
  readonly outcome: Outcome
}

/**
 * A request outside GitHub's published description: its method and path, or a query parameter
 * or body property the operation does not document.
 */
export interface Violation {
  readonly method: string
  readonly path: string
  readonly reason:
    | 'unknown-path'
    | 'method-not-in-description'
    | 'undocumented-query-parameter'
    | 'undocumented-body-property'
    | 'graphql-schema'
  /** Methods the description does define for this path (empty unless the method is wrong). */
  readonly allowedMethods: readonly string[]
  /** The undocumented names (query parameters, body properties, GraphQL fields), else empty. */
  readonly names: readonly string[]
}

/** What a handler answers. `body` is sent as JSON; omit it for an empty body (e.g. 204). */
export interface StandInResponse {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** Base URLs used in response bodies. */
export interface Urls {
  /** API base the client used, e.g. `http://127.0.0.1:41234` (plus `/api/v3` for GHES). */
  readonly api: string
  /** Web base for `html_url`, default `https://github.com`. */
  readonly server: string
}

export interface HandlerContext {
  readonly request: IncomingCall
  readonly state: StandInState
  readonly urls: Urls
  /** The built-in answer for this request (a 501 when there is none); lets an override wrap it. */
  readonly next: () => StandInResponse
}

/** Answers one operation. May throw an `HttpError` to answer with a GitHub-style error. */
export type Handler = (context: HandlerContext) => StandInResponse | Promise<StandInResponse>

/** Built-in handlers are synchronous. */
export type BuiltInHandler = (context: HandlerContext) => StandInResponse

export type UserType = 'User' | 'Bot' | 'Organization'

/** A repository role; the permission API reports maintain as write and triage as read. */
export type Role = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none'

export interface UserRecord {
  readonly login: string
  readonly id: number
  readonly type: UserType
}
