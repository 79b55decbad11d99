/**
 * The action's inputs and outputs, named once. `action.yml` must declare exactly these
 * (checked by __tests__/unit/action-contract.test.ts).
 */
export const INPUTS = [
  'mode',
  'build',
  'test',
  'working-directory',
  'cache-path',
  'cache-key',
  'cache-restore-keys',
  'github-token',
  'hosts',
  'port',
  'username',
  'private-key',
  'passphrase',
  'password',
  'known-hosts',
  'insecure-skip-host-key-check',
  'jump-host',
  'remote-path',
  'artifact',
  'exclude',
  'keep-releases',
  'shared-paths',
  'before-activate',
  'after-activate',
  'ssh-timeout',
  'dry-run',
  'rollout',
  'rollout-batch-size',
  'max-parallel',
  'rollback-on-failure',
  'health-check-command',
  'health-check-url',
  'health-check-expect',
  'health-check-timeout',
  'lock-timeout',
  'environment',
  'approvers',
  'approval-command',
  'rollback-command',
  'approval-timeout',
  'allow-self-approval',
  'promote',
  'rollback',
  'comment',
  'environment-url',
  'test-report',
  'deployment-record'
] as const

export type InputName = (typeof INPUTS)[number]

export const OUTPUTS = [
  'status',
  'sha',
  'duration',
  'release',
  'previous-release',
  'bytes-uploaded',
  'files-uploaded',
  'files-reused',
  'hosts',
  'decision',
  'reason',
  'deployment-id',
  'environment-url',
  'comment-url'
] as const

export type OutputName = (typeof OUTPUTS)[number]

/** What the run ended as; `status` output. */
export type RunStatus =
  'tested' | 'staged' | 'deployed' | 'rolled-back' | 'dry-run' | 'failed' | 'denied' | 'skipped'

/** What the run decided to do; `decision` output. */
export type Decision = 'deploy' | 'stage' | 'promote' | 'rollback' | 'skip' | 'deny'
