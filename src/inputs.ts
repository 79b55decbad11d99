/**
 * Every input is read and validated here, once, before any side effect, into one readonly
 * `Settings` object. No other module reads inputs.
 */
import * as core from '@actions/core'
import { RELEASE_ID } from './artifact/plan.js'
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import type { InputName } from './action-io.js'
import { checkExcludePattern, excludePatterns } from './artifact/glob.js'
import { registerSecrets } from './mask.js'
import { parseHostKeyPins, type HostKeyPin } from './ssh/host-keys.js'
import { checkPrivateKey } from './ssh/keys.js'
import { parseTarget, type Target } from './ssh/target.js'
import { checkRelativeRemotePath, checkRemotePath } from './ssh/quote.js'

export type Mode = 'delivery' | 'deployment'

export interface CacheSettings {
  readonly paths: readonly string[]
  /** Explicit key, or undefined to derive one from the lock files found. */
  readonly key: string | undefined
  readonly restoreKeys: readonly string[]
}

export interface Credentials {
  readonly privateKey: string | undefined
  readonly passphrase: string | undefined
  readonly password: string | undefined
}

/** Hosts per rolling batch: a number, or a share of the hosts (rounded up). */
export type BatchSize = { readonly count: number } | { readonly percent: number }

export type Rollout =
  { readonly kind: 'all-at-once' } | { readonly kind: 'rolling'; readonly batchSize: BatchSize }

/** Inclusive ranges of HTTP status codes. */
export type StatusRanges = readonly (readonly [number, number])[]

/** What proves a switched host healthy: a command, a URL, or both (the command first). */
export interface HealthCheck {
  readonly command: string | undefined
  /** With `{host}` still in it. */
  readonly url: string | undefined
  readonly expect: StatusRanges
  readonly timeoutSeconds: number
}

export interface ShipSettings {
  readonly hosts: readonly Target[]
  readonly credentials: Credentials
  /** Pinned host keys; empty means every key is unknown (and refused) unless `insecure`. */
  readonly hostKeys: readonly HostKeyPin[]
  readonly insecureSkipHostKeyCheck: boolean
  readonly jumpHost: Target | undefined
  readonly remotePath: string
  /** Absolute local directory to ship (it may only exist after the build). */
  readonly artifact: string
  readonly exclude: readonly string[]
  readonly keepReleases: number
  readonly sharedPaths: readonly string[]
  readonly beforeActivate: string
  readonly afterActivate: string
  readonly timeoutSeconds: number
  readonly dryRun: boolean
  readonly rollout: Rollout
  /** Hosts connected to and staged on at once. */
  readonly maxParallel: number
  readonly rollbackOnFailure: boolean
  readonly healthCheck: HealthCheck | undefined
  /** Seconds to wait for a lock another run holds; 0 fails at once. */
  readonly lockTimeoutSeconds: number
}

export interface GateSettings {
  /** Logins allowed to approve; empty means anyone with write, maintain or admin permission. */
  readonly approvers: readonly string[]
  readonly approvalCommand: string
  readonly rollbackCommand: string
  /** Milliseconds to wait for approval after staging; 0 = stage and stop. */
  readonly approvalTimeoutMs: number
  readonly allowSelfApproval: boolean
  /** A release id or commit sha to activate instead of building. */
  readonly promote: string | undefined
  /** Switch back instead of building: 'previous', or the release id named. */
  readonly rollback: string | undefined
}

export interface ReportSettings {
  readonly comment: 'always' | 'on-failure' | 'never'
  readonly environmentUrl: string | undefined
  readonly testReport: string | undefined
  readonly deploymentRecord: boolean
}

export interface Settings {
  readonly mode: Mode
  readonly build: string
  readonly test: string
  /** Absolute. */
  readonly workingDirectory: string
  readonly cache: CacheSettings | undefined
  readonly githubToken: string
  /** Undefined when no `hosts` are given: the run stops after test. */
  readonly ship: ShipSettings | undefined
  readonly environment: string
  readonly gate: GateSettings
  readonly report: ReportSettings
}

