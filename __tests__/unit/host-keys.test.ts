/** Host key pinning: the decisions that keep a deploy from talking to the wrong server. */
import { describe, expect, it } from '@jest/globals'
import { createHmac, randomBytes } from 'node:crypto'
import {
  fingerprintOf,
  parseHostKeyPins,
  hostKeyAlgorithms,
  noPinnedKeyMessage,
  verifyHostKey
} from '../../src/ssh/host-keys.js'

/** A syntactically valid ssh-ed25519 public key blob. */
function ed25519Key(): Buffer {
  const type = Buffer.from('ssh-ed25519')
  const body = randomBytes(32)
  const out = Buffer.alloc(4 + type.length + 4 + body.length)
  out.writeUInt32BE(type.length, 0)
  type.copy(out, 4)
  out.writeUInt32BE(body.length, 4 + type.length)
  body.copy(out, 8 + type.length)
  return out
}

function hashedName(name: string): string {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

const key = ed25519Key()
const other = ed25519Key()
const line = (hosts: string, k = key): string => `${hosts} ssh-ed25519 ${k.toString('base64')}`
const target = { host: 'web1.example.com', port: 22 }

describe('verifyHostKey', () => {
  it.each([
    ['a plain name', line('web1.example.com')],
    ['one of a comma list', line('db.example.com,web1.example.com,10.0.0.5')],
    ['a wildcard', line('*.example.com')],
    ['a hashed name', line(hashedName('web1.example.com'))],
    ['a bare key (any host)', `ssh-ed25519 ${key.toString('base64')}`],
    ['a SHA256 fingerprint', fingerprintOf(key)]
  ])('accepts the key pinned by %s', (_name, text) => {
    const { pins, problems } = parseHostKeyPins(text)
    expect(problems).toEqual([])
    expect(verifyHostKey(pins, target, key)).toEqual({ ok: true })
  })

  it('uses [host]:port off port 22 and does not confuse ports', () => {
    const { pins } = parseHostKeyPins(line('[web1.example.com]:2222'))
    expect(verifyHostKey(pins, { host: 'web1.example.com', port: 2222 }, key).ok).toBe(true)
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'unknown' })
  })

  it('calls a different key for a pinned host a change, naming the new fingerprint and the line to pin', () => {
    const { pins } = parseHostKeyPins(line('web1.example.com', other))
    const verdict = verifyHostKey(pins, target, key)
    expect(verdict).toMatchObject({ ok: false, reason: 'changed' })
    expect(verdict.ok ? '' : verdict.message).toContain(fingerprintOf(key))
    expect(verdict.ok ? '' : verdict.message).toContain(line('web1.example.com'))
    expect(verdict.ok ? '' : verdict.message).toContain('which does not match the keys pinned')
  })

  it('refuses a key marked @revoked even when another line pins it', () => {
    const { pins } = parseHostKeyPins(`${line('web1.example.com')}\n@revoked ${line('*')}`)
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'revoked' })
  })

  it('honours a negated pattern', () => {
    const { pins } = parseHostKeyPins(line('*.example.com,!web1.example.com'))
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'unknown' })
  })

  it('reports lines it cannot read, by number', () => {
    const { problems } = parseHostKeyPins(
      `# comment\n\n${line('a')}\nnot a key\nhost ssh-ed25519 !!!`
    )
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^line 4 /)
    expect(problems[1]).toMatch(/^line 5 /)
  })
})

/** A syntactically valid public key blob of any type (the body is random). */
function keyOfType(type: string): Buffer {
  return Buffer.concat([Buffer.from([0, 0, 0, type.length]), Buffer.from(type), randomBytes(40)])
}

const ALL_DEFAULT = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa'
]

describe('hostKeyAlgorithms', () => {
  it('asks first for the pinned key types (with the RSA signature variants), then for the others', () => {
    const rsa = `web1.example.com ssh-rsa ${keyOfType('ssh-rsa').toString('base64')}`
    const { pins } = parseHostKeyPins(`${rsa}\n${line('web1.example.com')}`)
    expect(hostKeyAlgorithms(pins, target)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521'
    ])
  })

  it("offers every type in ssh2's order when only fingerprints are pinned", () => {
    expect(hostKeyAlgorithms(parseHostKeyPins(fingerprintOf(key)).pins, target)).toEqual(
      ALL_DEFAULT
    )
  })

  it('leaves out the types the server already presented, and runs out when all were', () => {
    const { pins } = parseHostKeyPins(fingerprintOf(key))
    expect(hostKeyAlgorithms(pins, target, ['ssh-ed25519', 'ssh-rsa'])).toEqual([
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521'
    ])
    const allTypes = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384']
    expect(
      hostKeyAlgorithms(pins, target, [...allTypes, 'ecdsa-sha2-nistp521', 'ssh-rsa'])
    ).toEqual([])
  })

  it('ignores lines pinned for other hosts', () => {
    const rsa = `db.example.com ssh-rsa ${keyOfType('ssh-rsa').toString('base64')}`
    expect(hostKeyAlgorithms(parseHostKeyPins(rsa).pins, target)).toEqual(ALL_DEFAULT)
  })
})

describe('a pin of one key type while the server presents another', () => {
  const ecdsa = keyOfType('ecdsa-sha2-nistp256')

  it('is not a change when only a fingerprint (of unknown type) is pinned: ask for another type', () => {
    const { pins } = parseHostKeyPins(fingerprintOf(ecdsa))
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'other-type' })
    expect(verifyHostKey(pins, target, ecdsa)).toEqual({ ok: true })
  })

  it('is not a change when the full line pinned is of another type', () => {
    const { pins } = parseHostKeyPins(
      `web1.example.com ecdsa-sha2-nistp256 ${ecdsa.toString('base64')}`
    )
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'other-type' })
  })

  it('is a change when a full line of the presented type pins another key, fingerprints or not', () => {
    const { pins } = parseHostKeyPins(`${line('web1.example.com', other)}\n${fingerprintOf(ecdsa)}`)
    expect(verifyHostKey(pins, target, key)).toMatchObject({ ok: false, reason: 'changed' })
  })

  it('ends, when every type was presented in vain, in a CHANGED alarm listing each key and its line', () => {
    const message = noPinnedKeyMessage(target, [key, ecdsa])
    expect(message).toContain('has CHANGED')
    expect(message).toContain(
      `ssh-ed25519 ${fingerprintOf(key)}, ecdsa-sha2-nistp256 ${fingerprintOf(ecdsa)}`
    )
    expect(message).toContain(line('web1.example.com'))
    expect(message).toContain(`web1.example.com ecdsa-sha2-nistp256 ${ecdsa.toString('base64')}`)
  })
})
