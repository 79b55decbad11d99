/**
 * Checks a request's query parameters and JSON body properties against the names GitHub's
 * description documents for its operation (DESIGN.md §5: only documented parameters).
 */
import type { IncomingCall, OpenApiRoute, Violation } from './types.js'

function bodyKeys(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return []
  return Object.keys(body)
}

/** The violations of one request to a known operation: none when every name is documented. */
export function undocumentedNames(route: OpenApiRoute, request: IncomingCall): Violation[] {
  const violations: Violation[] = []
  const base = { method: request.method, path: request.path, allowedMethods: [] }
  const query = Object.keys(request.query).filter(name => !route.query.includes(name))
  if (query.length > 0) {
    violations.push({ ...base, reason: 'undocumented-query-parameter', names: query.sort() })
  }
  const documented = route.body
  if (documented !== '*') {
    const body = bodyKeys(request.body).filter(name => !(documented ?? []).includes(name))
    if (body.length > 0) {
      violations.push({ ...base, reason: 'undocumented-body-property', names: body.sort() })
    }
  }
  return violations
}

export function describeViolation(violation: Violation): string {
  const what = `${violation.method} ${violation.path} (${violation.reason}`
  if (violation.names.length > 0) return `${what}: ${violation.names.join(', ')})`
  const allowed =
    violation.allowedMethods.length > 0
      ? `; the description has ${violation.allowedMethods.join(', ')} for this path`
      : ''
  return `${what}${allowed})`
}
