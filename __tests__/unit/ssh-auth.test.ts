/** The login plan (which method next) and what a refused login says: pure, no server. */
import { describe, expect, it } from '@jest/globals'
import { generateKeyPairSync } from 'node:crypto'
import type { AnyAuthMethod, AuthenticationType, Prompt } from 'ssh2'
import { Login, publicKeyInfo, type Credentials } from '../../src/ssh/auth.js'
import { checkPrivateKey } from '../../src/ssh/keys.js'

const target = { host: 'web1.example.com', port: 22, username: 'deploy' }
const edKey = (() => {
  const pem = String(
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })
  )
  const checked = checkPrivateKey(pem, undefined)
  if (!checked.ok) throw new Error(checked.message)
  return checked.key
})()

const withKey: Credentials = { privateKey: edKey, passphrase: undefined, password: undefined }
const withPassword: Credentials = {
  privateKey: undefined,
  passphrase: undefined,
  password: 'hunter2'
}

/** The methods a Login picks when the server answers each attempt with `refusals` in turn. */
function plan(login: Login, refusals: AuthenticationType[][]): (string | false)[] {
  const picked: (string | false)[] = []
  let answer: AuthenticationType[] | null = null
  for (let i = 0; i <= refusals.length; i++) {
    const method: AnyAuthMethod | false = login.handler(answer)
    picked.push(method === false ? false : method.type)
    if (method === false) break
    answer = refusals[i] ?? null
  }
  return picked
}

function answers(login: Login, prompts: Prompt[], offered: AuthenticationType[]): string[] {
  login.handler(null)
  const method = login.handler(offered)
  if (method === false || method.type !== 'keyboard-interactive') throw new Error('no kbd')
  let given: string[] = []
  method.prompt('', '', '', prompts, (replies: string[]) => (given = replies))
  return given
}

describe('Login: which method next', () => {
  it('the key, then the password by `password` when both are given and offered', () => {
    const login = new Login(target, { ...withKey, password: 'hunter2' })
    expect(
      plan(login, [
        ['publickey', 'password'],
        ['publickey', 'password']
      ])
    ).toEqual(['publickey', 'password', false])
  })

  it('a password where the server takes only keyboard-interactive: answered there', () => {
    const login = new Login(target, withPassword)
    expect(
      plan(login, [
        ['publickey', 'keyboard-interactive'],
        ['publickey', 'keyboard-interactive']
      ])
    ).toEqual(['password', 'keyboard-interactive', false])
  })

  it('a wrong password is not tried twice when the server takes `password` too', () => {
    const login = new Login(target, withPassword)
    expect(plan(login, [['password', 'keyboard-interactive']])).toEqual(['password', false])
  })

  it('answers echo-off prompts with the password, never a one-time code prompt', () => {
    const login = new Login(target, withPassword)
    expect(
      answers(
        login,
        [
          { prompt: 'Password: ', echo: false },
          { prompt: 'Verification code: ', echo: false }
        ],
        ['keyboard-interactive']
      )
    ).toEqual(['hunter2', ''])
    expect(login.failure()).toContain('asked "Verification code:" (keyboard-interactive)')
  })
})

describe('Login: what a refusal says', () => {
  it('a refused key: its type, fingerprint, the user and where the public key must be', () => {
    const login = new Login(target, withKey)
    plan(login, [['publickey', 'password']])
    const { type, fingerprint } = publicKeyInfo(edKey, undefined)
    expect(type).toBe('ssh-ed25519')
    expect(login.failure()).toBe(
      `deploy@web1.example.com:22 refused the login with the \`private-key\` (its ssh-ed25519 key ${fingerprint}) for user deploy. ` +
        "Its public key must be in ~deploy/.ssh/authorized_keys on web1.example.com (or where the server's AuthorizedKeysFile says): " +
        '`ssh-keygen -y -f KEYFILE` prints the line to add, and `ssh-keygen -lf ~/.ssh/authorized_keys` run as deploy on the server lists the fingerprints there. ' +
        'Check too that `username` is the account the key is authorised for.'
    )
  })

  it('a refused password: the password for user@host, nothing about keys', () => {
    const login = new Login(target, withPassword)
    plan(login, [['publickey', 'password']])
    expect(login.failure()).toBe(
      'deploy@web1.example.com:22 refused the `password` for user deploy. Check the `password` secret and that `username` is the account it belongs to.'
    )
  })

  it('a password for a keys-only server: says it takes no passwords and asks for a key', () => {
    const login = new Login(target, withPassword)
    plan(login, [['publickey']])
    expect(login.failure()).toMatch(
      /^deploy@web1\.example\.com:22 does not accept passwords \(it offers: publickey\)\. Log in with a `private-key`/
    )
  })

  it('a key for a server that takes no keys: says so and what to do', () => {
    const login = new Login(target, withKey)
    // The key was offered first; pretend the server's list came before (no publickey in it).
    login.handler(['password'])
    expect(login.failure()).toContain(
      'deploy@web1.example.com:22 does not accept keys (it offers: password): the `private-key` was not tried. Give a `password`'
    )
  })
})