/** Bad input: the message names the input(s), what was wrong and what to do. */
export class InputError extends Error {
  override name = 'InputError'
}

/** Collects every problem so a user fixes them all in one go. */
class Problems {
  readonly list: string[] = []
  add(input: InputName, message: string): void {
    this.list.push(`\`${input}\`: ${message}`)
  }
}

const get = (name: InputName): string => core.getInput(name)

/** A boolean as `core.getBooleanInput` reads it; empty (input not passed) means false. */
function getBoolean(name: InputName, problems: Problems): boolean {
  if (get(name) === '') return false
  try {
    return core.getBooleanInput(name)
  } catch {
    problems.add(name, `expected true or false, got "${get(name)}".`)
    return false
  }
}

/** A strictly parsed integer: digits only, within bounds; `fallback` when the input is empty. */
function getInteger(
  name: InputName,
  bounds: { min: number; max: number; fallback: number },
  problems: Problems
): number {
  const raw = get(name)
  if (raw === '') return bounds.fallback
  if (!/^\d+$/.test(raw) || Number(raw) < bounds.min || Number(raw) > bounds.max) {
    problems.add(name, `expected a whole number from ${bounds.min} to ${bounds.max}, got "${raw}".`)
    return bounds.fallback
  }
  return Number(raw)
}

function getList(name: InputName, separators: RegExp = /\r?\n/): string[] {
  return get(name)
    .split(separators)
    .map(item => item.trim())
    .filter(item => item !== '' && !item.startsWith('#'))
}

function getMode(problems: Problems): Mode {
  const raw = get('mode') || 'delivery'
  if (raw === 'delivery' || raw === 'deployment') return raw
  problems.add('mode', `expected "delivery" or "deployment", got "${raw}".`)
  return 'delivery'
}

function getWorkingDirectory(problems: Problems): string {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd()
  const dir = path.resolve(workspace, get('working-directory') || '.')
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    problems.add('working-directory', `"${dir}" is not a directory. Check out the code first.`)
  }
  return dir
}

function getCache(): CacheSettings | undefined {
  const paths = getList('cache-path')
  if (paths.length === 0) return undefined
  return { paths, key: get('cache-key') || undefined, restoreKeys: getList('cache-restore-keys') }
}

interface RawSecrets {
  readonly privateKey: string
  readonly passphrase: string
  readonly password: string
  readonly token: string
}

/**
 * An input left as a workflow expression, as local runners (`@github/local-action`) pass
 * action.yml defaults such as `${{ github.token }}`: nothing was given.
 */
const UNEXPANDED = /^\$\{\{[\s\S]*\}\}$/

/**
 * Reads the credentials and registers them with the masking function (and the runner's log
 * masking) at once, whether or not this run ships: a build may print them.
 */
function readSecrets(): RawSecrets {
  let token = get('github-token')
  if (UNEXPANDED.test(token)) {
    core.notice(
      `\`github-token\` is the unexpanded expression ${token}: running without a token, so nothing is reported to GitHub. Pass a token to report.`
    )
    token = ''
  }
  const read = {
    privateKey: get('private-key'),
    passphrase: get('passphrase'),
    password: get('password'),
    token
  }
  registerSecrets([read.privateKey, read.passphrase, read.password, read.token])
  return read
}

function getCredentials(
  raw: RawSecrets,
  problems: Problems,
  secretsExpected: boolean
): Credentials {
  const passphrase = raw.passphrase || undefined
  const password = raw.password || undefined
  let privateKey = raw.privateKey || undefined
  if (privateKey !== undefined) {
    const checked = checkPrivateKey(privateKey, passphrase)
    if (checked.ok) privateKey = checked.key
    else problems.add(checked.input, checked.message)
  }
  if (privateKey === undefined && password === undefined && secretsExpected) {
    problems.add('private-key', 'give a private key (or a `password`) to log in to `hosts`.')
  }
  if (raw.privateKey !== '' && password !== undefined) {
    core.notice(
      'Both `private-key` and `password` are given: each host is offered the key first, and the password only if it refuses the key.'
    )
  }
  return { privateKey, passphrase, password }
}

