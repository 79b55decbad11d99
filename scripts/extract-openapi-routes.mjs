#!/usr/bin/env node
/**
 * Writes __tests__/fixtures/openapi-routes.json: every operation in GitHub's published REST
 * description for api.github.com (method, path template, operationId, the names of its documented
 * query parameters and of its JSON request body's properties), taken from npm `@octokit/openapi`
 * without making it a dependency.
 *
 * `body` is `null` when the operation documents no request body, `"*"` when the body is not an
 * object with named properties (a string, an array, or an open object), else the property names
 * of every variant (`oneOf`/`anyOf`/`allOf` merged).
 *
 *   node scripts/extract-openapi-routes.mjs            # version octokit's installed types use
 *   node scripts/extract-openapi-routes.mjs 23.0.2     # a given @octokit/openapi version
 *
 * The package unpacks to ~385 MB, so only `package/generated/api.github.com.json` is taken out
 * of the tarball, in a temp dir that is removed afterwards.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUTPUT = join(ROOT, '__tests__', 'fixtures', 'openapi-routes.json')
const MEMBER = 'package/generated/api.github.com.json'
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/** The @octokit/openapi version that the installed @octokit/openapi-types was generated from. */
function defaultVersion() {
  const typesManifest = join(ROOT, 'node_modules', '@octokit', 'openapi-types', 'package.json')
  const pkg = JSON.parse(readFileSync(typesManifest, 'utf8'))
  const version = pkg.octokit?.['openapi-version']
  if (typeof version !== 'string') {
    throw new Error(`${typesManifest} has no octokit.openapi-version; pass a version argument`)
  }
  return version
}

/** Downloads the tarball with `npm pack` and extracts only the api.github.com description. */
function fetchDescription(version, workDir) {
  const packed = execFileSync(
    'npm',
    ['pack', `@octokit/openapi@${version}`, '--json', '--pack-destination', workDir],
    { cwd: workDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const [entry] = JSON.parse(packed)
  if (!entry?.filename) throw new Error(`npm pack printed no filename: ${packed}`)
  execFileSync('tar', ['-xzf', join(workDir, entry.filename), '-C', workDir, MEMBER], {
    stdio: 'inherit'
  })
  return { description: JSON.parse(readFileSync(join(workDir, MEMBER), 'utf8')), pkg: entry }
}

/** Follows `$ref`s (`#/components/...`) to the object they name. */
function deref(description, value) {
  let current = value
  for (let hops = 0; current && typeof current.$ref === 'string'; hops++) {
    if (hops > 20) throw new Error(`$ref cycle at ${current.$ref}`)
    const ref = current.$ref
    current = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], description)
    if (current === undefined) throw new Error(`unresolved $ref ${ref}`)
  }
  return current
}

/** Names of the query parameters of an operation (path-level ones included), sorted. */
function queryNames(description, item, operation) {
  const names = [...(item.parameters ?? []), ...(operation.parameters ?? [])]
    .map(parameter => deref(description, parameter))
    .filter(parameter => parameter.in === 'query')
    .map(parameter => parameter.name)
  return [...new Set(names)].sort()
}

/** Property names of an object schema and its variants; null when it names none (open). */
function propertyNames(description, schema, seen = new Set()) {
  const resolved = deref(description, schema)
  if (!resolved || typeof resolved !== 'object' || seen.has(resolved)) return new Set()
  seen.add(resolved)
  const names = new Set(Object.keys(resolved.properties ?? {}))
  for (const variant of [
    ...(resolved.oneOf ?? []),
    ...(resolved.anyOf ?? []),
    ...(resolved.allOf ?? [])
  ]) {
    const inner = propertyNames(description, variant, seen)
    if (inner === null) return null
    for (const name of inner) names.add(name)
  }
  const variants = [resolved.oneOf, resolved.anyOf, resolved.allOf].some(v => v?.length)
  if (names.size === 0 && !variants) return null
  return names
}

/** The request body's property names, `"*"` when not checkable by name, null when none. */
function bodyNames(description, operation) {
  const body = deref(description, operation.requestBody)
  if (!body) return null
  const json = body.content?.['application/json']
  if (!json) return '*'
  const schema = deref(description, json.schema)
  if (schema?.type !== undefined && schema.type !== 'object') return '*'
  const names = propertyNames(description, schema)
  return names === null ? '*' : [...names].sort()
}

/** Every operation with its query and body names, sorted by path then method. */
function listRoutes(description) {
  const routes = []
  for (const [path, item] of Object.entries(description.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method]
      if (!operation) continue
      if (typeof operation.operationId !== 'string') {
        throw new Error(`${method.toUpperCase()} ${path} has no operationId`)
      }
      routes.push({
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        query: queryNames(description, item, operation),
        body: bodyNames(description, operation)
      })
    }
  }
  const byKey = r => `${r.path} ${r.method}`
  return routes.sort((a, b) => (byKey(a) < byKey(b) ? -1 : byKey(a) > byKey(b) ? 1 : 0))
}

/** JSON with one route per line, so a regeneration diffs line by line. */
function render(meta, routes) {
  const head = Object.entries(meta)
    .map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`)
    .join('\n')
  const body = routes.map(route => `    ${JSON.stringify(route)}`).join(',\n')
  return `{\n${head}\n  "routes": [\n${body}\n  ]\n}\n`
}

function main() {
  const version = process.argv[2] ?? defaultVersion()
  const workDir = mkdtempSync(join(tmpdir(), 'octokit-openapi-'))
  try {
    const { description, pkg } = fetchDescription(version, workDir)
    const routes = listRoutes(description)
    const meta = {
      source: `npm ${pkg.name}@${pkg.version} ${MEMBER.replace(/^package\//, '')}`,
      openapiPackageVersion: pkg.version,
      descriptionVersion: description.info?.version ?? null,
      integrity: pkg.integrity ?? null,
      routeCount: routes.length
    }
    mkdirSync(dirname(OUTPUT), { recursive: true })
    writeFileSync(OUTPUT, render(meta, routes))
    console.log(`wrote ${routes.length} routes from ${meta.source} to ${OUTPUT}`)
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

main()
