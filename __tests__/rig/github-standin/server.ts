/**
 * A local GitHub REST API on 127.0.0.1 for tests (`GITHUB_API_URL`). Every request is checked
 * against GitHub's published OpenAPI description, recorded, and answered from in-memory state.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BUILT_IN_HANDLERS } from './handlers/index.js'
import { errorBody, HttpError } from './http.js'
import { answerGraphQL, loadSchema } from './graphql.js'
import { describeViolation, undocumentedNames } from './parameters.js'
import { RouteTable } from './routes.js'
import { readCall, writeResponse } from './wire.js'
import type { RouteMatch } from './routes.js'
import { ACTIONS_BOT, StandInState } from './state.js'
import type { Author } from './records.js'
import type {
  Handler,
  HandlerContext,
  IncomingCall,
  Outcome,
  RecordedRequest,
  Role,
  StandInResponse,
  Urls,
  Violation
} from './types.js'

export interface StandInOptions {
  /** Repository that seeds default to, `owner/repo`. Default `octo-org/octo-app`. */
  readonly repository?: string
  /** Who the token belongs to. Default `github-actions[bot]` (id 41898282, type Bot). */
  readonly identity?: Author
  /** When set, every request must carry exactly this token (else 401 Bad credentials). */
  readonly token?: string
  /** Role of users without a seeded one (the repo owner is admin). Default `read`. */
  readonly defaultRole?: Role
  /** Base of `html_url`s. Default `https://github.com`. */
  readonly serverUrl?: string
  /**
   * Hold every answer this many milliseconds after the request arrived, as a distant API
   * does (the bench's reporting overhead). Default 0.
   */
  readonly delayMs?: number
}

export interface OverrideOptions {
  /** Answer only this many requests, then fall back to what answered before. */
  readonly times?: number
}

export interface CannedResponse extends StandInResponse, OverrideOptions {}

export interface GitHubStandIn {
  /** `http://127.0.0.1:<port>`: use as `GITHUB_API_URL` or octokit's `baseUrl`. */
  readonly url: string
  /** The `@octokit/openapi` version whose description requests are checked against. */
  readonly openapiVersion: string
  /** In-memory GitHub: seed it, or read what the code under test wrote. */
  readonly state: StandInState
  /** Every request, in arrival order. */
  readonly requests: readonly RecordedRequest[]
  /**
   * Requests outside GitHub's description: unknown method and path (answered 404), or a query
   * parameter or body property the operation does not document (answered 400).
   */
  readonly violations: readonly Violation[]
  /** Valid requests that no handler answered (501): add a handler with `on`. */
  readonly unhandled: readonly RecordedRequest[]
  /**
   * Answers `target` (an operationId, or `'METHOD /template'`) with `handler`, before the
   * built-in one; the newest override wins. Returns a function that removes it.
   */
  on(target: string, handler: Handler, options?: OverrideOptions): () => void
  /** Answers `target` with a fixed response, e.g. `{ status: 500 }`, optionally only `times` times. */
  respond(target: string, response: CannedResponse): () => void
  /** Recorded requests for one operation (an operationId, `'METHOD /template'`, or `'graphql'`). */
  requestsTo(target: string): RecordedRequest[]
  /** Throws, listing them, when any request (or any of its names) was not in GitHub's description. */
  assertNoViolations(): void
  /** Forgets requests, violations, overrides and state. */
  reset(): void
  close(): Promise<void>
}

interface Override {
  readonly operationId: string
  readonly handler: Handler
  remaining: number
}

class StandInServer implements GitHubStandIn {
  readonly requests: RecordedRequest[] = []
  readonly violations: Violation[] = []
  readonly state: StandInState
  private overrides: Override[] = []
  private readonly graphqlSchema = loadSchema()
  private responseCount = 0
  private port = 0

  private readonly server: Server = createServer((req, res) => {
    void this.serve(req, res)
  })

