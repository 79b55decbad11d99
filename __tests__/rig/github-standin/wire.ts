/** Turning a `node:http` request into an `IncomingCall`, and a `StandInResponse` into bytes. */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { HttpError } from './http.js'
import type { RouteMatch, RouteTable } from './routes.js'
import type { IncomingCall, StandInResponse } from './types.js'

const JSON_TYPE = 'application/json; charset=utf-8'
const MAX_BODY = 16 * 1024 * 1024
const GHES_PREFIX = '/api/v3'
const RATE_LIMIT = 5000

function headerRecord(headers: IncomingHttpHeaders): Record<string, string> {
  const record: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) record[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return record
}

function tokenOf(authorization: string | undefined): string | null {
  const found = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')
  return found?.[1] ?? null
}

function parseBody(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buffer.length
    if (size > MAX_BODY) throw new HttpError(413, { message: 'Payload too large' })
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Reads the whole request and matches it against GitHub's operations. */
export async function readCall(
  req: IncomingMessage,
  routes: RouteTable
): Promise<{ call: IncomingCall; match: RouteMatch }> {
  const text = await readBody(req)
  const method = (req.method ?? 'GET').toUpperCase()
  const rawUrl = req.url ?? '/'
  const parsed = new URL(rawUrl, 'http://127.0.0.1')
  const ghes = parsed.pathname === GHES_PREFIX || parsed.pathname.startsWith(`${GHES_PREFIX}/`)
  const path = ghes ? parsed.pathname.slice(GHES_PREFIX.length) || '/' : parsed.pathname
  const headers = headerRecord(req.headers)
  const match = routes.match(method, path)
  const operation = match.kind === 'operation' ? match : undefined
  const call: IncomingCall = {
    method,
    path,
    rawUrl,
    prefix: ghes ? GHES_PREFIX : '',
    operationId: operation?.route.operationId ?? null,
    route: operation?.route.path ?? null,
    params: operation?.params ?? {},
    query: Object.fromEntries(parsed.searchParams),
    headers,
    token: tokenOf(headers['authorization']),
    body: parseBody(text)
  }
  return { call, match }
}

/** Sends the answer as JSON with GitHub's request-id and rate-limit headers. */
export function writeResponse(
  res: ServerResponse,
  response: StandInResponse,
  sequence: number
): void {
  const headers: Record<string, string> = {
    'x-github-request-id': `STANDIN:${sequence}`,
    'x-github-api-version-selected': '2022-11-28',
    'x-ratelimit-limit': String(RATE_LIMIT),
    'x-ratelimit-remaining': String(Math.max(0, RATE_LIMIT - sequence)),
    'x-ratelimit-used': String(sequence),
    'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    'x-ratelimit-resource': 'core',
    ...response.headers
  }
  if (response.body === undefined) {
    res.writeHead(response.status, headers).end()
    return
  }
  const payload = JSON.stringify(response.body)
  res.writeHead(response.status, { 'content-type': JSON_TYPE, ...headers }).end(payload)
}
