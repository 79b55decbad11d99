/**
 * Host key pinning: OpenSSH known_hosts lines, bare "type base64" keys, or SHA256 fingerprints.
 * ssh2 accepts any host key unless told otherwise; `verifyHostKey` is what tells it.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { ServerHostKeyAlgorithm } from 'ssh2'
import { describeTarget, type Target } from './target.js'

export type HostKeyPin =
  | {
      readonly kind: 'key'
      /** Host patterns; empty = any host. */
      readonly patterns: readonly string[]
      readonly keyType: string
      readonly key: Buffer
      readonly revoked: boolean
    }
  | { readonly kind: 'fingerprint'; readonly fingerprint: string }

const KEY_TYPES =
  /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/

export function parseHostKeyPins(text: string): { pins: HostKeyPin[]; problems: string[] } {
  const pins: HostKeyPin[] = []
  const problems: string[] = []
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) return
    const fingerprint = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(line)
    if (fingerprint) {
      pins.push({ kind: 'fingerprint', fingerprint: `SHA256:${fingerprint[1] ?? ''}` })
      return
    }
    let fields = line.split(/\s+/)
    let revoked = false
    if (fields[0]?.startsWith('@')) {
      if (fields[0] === '@cert-authority') return // certificates are not supported; ignore the line
      revoked = fields[0] === '@revoked'
      fields = fields.slice(1)
    }
    const [a = '', b = '', c = ''] = fields
    const [patterns, keyType, keyText] = KEY_TYPES.test(a) ? [[], a, b] : [a.split(','), b, c]
    const key = Buffer.from(keyText, 'base64')
    if (!KEY_TYPES.test(keyType) || key.length < 16 || readKeyType(key) !== keyType) {
      problems.push(
        `line ${index + 1} is neither a known_hosts line ("host ssh-ed25519 AAAA…", as printed by ssh-keyscan) nor a SHA256:… fingerprint.`
      )
      return
    }
    pins.push({ kind: 'key', patterns, keyType, key, revoked })
  })
  return { pins, problems }
}

/** The key type named inside an SSH wire-format public key. */
export function readKeyType(key: Buffer): string {
  if (key.length < 4) return ''
  const length = key.readUInt32BE(0)
  return key.subarray(4, 4 + length).toString('latin1')
}

export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** The name a known_hosts line uses for a target: host, or [host]:port off port 22. */
export function knownHostsName(target: Pick<Target, 'host' | 'port'>): string {
  return target.port === 22 ? target.host : `[${target.host}]:${target.port}`
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|')
  if (magic !== '1' || salt === undefined || hash === undefined) return false
  const expected = Buffer.from(hash, 'base64')
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** OpenSSH host pattern matching: comma list, wildcards, `!` negation, hashed names. */
function patternsMatch(patterns: readonly string[], name: string): boolean {
  if (patterns.length === 0) return true
  let matched = false
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!')
    const body = negated ? pattern.slice(1) : pattern
    const hit = body.startsWith('|') ? hashedMatches(body, name) : globToRegExp(body).test(name)
    if (hit && negated) return false
    if (hit) matched = true
  }
  return matched
}

export type HostKeyVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false
      /**
       * 'other-type': known-hosts pins this host, but no pin is of the presented key's type and
       * no fingerprint matches it; the server may still hold the pinned key under another type
       * (ask again for the other types, see hostKeyAlgorithms). The others are final.
       */
      readonly reason: 'unknown' | 'changed' | 'revoked' | 'other-type'
      readonly message: string
    }

/** The host key's line as known_hosts holds it for a target. */
function knownHostsLine(target: Pick<Target, 'host' | 'port'>, key: Buffer): string {
  return `${knownHostsName(target)} ${readKeyType(key)} ${key.toString('base64')}`
}

function changedMessage(
  target: Pick<Target, 'host' | 'port'>,
  presented: readonly Buffer[]
): string {
  const where = describeTarget(target)
  const keys = presented.map(key => `${readKeyType(key)} ${fingerprintOf(key)}`).join(', ')
  const lines = presented.map(key => knownHostsLine(target, key)).join('\n')
  const which = presented.length === 1 ? 'which does not match' : 'none of which matches'
  return (
    `The host key of ${where} has CHANGED: it presented ${keys}, ${which} the keys pinned for it in \`known-hosts\`. ` +
    `Someone may be intercepting the connection, or the server was reinstalled. Nothing was sent. ` +
    `If the change is expected, replace the pinned key with:\n${lines}`
  )
}

