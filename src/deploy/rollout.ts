/** How a fleet is worked on: so many hosts at once, and in which batches they switch. */
import type { ShipSettings } from '../inputs.js'

/** Runs `work` on every item, at most `limit` at once, settling every one. */
export async function settleLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        results[i] = { status: 'fulfilled', value: await work(items[i] as T) }
      } catch (reason: unknown) {
        results[i] = { status: 'rejected', reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** The hosts in the batches they switch in: one batch unless rolling. */
export function batchesOf<T>(hosts: readonly T[], rollout: ShipSettings['rollout']): T[][] {
  const size =
    rollout.kind === 'all-at-once'
      ? hosts.length
      : 'count' in rollout.batchSize
        ? rollout.batchSize.count
        : Math.ceil((hosts.length * rollout.batchSize.percent) / 100)
  const batches: T[][] = []
  for (let i = 0; i < hosts.length; i += Math.max(1, size)) {
    batches.push(hosts.slice(i, i + Math.max(1, size)))
  }
  return batches
}
