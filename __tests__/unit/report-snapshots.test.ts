/**
 * The PR comment of every kind of run, from fixed models: a change to what a reader sees shows
 * here as a snapshot diff to review. What the snapshots must hold is asserted next to them.
 */
import { describe, expect, it } from '@jest/globals'
import { renderReport } from '../../src/report/render.js'
import { KINDS, NOW } from './report-fixtures.js'

const render = (name: keyof typeof KINDS): string => renderReport(KINDS[name], { now: NOW })
/** The headline, without the marker line. */
const headline = (name: keyof typeof KINDS): string => render(name).split('\n')[1] ?? ''

describe('the report of each kind of run', () => {
  it.each(Object.keys(KINDS) as (keyof typeof KINDS)[])('renders %s', name => {
    expect(render(name)).toMatchSnapshot()
  })

  it('says in one headline what happened, to which release and hosts, and how long it took', () => {
    expect(headline('deployed')).toBe(
      '### 🚀 Deployed <code>20240630120000-3f786850e387</code> to <code>production</code> on 2 hosts in 1 min 6 s'
    )
    const oneHost = { ...KINDS.deployed, hosts: KINDS.deployed.hosts.slice(0, 1) }
    expect(renderReport(oneHost, { now: NOW }).split('\n')[1]).toContain(
      'to <code>production</code> on <code>web-1.example.com</code> in 1 min 6 s'
    )
    expect(headline('promoted')).toMatch(
      /^### 🚀 Promoted <code>20240630120000-3f786850e387<\/code> to/
    )
    expect(headline('staged')).toMatch(/^### 📦 Staged .* in 1 min 4 s, awaiting approval$/)
    expect(headline('rolled back')).toMatch(
      /^### ⏪ Rolled back <code>production<\/code> to <code>20240629094500-89e6c98d9288<\/code>/
    )
    expect(headline('build failed')).toBe('### ❌ Build failed after 8.2 s')
    expect(headline('test failed (JUnit)')).toBe('### ❌ Tests failed: 3 of 120 after 1 min 13 s')
    expect(headline('after-activate failed, hosts switched back')).toMatch(
      /failed at activate after 1 min 8 s; 2 hosts switched back$/
    )
    expect(headline('host key refused')).toBe(
      '### ❌ Deploy to <code>production</code> failed at connect after 58.5 s'
    )
    expect(headline('denied')).toBe(
      '### 🚫 Refused: mallory is not one of the <code>approvers</code> (alice, @&#8203;octo-org/deployers)'
    )
    expect(headline('dry run')).toMatch(
      /^### 🧪 Dry run for <code>production<\/code> .*: nothing changed$/
    )
    expect(headline('tested')).toBe('### ✅ Tested <code>3f786850e387</code> in 57.9 s')
  })

  it('puts the environment link and the next step right under the headline', () => {
    const line = (name: keyof typeof KINDS): string => render(name).split('\n')[2] ?? ''

    expect(line('deployed')).toBe(
      '🔗 [app.example.com](https://app.example.com/) · **Undo:** comment <code>/rollback</code> on the pull request to go back to <code>20240629094500-89e6c98d9288</code>'
    )
    expect(line('staged')).toBe(
      '**Next:** comment <code>/deploy</code> on the pull request to put it live'
    )
    // No pull request to comment on: the workflow's own inputs.
    expect(line('staged without a pull request')).toBe(
      '**Next:** run the workflow with <code>promote: 20240630120000-3f786850e387</code> to put it live'
    )
    expect(
      renderReport({ ...KINDS.deployed, pullRequest: 'none' }, { now: NOW }).split('\n')[2]
    ).toContain('**Undo:** run the workflow with <code>rollback: true</code> to go back to')
  })

  it('links the environment only where it now serves this build', () => {
    for (const name of ['staged', 'dry run', 'tested', 'build failed', 'denied'] as const) {
      expect(render(name)).not.toContain('app.example.com')
    }
    expect(render('rolled back')).toContain('🔗 [app.example.com](https://app.example.com/)')
  })

  it('shows the failure, never the plan it interrupted', () => {
    for (const name of ['build failed', 'test failed (JUnit)', 'host key refused'] as const) {
      expect(render(name)).not.toContain('delivery mode')
      expect(render(name)).not.toContain('**Decision:**')
    }
    expect(render('build failed').split('\n')[2]).toBe('build failed with exit code 2.')
  })

  it('shows a failed hook’s output and what became of each host', () => {
    const text = render('after-activate failed, hosts switched back')

    expect(text).toContain(
      '<details open>\n<summary>📄 The error in full (4 lines)</summary>\n\n```text\n'
    )
    expect(text).toContain('Job for octo-app.service failed because the control process exited')
    expect(text).toContain('| Host | Release | Previous | Status | Batch |\n')
    expect(text).toMatch(/\| <code>web-3\.example\.com<\/code> \|[^\n]*\| not-switched \| — \|/)
  })

  it('leaves out what says nothing: zero transfers, empty details, a dangling output line', () => {
    expect(render('promoted')).not.toMatch(/\b0 files\b/)
    expect(render('promoted')).toContain('| Host | Release | Time |')
    const silent = render('test failed without output')
    expect(silent).not.toContain('Last lines')
    expect(silent).not.toContain('The error in full')
    expect(silent).not.toMatch(/\| 0 ms \|/)
    expect(render('build failed')).toContain('| Stage | Status | Duration | Detail |')
    expect(
      renderReport(
        {
          ...KINDS.tested,
          stages: [{ name: 'build', status: 'success', durationMs: 0, detail: '' }]
        },
        { now: NOW }
      )
    ).toContain('| Stage | Status | Duration |\n| --- | --- | --- |\n| build | ✅ success |  |')
  })

  it('ends with the commit, the run log and when the comment was last updated', () => {
    expect(render('deployed').trimEnd().split('\n').at(-1)).toBe(
      '<sub>Commit [<code>3f786850e387</code>](https://github.com/octo-org/octo-app/commit/3f786850e387550fdab836ed7e6dc881de23001b) · [Run log](https://github.com/octo-org/octo-app/actions/runs/9876543210) · Updated 2024-06-30 12:01 UTC</sub>'
    )
  })
})
