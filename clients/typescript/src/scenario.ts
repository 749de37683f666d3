/**
 * The client developers' end-to-end scenario, with types generated from openapi.yaml by
 * openapi-typescript and calls made by openapi-fetch. clients/python/scenario.py runs the
 * same steps with the openapi-python-client client; tests/clients runs both against the
 * Procfile's web process.
 *
 * Environment: KNOTLOG_BASE_URL, KNOTLOG_WEEK ("2026-W47", a final week), KNOTLOG_MONDAY
 * (its Monday, "2026-11-16"), KNOTLOG_WEEKLY_COMMAND (a JSON argv that runs `knotlog weekly`).
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";

import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema.js";

type SessionInput = components["schemas"]["SessionInput"];
type Session = components["schemas"]["Session"];
type PushStatus = components["schemas"]["PushStatus"];

const PASSWORD = "correct horse battery staple";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`scenario failed: ${message}`);
}

function addDays(isoDate: string, days: number): string {
  const day = new Date(`${isoDate}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

const baseUrl = env("KNOTLOG_BASE_URL");
const week = env("KNOTLOG_WEEK");
const monday = env("KNOTLOG_MONDAY");
const weeklyCommand = JSON.parse(env("KNOTLOG_WEEKLY_COMMAND")) as string[];

const anonymous = createClient<paths>({ baseUrl });
const email = `ts-${randomUUID().slice(0, 12)}@example.com`;

// Register, then one token per device.
const created = await anonymous.POST("/v1/accounts", {
  body: { email, password: PASSWORD, timezone: "Europe/Berlin", weekly_email: true },
});
check(created.response.status === 201 && created.data !== undefined, "account created");
const accountId = created.data.id;

async function device(name: string) {
  const token = await anonymous.POST("/v1/tokens", {
    body: { email, password: PASSWORD, device_name: name },
  });
  check(token.data !== undefined, `token for ${name}`);
  check(token.data.token.startsWith("knotlog_"), "tokens carry their prefix");
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${token.data.token}` },
  });
}
const phone = await device("phone");
const tablet = await device("tablet");
const laptop = await device("laptop");

// A week of sessions: Monday to Thursday logged on the phone, the weekend on the tablet.
const week0: SessionInput[] = Array.from({ length: 7 }, (_, day) => {
  const date = addDays(monday, day);
  return {
    id: randomUUID(),
    started_at: `${date}T07:30:00+01:00`,
    duration_s: 600 + 60 * day,
    region: day % 2 === 0 ? "lower_back" : "glutes",
    tool: day % 2 === 0 ? "massage_ball" : "foam_roller",
    side: "both",
    pain_before: 6,
    pain_after: 3 + (day % 2),
    note: null,
    client_updated_at: `${date}T07:45:00+01:00`,
  };
});

async function push(client: typeof phone, sessions: SessionInput[]): Promise<PushStatus[]> {
  const reply = await client.POST("/v1/sync/push", { body: { sessions } });
  check(reply.data !== undefined, "push answered");
  return reply.data.results.map((result) => result.status);
}

check(
  (await push(phone, week0.slice(0, 4))).every((s) => s === "created"),
  "phone's sessions created",
);
check(
  (await push(tablet, week0.slice(4))).every((s) => s === "created"),
  "tablet's sessions created",
);

// A third device pulls everything, a small page at a time.
async function pullAll(cursor?: string): Promise<{ changes: Session[]; cursor: string }> {
  const changes: Session[] = [];
  let next = cursor;
  for (;;) {
    const query = next === undefined ? { limit: 3 } : { limit: 3, cursor: next };
    const page = await laptop.GET("/v1/sync/pull", { params: { query } });
    check(page.data !== undefined, "pull answered");
    changes.push(...page.data.changes);
    next = page.data.cursor;
    if (!page.data.has_more) return { changes, cursor: next };
  }
}
const first = await pullAll();
check(first.changes.length === 7, `laptop pulled 7 sessions, got ${first.changes.length}`);
check(
  new Set(first.changes.map((s) => s.id)).size === 7 &&
    week0.every((s) => first.changes.some((c) => c.id === s.id)),
  "laptop pulled every session once",
);

// Offline on the phone, the week after: a better outcome on Monday, Tuesday's deleted.
const [monday0, tuesday0] = [week0[0], week0[1]];
check(monday0 !== undefined && tuesday0 !== undefined, "week has a Monday and Tuesday");
const editedAt = `${addDays(monday, 7)}T09:45:00+01:00`;
const edits: SessionInput[] = [
  { ...monday0, pain_after: 1, client_updated_at: editedAt },
  { ...tuesday0, deleted: true, client_updated_at: editedAt },
];
const applied = (await push(phone, edits)).join();
check(applied === "updated,updated", `phone's offline edits applied: ${applied}`);
const replayed = (await push(phone, edits)).join();
check(replayed === "unchanged,unchanged", `a replayed push changes nothing: ${replayed}`);
// The tablet's older offline edit of the same session loses (last writer wins).
const olderEdit = { ...monday0, pain_after: 5, client_updated_at: `${monday}T08:45:00+01:00` };
check((await push(tablet, [olderEdit])).join() === "stale", "an older edit is stale");

const second = await pullAll(first.cursor);
const byId = new Map(second.changes.map((s) => [s.id, s]));
check(second.changes.length === 2, `laptop pulled 2 changes, got ${second.changes.length}`);
check(byId.get(monday0.id)?.pain_after === 1, "the newer edit reached the laptop");
check(byId.get(tuesday0.id)?.deleted === true, "the tombstone reached the laptop");

// The weekly job, as an operator runs it for one account.
const [program, ...args] = weeklyCommand;
check(program !== undefined, "weekly command given");
const job = await promisify(execFile)(program, [...args, "--week", week, "--account", accountId]);
process.stderr.write(job.stderr);

const kept = week0
  .filter((s) => s.id !== tuesday0.id)
  .map((s) => (s.id === monday0.id ? { ...s, pain_after: 1 } : s));
const summary = await laptop.GET("/v1/summaries/{week}", { params: { path: { week } } });
check(summary.data !== undefined, "summary of the week");
check(summary.data.week === week, "summary names its week");
check(summary.data.sessions === kept.length, `sessions ${summary.data.sessions}`);
check(summary.data.active_days === kept.length, `active days ${summary.data.active_days}`);
const meanAfter = round2(kept.reduce((sum, s) => sum + s.pain_after, 0) / kept.length);
check(summary.data.mean_pain_after === meanAfter, `mean pain after ${summary.data.mean_pain_after}`);
const minutes = round2(kept.reduce((sum, s) => sum + s.duration_s, 0) / 60);
check(Math.abs(summary.data.minutes - minutes) < 0.051, `minutes ${summary.data.minutes}`);

// The stored report, through the links the API hands out.
const link = await laptop.GET("/v1/reports/{week}", { params: { path: { week } } });
check(link.data !== undefined, "report links");
const reportReply = await fetch(link.data.json_url);
check(reportReply.ok, `JSON report fetched: ${reportReply.status}`);
type StoredReport = { version: number; summary: { sessions: number; week: string } };
const report = (await reportReply.json()) as StoredReport;
check(report.summary.sessions === kept.length, "JSON report content");
check(report.summary.week === week, "JSON report names its week");
check(report.version === summary.data.version, "report and summary versions agree");
const page = await fetch(link.data.html_url);
check(page.ok && (page.headers.get("content-type") ?? "").startsWith("text/html"), "HTML report");
check((await page.text()).includes(week), "HTML report names its week");

// Leaving: the password again, then every device is signed out at once.
const gone = await phone.DELETE("/v1/me", { body: { password: PASSWORD } });
check(gone.response.status === 204, `account deleted: ${gone.response.status}`);
const after = await laptop.GET("/v1/me");
check(after.response.status === 401, "tokens stop working");

console.log(`typescript scenario ok: ${email} ${week}, ${kept.length} sessions, report v${report.version}`);
