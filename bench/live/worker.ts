// The room's worker, with LiveRoom bound as `Main` (see wrangler.toml beside this file).
export { default, LiveRoom } from "../../party/worker.ts";
