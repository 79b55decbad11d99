/**
 * One fixed RunReport for every kind of report the action writes, as the orchestrator builds
 * them. Used by the snapshot and GFM tests and by scripts/report-png.ts (the README's picture).
 */
import type { DoraMetrics, HostRelease, RunReport } from '../../src/report/model.js'
import type { StageRecord } from '../../src/stage-log.js'

export const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'
export const RELEASE = '20240630120000-3f786850e387'
export const PREVIOUS = '20240629094500-89e6c98d9288'
/** The time every fixture is rendered at. */
export const NOW = new Date('2024-06-30T12:01:30Z')

const ok = (name: string, durationMs: number, detail = ''): StageRecord => ({
  name,
  status: 'success',
  durationMs,
  detail
})

const BUILD_TEST: readonly StageRecord[] = [
  ok('build', 12_300),
  ok('test', 45_600, '118 passed, 2 skipped')
]

const STAGING: readonly StageRecord[] = [
  ...BUILD_TEST,
  ok('connect', 1_400, '2 hosts'),
  ok('lock', 300),
  ok('package', 850, '300 files, 58.2 MiB'),
  ok('stage', 3_200, `${RELEASE} on 2 hosts, 1.2 MiB sent`)
]

export const DORA: DoraMetrics = {
  windowDays: 20,
  deployments: 6,
  deploymentsPerWeek: 2.0913,
  leadTimeMs: 6_000_000,
  leadTimeSamples: 6,
  changeFailureRate: 0.375,
  failedChanges: 3,
  finishedChanges: 8,
  timeToRestoreMs: 7_200_000,
  restoreSamples: 3
}

const WEB_1: HostRelease = {
  host: 'web-1.example.com',
  release: RELEASE,
  previousRelease: PREVIOUS,
  filesSent: 12,
  bytesSent: 617_284,
  filesReused: 288,
  timings: { stage: 3.1, activate: 0.4, health: 1.2 }
}
const WEB_2: HostRelease = {
  host: 'web-2.example.com:2222',
  release: RELEASE,
  previousRelease: PREVIOUS,
  filesSent: 12,
  bytesSent: 617_283,
  filesReused: 288,
  timings: { stage: 3.2, activate: 0.4, health: 1.3 }
}
const TWO_HOSTS: readonly HostRelease[] = [WEB_1, WEB_2]

const BASE: RunReport = {
  status: 'tested',
  decision: undefined,
  reason: undefined,
  environment: 'production',
  sha: SHA,
  runUrl: 'https://github.com/octo-org/octo-app/actions/runs/9876543210',
  repository: 'octo-org/octo-app',
  stages: BUILD_TEST,
  tests: { total: 120, passed: 118, failed: 0, skipped: 2, failures: [] },
  transfer: undefined,
  hosts: [],
  release: undefined,
  previousRelease: undefined,
  environmentUrl: 'https://app.example.com',
  next: undefined,
  approvalCommand: '/deploy',
  rollbackCommand: '/rollback',
  dora: undefined,
  error: undefined
}

export const DEPLOYED: RunReport = {
  ...BASE,
  status: 'deployed',
  decision: 'deploy',
  reason: 'deployment mode: build, test and deploy',
  stages: [...STAGING, ok('activate', 2_100, `current → ${RELEASE} on 2 hosts`)],
  transfer: { filesSent: 24, bytesSent: 1_234_567, filesReused: 576 },
  hosts: TWO_HOSTS,
  release: RELEASE,
  previousRelease: PREVIOUS,
  next: 'rollback',
  pullRequest: 42,
  dora: DORA
}

/** A release staged earlier, put live by a `/deploy` comment: nothing is sent. */
export const PROMOTED: RunReport = {
  ...DEPLOYED,
  decision: 'promote',
  reason: 'alice commented /deploy on #42',
  stages: [ok('connect', 1_100, '2 hosts'), ok('lock', 250), ok('activate', 2_000)],
  tests: undefined,
  transfer: { filesSent: 0, bytesSent: 0, filesReused: 0 },
  hosts: TWO_HOSTS.map(h => ({
    host: h.host,
    release: h.release,
    previousRelease: h.previousRelease,
    filesSent: 0,
    bytesSent: 0,
    filesReused: 0,
    timings: { activate: 0.4, health: 1.2 }
  })),
  dora: { insufficient: '1 finished deployment in the last 90 days; the figures need at least 2.' }
}

