/** Input parsing: every bad value gets an error naming the input; good values become Settings. */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { INPUTS } from '../../src/action-io.js'
import { InputError, readSettings } from '../../src/inputs.js'
import { clearSecrets, mask } from '../../src/mask.js'
import { inputEnv } from '../rig/runner.js'

const keyDir = mkdtempSync(path.join(os.tmpdir(), 'gd-keys-'))
function makeKey(name: string, passphrase = ''): string {
  const file = path.join(keyDir, name)
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', file])
  return readFileSync(file, 'utf8')
}
const plainKey = makeKey('plain')
const encryptedKey = makeKey('encrypted', 'correct horse')
const hostLine =
  '[127.0.0.1]:2222 ' +
  readFileSync(path.join(keyDir, 'plain.pub'), 'utf8').split(' ').slice(0, 2).join(' ')

function withInputs(inputs: Record<string, string>): void {
  for (const name of INPUTS) delete process.env[`INPUT_${name.toUpperCase()}`]
  Object.assign(process.env, inputEnv(inputs))
}

function problemsOf(inputs: Record<string, string>): string {
  withInputs(inputs)
  try {
    readSettings()
  } catch (error: unknown) {
    if (error instanceof InputError) return error.message
    throw error
  }
  throw new Error('expected an InputError')
}

const ship = {
  hosts: 'deploy@127.0.0.1:2222',
  'private-key': plainKey,
  'remote-path': '/srv/app',
  'known-hosts': hostLine
}

beforeEach(() => {
  process.env.GITHUB_WORKSPACE = os.tmpdir()
  clearSecrets()
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true) // ::add-mask:: lines
  return undefined
})
afterEach(() => {
  jest.restoreAllMocks()
})

