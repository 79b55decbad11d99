/**
 * `npm run demo`: deploys examples/app twice to a throwaway local OpenSSH server, through the
 * committed bundle (dist/index.js) exactly as the Actions runner runs it, and shows what the
 * action logged, its outputs and job summary, and what the server holds afterwards.
 *
 * Needs OpenSSH (`apt-get install -y openssh-server`). Works on a temp copy of examples/app; the
 * sshd, its keys, the server directory and the copy are removed at the end, also on failure.
 */
import { createHash } from 'node:crypto'
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGitHubStandIn, type GitHubStandIn } from '../__tests__/rig/github-standin.js'
import { examplePayload } from '../__tests__/rig/payloads.js'
import { ROOT, runAction, type RunResult } from '../__tests__/rig/runner.js'
import { makeTestDir, startSshd, stopAllSshd, type Sshd } from '../__tests__/rig/sshd.js'

const EXAMPLE = path.join(ROOT, 'examples', 'app')
const WORKING_DIRECTORY = 'examples/app'
/** The file the second deploy changes, in the example's sources. */
const CHANGED_FILE = 'src/assets/css/site.css'

const rule = (title: string): void => console.log(`\n${'═'.repeat(8)} ${title} ${'═'.repeat(8)}`)

/** A stand-in for the commit sha: a hash of the example's sources, so a change gives a new one. */
function sourceSha(dir: string): string {
  const hash = createHash('sha1')
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const child = path.join(rel, name)
      if (lstatSync(path.join(dir, child)).isDirectory()) walk(child)
      else
        hash
          .update(child)
          .update('\0')
          .update(readFileSync(path.join(dir, child)))
    }
  }
  walk('src')
  return hash.digest('hex')
}

/** `find`-like listing: directories end in `/`, symlinks show their target, files their size. */
function tree(root: string, rel = ''): string[] {
  const lines: string[] = []
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`
    const full = path.join(root, child)
    const stat = lstatSync(full)
    if (stat.isSymbolicLink()) lines.push(`${child} -> ${readlinkSync(full)}`)
    else if (stat.isDirectory()) lines.push(`${child}/`, ...tree(root, child))
    else lines.push(`${child}  (${stat.size} B)`)
  }
  return lines
}

function showServer(remotePath: string): void {
  rule(`server: ${remotePath}`)
  for (const line of tree(remotePath)) console.log(`  ${line}`)
  const history = path.join(remotePath, '.gated-deploy', 'history.jsonl')
  if (existsSync(history)) {
    console.log('\n  .gated-deploy/history.jsonl:')
    for (const line of readFileSync(history, 'utf8').split('\n').filter(Boolean))
      console.log(`    ${line}`)
  }
}

function showRun(title: string, result: RunResult): void {
  rule(`${title}: log (exit code ${result.exitCode})`)
  const log = result.log
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
  console.log(log.trimEnd())
  rule(`${title}: outputs`)
  const width = Math.max(...Object.keys(result.outputs).map(name => name.length))
  for (const [name, value] of Object.entries(result.outputs))
    console.log(`  ${name.padEnd(width)}  ${value}`)
  rule(`${title}: job summary (GITHUB_STEP_SUMMARY)`)
  console.log(result.summary.trimEnd())
}

async function deploy(options: {
  title: string
  sshd: Sshd
  github: GitHubStandIn
  workspace: string
  remotePath: string
}): Promise<RunResult> {
  const { sshd, workspace } = options
  const sha = sourceSha(path.join(workspace, WORKING_DIRECTORY))
  const payload = examplePayload('push')
  payload.after = sha
  const result = await runAction({
    workspace,
    eventName: 'push',
    payload,
    inputs: {
      mode: 'deployment',
      'working-directory': WORKING_DIRECTORY,
      build: './build.sh',
      test: './test.sh',
      artifact: 'public',
      hosts: `${sshd.username}@${sshd.host}:${sshd.port}`,
      'private-key': sshd.privateKey,
      'known-hosts': sshd.knownHostsLine,
      'remote-path': options.remotePath,
      'shared-paths': 'logs',
      'keep-releases': '3',
      'github-token': 'ghs_demo_token'
    },
    env: { GITHUB_SHA: sha, GITHUB_API_URL: options.github.url }
  })
  showRun(options.title, result)
  showServer(options.remotePath)
  return result
}

async function main(): Promise<number> {
  // Everything temporary (workspace, sshd keys, the server directory, the runner's files) goes
  // under one directory, removed at the end. The SSH login user must be able to reach it.
  const root = mkdtempSync(path.join(os.tmpdir(), 'gd-demo-'))
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  // On Ctrl-C the rig's exit hook stops sshd; this removes the rest.
  process.once('exit', () => rmSync(root, { recursive: true, force: true }))
  process.once('SIGINT', () => process.exit(130))
  const workspace = path.join(root, 'workspace')
  let github: GitHubStandIn | undefined
  try {
    const app = path.join(workspace, WORKING_DIRECTORY)
    cpSync(EXAMPLE, app, {
      recursive: true,
      filter: source => path.relative(EXAMPLE, source).split(path.sep)[0] !== 'public'
    })
    const sshd = await startSshd()
    github = await startGitHubStandIn({ repository: 'Codertocat/Hello-World' })
    const remotePath = path.join(await makeTestDir(), 'example-app')
    console.log(
      [
        'gated-deploy demo',
        `  bundle:      ${path.join(ROOT, 'dist', 'index.js')}`,
        `  workspace:   ${workspace} (a copy of examples/app)`,
        `  server:      ${sshd.username}@${sshd.host}:${sshd.port}, a throwaway sshd, host key ${sshd.hostKeyFingerprint} pinned`,
        `  remote-path: ${remotePath}`,
        `  GitHub API:  ${github.url} (local stand-in)`
      ].join('\n')
    )

    const first = await deploy({ title: 'deploy 1', sshd, github, workspace, remotePath })
    if (first.exitCode !== 0) return 1

    const changed = path.join(app, CHANGED_FILE)
    writeFileSync(changed, readFileSync(changed, 'utf8').replace('#f6f8fa', '#fff8e6'))
    rule(`changed ${WORKING_DIRECTORY}/${CHANGED_FILE} (background colour); deploying again`)
    const second = await deploy({ title: 'deploy 2', sshd, github, workspace, remotePath })

    rule('GitHub API requests made')
    const requests = github.requests.map(r => `  ${r.method} ${r.path}`)
    console.log(requests.length > 0 ? requests.join('\n') : '  none')
    return second.exitCode === 0 ? 0 : 1
  } finally {
    await github?.close()
    await stopAllSshd()
    rmSync(root, { recursive: true, force: true })
  }
}

main().then(
  code => {
    if (code !== 0) console.error('\ndemo: a deploy failed (see its log above).')
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  }
)
