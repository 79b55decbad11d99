/** What this run is asked to do: the gate's pure decision, for the orchestrator. */
export { decideIntent as decide, isFork } from '../gate/intent.js'