describe('readSettings', () => {
  it('defaults to delivery mode, build and test only, without hosts', () => {
    withInputs({})
    const settings = readSettings()
    expect(settings.mode).toBe('delivery')
    expect(settings.ship).toBeUndefined()
    expect(settings.cache).toBeUndefined()
    expect(settings.workingDirectory).toBe(path.resolve(os.tmpdir()))
  })

  it('reads a full ship configuration', () => {
    withInputs({
      ...ship,
      mode: 'deployment',
      hosts: 'a.example.com, root@b.example.com:2200\n[::1]:22',
      username: 'web',
      exclude: '*.map\n# a comment\nnode_modules/',
      'shared-paths': 'storage/\n.env',
      'keep-releases': '3',
      'dry-run': 'true'
    })
    const s = readSettings()
    expect(s.mode).toBe('deployment')
    expect(s.ship?.hosts).toEqual([
      { host: 'a.example.com', port: 22, username: 'web' },
      { host: 'b.example.com', port: 2200, username: 'root' },
      { host: '::1', port: 22, username: 'web' }
    ])
    expect(s.ship?.exclude).toEqual(['*.map', 'node_modules/'])
    expect(s.ship?.sharedPaths).toEqual(['storage', '.env'])
    expect(s.ship?.keepReleases).toBe(3)
    expect(s.ship?.dryRun).toBe(true)
    expect(s.ship?.hostKeys).toHaveLength(1)
  })

  it('adds the trailing newline a pasted key lost', () => {
    withInputs({ ...ship, 'private-key': plainKey.trim() })
    expect(readSettings().ship?.credentials.privateKey?.endsWith('-----\n')).toBe(true)
  })

  it.each([
    [{ mode: 'yolo' }, '`mode`: expected "delivery" or "deployment", got "yolo"'],
    [{ 'working-directory': 'does/not/exist' }, '`working-directory`:'],
    [{ ...ship, port: '22x' }, '`port`: expected a whole number from 1 to 65535, got "22x"'],
    [{ ...ship, port: '70000' }, '`port`: expected a whole number from 1 to 65535'],
    [{ ...ship, hosts: 'bad host!' }, '`hosts`: "bad host!"'],
    [{ ...ship, hosts: 'example.com' }, '`hosts`: "example.com": no user name'],
    [{ ...ship, hosts: 'u@example.com:0' }, '`hosts`: "u@example.com:0": the port must be'],
    [{ ...ship, 'jump-host': 'u@bastion:abc' }, '`jump-host`:'],
    [{ ...ship, 'remote-path': '' }, '`remote-path`: required'],
    [
      { ...ship, 'remote-path': '/srv/../etc' },
      '`remote-path`: "/srv/../etc" must not contain ".."'
    ],
    [{ ...ship, 'remote-path': '/srv/app\nrm -rf /' }, '`remote-path`: must be one line'],
    [{ ...ship, 'remote-path': '/' }, '`remote-path`: "/" would deploy into the root'],
    [{ ...ship, 'shared-paths': '../etc' }, '`shared-paths`: "../etc": must not contain ".."'],
    [{ ...ship, 'shared-paths': '/etc' }, '`shared-paths`: "/etc": must be relative'],
    [{ ...ship, 'private-key': '', password: '' }, '`private-key`: give a private key'],
    [{ ...ship, 'private-key': 'hello' }, '`private-key`: does not look like a private key'],
    [{ ...ship, 'private-key': 'ssh-ed25519 AAAAC3Nza' }, '`private-key`: this is a public key'],
    [
      { ...ship, 'private-key': plainKey.slice(0, 120) + '\n-----END OPENSSH PRIVATE KEY-----\n' },
      '`private-key`: cannot be read'
    ],
    [{ ...ship, 'private-key': encryptedKey }, '`passphrase`: the private key is encrypted'],
    [
      { ...ship, 'private-key': encryptedKey, passphrase: 'wrong' },
      '`passphrase`: does not decrypt'
    ],
    [{ ...ship, 'known-hosts': 'not a key line' }, '`known-hosts`: line 1 is neither'],
    [{ ...ship, 'keep-releases': '1' }, '`keep-releases`: expected a whole number from 2 to 1000'],
    [{ ...ship, 'keep-releases': '-3' }, '`keep-releases`:'],
    [{ ...ship, 'ssh-timeout': '1.5' }, '`ssh-timeout`:'],
    [{ ...ship, 'dry-run': 'yes' }, '`dry-run`: expected true or false, got "yes"'],
    [
      { ...ship, 'insecure-skip-host-key-check': 'ture' },
      '`insecure-skip-host-key-check`: expected true or false'
    ]
  ])('refuses %j', (inputs, expected) => {
    expect(problemsOf(inputs)).toContain(expected)
  })

  it('accepts an encrypted key with its passphrase', () => {
    withInputs({ ...ship, 'private-key': encryptedKey, passphrase: 'correct horse' })
    expect(readSettings().ship?.credentials.passphrase).toBe('correct horse')
  })

  it('lists every problem at once', () => {
    const message = problemsOf({ mode: 'x', ...ship, port: 'y', 'dry-run': 'maybe' })
    expect(message).toMatch(/^Invalid inputs; nothing was run\./)
    expect(message).toContain('`mode`')
    expect(message).toContain('`port`')
    expect(message).toContain('`dry-run`')
  })

  it('masks credentials', () => {
    const writes: string[] = []
    jest
      .spyOn(process.stdout, 'write')
      .mockImplementation(chunk => (writes.push(String(chunk)), true))
    withInputs({ ...ship, password: 'hunter2-password', 'github-token': 'ghs_abcdefghijklmnop' })
    readSettings()
    expect(writes).toContain('::add-mask::hunter2-password' + os.EOL)
    expect(writes).toContain('::add-mask::ghs_abcdefghijklmnop' + os.EOL)
    expect(writes.some(w => w.startsWith('::add-mask::-----BEGIN OPENSSH PRIVATE KEY-----'))).toBe(
      true
    )
    expect(mask(`hunter2-password ghs_abcdefghijklmnop\n${plainKey}`)).toBe('*** ***\n***\n')
  })

  it('registers credentials for masking even when nothing ships', () => {
    withInputs({ password: 'hunter2-password', passphrase: 'open sesame' })
    expect(readSettings().ship).toBeUndefined()
    expect(mask('hunter2-password / open sesame')).toBe('*** / ***')
  })

  it('names every bad input even when hosts cannot be parsed', () => {
    const message = problemsOf({
      hosts: 'bad host!',
      'private-key': 'not a key',
      'remote-path': '',
      'known-hosts': 'garbage',
      exclude: '*.{map,ts}',
      'shared-paths': '../up',
      'keep-releases': '1',
      promote: 'zz'
    })
    for (const input of [
      'hosts',
      'private-key',
      'remote-path',
      'known-hosts',
      'exclude',
      'shared-paths',
      'keep-releases',
      'promote'
    ]) {
      expect(message).toContain(`\`${input}\``)
    }
    expect(message).not.toContain('needs `hosts`') // hosts were given, only unparsable
  })

  it('refuses an exclude pattern git would not read as meant, naming `exclude`', () => {
    const message = problemsOf({ ...ship, exclude: 'node_modules/\n*.{map,ts}\nsrc/[ab' })
    expect(message).toContain('`exclude`: "*.{map,ts}" uses {a,b} alternatives')
    expect(message).toContain('`exclude`: "src/[ab" opens a character class')
    expect(message).not.toContain('node_modules/')
  })

  it('keeps exclude patterns as gitignore reads them', () => {
    withInputs({ ...ship, exclude: '*.map\n!keep.map\n  # comment\n\\#literal\n/dist/' })
    expect(readSettings().ship?.exclude).toEqual(['*.map', '!keep.map', '\\#literal', '/dist/'])
  })

  it('normalises shared-paths entries', () => {
    withInputs({ ...ship, 'shared-paths': 'uploads/.\nstorage/\n./logs\nvar//cache\nuploads' })
    expect(readSettings().ship?.sharedPaths).toEqual(['uploads', 'storage', 'logs', 'var/cache'])
  })

  it.each([
    ['/srv/data', 'must be relative'],
    ['a/../../etc', 'must not contain ".."'],
    ['./.', 'must name a path inside the release'],
    ['/', 'must be relative']
  ])('refuses the shared path %j by name', (entry, why) => {
    expect(problemsOf({ ...ship, 'shared-paths': entry })).toContain(
      `\`shared-paths\`: "${entry}": ${why}`
    )
  })

  it('refuses a shared path inside another one', () => {
    expect(problemsOf({ ...ship, 'shared-paths': 'storage\nstorage/logs/' })).toContain(
      '`shared-paths`: "storage/logs" is inside "storage"'
    )
  })

  it('says which login comes first when both a key and a password are given', () => {
    const writes: string[] = []
    jest
      .spyOn(process.stdout, 'write')
      .mockImplementation(chunk => (writes.push(String(chunk)), true))
    withInputs({ ...ship, password: 'hunter2-password' })
    const credentials = readSettings().ship?.credentials
    expect(credentials?.password).toBe('hunter2-password')
    expect(credentials?.privateKey).toBe(plainKey)
    expect(writes.join('')).toMatch(
      /::notice::Both `private-key` and `password` are given: each host is offered the key first/
    )
  })

  it('reads an unexpanded ${{ github.token }} as no token, with a notice', () => {
    const writes: string[] = []
    jest
      .spyOn(process.stdout, 'write')
      .mockImplementation(chunk => (writes.push(String(chunk)), true))
    withInputs({ 'github-token': '${{ github.token }}' })
    expect(readSettings().githubToken).toBe('')
    expect(writes.join('')).toContain(
      '::notice::`github-token` is the unexpanded expression ${{ github.token }}: running without a token'
    )
    expect(writes.join('')).not.toContain('::add-mask::${{')
  })

  it('keeps a real token as it is', () => {
    withInputs({ 'github-token': 'ghs_${{not-an-expression' })
    expect(readSettings().githubToken).toBe('ghs_${{not-an-expression')
  })
})
