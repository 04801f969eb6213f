// Container health check: exit 0 when the admin port's /healthz answers 2xx
// within 3 s, else 1. Plain node (fetch is built in), so the image needs no
// curl. TICKET_SERVER_HEALTHCHECK_URL overrides the URL, for an image run
// with another --admin port.
/* global fetch, AbortSignal */
const url = process.env.TICKET_SERVER_HEALTHCHECK_URL || 'http://127.0.0.1:6411/healthz';
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) {
    console.error(`healthcheck: ${url} answered ${response.status}`);
    process.exit(1);
  }
} catch (error) {
  console.error(`healthcheck: ${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