  constructor(
    private readonly routes: RouteTable,
    private readonly options: StandInOptions
  ) {
    this.state = new StandInState({
      repository: options.repository ?? 'octo-org/octo-app',
      identity: options.identity ?? ACTIONS_BOT,
      defaultRole: options.defaultRole ?? 'read'
    })
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get openapiVersion(): string {
    return this.routes.version
  }

  get unhandled(): RecordedRequest[] {
    return this.requests.filter(r => r.outcome === 'not-implemented')
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(0, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as AddressInfo).port
  }

  private operationIdOf(target: string): string {
    if (target === GRAPHQL) return GRAPHQL
    const route = this.routes.find(target)
    if (!route) {
      throw new Error(`${target} is not an operation in GitHub's REST description; check its name`)
    }
    return route.operationId
  }

  on(target: string, handler: Handler, options: OverrideOptions = {}): () => void {
    const override: Override = {
      operationId: this.operationIdOf(target),
      handler,
      remaining: options.times ?? Infinity
    }
    this.overrides.unshift(override)
    return () => {
      this.overrides = this.overrides.filter(o => o !== override)
    }
  }

  respond(target: string, response: CannedResponse): () => void {
    const { times, ...answer } = response
    const fallback =
      answer.status >= 400 ? errorBody(answer.status, `override of ${target}`) : undefined
    const canned: StandInResponse = { ...answer, body: answer.body ?? fallback }
    return this.on(target, () => canned, times === undefined ? {} : { times })
  }

  requestsTo(target: string): RecordedRequest[] {
    const operationId = this.operationIdOf(target)
    return this.requests.filter(r => r.operationId === operationId)
  }

  assertNoViolations(): void {
    if (this.violations.length === 0) return
    const list = this.violations.map(v => `  - ${describeViolation(v)}`).join('\n')
    throw new Error(
      `${this.violations.length} request(s) not in GitHub's REST description ` +
        `(@octokit/openapi ${this.openapiVersion}):\n${list}`
    )
  }

  reset(): void {
    this.requests.length = 0
    this.violations.length = 0
    this.overrides = []
    this.state.clear()
  }

  async close(): Promise<void> {
    await new Promise<void>(resolve => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const delayMs = this.options.delayMs ?? 0
    if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs))
    try {
      const { call, match } = await readCall(req, this.routes)
      if (isGraphQL(call)) {
        const graphql: IncomingCall = { ...call, operationId: GRAPHQL, route: call.path }
        const { response, outcome } = this.answerGraphQL(graphql)
        this.requests.push({ ...graphql, status: response.status, outcome })
        writeResponse(res, response, ++this.responseCount)
        return
      }
      const { response, outcome } = await this.answer(call, match)
      this.requests.push({ ...call, status: response.status, outcome })
      writeResponse(res, response, ++this.responseCount)
    } catch (error: unknown) {
      const response =
        error instanceof HttpError
          ? error.toResponse()
          : { status: 500, body: errorBody(500, `stand-in failed: ${String(error)}`) }
      if (!res.headersSent) writeResponse(res, response, ++this.responseCount)
    }
  }

