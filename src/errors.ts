/** One way to turn anything thrown into a message. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  // An Error from another realm (Node's own, seen from a vm context) fails instanceof.
  if (
    typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string' &&
    Object.prototype.toString.call(error) === '[object Error]'
  ) {
    return error.message
  }
  if (typeof error === 'string') return error
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

/** A failure the user caused or can act on; its message is shown as is. */
export class DeployError extends Error {
  override name = 'DeployError'
}

/** A request that must not be carried out (nothing staged for that commit, hosts disagree): a denial. */
export class Refusal extends DeployError {
  override name = 'Refusal'
}