function getTargets(
  specs: readonly string[],
  problems: Problems
): { hosts: Target[]; jumpHost: Target | undefined } {
  const port = getInteger('port', { min: 1, max: 65535, fallback: 22 }, problems)
  const username = get('username')
  const hosts: Target[] = []
  for (const spec of specs) {
    const parsed = parseTarget(spec, { port, username })
    if (typeof parsed === 'string') problems.add('hosts', parsed)
    else hosts.push(parsed)
  }
  let jumpHost: Target | undefined
  if (get('jump-host') !== '') {
    const parsed = parseTarget(get('jump-host'), { port: 22, username })
    if (typeof parsed === 'string') problems.add('jump-host', parsed)
    else jumpHost = parsed
  }
  return { hosts, jumpHost }
}

/**
 * `shared-paths` entries, normalised (`./uploads/.` and `uploads/` are `uploads`), or refused
 * by name: absolute, `..`, naming the release itself, or one inside another (linking the inner
 * one would write through the outer link into shared/).
 */
function getSharedPaths(problems: Problems): string[] {
  const paths: string[] = []
  for (const entry of getList('shared-paths')) {
    const segments = entry.split('/').filter(s => s !== '' && s !== '.')
    const normal = segments.join('/')
    const problem = entry.startsWith('/')
      ? 'must be relative to the release directory.'
      : checkRelativeRemotePath(normal)
    if (problem) problems.add('shared-paths', `"${entry}": ${problem}`)
    else if (!paths.includes(normal)) paths.push(normal)
  }
  for (const inner of paths) {
    const outer = paths.find(p => inner.startsWith(p + '/'))
    if (outer !== undefined) {
      problems.add(
        'shared-paths',
        `"${inner}" is inside "${outer}", which is already shared as a whole; list only "${outer}".`
      )
    }
  }
  return paths
}

function getExclude(problems: Problems): string[] {
  const patterns = excludePatterns(get('exclude'))
  for (const pattern of patterns) {
    const problem = checkExcludePattern(pattern)
    if (problem) problems.add('exclude', problem)
  }
  return patterns
}

function getRollout(problems: Problems): Rollout {
  const kind = get('rollout') || 'all-at-once'
  const sizeText = get('rollout-batch-size') || '1'
  let batchSize: BatchSize = { count: 1 }
  const percent = /^(\d+)%$/.exec(sizeText)
  if (percent && Number(percent[1]) >= 1 && Number(percent[1]) <= 100) {
    batchSize = { percent: Number(percent[1]) }
  } else if (/^\d+$/.test(sizeText) && Number(sizeText) >= 1 && Number(sizeText) <= 10000) {
    batchSize = { count: Number(sizeText) }
  } else {
    problems.add(
      'rollout-batch-size',
      `expected a number of hosts (1 or more) or a share of them from 1% to 100%, got "${sizeText}".`
    )
  }
  if (kind === 'rolling') return { kind, batchSize }
  if (kind !== 'all-at-once') {
    problems.add('rollout', `expected all-at-once or rolling, got "${kind}".`)
  }
  return { kind: 'all-at-once' }
}

/** `200-399`, `200,204`: each code or range within 100-599. */
export function parseStatusRanges(text: string): StatusRanges | string {
  const ranges: [number, number][] = []
  for (const part of text.split(',').map(p => p.trim())) {
    const match = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
    const low = Number(match?.[1])
    const high = match?.[2] === undefined ? low : Number(match[2])
    if (!match || low < 100 || high > 599 || high < low) {
      return `expected HTTP status codes or ranges such as 200-399 or 200,204, got "${text}".`
    }
    ranges.push([low, high])
  }
  return ranges
}

