// The room's worker, plus `POST /bench/reports?count=N&inFlight=C&names=K&from=V`: sends N reports
// (K room names, versions from V on) to the `main` party's directory object, at most C at a time,
// as rooms send them (POST …/report), and answers {ms, applied, latencies}.
import worker from "../../party/worker.ts";
import { DIRECTORY_NAME } from "../../party/core/index.ts";

export { Room } from "../../party/worker.ts";

const report = (name: string, v: number) =>
  JSON.stringify({ name, v, room: { head: v, cells: 10, events: v, created: "2026-01-01T00:00:00.000Z", lastWrite: new Date().toISOString() } });

export default {
  async fetch(request: Request, env: { Main: DurableObjectNamespace } & Record<string, unknown>): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/bench/reports") return worker.fetch(request, env as never);
    const [count, inFlight, names, from] = ["count", "inFlight", "names", "from"].map((name) => Number(url.searchParams.get(name)));
    const directory = env.Main.get(env.Main.idFromName(DIRECTORY_NAME));
    const latencies: number[] = [];
    let next = 0;
    let applied = 0;
    const started = performance.now();
    const lane = async () => {
      for (let i = next++; i < count; i = next++) {
        const sent = performance.now();
        const response = await directory.fetch("https://directory.invalid/report", { method: "POST", body: report(`bench-${i % names}`, from + i) });
        if (((await response.json()) as { applied?: boolean }).applied) applied++;
        latencies.push(performance.now() - sent);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return Response.json({ ms: performance.now() - started, applied, latencies });
  },
};
