// What both programs share: the command line (the fake's base URL and the example ids
// of its /openapi.json) and the summary they print for tests/test_openapi_clients.py.

export type Ids = { project: string; contact: string; task: string; entry: string };

export function args(): { base: string; ids: Ids } {
  const [base, ids] = process.argv.slice(2);
  if (!base || !ids) throw new Error("usage: node PROGRAM.js BASE_URL IDS_JSON");
  return { base, ids: JSON.parse(ids) as Ids };
}

// A successful answer's typed body, or an error naming the call and what came back.
export function need<T>(what: string, r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data === undefined || !r.response.ok) {
    throw new Error(`${what}: ${r.response.status} ${JSON.stringify(r.error)}`);
  }
  return r.data;
}

// The page a continued-at names: /projects/51/timeEntries/2 -> 2.
export function pageOf(continuedAt: string | undefined): number {
  const page = Number(continuedAt?.split("/").pop());
  if (!Number.isInteger(page) || page < 2) throw new Error(`no next page: ${continuedAt}`);
  return page;
}
