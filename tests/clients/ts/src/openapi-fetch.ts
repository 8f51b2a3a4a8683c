// The Apollo calls through openapi-fetch, typed by openapi-typescript's output
// (generated/openapi-typescript.d.ts) for the live fake's /openapi.json.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/openapi-typescript.js";
import { args, need, pageOf } from "./ids.js";

type Schemas = components["schemas"];

const { base, ids } = args();
const api = createClient<paths>({ baseUrl: base });

// A plain report object type-checks: no keyword of JSON Schema became a property.
const empty: Schemas["report-response"] = { "time-entries": [] };

const projects = need("projects listing", await api.GET("/projects/{parent_id}/timeEntries", {
  params: { path: { parent_id: ids.project } },
}));
const projects2 = need("projects page", await api.GET("/projects/{parent_id}/timeEntries/{path_page}", {
  params: { path: { parent_id: ids.project, path_page: pageOf(projects["continued-at"]) } },
}));
const contacts = need("contacts listing", await api.GET("/contacts/{parent_id}/timeEntries", {
  params: { path: { parent_id: ids.contact } },
}));
const contacts2 = need("contacts page", await api.GET("/contacts/{parent_id}/timeEntries", {
  params: { path: { parent_id: ids.contact }, query: { page: pageOf(contacts["continued-at"]) } },
}));
const task = need("task listing", await api.GET("/tasks/{parent_id}/timeEntries", {
  params: { path: { parent_id: ids.task } },
}));
const entry: Schemas["time-entry"] = need("get entry", await api.GET("/timeEntries/{entry_id}", {
  params: { path: { entry_id: ids.entry } },
}))["time-entry"];

const fields = { seconds: "3600", notes: "openapi-fetch", billable: "billable" as const };
const created: string[] = [];
for (const [what, r] of [
  ["project create", await api.POST("/projects/{parent_id}/timeEntries", {
    params: { path: { parent_id: ids.project } }, body: { "time-entry": fields },
  })],
  ["task create", await api.POST("/tasks/{parent_id}/timeEntries", {
    params: { path: { parent_id: ids.task } }, body: { "time-entry": { ...fields, seconds: 60 } },
  })],
  ["contact create", await api.POST("/contacts/{parent_id}/timeEntries", {
    params: { path: { parent_id: ids.contact } }, body: { "time-entry": fields },
  })],
] as const) {
  created.push(need(what, r)["time-entry-id"]);
}
need("update", await api.PUT("/timeEntries/{entry_id}", {
  params: { path: { entry_id: created[0] } }, body: { "time-entry": { notes: "updated by openapi-fetch" } },
}));
need("delete", await api.DELETE("/timeEntries/{entry_id}", {
  params: { path: { entry_id: created[2] } },
}));
const report = need("report", await api.GET("/report/timeEntries", {
  params: { query: { project_id: ids.project, with_totals: "true", include_contacts: "yes" } },
}));
const totals: Schemas["report-response-totals"] | undefined = report.totals;
const account = need("account", await api.GET("/account", {}));

console.log(JSON.stringify({
  pages: [projects["time-entries"].length, projects2["time-entries"].length,
          contacts["time-entries"].length, contacts2["time-entries"].length],
  continued: [projects["continued-at"], contacts["continued-at"]],
  task: task["time-entries"].length,
  entry: entry.id,
  created,
  totals: totals?.["number-of-entries"],
  reported: report["time-entries"].length,
  categories: account.account["time-categories"].length,
  empty: empty["time-entries"].length,
}));
