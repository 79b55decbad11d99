/**
 * The stand-in's GraphQL endpoint (`POST /graphql`, `/api/graphql` on GHES). A query is checked
 * against GitHub's public schema for the types served (`__tests__/fixtures/graphql-schema.json`,
 * see `scripts/extract-graphql-schema.mjs`): a field or argument GitHub does not have is a
 * violation, answered the way GitHub answers it (200 with `errors`). A field GitHub has but the
 * stand-in does not serve is answered with an error and counted as unhandled.
 */
import { readFileSync } from 'node:fs'
import { parseQuery, resolveValue, GraphQLSyntaxError, type Field } from './graphql-parse.js'
import type { CommitRecord, DeploymentRecord, DeploymentStatusRecord } from './records.js'
import type { StandInState } from './state.js'

const FIXTURE = new URL('../../fixtures/graphql-schema.json', import.meta.url)

interface FieldInfo {
  readonly type: string
  readonly args: readonly string[]
}

type Schema = ReadonlyMap<string, ReadonlyMap<string, FieldInfo>>

function isFieldInfo(value: unknown): value is FieldInfo {
  if (typeof value !== 'object' || value === null) return false
  const { type, args } = value as Record<string, unknown>
  return typeof type === 'string' && Array.isArray(args) && args.every(a => typeof a === 'string')
}

export function loadSchema(): Schema {
  const data: unknown = JSON.parse(readFileSync(FIXTURE, 'utf8'))
  const types =
    typeof data === 'object' && data !== null
      ? (data as Record<string, unknown>)['types']
      : undefined
  if (typeof types !== 'object' || types === null)
    throw new Error(`${FIXTURE.href} has no types; regenerate it`)
  const schema = new Map<string, Map<string, FieldInfo>>()
  for (const [name, fields] of Object.entries(types as Record<string, unknown>)) {
    if (typeof fields !== 'object' || fields === null)
      throw new Error(`${FIXTURE.href}: ${name} is malformed`)
    const map = new Map<string, FieldInfo>()
    for (const [field, info] of Object.entries(fields as Record<string, unknown>)) {
      if (!isFieldInfo(info)) throw new Error(`${FIXTURE.href}: ${name}.${field} is malformed`)
      map.set(field, info)
    }
    schema.set(name, map)
  }
  return schema
}

export interface GraphQLAnswer {
  readonly body: { data?: unknown; errors?: { message: string }[] }
  /** `Type.field` or `Type.field(arg)` not in GitHub's schema. */
  readonly violations: readonly string[]
  /** `Type.field` in GitHub's schema that the stand-in does not serve. */
  readonly unserved: readonly string[]
}

/** Names of selected fields and arguments that GitHub's schema does not have. */
function check(schema: Schema, type: string, fields: readonly Field[], out: string[]): void {
  const known = schema.get(type)
  if (!known) return
  for (const field of fields) {
    if (field.name === '__typename') continue
    const info = known.get(field.name)
    if (!info) {
      out.push(`${type}.${field.name}`)
      continue
    }
    for (const arg of Object.keys(field.args)) {
      if (!info.args.includes(arg)) out.push(`${type}.${field.name}(${arg})`)
    }
    check(schema, info.type, field.selections, out)
  }
}

type Args = Readonly<Record<string, unknown>>
type Resolver = (args: Args) => unknown
type Resolvers = (source: never, state: StandInState) => Readonly<Record<string, Resolver>>

interface Connection<T> {
  readonly type: string
  readonly items: readonly T[]
  readonly args: Args
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined
}

function cursor(index: number): string {
  return Buffer.from(`cursor:${index}`).toString('base64')
}

function offset(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const found = /^cursor:(\d+)$/.exec(Buffer.from(value, 'base64').toString('utf8'))
  return found ? Number(found[1]) : undefined
}

/** Relay paging over `items` with first/after or last/before, like GitHub (at most 100). */
function page<T>(connection: Connection<T>): {
  nodes: T[]
  start: number
  total: number
  end: number
} {
  const { items, args } = connection
  const first = count(args['first'])
  const last = count(args['last'])
  if (first === undefined && last === undefined) {
    throw new Error(
      `You must provide a \`first\` or \`last\` value to properly paginate the \`${connection.type}\` connection.`
    )
  }
  if ((first ?? 0) > 100 || (last ?? 0) > 100) {
    throw new Error(
      `Requesting ${first ?? last} records on the \`${connection.type}\` connection exceeds the \`first\` limit of 100 records.`
    )
  }
  let start = 0
  let end = items.length
  const after = offset(args['after'])
  const before = offset(args['before'])
  if (after !== undefined) start = after + 1
  if (before !== undefined) end = Math.min(end, before)
  if (first !== undefined) end = Math.min(end, start + first)
  if (last !== undefined) start = Math.max(start, end - last)
  return { nodes: items.slice(start, end), start, total: items.length, end }
}

