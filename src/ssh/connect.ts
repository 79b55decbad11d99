/**
 * One verified, logged-in SSH connection to one host: host key checked against `known-hosts`
 * before anything is sent (asking again for the server's other key types when a pin may be
 * of another type), then the login of auth.ts.
 */
import { NodeSSH } from 'node-ssh'
import type { ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2'
import { DeployError, errorMessage } from '../errors.js'
import { Login, type Credentials } from './auth.js'
import { fastCipher } from './fast-cipher.js'
import { isOpenSsh, loginWithoutWaiting, signAtOnce } from './fast-login.js'
import {
  hostKeyAlgorithms,
  noPinnedKeyMessage,
  readKeyType,
  verifyHostKey,
  type HostKeyPin,
  type HostKeyVerdict
} from './host-keys.js'
import { describeTarget, type Target } from './target.js'

export interface ConnectSettings extends Credentials {
  readonly hostKeys: readonly HostKeyPin[]
  readonly insecureSkipHostKeyCheck: boolean
  readonly timeoutSeconds: number
}

export type Sock = NonNullable<ConnectConfig['sock']>

export interface Connected<S extends Sock> {
  readonly ssh: NodeSSH
  /** The transport the connection runs over (a TCP socket, or a jump host's channel). */
  readonly sock: S
}

type Attempt =
  | { readonly ok: true; readonly ssh: NodeSSH }
  /** The server presented `key`, of a type no pin is for: ask for its other types. */
  | { readonly ok: false; readonly otherType: Buffer }

function hasLevel(error: unknown, level: string): boolean {
  return typeof error === 'object' && error !== null && 'level' in error && error.level === level
}

/** Called once the login request is on its way, with the connection (see openSession's `first`). */
export type OnLoginSent = (ssh: NodeSSH) => void

async function attempt(
  target: Target,
  settings: ConnectSettings,
  sock: Sock,
  algorithms: ServerHostKeyAlgorithm[] | undefined,
  onLoginSent: OnLoginSent | undefined
): Promise<Attempt> {
  let early = onLoginSent
  // Written by ssh2's hostVerifier callback, read when the handshake fails.
  const check: { verdict: HostKeyVerdict; key: Buffer | undefined } = {
    verdict: { ok: true },
    key: undefined
  }
  const login = new Login(target, settings)
  const ssh = new NodeSSH()
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    readyTimeout: settings.timeoutSeconds * 1000,
    keepaliveInterval: 5000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer): boolean => {
      // During the key exchange: the login may go out right behind the service request.
      loginWithoutWaiting(ssh.connection)
      if (settings.insecureSkipHostKeyCheck) return true
      check.key = key
      check.verdict = verifyHostKey(settings.hostKeys, target, key)
      return check.verdict.ok
    },
    ...(algorithms ? { algorithms: { serverHostKey: algorithms } } : {}),
    sock,
    // Straight to the methods we have (no "none" round trip; see Login), and a key's request
    // signed from the first (no query round trip; see fast-login.ts).
    authHandler: methodsLeft => {
      // The keys are in use by now: uploads take the leaner packet path (see fast-cipher.ts).
      fastCipher(ssh.connection)
      const signed = signAtOnce(ssh.connection)
      const method = login.handler(methodsLeft)
      // A key alone (a refusal ends the connection) on OpenSSH (which reads in order): the first
      // command may follow the login request at once. ssh2 sends the request when this returns.
      const start = early
      early = undefined
      if (
        start &&
        signed &&
        method !== false &&
        method.type === 'publickey' &&
        settings.password === undefined &&
        isOpenSsh(ssh.connection)
      ) {
        process.nextTick(() => start(ssh))
      }
      return method
    }
  }
  try {
    // node-ssh's Config type predates exactOptionalPropertyTypes; ours sets no undefined fields.
    await ssh.connect(config as Parameters<NodeSSH['connect']>[0])
    return { ok: true, ssh }
  } catch (error: unknown) {
    ssh.dispose()
    sock.destroy()
    const verdict = check.verdict
    if (!verdict.ok) {
      if (verdict.reason === 'other-type' && check.key) return { ok: false, otherType: check.key }
      throw new DeployError(verdict.message)
    }
    const message = errorMessage(error)
    if (
      hasLevel(error, 'client-authentication') ||
      /authentication methods failed/i.test(message)
    ) {
      throw new DeployError(login.failure())
    }
    if (/timed out/i.test(message)) {
      throw new DeployError(
        `${describeTarget(target)}: no SSH handshake within ${settings.timeoutSeconds} s (\`ssh-timeout\`). Is the host reachable from the runner?`
      )
    }
    throw new DeployError(`${describeTarget(target)}: cannot connect (${message}).`, {
      cause: error
    })
  }
}

/**
 * Connects and logs in to `target` over a transport from `openSock` (called again for each
 * retry). A server whose key is of a type no full known_hosts line pins (a bare SHA256
 * fingerprint does not say its type) is asked again for its other types, one connection per
 * type, before the mismatch is called a change: no credential is sent until a key matches.
 */
export async function connectOne<S extends Sock>(
  target: Target,
  settings: ConnectSettings,
  openSock: () => Promise<S>,
  onLoginSent?: (ssh: NodeSSH, sock: S) => void
): Promise<Connected<S>> {
  const presented: Buffer[] = []
  for (;;) {
    const algorithms = settings.insecureSkipHostKeyCheck
      ? undefined
      : hostKeyAlgorithms(settings.hostKeys, target, presented.map(readKeyType))
    if (algorithms?.length === 0) {
      throw new DeployError(noPinnedKeyMessage(target, presented))
    }
    const sock = await openSock()
    let outcome: Attempt
    try {
      outcome = await attempt(
        target,
        settings,
        sock,
        algorithms,
        onLoginSent && (ssh => onLoginSent(ssh, sock))
      )
    } catch (error: unknown) {
      // The server has none of the types left: every key it has was shown and none is pinned.
      if (presented.length > 0 && /no matching host key/i.test(errorMessage(error))) {
        throw new DeployError(noPinnedKeyMessage(target, presented))
      }
      throw error
    }
    if (outcome.ok) return { ssh: outcome.ssh, sock }
    presented.push(outcome.otherType)
  }
}
