/** Helpers for end-to-end deploy tests: a workspace with an artifact, and reading the server side. */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runAction, type RunResult } from './runner.js'
import type { Sshd } from './sshd.js'

/** A workspace whose `build` output directory is `dist/`, with the given files. */
export function workspaceWith(files: Readonly<Record<string, string>>): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'gd-ws-'))
  writeArtifact(ws, files)
  return ws
}

export function writeArtifact(ws: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(ws, 'dist', name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
}

export function makeExecutable(ws: string, name: string): void {
  chmodSync(path.join(ws, 'dist', name), 0o755)
}

export function makeSymlink(ws: string, name: string, target: string): void {
  const link = path.join(ws, 'dist', name)
  mkdirSync(path.dirname(link), { recursive: true })
  symlinkSync(target, link)
}

export function makeEmptyDir(ws: string, name: string): void {
  mkdirSync(path.join(ws, 'dist', name), { recursive: true })
}

let shaCounter = 0
/** A fresh fake commit sha per deploy, so release ids never collide within one second. */
export function nextSha(): string {
  shaCounter++
  return (shaCounter.toString(16).padStart(4, '0') + 'abcdef0123456789'.repeat(3)).slice(0, 40)
}

export function sshInputs(sshd: Sshd, remotePath: string): Record<string, string> {
  return {
    hosts: `${sshd.username}@${sshd.host}:${sshd.port}`,
    'private-key': sshd.privateKey,
    'known-hosts': sshd.knownHostsLine,
    'remote-path': remotePath,
    artifact: 'dist'
  }
}

export async function deploy(
  sshd: Sshd,
  ws: string,
  remotePath: string,
  extra: Readonly<Record<string, string>> = {},
  env: Readonly<Record<string, string>> = {}
): Promise<RunResult> {
  return runAction({
    workspace: ws,
    eventName: 'push',
    inputs: { mode: 'deployment', ...sshInputs(sshd, remotePath), ...extra },
    env: { GITHUB_SHA: nextSha(), ...env }
  })
}

/** The release `current` points at, or undefined. */
export function liveRelease(remotePath: string): string | undefined {
  const link = path.join(remotePath, 'current')
  if (!existsSync(link) && !isSymlink(link)) return undefined
  return readlinkSync(link).replace(/^releases\//, '')
}

export function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink()
  } catch {
    return false
  }
}

export function releases(remotePath: string): string[] {
  const dir = path.join(remotePath, 'releases')
  if (!existsSync(dir)) return []
  return execFileSync('ls', ['-1', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()
}

export function readRemote(remotePath: string, ...parts: string[]): string {
  return readFileSync(path.join(remotePath, ...parts), 'utf8')
}

export function history(remotePath: string): { event: string; release: string }[] {
  const file = path.join(remotePath, '.gated-deploy', 'history.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as { event: string; release: string })
}

export function lockHeld(remotePath: string): boolean {
  return existsSync(path.join(remotePath, '.gated-deploy', 'lock'))
}
