// The Apollo calls through the SDK @hey-api/openapi-ts generates (generated/hey/) for
// the live fake's /openapi.json.
import { client } from "./generated/hey/client.gen.js";
import * as sdk from "./generated/hey/sdk.gen.js";
import type { ReportResponse, ReportResponseTotals, TimeEntry } from "./generated/hey/types.gen.js";
import { args, need, pageOf } from "./ids.js";

const { base, ids } = args();
client.setConfig({ baseUrl: base });

// A plain report object type-checks: no keyword of JSON Schema became a property.
const empty: ReportResponse = { "time-entries": [] };

const projects = need("projects listing", await sdk.apiProjectsListing({
  path: { parent_id: ids.project },
}));
const projects2 = need("projects page", await sdk.apiProjectsPage({
  path: { parent_id: ids.project, path_page: pageOf(projects["continued-at"]) },
}));
const contacts = need("contacts listing", await sdk.apiContactsListing({
  path: { parent_id: ids.contact },
}));
const contacts2 = need("contacts page", await sdk.apiContactsListing({
  path: { parent_id: ids.contact }, query: { page: pageOf(contacts["continued-at"]) },
}));
const task = need("task listing", await sdk.apiTaskListing({ path: { parent_id: ids.task } }));
const entry: TimeEntry = need("get entry", await sdk.apiGetEntry({
  path: { entry_id: ids.entry },
}))["time-entry"];

const fields = { seconds: "3600", notes: "hey-api", billable: "billable" as const };
const created: string[] = [];
created.push(need("project create", await sdk.apiProjectsCreate({
  path: { parent_id: ids.project }, body: { "time-entry": fields },
}))["time-entry-id"]);
created.push(need("task create", await sdk.apiTasksCreate({
  path: { parent_id: ids.task }, body: { "time-entry": { ...fields, seconds: 60 } },
}))["time-entry-id"]);
created.push(need("contact create", await sdk.apiContactsCreate({
  path: { parent_id: ids.contact }, body: { "time-entry": fields },
}))["time-entry-id"]);
need("update", await sdk.apiUpdateEntry({
  path: { entry_id: created[0] }, body: { "time-entry": { notes: "updated by hey-api" } },
}));
need("delete", await sdk.apiDeleteEntry({ path: { entry_id: created[2] } }));
const report = need("report", await sdk.apiReport({
  query: { project_id: ids.project, with_totals: "true", include_contacts: "yes" },
}));
const totals: ReportResponseTotals | undefined = report.totals;
const account = need("account", await sdk.apiAccount());

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
