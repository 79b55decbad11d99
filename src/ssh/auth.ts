/**
 * Logging in: which methods to try in which order (the key, then the password, answered to
 * keyboard-interactive prompts when the server takes passwords only that way), and, when the
 * server refuses, a message saying what it refused and what to do.
 */
import type { AnyAuthMethod, AuthenticationType, Prompt } from 'ssh2'
import { fingerprintOf } from './host-keys.js'
import { parsePrivateKey } from './keys.js'
import { describeTarget, type Target } from './target.js'

export interface Credentials {
  readonly privateKey: string | undefined
  readonly passphrase: string | undefined
  readonly password: string | undefined
}

/**
 * The type and SHA256 fingerprint of the key in `private-key`. Not its public key line: that
 * shares base64 runs with the private key file, whose lines the log masks.
 */
export interface PublicKeyInfo {
  readonly type: string
  readonly fingerprint: string
}

export function publicKeyInfo(privateKey: string, passphrase: string | undefined): PublicKeyInfo {
  const key = parsePrivateKey(privateKey, passphrase)
  if (key === undefined || key instanceof Error) {
    return { type: 'unreadable', fingerprint: 'unknown' }
  }
  return { type: key.type, fingerprint: fingerprintOf(key.getPublicSSH()) }
}

/**
 * A keyboard-interactive prompt the password answers: any prompt with echo off, unless it
 * asks for a one-time code. Prompts are in the server's language ("Password:", "Passwort:",
 * "Password for alice@host:"), so the echo flag says more than the words.
 */
function asksForPassword(prompt: Prompt): boolean {
  if (/\b(code|token|otp|one[- ]time|verification|2fa|factor|pin)\b/i.test(prompt.prompt)) {
    return false
  }
  return prompt.echo !== true || /pass/i.test(prompt.prompt)
}

type Method = 'publickey' | 'password' | 'keyboard-interactive'

/** One login to one host: the ssh2 auth handler, and what happened for the error message. */
export class Login {
  /** What the server said it accepts (its list after the first refusal). */
  private offered: readonly AuthenticationType[] | undefined
  private readonly tried: Method[] = []
  private readonly unanswered: string[] = []

  constructor(
    private readonly target: Target,
    private readonly credentials: Credentials
  ) {}

  /** ssh2's `authHandler`: returns the next method to try, or false when none is left. */
  readonly handler = (methodsLeft: AuthenticationType[] | null): AnyAuthMethod | false => {
    if (methodsLeft !== null) this.offered = methodsLeft
    const method = this.next()
    if (method === undefined) return false
    this.tried.push(method)
    const username = this.target.username
    const { privateKey, passphrase, password = '' } = this.credentials
    switch (method) {
      case 'publickey':
        return {
          type: method,
          username,
          key: privateKey ?? '',
          ...(passphrase === undefined ? {} : { passphrase })
        }
      case 'password':
        return { type: method, username, password }
      case 'keyboard-interactive':
        return {
          type: method,
          username,
          prompt: (_name, _instructions, _lang, prompts, finish): void => {
            finish(
              prompts.map(prompt => {
                if (asksForPassword(prompt)) return password
                this.unanswered.push(prompt.prompt.trim())
                return ''
              })
            )
          }
        }
    }
  }

  private offers(method: Method): boolean {
    return this.offered === undefined || this.offered.includes(method)
  }

  /**
   * The key first; then the password by the `password` method; by keyboard-interactive only
   * when the server does not take `password` (else a wrong password would be tried twice).
   */
  private next(): Method | undefined {
    const { privateKey, password } = this.credentials
    const untried = (method: Method): boolean => !this.tried.includes(method)
    if (privateKey !== undefined && untried('publickey') && this.offers('publickey')) {
      return 'publickey'
    }
    if (password === undefined) return undefined
    if (untried('password') && this.offers('password')) return 'password'
    if (
      untried('keyboard-interactive') &&
      this.offered?.includes('keyboard-interactive') === true &&
      !this.offered.includes('password')
    ) {
      return 'keyboard-interactive'
    }
    return undefined
  }

  /** Why the login failed and what to do, naming the inputs, the user and the host. */
  failure(): string {
    const { privateKey, passphrase, password } = this.credentials
    const user = this.target.username
    const where = `${user}@${describeTarget(this.target)}`
    const offered = this.offered?.filter(method => method !== 'none') ?? []
    const offers = offered.length > 0 ? offered.join(', ') : 'nothing we can use'
    const parts: string[] = []
    if (privateKey !== undefined) {
      if (this.tried.includes('publickey')) {
        const key = publicKeyInfo(privateKey, passphrase)
        parts.push(
          `${where} refused the login with the \`private-key\` (its ${key.type} key ${key.fingerprint}) for user ${user}. ` +
            `Its public key must be in ~${user}/.ssh/authorized_keys on ${this.target.host} (or where the server's AuthorizedKeysFile says): ` +
            `\`ssh-keygen -y -f KEYFILE\` prints the line to add, and \`ssh-keygen -lf ~/.ssh/authorized_keys\` run as ${user} on the server lists the fingerprints there. ` +
            `Check too that \`username\` is the account the key is authorised for.`
        )
      } else {
        parts.push(
          `${where} does not accept keys (it offers: ${offers}): the \`private-key\` was not tried. ` +
            (password === undefined
              ? `Give a \`password\`, or set \`PubkeyAuthentication yes\` for ${user} in the server's sshd_config.`
              : `Set \`PubkeyAuthentication yes\` for ${user} in the server's sshd_config to use it.`)
        )
      }
    }
    if (password !== undefined) {
      const kbd = this.tried.includes('keyboard-interactive')
      if (this.unanswered.length > 0) {
        parts.push(
          `${where} asked ${this.unanswered.map(text => `"${text}"`).join(', ')} (keyboard-interactive), which the \`password\` cannot answer (a one-time code or a second factor?). ` +
            `Log in with a \`private-key\` instead.`
        )
      } else if (
        this.tried.includes('password') &&
        !kbd &&
        this.offered?.includes('password') !== false
      ) {
        parts.push(
          `${where} refused the \`password\` for user ${user}. Check the \`password\` secret and that \`username\` is the account it belongs to.`
        )
      } else if (kbd) {
        parts.push(
          `${where} refused the \`password\` for user ${user} (asked by keyboard-interactive). Check the \`password\` secret and that \`username\` is the account it belongs to.`
        )
      } else {
        parts.push(
          `${where} does not accept passwords (it offers: ${offers}). Log in with a \`private-key\` whose public key is authorised for ${user}.`
        )
      }
    }
    return parts.join('\n')
  }
}
