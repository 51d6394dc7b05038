import { seedScale } from '@/db/seed';
import { firstLoadJsGzipKb, percentile, rssKb, startBenchApp, ttfb } from './app-server';

/** Registrations page TTFB at 10k and 100k rows, CSV export of 100k, and /registrations' first-load JS. */
export async function benchRegistrationsTable(databaseUrl: string): Promise<Array<{ label: string; value: string }>> {
  await seedScale(10_000);
  const app = await startBenchApp(databaseUrl);
  try {
    const url = `${app.base}/registrations?expiringWithinDays=30`;
    const measure = async () => {
      for (let i = 0; i < 5; i++) await ttfb(url, app.cookie); // warm-up
      const times: number[] = [];
      for (let i = 0; i < 60; i++) times.push(await ttfb(url, app.cookie));
      return { p50: percentile(times, 50), p95: percentile(times, 95) };
    };
    const at10k = await measure();
    await seedScale(90_000);
    const at100k = await measure();

    const rssBefore = rssKb(app.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKb(app.pid))), 50);
    const t = performance.now();
    const res = await fetch(`${app.base}/api/registrations/export`, { headers: { cookie: app.cookie } });
    const text = await res.text();
    const exportMs = performance.now() - t;
    clearInterval(sampler);
    const rows = text.trim().split('\r\n').length - 1;
    const js = await firstLoadJsGzipKb(`${app.base}/registrations`, app.cookie, app.base);
    return [
      { label: 'registrations page TTFB, 10,000 rows, expiring ≤ 30 d (p50 / p95, goal p95 ≤ 150 ms)', value: `${at10k.p50.toFixed(0)} / ${at10k.p95.toFixed(0)} ms` },
      { label: 'registrations page TTFB, 100,000 rows (p50 / p95, goal ≤ 2× the 10k p95)', value: `${at100k.p50.toFixed(0)} / ${at100k.p95.toFixed(0)} ms (${(at100k.p95 / at10k.p95).toFixed(2)}×)` },
      { label: `CSV export of ${rows.toLocaleString()} rows (goal ≤ 10 s)`, value: `${(exportMs / 1000).toFixed(2)} s, server RSS ${Math.round(rssBefore / 1024)} → peak ${Math.round(rssPeak / 1024)} MB` },
      { label: 'first-load JavaScript of /registrations, gzip (goal ≤ 200 KB)', value: `${js.toFixed(1)} KB` },
    ];
  } finally {
    await app.stop();
  }
}