export const STAGED: RunReport = {
  ...DEPLOYED,
  status: 'staged',
  decision: 'stage',
  reason: 'delivery mode: staged, awaiting /deploy or promote',
  stages: [
    ...STAGING,
    {
      name: 'activate',
      status: 'skipped',
      durationMs: 0,
      detail: 'delivery mode: staged, awaiting approval'
    }
  ],
  hosts: TWO_HOSTS.map(({ timings, ...h }) => ({ ...h, timings: { stage: timings?.stage ?? 0 } })),
  next: 'deploy',
  dora: undefined
}

/** Staged by a push that no pull request holds: the next step is the workflow's `promote`. */
export const STAGED_NO_PULL_REQUEST: RunReport = { ...STAGED, pullRequest: 'none' }

export const ROLLED_BACK: RunReport = {
  ...PROMOTED,
  status: 'rolled-back',
  decision: 'rollback',
  reason: 'bob commented /rollback on #42',
  hosts: PROMOTED.hosts.map(h => ({ ...h, release: PREVIOUS, previousRelease: RELEASE })),
  release: PREVIOUS,
  previousRelease: RELEASE,
  dora: DORA
}

export const BUILD_FAILED: RunReport = {
  ...BASE,
  status: 'failed',
  decision: 'stage',
  reason: 'delivery mode: staged, awaiting /deploy or promote',
  stages: [
    {
      name: 'build',
      status: 'failure',
      durationMs: 8_200,
      detail:
        'build failed with exit code 2. Last lines of its output:\nsrc/app.ts(3,7): error TS2322'
    }
  ],
  tests: undefined,
  next: undefined,
  error: [
    'build failed with exit code 2. Last lines of its output:',
    '> octo-app@1.0.0 build',
    '> tsc -p . && vite build',
    '',
    "src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
    '3 const port: number = process.env.PORT ?? "8080"',
    '        ~~~~'
  ].join('\n')
}

/** Failing tests read from JUnit XML; names and messages come from the user's code. */
export const TEST_FAILED: RunReport = {
  ...BUILD_FAILED,
  stages: [
    ok('build', 12_300),
    {
      name: 'test',
      status: 'failure',
      durationMs: 61_000,
      detail: 'test failed with exit code 1. Last lines of its output:\nTests: 3 failed'
    }
  ],
  tests: {
    total: 120,
    passed: 115,
    failed: 3,
    skipped: 2,
    failures: [
      { name: 'cart › adds <b>bold</b> items | twice', message: 'expected *3* got _2_' },
      { name: 'auth › pings @octo-org/admins about #12', message: '' },
      { name: 'api › returns `json`', message: 'Error: [link](javascript:alert(1))\nat x.ts:1' }
    ]
  },
  error: [
    'test failed with exit code 1. Last lines of its output:',
    ' FAIL  src/cart.test.ts',
    '  ● cart › adds <b>bold</b> items | twice',
    '```',
    '</details><script>alert(1)</script>',
    'Tests: 3 failed, 2 skipped, 115 passed, 120 total'
  ].join('\n')
}

/** A script that failed without printing anything: no dangling "Last lines of its output:". */
export const TEST_FAILED_SILENTLY: RunReport = {
  ...TEST_FAILED,
  tests: undefined,
  stages: [
    ok('build', 12_300),
    {
      name: 'test',
      status: 'failure',
      durationMs: 900,
      detail: 'test failed with exit code 1. Last lines of its output:\n'
    }
  ],
  error: 'test failed with exit code 1. Last lines of its output:\n'
}

