/** Who may approve: listed `approvers`, else anyone with write, maintain or admin permission. */
import type { GateApi } from '../github/gate-api.js'

export type Authorization = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const WRITERS = new Set(['admin', 'maintain', 'write'])

export async function authorize(
  api: Pick<GateApi, 'permission'>,
  options: {
    login: string
    approvers: readonly string[]
    prAuthor: string | undefined
    allowSelfApproval: boolean
  }
): Promise<Authorization> {
  const { login } = options
  if (
    !options.allowSelfApproval &&
    options.prAuthor !== undefined &&
    login.toLowerCase() === options.prAuthor.toLowerCase()
  ) {
    return {
      ok: false,
      reason: `${login} wrote this pull request and \`allow-self-approval\` is false: someone else must approve`
    }
  }
  if (options.approvers.length > 0) {
    return options.approvers.some(a => a.toLowerCase() === login.toLowerCase())
      ? { ok: true }
      : { ok: false, reason: `${login} is not in \`approvers\`` }
  }
  const permission = await api.permission(login)
  return WRITERS.has(permission)
    ? { ok: true }
    : {
        ok: false,
        reason: `${login} has ${permission} permission; approving needs write, maintain or admin`
      }
}

/** An approving comment: our command, by a person (not a bot). */
export function isApproval(
  comment: { body: string; login: string; userType: string },
  command: string
): boolean {
  const first = comment.body.trimStart().split(/\s/, 1)[0]
  return first === command && comment.userType !== 'Bot' && !comment.login.endsWith('[bot]')
}