function getHealthCheck(problems: Problems): HealthCheck | undefined {
  const command = get('health-check-command').trim() ? get('health-check-command') : undefined
  const url = get('health-check-url').trim() || undefined
  if (url !== undefined && !/^https?:\/\/\S+$/.test(url)) {
    problems.add(
      'health-check-url',
      `"${url}" is not an http(s) URL (write {host} where each host's name goes).`
    )
  }
  const expected = parseStatusRanges(get('health-check-expect') || '200-399')
  if (typeof expected === 'string') problems.add('health-check-expect', expected)
  const timeoutSeconds = getInteger(
    'health-check-timeout',
    { min: 1, max: 3600, fallback: 60 },
    problems
  )
  if (command === undefined && url === undefined) return undefined
  return {
    command,
    url,
    expect: typeof expected === 'string' ? [[200, 399]] : expected,
    timeoutSeconds
  }
}

/** Undefined when no `hosts` are given; every ship input is checked even when `hosts` are bad. */
function getShip(
  workingDirectory: string,
  secrets: RawSecrets,
  problems: Problems,
  secretsExpected: boolean
): ShipSettings | undefined {
  const specs = getList('hosts', /[\r\n,]+/)
  if (specs.length === 0) return undefined
  const { hosts, jumpHost } = getTargets(specs, problems)

  // Remote commands start in the login user's home, so "~/app" is just "app".
  const remotePath = get('remote-path').replace(/^~\/+/, '')
  const remoteProblem = checkRemotePath(remotePath)
  if (remoteProblem) problems.add('remote-path', remoteProblem)

  const sharedPaths = getSharedPaths(problems)

  const pins = parseHostKeyPins(get('known-hosts'))
  for (const problem of pins.problems) problems.add('known-hosts', problem)

  const artifact = get('artifact') || '.'
  if (artifact.includes('\0')) problems.add('artifact', 'contains a NUL character.')

  return {
    hosts,
    credentials: getCredentials(secrets, problems, secretsExpected),
    hostKeys: pins.pins,
    insecureSkipHostKeyCheck: getBoolean('insecure-skip-host-key-check', problems),
    jumpHost,
    remotePath,
    artifact: path.resolve(workingDirectory, artifact),
    exclude: getExclude(problems),
    keepReleases: getInteger('keep-releases', { min: 2, max: 1000, fallback: 5 }, problems),
    sharedPaths,
    beforeActivate: get('before-activate'),
    afterActivate: get('after-activate'),
    timeoutSeconds: getInteger('ssh-timeout', { min: 1, max: 3600, fallback: 30 }, problems),
    dryRun: getBoolean('dry-run', problems),
    rollout: getRollout(problems),
    maxParallel: getInteger('max-parallel', { min: 1, max: 1000, fallback: 10 }, problems),
    rollbackOnFailure:
      get('rollback-on-failure') === '' ? true : getBoolean('rollback-on-failure', problems),
    healthCheck: getHealthCheck(problems),
    lockTimeoutSeconds: getInteger('lock-timeout', { min: 0, max: 21600, fallback: 0 }, problems)
  }
}

const COMMAND = /^\/?[A-Za-z0-9][A-Za-z0-9._-]*$/
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/

function getCommand(
  name: 'approval-command' | 'rollback-command',
  fallback: string,
  problems: Problems
): string {
  const value = get(name) || fallback
  if (!COMMAND.test(value)) problems.add(name, `"${value}" must be one word such as ${fallback}.`)
  return value
}

