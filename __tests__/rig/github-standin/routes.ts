/** GitHub's published REST operations (from `__tests__/fixtures/openapi-routes.json`) and matching. */
import { readFileSync } from 'node:fs'
import type { OpenApiRoute } from './types.js'

const FIXTURE = new URL('../../fixtures/openapi-routes.json', import.meta.url)
const PARAM = /\{([^{}/]+)\}/g

export interface RouteFixture {
  readonly openapiPackageVersion: string
  readonly routes: readonly OpenApiRoute[]
}

export type RouteMatch =
  | {
      readonly kind: 'operation'
      readonly route: OpenApiRoute
      readonly params: Readonly<Record<string, string>>
    }
  | { readonly kind: 'wrong-method'; readonly allowedMethods: readonly string[] }
  | { readonly kind: 'unknown' }

interface CompiledRoute {
  readonly route: OpenApiRoute
  readonly pattern: RegExp
  readonly names: readonly string[]
  /** One flag per segment: true when the segment has no parameter. */
  readonly literal: readonly boolean[]
}

function isNameList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every(name => typeof name === 'string')
}

function isRoute(value: unknown): value is OpenApiRoute {
  if (typeof value !== 'object' || value === null) return false
  const { method, path, operationId, query, body } = value as Record<string, unknown>
  return (
    typeof method === 'string' &&
    typeof path === 'string' &&
    typeof operationId === 'string' &&
    isNameList(query) &&
    (body === null || body === '*' || isNameList(body))
  )
}

function parseFixture(text: string): RouteFixture {
  const data: unknown = JSON.parse(text)
  if (typeof data !== 'object' || data === null) throw new Error(`${FIXTURE.href} is not an object`)
  const { openapiPackageVersion, routes } = data as Record<string, unknown>
  if (typeof openapiPackageVersion !== 'string' || !Array.isArray(routes)) {
    throw new Error(`${FIXTURE.href} lacks openapiPackageVersion or routes; regenerate it`)
  }
  const valid = routes.filter(isRoute)
  if (valid.length !== routes.length || valid.length === 0) {
    throw new Error(`${FIXTURE.href} has malformed routes; regenerate it`)
  }
  return { openapiPackageVersion, routes: valid }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function compile(route: OpenApiRoute): CompiledRoute {
  const names: string[] = []
  const segments = route.path.split('/').slice(1)
  const source = segments
    .map(segment =>
      segment
        .split(PARAM)
        .map((part, index) => {
          if (index % 2 === 0) return escapeRegExp(part)
          names.push(part)
          return '([^/]+)'
        })
        .join('')
    )
    .join('/')
  return {
    route,
    pattern: new RegExp(`^/${source}$`),
    names,
    literal: segments.map(segment => !segment.includes('{'))
  }
}

/** Negative when `a` is more specific: at the first differing segment, a literal beats a parameter. */
function bySpecificity(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < a.literal.length; i++) {
    if (a.literal[i] !== b.literal[i]) return a.literal[i] ? -1 : 1
  }
  return 0
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

export class RouteTable {
  readonly version: string
  private readonly bySegments = new Map<number, CompiledRoute[]>()
  private readonly byKey = new Map<string, OpenApiRoute>()

  constructor(fixture: RouteFixture) {
    this.version = fixture.openapiPackageVersion
    for (const route of fixture.routes) {
      const compiled = compile(route)
      const count = compiled.literal.length
      const list = this.bySegments.get(count) ?? []
      list.push(compiled)
      this.bySegments.set(count, list)
      this.byKey.set(route.operationId, route)
      this.byKey.set(`${route.method} ${route.path}`, route)
    }
    for (const list of this.bySegments.values()) list.sort(bySpecificity)
  }

  static load(): RouteTable {
    return new RouteTable(parseFixture(readFileSync(FIXTURE, 'utf8')))
  }

  /** The operation named by an operationId or by `'METHOD /path/{template}'`. */
  find(target: string): OpenApiRoute | undefined {
    const [method, ...rest] = target.trim().split(/\s+/)
    const key = rest.length > 0 ? `${(method ?? '').toUpperCase()} ${rest.join(' ')}` : target
    return this.byKey.get(key)
  }

  /** Matches a concrete path (no query string); the most specific template wins. */
  match(method: string, path: string): RouteMatch {
    const candidates = this.bySegments.get(path.split('/').length - 1) ?? []
    const allowed: string[] = []
    for (const candidate of candidates) {
      const found = candidate.pattern.exec(path)
      if (!found) continue
      if (candidate.route.method !== method) {
        allowed.push(candidate.route.method)
        continue
      }
      const params: Record<string, string> = {}
      candidate.names.forEach((name, index) => {
        params[name] = decode(found[index + 1] ?? '')
      })
      return { kind: 'operation', route: candidate.route, params }
    }
    if (allowed.length > 0) return { kind: 'wrong-method', allowedMethods: [...new Set(allowed)] }
    return { kind: 'unknown' }
  }
}
