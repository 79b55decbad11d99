/** The one masking function: every registered credential, and every line of a key, becomes ***. */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clearSecrets, mask, registerSecrets } from '../../src/mask.js'

const keyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'gd-mask-')), 'id')
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile])
const privateKey = readFileSync(keyFile, 'utf8')
const keyLines = privateKey.split('\n').filter(line => line.length >= 8)

let writes: string[] = []
beforeEach(() => {
  writes = []
  jest
    .spyOn(process.stdout, 'write')
    .mockImplementation(chunk => (writes.push(String(chunk)), true))
  clearSecrets()
})
afterEach(() => {
  jest.restoreAllMocks()
})

describe('mask', () => {
  it('replaces token, password and passphrase wherever they occur', () => {
    registerSecrets(['ghs_0123456789abcdef', 'hunter2!', 'correct horse', undefined, ''])
    expect(
      mask('token=ghs_0123456789abcdef pw:hunter2! pass "correct horse" and again hunter2!')
    ).toBe('token=*** pw:*** pass "***" and again ***')
  })

  it('replaces the whole private key and each of its lines on their own', () => {
    registerSecrets([privateKey])
    expect(keyLines.length).toBeGreaterThan(3)
    expect(mask(`key:\n${privateKey}end`)).toBe('key:\n***end')
    // Printed with CRLF, indented, or only a middle line of it.
    const reformatted = privateKey
      .split('\n')
      .map(line => `    ${line}`)
      .join('\r\n')
    const masked = mask(reformatted)
    for (const line of keyLines) expect(masked).not.toContain(line)
    expect(mask(`line: ${keyLines[2] ?? ''}!`)).toBe('line: ***!')
  })

  it('catches a secret inside a JSON string', () => {
    registerSecrets(['pa"ss\\word', privateKey])
    const json = JSON.stringify({ password: 'pa"ss\\word', key: privateKey })
    const masked = mask(json)
    expect(masked).not.toContain('pa\\"ss\\\\word')
    for (const line of keyLines) expect(masked).not.toContain(line)
    expect(masked).toBe('{"password":"***","key":"***"}')
  })

  it('masks the longer of two overlapping secrets whole', () => {
    registerSecrets(['abcdefgh', 'abcdefgh-and-more'])
    expect(mask('x abcdefgh-and-more y abcdefgh')).toBe('x *** y ***')
  })

  it('leaves text without secrets alone, and masks nothing before registration', () => {
    expect(mask('ghs_0123456789abcdef')).toBe('ghs_0123456789abcdef')
    registerSecrets(['ghs_0123456789abcdef'])
    expect(mask('nothing secret here')).toBe('nothing secret here')
  })

  it('registers each value with the runner log masking too', () => {
    registerSecrets(['hunter2-password', privateKey])
    expect(writes).toContain('::add-mask::hunter2-password' + os.EOL)
    expect(writes).toContain(`::add-mask::${keyLines[1] ?? ''}` + os.EOL)
  })
})