/** A failed `after-activate` on host 2 of 3: hosts 1 and 2 switched back, host 3 never tried. */
export const HOOK_FAILED: RunReport = {
  ...DEPLOYED,
  status: 'failed',
  decision: 'deploy',
  stages: [
    ...STAGING,
    {
      name: 'activate',
      status: 'failure',
      durationMs: 4_400,
      detail: 'web-2.example.com:2222: `after-activate` failed; `current` was put back as it was.'
    }
  ],
  transfer: { filesSent: 36, bytesSent: 1_851_850, filesReused: 864 },
  hosts: [
    { ...WEB_1, status: 'switched-back', batch: 1 },
    { ...WEB_2, status: 'switched-back', batch: 2 },
    {
      host: 'web-3.example.com',
      release: RELEASE,
      previousRelease: PREVIOUS,
      status: 'not-switched',
      filesSent: 12,
      bytesSent: 617_283,
      filesReused: 288,
      timings: { stage: 3.0 }
    }
  ],
  next: undefined,
  dora: undefined,
  error: [
    'web-2.example.com:2222: `after-activate` failed; `current` was put back as it was. Last lines of its output:',
    '+ systemctl reload octo-app',
    'Job for octo-app.service failed because the control process exited with error code.',
    'See "systemctl status octo-app.service" and "journalctl -xeu octo-app.service" for details.'
  ].join('\n')
}

/** The server presented a host key nobody pinned: nothing was sent. */
export const HOST_KEY_REFUSED: RunReport = {
  ...DEPLOYED,
  status: 'failed',
  stages: [
    ...BUILD_TEST,
    {
      name: 'connect',
      status: 'failure',
      durationMs: 600,
      detail: 'The host key of web-1.example.com:22 is not in `known-hosts`'
    }
  ],
  transfer: undefined,
  hosts: [],
  release: undefined,
  previousRelease: undefined,
  next: undefined,
  dora: undefined,
  error:
    'The host key of web-1.example.com:22 is not in `known-hosts`: it presented ssh-ed25519 SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8. ' +
    "If that is your server's key (check with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), add this line to the `known-hosts` input:\n" +
    'web-1.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
}

export const DENIED: RunReport = {
  ...BASE,
  status: 'denied',
  decision: 'deny',
  reason: 'mallory is not one of the `approvers` (alice, @octo-org/deployers)',
  stages: [],
  tests: undefined,
  environmentUrl: 'https://app.example.com',
  error: 'Refused: mallory is not one of the `approvers` (alice, @octo-org/deployers).'
}

export const DRY_RUN: RunReport = {
  ...DEPLOYED,
  status: 'dry-run',
  decision: 'deploy',
  reason: 'dry-run: connect, check and report; change nothing',
  stages: [
    ...BUILD_TEST,
    ok('connect', 1_400, '2 hosts'),
    ok('inspect', 300),
    ok('package', 850, '300 files, 58.2 MiB'),
    { name: 'stage', status: 'skipped', durationMs: 0, detail: 'dry run: nothing sent' }
  ],
  transfer: { filesSent: 24, bytesSent: 0, filesReused: 576 },
  hosts: TWO_HOSTS.map(({ timings: _timings, ...h }) => ({ ...h, bytesSent: 0 })),
  next: undefined,
  dora: undefined
}

/** A fork's pull request: built and tested only. */
export const TESTED: RunReport = {
  ...BASE,
  decision: 'skip',
  reason: 'pull request from a fork: build and test only; a fork never reaches a server'
}

export const SKIPPED: RunReport = {
  ...BASE,
  status: 'skipped',
  decision: 'skip',
  reason: 'the comment is not a command (`/deploy` or `/rollback`)',
  stages: [],
  tests: undefined
}

/** Every kind, by name: the snapshot of each is in __snapshots__/report-snapshots.test.ts.snap. */
export const KINDS = {
  deployed: DEPLOYED,
  promoted: PROMOTED,
  staged: STAGED,
  'staged without a pull request': STAGED_NO_PULL_REQUEST,
  'rolled back': ROLLED_BACK,
  'build failed': BUILD_FAILED,
  'test failed (JUnit)': TEST_FAILED,
  'test failed without output': TEST_FAILED_SILENTLY,
  'after-activate failed, hosts switched back': HOOK_FAILED,
  'host key refused': HOST_KEY_REFUSED,
  denied: DENIED,
  'dry run': DRY_RUN,
  tested: TESTED,
  skipped: SKIPPED
} as const satisfies Record<string, RunReport>