function getGate(problems: Problems): GateSettings {
  const approvers = getList('approvers', /[\r\n,]+/).map(login => login.replace(/^@/, ''))
  for (const login of approvers) {
    if (!LOGIN.test(login)) problems.add('approvers', `"${login}" is not a GitHub login.`)
  }
  const timeoutText = get('approval-timeout') || '0'
  let approvalTimeoutMs = 0
  if (!/^\d+(\.\d+)?$/.test(timeoutText) || Number(timeoutText) > 360) {
    problems.add(
      'approval-timeout',
      `expected minutes from 0 to 360 (decimals allowed), got "${timeoutText}".`
    )
  } else approvalTimeoutMs = Math.round(Number(timeoutText) * 60_000)
  const approvalCommand = getCommand('approval-command', '/deploy', problems)
  const rollbackCommand = getCommand('rollback-command', '/rollback', problems)
  if (approvalCommand === rollbackCommand) {
    problems.add('rollback-command', 'must differ from `approval-command`.')
  }
  const promote = get('promote') || undefined
  if (promote !== undefined && !/^[0-9a-f]{7,40}$/i.test(promote) && !RELEASE_ID.test(promote)) {
    problems.add(
      'promote',
      `"${promote}" is neither a commit sha nor a release id (the \`release\` output of the run that staged it).`
    )
  }
  const rollbackText = get('rollback')
  let rollback: string | undefined
  if (rollbackText === 'true') rollback = 'previous'
  else if (RELEASE_ID.test(rollbackText)) rollback = rollbackText
  else if (rollbackText !== '' && rollbackText !== 'false') {
    problems.add(
      'rollback',
      `expected true, false or a release id (as the \`release\` output gives it), got "${rollbackText}".`
    )
  }
  if (rollback !== undefined && promote !== undefined)
    problems.add('rollback', 'give either `promote` or `rollback`, not both.')
  return {
    rollback,
    approvers,
    approvalCommand,
    rollbackCommand,
    approvalTimeoutMs,
    allowSelfApproval:
      get('allow-self-approval') === '' ? true : getBoolean('allow-self-approval', problems),
    promote: promote?.toLowerCase()
  }
}

function getReport(problems: Problems): ReportSettings {
  const comment = get('comment') || 'always'
  if (comment !== 'always' && comment !== 'on-failure' && comment !== 'never') {
    problems.add('comment', `expected always, on-failure or never, got "${comment}".`)
  }
  const environmentUrl = get('environment-url') || undefined
  if (environmentUrl !== undefined && !/^https?:\/\/\S+$/.test(environmentUrl)) {
    problems.add('environment-url', `"${environmentUrl}" is not an http(s) URL.`)
  }
  return {
    comment: comment === 'on-failure' || comment === 'never' ? comment : 'always',
    environmentUrl,
    testReport: get('test-report') || undefined,
    deploymentRecord:
      get('deployment-record') === '' ? true : getBoolean('deployment-record', problems)
  }
}

function getEnvironment(problems: Problems): string {
  const environment = get('environment') || 'production'
  if (environment.length > 255 || /[\0\r\n<>]/.test(environment)) {
    problems.add('environment', 'must be one line of at most 255 characters without < or >.')
  }
  return environment
}

/**
 * Reads and checks every input. Throws one InputError listing every problem found.
 * `forkPullRequest`: the run has no secrets and will not ship, so missing credentials are fine.
 */
export function readSettings(
  options: { forkPullRequest: boolean } = { forkPullRequest: false }
): Settings {
  const problems = new Problems()
  const secrets = readSecrets()
  const workingDirectory = getWorkingDirectory(problems)
  const settings: Settings = {
    mode: getMode(problems),
    build: get('build'),
    test: get('test'),
    workingDirectory,
    cache: getCache(),
    githubToken: secrets.token,
    ship: getShip(workingDirectory, secrets, problems, !options.forkPullRequest),
    environment: getEnvironment(problems),
    gate: getGate(problems),
    report: getReport(problems)
  }
  if (settings.gate.promote !== undefined && settings.ship === undefined) {
    problems.add('promote', 'needs `hosts` (and the SSH inputs) to activate the release on.')
  }
  if (settings.gate.rollback !== undefined && settings.ship === undefined) {
    problems.add('rollback', 'needs `hosts` (and the SSH inputs) to switch back on.')
  }
  if (problems.list.length > 0) {
    const heading = problems.list.length === 1 ? 'Invalid input' : 'Invalid inputs'
    throw new InputError(`${heading}; nothing was run.\n- ${problems.list.join('\n- ')}`)
  }
  return settings
}
