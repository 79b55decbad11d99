#!/usr/bin/env node
/**
 * Writes __tests__/fixtures/graphql-schema.json: for the GitHub GraphQL types the stand-in
 * serves, every field of GitHub's public schema with its (unwrapped) type name and argument
 * names, taken from npm `@octokit/graphql-schema` without making it a dependency. The stand-in
 * refuses a query that selects a field or passes an argument that is not in it.
 *
 *   node scripts/extract-graphql-schema.mjs             # the version pinned below
 *   node scripts/extract-graphql-schema.mjs 15.26.1     # a given @octokit/graphql-schema version
 *
 * Only `package/schema.json` (an introspection result, ~5 MB) is taken out of the tarball, in a
 * temp dir that is removed afterwards.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUTPUT = join(ROOT, '__tests__', 'fixtures', 'graphql-schema.json')
const MEMBER = 'package/schema.json'
const DEFAULT_VERSION = '15.26.1'
/** The object types reachable from the queries the stand-in serves. */
const TYPES = [
  'Query',
  'Repository',
  'DeploymentConnection',
  'Deployment',
  'DeploymentStatusConnection',
  'DeploymentStatus',
  'Commit',
  'PageInfo'
]

function fetchSchema(version, workDir) {
  const packed = execFileSync(
    'npm',
    ['pack', `@octokit/graphql-schema@${version}`, '--json', '--pack-destination', workDir],
    { cwd: workDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const [entry] = JSON.parse(packed)
  if (!entry?.filename) throw new Error(`npm pack printed no filename: ${packed}`)
  execFileSync('tar', ['-xzf', join(workDir, entry.filename), '-C', workDir, MEMBER], {
    stdio: 'inherit'
  })
  const parsed = JSON.parse(readFileSync(join(workDir, MEMBER), 'utf8'))
  return { schema: parsed.data?.__schema ?? parsed.__schema, pkg: entry }
}

function namedType(type) {
  let current = type
  while (current.ofType) current = current.ofType
  return current.name
}

function describeTypes(schema) {
  const types = {}
  for (const name of TYPES) {
    const type = schema.types.find(t => t.name === name)
    if (!type?.fields) throw new Error(`the schema has no object type ${name}`)
    types[name] = Object.fromEntries(
      [...type.fields]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map(field => [
          field.name,
          { type: namedType(field.type), args: field.args.map(a => a.name).sort() }
        ])
    )
  }
  return types
}

/** One field per line, so a regeneration diffs line by line. */
function render(meta, types) {
  const head = Object.entries(meta)
    .map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`)
    .join('\n')
  const body = Object.entries(types)
    .map(([name, fields]) => {
      const lines = Object.entries(fields).map(
        ([field, info]) => `      ${JSON.stringify(field)}: ${JSON.stringify(info)}`
      )
      return `    ${JSON.stringify(name)}: {\n${lines.join(',\n')}\n    }`
    })
    .join(',\n')
  return `{\n${head}\n  "types": {\n${body}\n  }\n}\n`
}

function main() {
  const version = process.argv[2] ?? DEFAULT_VERSION
  const workDir = mkdtempSync(join(tmpdir(), 'octokit-graphql-schema-'))
  try {
    const { schema, pkg } = fetchSchema(version, workDir)
    const types = describeTypes(schema)
    const meta = {
      source: `npm ${pkg.name}@${pkg.version} ${MEMBER.replace(/^package\//, '')}`,
      graphqlSchemaPackageVersion: pkg.version,
      integrity: pkg.integrity ?? null
    }
    mkdirSync(dirname(OUTPUT), { recursive: true })
    writeFileSync(OUTPUT, render(meta, types))
    console.log(`wrote ${TYPES.length} types from ${meta.source} to ${OUTPUT}`)
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

main()
