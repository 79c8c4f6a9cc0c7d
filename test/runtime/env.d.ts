// Types for test files that run inside workerd (project "runtime").
// `cloudflare:test` comes from the plugin; `env` and `exports` from
// `cloudflare:workers` are typed by Cloudflare.Env and Cloudflare.GlobalProps,
// declared here from wrangler.toml (main = party/worker.ts, binding Main ->
// class Room). If the worker comes to declare these itself (e.g. with
// `wrangler types`), delete this block.
/// <reference types="@cloudflare/vitest-plugin/types" />

declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./worker.ts");
  }
  interface Env {
    // Untyped on purpose: DurableObjectNamespace<Room> makes TypeScript 6 give
    // up ("excessively deep") on partyserver's Server when building the stub
    // type. Type the instance in the callback instead:
    // runInDurableObject(stub, (room: Room, state) => ...).
    Main: DurableObjectNamespace;
    Live: DurableObjectNamespace;
    Hooked: DurableObjectNamespace;
    Retaining: DurableObjectNamespace;
    Travel: DurableObjectNamespace;
    Guarded: DurableObjectNamespace;
    Limited: DurableObjectNamespace;
    Misconfigured: DurableObjectNamespace;
    Signed: DurableObjectNamespace;
    Flaky: DurableObjectNamespace;
  }
}
