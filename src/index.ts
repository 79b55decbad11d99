/** Entry point of the bundled action: only calls run(). */
import './dirname-shim.js'
import { run } from './main.js'

await run()
