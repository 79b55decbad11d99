/** One timed transfer per function: gated-deploy's bundle, scp, rsync, tar | ssh, node-ssh. */
import { spawn } from 'node:child_process'
import { NodeSSH } from 'node-ssh'
import { nextSha, sshInputs } from '../__tests__/rig/deploy.js'
import { runAction } from '../__tests__/rig/runner.js'
import type { Sshd } from '../__tests__/rig/sshd.js'

export interface Sample {
  readonly ms: number
  /** gated-deploy only: its log groups ("✓ stage (1.2 s)") in ms. */
  readonly groups?: Readonly<Record<string, number>>
  /** gated-deploy only: from spawning node to its first line of output. */
  readonly firstOutputMs?: number
  /** gated-deploy only: its `bytes-uploaded` output. */
  readonly bytesUploaded?: number
  /** Something worth a footnote (node-ssh's `false` return). */
  readonly note?: string
}

/** Single-quotes for a POSIX shell. */
export function q(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** Runs a program to completion; rejects with its stderr when it fails. */
export function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    child.on('error', reject)
    child.on('close', code =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${file} ${args.join(' ')}: exit ${code}\n${out}`))
    )
  })
}

async function timed(act: () => Promise<void>): Promise<number> {
  const start = performance.now()
  await act()
  return performance.now() - start
}

/** OpenSSH client options every CLI tool uses: the rig's key and known_hosts, no prompts. */
function sshOptions(sshd: Sshd): string[] {
  return [
    '-i',
    sshd.privateKeyPath,
    '-o',
    `UserKnownHostsFile=${sshd.knownHostsPath}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes'
  ]
}

function login(sshd: Sshd): string {
  return `${sshd.username}@${sshd.host}`
}

const GROUP_LINE = /^✓ (\S+) \((\d+(?:\.\d+)?) (ms|s)\)/gm

/** `✓ name (123 ms)` / `✓ name (1.5 s)` lines of the action's log, in ms. */
export function parseGroups(log: string): Record<string, number> {
  const groups: Record<string, number> = {}
  for (const [, name = '', value = '0', unit] of log.matchAll(GROUP_LINE))
    groups[name] = Number(value) * (unit === 's' ? 1000 : 1)
  return groups
}

/** The committed bundle, run as the runner runs it (`node dist/index.js`), mode deployment. */
export function gatedDeploy(sshd: Sshd, workspace: string, remotePath: string): Promise<Sample> {
  return gatedDeployWith(workspace, sshInputs(sshd, remotePath))
}

/** What a run sees besides its inputs: the push event's payload, more environment. */
export interface RunContext {
  readonly payload?: unknown
  readonly env?: Readonly<Record<string, string>>
}

/**
 * The same with any inputs (`hosts`, `private-key`, `known-hosts`, `remote-path`, …), on a push;
 * the log is kept in `log` for a caller that checks what the run did.
 */
export async function gatedDeployWith(
  workspace: string,
  inputs: Readonly<Record<string, string>>,
  context: RunContext = {}
): Promise<Sample & { readonly log: string }> {
  let firstOutput: number | undefined
  const start = performance.now()
  const result = await runAction({
    workspace,
    eventName: 'push',
    ...(context.payload === undefined ? {} : { payload: context.payload }),
    inputs: { mode: 'deployment', ...inputs },
    env: { GITHUB_SHA: nextSha(), ...context.env },
    onOutput: () => (firstOutput ??= performance.now())
  })
  const ms = performance.now() - start
  if (result.exitCode !== 0)
    throw new Error(`gated-deploy exited ${result.exitCode}:\n${result.log.slice(-3000)}`)
  return {
    ms,
    groups: parseGroups(result.log),
    firstOutputMs: (firstOutput ?? start) - start,
    bytesUploaded: Number(result.outputs['bytes-uploaded'] ?? NaN),
    log: result.log
  }
}

/** `scp -r src host:dest` (dest must not exist: scp creates it with src's contents). */
export async function scp(sshd: Sshd, src: string, dest: string): Promise<Sample> {
  const args = [
    '-q',
    '-r',
    '-P',
    String(sshd.port),
    ...sshOptions(sshd),
    src,
    `${login(sshd)}:${dest}`
  ]
  return { ms: await timed(() => run('scp', args).then(() => undefined)) }
}

/** `rsync -a src/ host:dest/` over ssh. */
export async function rsync(sshd: Sshd, src: string, dest: string): Promise<Sample> {
  const shell = ['ssh', '-p', String(sshd.port), ...sshOptions(sshd)].join(' ')
  const args = ['-a', '-e', shell, `${src}/`, `${login(sshd)}:${dest}/`]
  return { ms: await timed(() => run('rsync', args).then(() => undefined)) }
}

/** The baseline: `tar cf - -C src . | ssh host 'mkdir -p dest && tar xf - -C dest'`. */
export async function tarPipe(sshd: Sshd, src: string, dest: string): Promise<Sample> {
  const remote = `mkdir -p ${q(dest)} && tar xf - -C ${q(dest)}`
  const ssh = ['ssh', '-p', String(sshd.port), ...sshOptions(sshd), login(sshd), remote]
  const pipeline = `tar cf - -C ${q(src)} . | ${ssh.map(q).join(' ')}`
  return {
    ms: await timed(() => run('bash', ['-o', 'pipefail', '-c', pipeline]).then(() => undefined))
  }
}

/** node-ssh `putDirectory` with its defaults, in this process (so without node's start-up). */
export async function nodeSsh(sshd: Sshd, src: string, dest: string): Promise<Sample> {
  let ok = true
  const ms = await timed(async () => {
    const ssh = new NodeSSH()
    await ssh.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey
    })
    try {
      await ssh.mkdir(dest)
      ok = await ssh.putDirectory(src, dest)
    } finally {
      ssh.dispose()
    }
  })
  return ok ? { ms } : { ms, note: 'putDirectory returned false' }
}

/** Fixed costs: a bare `node -e 0`, and one `ssh host true` (connect, auth, one exec). */
export async function nodeStart(): Promise<number> {
  return timed(() => run(process.execPath, ['-e', '0']).then(() => undefined))
}

export async function sshTrue(sshd: Sshd): Promise<number> {
  const args = ['-p', String(sshd.port), ...sshOptions(sshd), login(sshd), 'true']
  return timed(() => run('ssh', args).then(() => undefined))
}
