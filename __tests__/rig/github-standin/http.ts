/** GitHub-style answers, errors, parameters and pagination for the stand-in's handlers. */
import type { IncomingCall, StandInResponse, Urls } from './types.js'

const DOCS = 'https://docs.github.com/rest'

/** Thrown by a handler to answer with a GitHub-style error body. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly status: number,
    readonly body: Readonly<Record<string, unknown>>
  ) {
    super(`${status} ${String(body['message'])}`)
  }

  toResponse(): StandInResponse {
    return { status: this.status, body: this.body }
  }
}

export function errorBody(status: number, message: string, extra: object = {}): object {
  return { message, ...extra, documentation_url: DOCS, status: String(status) }
}

export function httpError(status: number, message: string, extra: object = {}): HttpError {
  return new HttpError(status, { ...errorBody(status, message, extra) })
}

export function notFound(): HttpError {
  return httpError(404, 'Not Found')
}

/** GitHub's 422 shape: `{ message: 'Validation Failed', errors: [{ resource, field, code }] }`. */
export function validationFailed(
  resource: string,
  field: string,
  code: string,
  message?: string
): HttpError {
  const error =
    message === undefined ? { resource, field, code } : { resource, field, code, message }
  return httpError(422, 'Validation Failed', { errors: [error] })
}

export function ok(body: unknown, headers?: Readonly<Record<string, string>>): StandInResponse {
  return headers === undefined ? { status: 200, body } : { status: 200, body, headers }
}

export function created(body: unknown): StandInResponse {
  return { status: 201, body }
}

export function noContent(): StandInResponse {
  return { status: 204 }
}

export function pathParam(request: IncomingCall, name: string): string {
  const value = request.params[name]
  if (value === undefined) throw new Error(`route ${request.route ?? '?'} has no {${name}}`)
  return value
}

/** A positive integer path parameter; anything else is a 404, as on GitHub. */
export function idParam(request: IncomingCall, name: string): number {
  const text = pathParam(request, name)
  const value = Number(text)
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(value)) throw notFound()
  return value
}

/** `owner/repo` from the path. */
export function repoParam(request: IncomingCall): string {
  return `${pathParam(request, 'owner')}/${pathParam(request, 'repo')}`
}

/** The JSON body as an object; GitHub answers 400 "Problems parsing JSON" otherwise. */
export function bodyObject(request: IncomingCall): Readonly<Record<string, unknown>> {
  const { body } = request
  if (body === undefined) return {}
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw httpError(400, 'Problems parsing JSON')
  }
  return body as Record<string, unknown>
}

function fieldOf(
  resource: string,
  body: Readonly<Record<string, unknown>>,
  field: string,
  type: 'string' | 'boolean'
): unknown {
  const value = body[field]
  if (value !== undefined && value !== null && typeof value !== type) {
    throw validationFailed(resource, field, 'invalid', `${field} is not a ${type}`)
  }
  return value ?? undefined
}

export function optionalString(
  resource: string,
  body: Readonly<Record<string, unknown>>,
  field: string
): string | undefined {
  return fieldOf(resource, body, field, 'string') as string | undefined
}

export function requiredString(
  resource: string,
  body: Readonly<Record<string, unknown>>,
  field: string
): string {
  const value = optionalString(resource, body, field)
  if (value === undefined) throw validationFailed(resource, field, 'missing_field')
  return value
}

export function optionalBoolean(
  resource: string,
  body: Readonly<Record<string, unknown>>,
  field: string
): boolean | undefined {
  return fieldOf(resource, body, field, 'boolean') as boolean | undefined
}

function queryInt(request: IncomingCall, name: string, fallback: number): number {
  const text = request.query[name]
  const value = text === undefined ? NaN : Number.parseInt(text, 10)
  return Number.isInteger(value) && value > 0 ? value : fallback
}

function pageUrl(request: IncomingCall, urls: Urls, page: number, perPage: number): string {
  const query = new URLSearchParams(request.query)
  query.set('per_page', String(perPage))
  query.set('page', String(page))
  return `${urls.api}${request.path}?${query.toString()}`
}

/**
 * One page of `items` the way GitHub pages lists: `per_page` (default 30, at most 100) and
 * `page` (from 1), with a `Link` header carrying `prev`, `next`, `last` and `first`.
 */
export function paginated(
  request: IncomingCall,
  urls: Urls,
  items: readonly unknown[]
): StandInResponse {
  const perPage = Math.min(queryInt(request, 'per_page', 30), 100)
  const page = queryInt(request, 'page', 1)
  const lastPage = Math.max(1, Math.ceil(items.length / perPage))
  const links: string[] = []
  const link = (target: number, rel: string): void => {
    links.push(`<${pageUrl(request, urls, target, perPage)}>; rel="${rel}"`)
  }
  if (page > 1) link(Math.min(page - 1, lastPage), 'prev')
  if (page < lastPage) link(page + 1, 'next')
  if (page < lastPage) link(lastPage, 'last')
  if (page > 1) link(1, 'first')
  const body = items.slice((page - 1) * perPage, page * perPage)
  return links.length > 0 ? ok(body, { link: links.join(', ') }) : ok(body)
}