/**
 * The final word when every host key type the server would present was tried (each with an
 * 'other-type' verdict): none of its keys is pinned.
 */
export function noPinnedKeyMessage(
  target: Pick<Target, 'host' | 'port'>,
  presented: readonly Buffer[]
): string {
  return changedMessage(target, presented)
}

/** Decides whether a presented host key is trusted for a target. */
export function verifyHostKey(
  pins: readonly HostKeyPin[],
  target: Pick<Target, 'host' | 'port'>,
  key: Buffer
): HostKeyVerdict {
  const name = knownHostsName(target)
  const fingerprint = fingerprintOf(key)
  const keyType = readKeyType(key)
  const where = describeTarget(target)
  const applicable = pins.filter(
    pin => pin.kind === 'fingerprint' || patternsMatch(pin.patterns, name)
  )
  const same = (pin: HostKeyPin): boolean =>
    pin.kind === 'fingerprint' ? pin.fingerprint === fingerprint : pin.key.equals(key)
  if (applicable.some(pin => pin.kind === 'key' && pin.revoked && same(pin))) {
    return {
      ok: false,
      reason: 'revoked',
      message: `The host key of ${where} (${keyType} ${fingerprint}) is marked @revoked in \`known-hosts\`. Refusing to connect.`
    }
  }
  if (applicable.some(pin => !(pin.kind === 'key' && pin.revoked) && same(pin))) return { ok: true }
  const trusted = applicable.filter(pin => !(pin.kind === 'key' && pin.revoked))
  if (trusted.length === 0) {
    return {
      ok: false,
      reason: 'unknown',
      message:
        `The host key of ${where} is not in \`known-hosts\`: it presented ${keyType} ${fingerprint}. ` +
        `If that is your server's key (check with \`ssh-keygen -lf /etc/ssh/ssh_host_${keyType.replace(/^ssh-/, '').replace(/-.*/, '')}_key.pub\` on it), ` +
        `add this line to the \`known-hosts\` input:\n${knownHostsLine(target, key)}`
    }
  }
  // A full line of this very type that differs is a real change, as OpenSSH sees it; a bare
  // fingerprint does not say its type, so it may pin another of the server's keys.
  const sameType = trusted.some(pin => pin.kind === 'key' && pin.keyType === keyType)
  return {
    ok: false,
    reason: sameType ? 'changed' : 'other-type',
    message: changedMessage(target, [key])
  }
}

/** The host key algorithms that present each key type, in ssh2's order of preference. */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss']
}

/** The key types ssh2 verifies by default (DSA only when pinned: OpenSSH dropped it). */
const DEFAULT_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa'
]

/**
 * Host key algorithms to offer a server, most wanted first: those of the key types pinned by
 * full lines for it (so it presents one of them, as OpenSSH asks), then every other type
 * (a bare fingerprint, or a server that no longer has the pinned type, gets a key to check
 * and to show). `ruledOut` lists the key types the server already presented in vain on this
 * run; an empty result means every type was tried.
 */
export function hostKeyAlgorithms(
  pins: readonly HostKeyPin[],
  target: Pick<Target, 'host' | 'port'>,
  ruledOut: readonly string[] = []
): ServerHostKeyAlgorithm[] {
  const name = knownHostsName(target)
  const pinnedTypes = pins.flatMap(pin =>
    pin.kind === 'key' && !pin.revoked && patternsMatch(pin.patterns, name) ? [pin.keyType] : []
  )
  const algorithms = new Set<ServerHostKeyAlgorithm>()
  for (const keyType of [...pinnedTypes, ...DEFAULT_KEY_TYPES]) {
    if (ruledOut.includes(keyType)) continue
    for (const algorithm of SIGNATURE_ALGORITHMS[keyType] ?? []) algorithms.add(algorithm)
  }
  return [...algorithms]
}
