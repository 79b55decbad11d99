/**
 * How runProgram sends a program: its text in the command to OpenSSH (no round trip waiting
 * for the exec's reply before the text can go), ahead of stdin elsewhere (Dropbear refuses
 * commands over 9,000 bytes). A recording session stands in for SSH: the choice is pure logic.
 */
import { describe, expect, it } from '@jest/globals'
import { program, runProgram } from '../../src/deploy/program.js'
import type { ExecOptions, ExecResult, SshSession } from '../../src/ssh/session.js'

const PROGRAM = program('probe', 'echo hello\ndone_ok')

function recorder(software: string | undefined): {
  session: SshSession
  calls: { command: string; options: ExecOptions | undefined }[]
} {
  const calls: { command: string; options: ExecOptions | undefined }[] = []
  const session: SshSession = {
    target: { host: '127.0.0.1', port: 22, username: 'deploy' },
    software,
    exec(command: string, options?: ExecOptions): Promise<ExecResult> {
      calls.push({ command, options })
      return Promise.resolve({
        code: 0,
        stdout: Buffer.from('\nGD-BEGIN\nhello\n\nGD-END\n'),
        stderr: ''
      })
    },
    close: () => undefined
  }
  return { session, calls }
}

describe('runProgram', () => {
  it('puts the text in the command for OpenSSH and sends only the input on stdin', async () => {
    const { session, calls } = recorder('OpenSSH_9.2p1')
    const result = await runProgram(session, PROGRAM, ['an arg'], { stdin: 'input' })
    expect(result.output.toString()).toBe('hello\n')
    expect(calls).toHaveLength(1)
    expect(calls[0]?.command).toContain('echo hello')
    expect(calls[0]?.command).toMatch(/ gated-deploy 'an arg'$/)
    expect(calls[0]?.options?.stdinPrefix).toBeUndefined()
    expect(calls[0]?.options?.stdin).toBe('input')
  })

  it.each([['dropbear_2022.83'], [undefined]])(
    'sends the text ahead of stdin, behind a short command, to %s',
    async software => {
      const { session, calls } = recorder(software)
      await runProgram(session, PROGRAM, ['an arg'], { stdin: 'input' })
      expect(calls[0]?.command).not.toContain('echo hello')
      expect(calls[0]?.command.length).toBeLessThan(200)
      expect(calls[0]?.options?.stdinPrefix?.toString()).toBe(PROGRAM.text)
      expect(calls[0]?.options?.stdin).toBe('input')
    }
  )
})
