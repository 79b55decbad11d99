#!/usr/bin/env node
/**
 * Writes __tests__/fixtures/openapi-routes.json: every operation (method, path template,
 * operationId) in GitHub's published REST description for api.github.com, taken from npm
 * `@octokit/openapi` without making it a dependency.
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

/** Every (method, path, operationId), sorted by path then method. */
function listRoutes(description) {
  const routes = []
  for (const [path, item] of Object.entries(description.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method]
      if (!operation) continue
      if (typeof operation.operationId !== 'string') {
        throw new Error(`${method.toUpperCase()} ${path} has no operationId`)
      }
      routes.push({ method: method.toUpperCase(), path, operationId: operation.operationId })
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