const RESOLVERS: Readonly<Record<string, Resolvers>> = {
  Query: (_: null, state) => ({
    repository: args => {
      const fullName = `${String(args['owner'])}/${String(args['name'])}`
      return state.repos.has(fullName.toLowerCase()) ||
        fullName.toLowerCase() === state.defaultRepository.toLowerCase()
        ? state.repo(fullName)
        : null
    }
  }),
  Repository: (repo: { fullName: string }, state) => ({
    nameWithOwner: () => repo.fullName,
    deployments: args => {
      const environments = Array.isArray(args['environments']) ? args['environments'] : undefined
      const order = args['orderBy'] as { direction?: unknown } | null | undefined
      const descending = order?.direction === 'DESC'
      const items = state
        .deploymentsIn(repo.fullName)
        .filter(d => environments === undefined || environments.includes(d.environment))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id)
      if (descending) items.reverse()
      return { type: 'DeploymentConnection', items, args } satisfies Connection<DeploymentRecord>
    }
  }),
  DeploymentConnection: connectionResolvers,
  DeploymentStatusConnection: connectionResolvers,
  PageInfo: (info: { start: number; end: number; total: number }) => ({
    hasNextPage: () => info.end < info.total,
    hasPreviousPage: () => info.start > 0,
    startCursor: () => (info.end > info.start ? cursor(info.start) : null),
    endCursor: () => (info.end > info.start ? cursor(info.end - 1) : null)
  }),
  Deployment: (d: DeploymentRecord, state) => ({
    id: () => Buffer.from(`Deployment:${d.id}`).toString('base64'),
    databaseId: () => d.id,
    createdAt: () => d.createdAt,
    updatedAt: () => d.updatedAt,
    commitOid: () => d.sha,
    environment: () => d.environment,
    task: () => d.task,
    description: () => d.description,
    payload: () => JSON.stringify(d.payload ?? {}),
    commit: () => state.commit(d.sha) ?? null,
    latestStatus: () => statusesOldestFirst(state, d.id).at(-1) ?? null,
    statuses: args =>
      ({
        type: 'DeploymentStatusConnection',
        items: statusesOldestFirst(state, d.id),
        args
      }) satisfies Connection<DeploymentStatusRecord>
  }),
  DeploymentStatus: (s: DeploymentStatusRecord) => ({
    id: () => Buffer.from(`DeploymentStatus:${s.id}`).toString('base64'),
    state: () => s.state.toUpperCase(),
    createdAt: () => s.createdAt,
    updatedAt: () => s.createdAt,
    description: () => s.description,
    environment: () => s.environment,
    environmentUrl: () => s.environmentUrl || null,
    logUrl: () => s.logUrl || null
  }),
  Commit: (c: CommitRecord) => ({
    oid: () => c.sha,
    committedDate: () => c.committedDate
  })
}

function connectionResolvers(connection: Connection<unknown>): Readonly<Record<string, Resolver>> {
  const paged = page(connection)
  return {
    nodes: () => paged.nodes,
    totalCount: () => paged.total,
    pageInfo: () => paged
  }
}

function statusesOldestFirst(state: StandInState, deploymentId: number): DeploymentStatusRecord[] {
  return state
    .statusesOf(deploymentId)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id)
}

class Unserved extends Error {}

function execute(
  schema: Schema,
  state: StandInState,
  type: string,
  source: unknown,
  fields: readonly Field[],
  variables: Args,
  unserved: string[]
): Record<string, unknown> {
  const resolvers = RESOLVERS[type]?.(source as never, state) ?? {}
  const result: Record<string, unknown> = {}
  for (const field of fields) {
    if (field.name === '__typename') {
      result[field.key] = type
      continue
    }
    const resolver = resolvers[field.name]
    if (!resolver) {
      unserved.push(`${type}.${field.name}`)
      throw new Unserved(
        `the GitHub stand-in does not serve ${type}.${field.name}; add it to graphql.ts`
      )
    }
    const args = Object.fromEntries(
      Object.entries(field.args).map(([name, value]) => [name, resolveValue(value, variables)])
    )
    const value = resolver(args)
    const fieldType = schema.get(type)?.get(field.name)?.type ?? ''
    const shape = (item: unknown): unknown =>
      item === null || field.selections.length === 0
        ? item
        : execute(schema, state, fieldType, item, field.selections, variables, unserved)
    result[field.key] = Array.isArray(value) ? value.map(shape) : shape(value)
  }
  return result
}

/** Answers one GraphQL request body the way GitHub would. */
export function answerGraphQL(schema: Schema, state: StandInState, body: unknown): GraphQLAnswer {
  const request = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  const query = request['query']
  const variables = request['variables']
  if (typeof query !== 'string') {
    return {
      body: { errors: [{ message: 'A query attribute must be specified and must be a string.' }] },
      violations: [],
      unserved: []
    }
  }
  let operation
  try {
    operation = parseQuery(query)
  } catch (error: unknown) {
    if (!(error instanceof GraphQLSyntaxError)) throw error
    return {
      body: { errors: [{ message: `Parse error: ${error.message}` }] },
      violations: [`syntax: ${error.message}`],
      unserved: []
    }
  }
  const violations: string[] = []
  check(schema, 'Query', operation.selections, violations)
  if (violations.length > 0) {
    const errors = violations.map(v => {
      const [type, rest = ''] = v.split('.')
      const arg = /^(\w+)\((\w+)\)$/.exec(rest)
      return {
        message: arg
          ? `Field '${arg[1]}' doesn't accept argument '${arg[2]}'`
          : `Field '${rest}' doesn't exist on type '${type}'`
      }
    })
    return { body: { errors }, violations, unserved: [] }
  }
  const vars: Args = typeof variables === 'object' && variables !== null ? (variables as Args) : {}
  const unserved: string[] = []
  try {
    const data = execute(schema, state, 'Query', null, operation.selections, vars, unserved)
    return { body: { data }, violations: [], unserved }
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error)
    if (!(error instanceof Unserved) && unserved.length === 0) {
      return { body: { data: null, errors: [{ message }] }, violations: [], unserved: [] }
    }
    return { body: { data: null, errors: [{ message }] }, violations: [], unserved }
  }
}
