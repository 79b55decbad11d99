/** The script runner streams with backpressure and keeps only a tail. */
import { describe, expect, it } from '@jest/globals'
import os from 'node:os'
import { Writable } from 'node:stream'
import { runScript, scriptEnv, Tail } from '../../src/build/script.js'

function collect(): { sink: Writable; text: () => string } {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk)
      done()
    }
  })
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') }
}

const ACTION_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: os.tmpdir(),
  CI: 'true',
  GITHUB_SHA: 'abc123',
  GITHUB_OUTPUT: '/runner/_temp/_runner_file_commands/set_output_1',
  GITHUB_STATE: '/runner/_temp/_runner_file_commands/save_state_1',
  GITHUB_STEP_SUMMARY: '/runner/_temp/_runner_file_commands/step_summary_1',
  'INPUT_PRIVATE-KEY': 'KEY-VALUE-1',
  INPUT_PASSPHRASE: 'PASSPHRASE-VALUE-2',
  INPUT_PASSWORD: 'PASSWORD-VALUE-3',
  'INPUT_GITHUB-TOKEN': 'TOKEN-VALUE-4',
  INPUT_BUILD: 'npm run build',
  ACTIONS_RUNTIME_URL: 'https://pipelines.example/RUNTIME-URL-5',
  ACTIONS_RUNTIME_TOKEN: 'RUNTIME-TOKEN-6',
  ACTIONS_CACHE_URL: 'https://cache.example/CACHE-URL-7',
  ACTIONS_CACHE_SERVICE_V2: 'True',
  ACTIONS_RESULTS_URL: 'https://results.example/RESULTS-URL-8',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.example/ID-URL-9',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'ID-TOKEN-10',
  ACTIONS_STEP_DEBUG: 'false'
}

describe('runScript', () => {
  it('streams 300 MB of output through a slow sink without holding it in memory', async () => {
    let received = 0
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length
        setImmediate(done) // a consumer slower than the producer
      }
    })
    const before = process.memoryUsage().rss
    let peak = before
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
    const result = await runScript({
      script: 'head -c 300000000 /dev/zero | tr "\\0" "x"; echo; echo last-line',
      cwd: os.tmpdir(),
      output: sink
    })
    clearInterval(timer)
    expect(result.exitCode).toBe(0)
    expect(received).toBeGreaterThan(300_000_000)
    expect(result.tail.endsWith('last-line')).toBe(true)
    expect(peak - before).toBeLessThan(100 * 1024 * 1024)
  })

  it('reports the exit code of the failing command', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() })
    const result = await runScript({
      script: 'echo one\nexit 42\necho never',
      cwd: os.tmpdir(),
      output: sink
    })
    expect(result.exitCode).toBe(42)
    expect(result.tail).toBe('one')
  })
})

describe('the environment of a build or test script', () => {
  it('is what a run: step gets: no inputs, no runner tokens, outputs of its own', async () => {
    const { sink, text } = collect()
    const result = await runScript({
      script: 'env; echo "out=spoofed" >> "$GITHUB_OUTPUT"',
      cwd: os.tmpdir(),
      output: sink,
      env: ACTION_ENV
    })
    expect(result.exitCode).toBe(0)
    const dumped = text()
    for (const value of ['VALUE-1', 'VALUE-2', 'VALUE-3', 'VALUE-4', 'npm run build']) {
      expect(dumped).not.toContain(value)
    }
    for (const value of ['URL-5', 'TOKEN-6', 'URL-7', 'URL-8', 'URL-9', 'TOKEN-10']) {
      expect(dumped).not.toContain(value)
    }
    expect(dumped).not.toMatch(
      /^(INPUT_|ACTIONS_RUNTIME|ACTIONS_CACHE|ACTIONS_RESULTS|ACTIONS_ID_TOKEN)/m
    )
    expect(dumped).toMatch(/^GITHUB_SHA=abc123$/m)
    expect(dumped).toMatch(/^CI=true$/m)
    expect(dumped).toMatch(/^ACTIONS_STEP_DEBUG=false$/m)
    expect(dumped).toContain(`GITHUB_STEP_SUMMARY=${ACTION_ENV.GITHUB_STEP_SUMMARY}`)
    expect(dumped).not.toContain(`GITHUB_OUTPUT=${ACTION_ENV.GITHUB_OUTPUT}`)
    expect(dumped).not.toContain(`GITHUB_STATE=${ACTION_ENV.GITHUB_STATE}`)
  })

  it('drops inputs and runner tokens whatever their case, and keeps everything else', () => {
    const env = scriptEnv(
      { input_password: 'x', Actions_Runtime_Token: 'y', LANG: 'C.UTF-8' },
      '/s'
    )
    expect(env).toEqual({ LANG: 'C.UTF-8' })
  })
})

describe('Tail', () => {
  it('keeps the last lines only', () => {
    const tail = new Tail(3)
    for (let i = 1; i <= 10; i++) tail.push(Buffer.from(`line ${i}\n`))
    expect(tail.toString()).toBe('line 8\nline 9\nline 10')
  })

  it('masks the kept text before cutting it into lines', () => {
    const tail = new Tail(3)
    tail.push(Buffer.from('token is sec'))
    tail.push(Buffer.from('ret-value\ndone\n'))
    expect(tail.toString(text => text.split('secret-value').join('***'))).toBe('token is ***\ndone')
  })

  it('drops a first line cut by truncation, so a cut secret never shows in part', () => {
    const tail = new Tail(30, 64)
    tail.push(Buffer.from('SECRETSECRETSECRET-' + 'x'.repeat(100) + '\nlast line\n'))
    expect(tail.toString()).toBe('last line')
  })

  it('does not split a multi-byte character across chunks', () => {
    const tail = new Tail()
    const bytes = Buffer.from('héllo\n')
    tail.push(bytes.subarray(0, 2))
    tail.push(bytes.subarray(2))
    expect(tail.toString()).toBe('héllo')
  })
})