  private async answer(
    request: IncomingCall,
    match: RouteMatch
  ): Promise<{ response: StandInResponse; outcome: Outcome }> {
    if (match.kind !== 'operation') return this.violation(request, match)
    const undocumented = undocumentedNames(match.route, request)
    if (undocumented.length > 0) return this.undocumented(undocumented)
    const denied = this.authError(request)
    if (denied) return { response: denied, outcome: 'unauthorized' }
    const urls: Urls = {
      api: `${this.url}${request.prefix}`,
      server: this.options.serverUrl ?? 'https://github.com'
    }
    const builtIn = BUILT_IN_HANDLERS[match.route.operationId]
    const context: HandlerContext = {
      request,
      state: this.state,
      urls,
      next: () => (builtIn ? guarded(() => builtIn(context)) : notImplemented(request))
    }
    const override = this.takeOverride(match.route.operationId)
    try {
      if (override) {
        return { response: await guardedAsync(override, context), outcome: 'overridden' }
      }
      const outcome: Outcome = builtIn ? 'handled' : 'not-implemented'
      return { response: context.next(), outcome }
    } catch (error: unknown) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      const body = errorBody(500, `stand-in handler failed: ${message}`)
      return { response: { status: 500, body }, outcome: 'handler-error' }
    }
  }

  private violation(
    request: IncomingCall,
    match: Exclude<RouteMatch, { kind: 'operation' }>
  ): { response: StandInResponse; outcome: Outcome } {
    const allowedMethods = match.kind === 'wrong-method' ? match.allowedMethods : []
    const violation: Violation = {
      method: request.method,
      path: request.path,
      reason: match.kind === 'wrong-method' ? 'method-not-in-description' : 'unknown-path',
      allowedMethods,
      names: []
    }
    this.violations.push(violation)
    const body = errorBody(404, 'Not Found', {
      stand_in: `${describeViolation(violation)} is not in GitHub's REST description`
    })
    return { response: { status: 404, body }, outcome: 'violation' }
  }

  private answerGraphQL(request: IncomingCall): { response: StandInResponse; outcome: Outcome } {
    if (request.token === null) {
      const body = errorBody(401, 'This endpoint requires you to be authenticated.')
      return { response: { status: 401, body }, outcome: 'unauthorized' }
    }
    const denied = this.authError(request)
    if (denied) return { response: denied, outcome: 'unauthorized' }
    const answer = answerGraphQL(this.graphqlSchema, this.state, request.body)
    if (answer.violations.length > 0) {
      this.violations.push({
        method: request.method,
        path: request.path,
        reason: 'graphql-schema',
        allowedMethods: [],
        names: answer.violations
      })
    }
    const outcome: Outcome =
      answer.violations.length > 0
        ? 'violation'
        : answer.unserved.length > 0
          ? 'not-implemented'
          : 'handled'
    return { response: { status: 200, body: answer.body }, outcome }
  }

  /** GitHub ignores unknown names; the stand-in refuses them so that a test fails. */
  private undocumented(violations: readonly Violation[]): {
    response: StandInResponse
    outcome: Outcome
  } {
    this.violations.push(...violations)
    const body = errorBody(400, 'Undocumented parameters', {
      stand_in: `${violations.map(describeViolation).join('; ')}: not documented for this operation in GitHub's REST description`
    })
    return { response: { status: 400, body }, outcome: 'violation' }
  }

  private authError(request: IncomingCall): StandInResponse | undefined {
    const expected = this.options.token
    if (request.token === null && (expected !== undefined || request.method !== 'GET')) {
      return { status: 401, body: errorBody(401, 'Requires authentication') }
    }
    if (expected !== undefined && request.token !== expected) {
      return { status: 401, body: errorBody(401, 'Bad credentials') }
    }
    return undefined
  }

  private takeOverride(operationId: string): Handler | undefined {
    const override = this.overrides.find(o => o.operationId === operationId && o.remaining > 0)
    if (!override) return undefined
    override.remaining -= 1
    if (override.remaining <= 0) this.overrides = this.overrides.filter(o => o !== override)
    return override.handler
  }
}

/** `requestsTo(GRAPHQL)`: the GraphQL requests. */
const GRAPHQL = 'graphql'

function isGraphQL(call: IncomingCall): boolean {
  return call.method === 'POST' && (call.path === '/graphql' || call.path === '/api/graphql')
}

function notImplemented(request: IncomingCall): StandInResponse {
  const message =
    `GitHub stand-in has no handler for ${request.operationId ?? '?'} ` +
    `(${request.method} ${request.route ?? request.path}); ` +
    `register one with standIn.on('${request.operationId ?? ''}', handler)`
  return { status: 501, body: errorBody(501, message) }
}

/** Runs a handler, turning a thrown `HttpError` into its answer. */
function guarded(run: () => StandInResponse): StandInResponse {
  try {
    return run()
  } catch (error: unknown) {
    if (error instanceof HttpError) return error.toResponse()
    throw error
  }
}

async function guardedAsync(handler: Handler, context: HandlerContext): Promise<StandInResponse> {
  try {
    return await handler(context)
  } catch (error: unknown) {
    if (error instanceof HttpError) return error.toResponse()
    throw error
  }
}

/** Starts a stand-in on 127.0.0.1 and a free port. Call `close()` when the suite ends. */
export async function startGitHubStandIn(options: StandInOptions = {}): Promise<GitHubStandIn> {
  const standIn = new StandInServer(RouteTable.load(), options)
  await standIn.listen()
  return standIn
}
