/**
 * The TypeScript SDK against a live Tributary (tests/sdk/test_typescript_sdk.py starts it, with
 * the provider sandbox and a sync worker, and runs `node --test` with these variables set):
 * TRIBUTARY_BASE_URL, TRIBUTARY_API_KEY (admin), TRIBUTARY_TEST_QUERY_KEY (scope `query` only),
 * TRIBUTARY_TEST_WORKSPACE_ID, TRIBUTARY_TEST_GITHUB_TOKEN, TRIBUTARY_TEST_REPO and
 * TRIBUTARY_TEST_SLACK_CONNECTION (a Slack connection in the sandbox, of the workspace whose admin
 * key is TRIBUTARY_TEST_OTHER_KEY; TRIBUTARY_TEST_OTHER_APPROVER_KEY is another admin's there). The server allows one
 * pipeline sync a second.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AuthenticationError, ConflictError, createClient, NotFoundError, PermissionDeniedError, RateLimitError, TributaryClient,
  TributaryError, ValidationError,
} from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run through tests/sdk/test_typescript_sdk.py`);
  return value;
}

const baseUrl = required("TRIBUTARY_BASE_URL");
const githubToken = required("TRIBUTARY_TEST_GITHUB_TOKEN");
const repo = required("TRIBUTARY_TEST_REPO");
const client = createClient();  // TRIBUTARY_API_KEY and TRIBUTARY_BASE_URL

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, seconds = 30): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rejection(promise: Promise<unknown>): Promise<TributaryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TributaryError, String(error));
    return error;
  }
  assert.fail("the call succeeded");
}

test("connectors as the spec's snippet calls them: create, list, sync, get, delete", async () => {
  const connector = await client.createConnector({
    connector_type: "github",
    display_name: "Company GitHub",
    credentials: { token: githubToken },
    settings: { channels: [repo] },
  });
  assert.equal(connector.status, "connected");
  assert.equal(connector.oauth_url, null);
  assert.deepEqual((await client.listConnectors()).map((c) => c.connector_id), [connector.connector_id]);

  const accepted = await client.syncConnector(connector.connector_id, true);
  assert.equal(accepted.status, "syncing");
  assert.equal(accepted.sync_type, "full");
  const synced = await eventually(() => client.getConnector(connector.connector_id), (c) => c.status === "idle");
  assert.equal(synced.status, "idle");
  assert.ok(synced.document_count > 0 && synced.last_sync_at !== null);
  const [run] = await client.listRuns(connector.connector_id);
  assert.equal(run?.id, accepted.sync_run_id);
  assert.equal(run?.status, "completed");

  assert.equal((await client.deleteConnector(connector.connector_id)).status, "disconnected");
});

test("getOAuthUrl starts an OAuth connector's authorization", async () => {
  const { oauth_url, status } = await client.getOAuthUrl("github", { display_name: "Eng GitHub" });
  assert.equal(status, "connecting");
  assert.match(oauth_url ?? "", /\/login\/oauth\/authorize\?/);
});

test("pipeline sync, query with filters, documents paged by an async iterator", async () => {
  const store = await client.createVectorStore({ name: "ts-notes" });
  const synced = await client.pipelineSync({
    organization_id: required("TRIBUTARY_TEST_WORKSPACE_ID"),
    vector_store_id: store.id,
    sync_mode: "incremental",
    sync_timestamp: new Date().toISOString(),
    operations: [
      { action: "upsert", id: "n1", namespace: "notes", title: "Auth decision", type: "note",
        content: "We chose OAuth with PKCE for the auth architecture.", updated_at: "2026-03-01T10:00:00Z" },
      { action: "upsert", id: "n2", namespace: "notes", title: "Lunch", type: "note", content: "Tacos." },
      { action: "upsert", id: "n3", namespace: "notes", title: "Auth review", type: "note",
        content: "The auth architecture review is on Monday.", updated_at: "2026-03-03T10:00:00Z" },
    ],
  });
  assert.equal(synced.status, "success");

  const answer = await client.query("auth architecture", {
    limit: 5, include_reasoning: true, sources: ["pipeline"], types: ["note"], date_after: "2026-03-02",
  });
  assert.deepEqual(answer.results.map((r) => r.metadata.external_id), ["n3"]);
  assert.ok(answer.reasoning && answer.query_id.startsWith("qry_"));

  const ids: string[] = [];
  for await (const document of client.iterDocuments({ vector_store_id: store.id }, 2)) ids.push(document.id);
  assert.equal(new Set(ids).size, 3);
  const [first] = ids;
  assert.ok(first);
  assert.ok((await client.getDocument(first)).content);
  await client.deleteDocument(first);
  assert.ok((await rejection(client.getDocument(first))) instanceof NotFoundError);
  assert.equal((await client.deleteVectorStore(store.id)).deleted, true);
});

test("connections, pages of them, and a connection's sync jobs and schedules", async () => {
  const me = await client.me();
  assert.equal(me.workspace_id, required("TRIBUTARY_TEST_WORKSPACE_ID"));
  const answer = await client.connect({ connector_type: "pipedrive", api_key: "sandbox-pipedrive-key",
                                       name: "Deals" });
  assert.equal(answer.mode, "connected");
  const deals = answer.connection.id;
  assert.equal((await client.checkConnection(deals)).ok, true);
  assert.equal((await client.updateConnection(deals, { name: "Sales" })).connection.name, "Sales");
  const names: string[] = [];
  for await (const connection of client.iterConnections({ status: "connected" }, 1)) names.push(connection.name);
  assert.deepEqual(names, ["Sales"]);
  assert.equal((await client.getConnectionStatus(deals)).status, "connected");

  const job = await client.startSyncJob(deals);
  const done = await eventually(() => client.getSyncJobStatus(deals, job.job_id), (s) => s.status === "completed");
  assert.equal(done.status, "completed");
  assert.deepEqual((await client.getSyncJobHistory(deals)).map((entry) => entry.job_id), [job.job_id]);
  const accepted = await client.syncConnection(deals);
  assert.equal(accepted.connection_id, deals);
  assert.equal((await client.disconnect(deals)).disconnected, true);
  assert.deepEqual(await client.listSyncSchedules(), []);
});

test("errors carry their class, status and stable code", async () => {
  const badKey = new TributaryClient({ apiKey: "trb_not_a_key", baseUrl });
  const refused = await rejection(badKey.listConnectors());
  assert.ok(refused instanceof AuthenticationError);
  assert.equal(refused.code, "invalid_api_key");

  const queryOnly = new TributaryClient({ apiKey: required("TRIBUTARY_TEST_QUERY_KEY"), baseUrl });
  const denied = await rejection(queryOnly.listConnectors());
  assert.ok(denied instanceof PermissionDeniedError);
  assert.equal(denied.details["required_scope"], "connections:read");

  const missing = await rejection(client.getConnector("conn_doesnotexist0000"));
  assert.ok(missing instanceof NotFoundError);
  assert.deepEqual([missing.status, missing.code], [404, "not_found"]);

  const invalid = await rejection(client.query("anything", { limit: 1000 }));
  assert.ok(invalid instanceof ValidationError);
  assert.equal(invalid.status, 422);
});

test("a 429 is retried after its Retry-After, or raised as RateLimitError without retries", async () => {
  const [store] = await client.listVectorStores();
  assert.ok(store);
  const request = {
    organization_id: required("TRIBUTARY_TEST_WORKSPACE_ID"), vector_store_id: store.id,
    sync_mode: "incremental" as const, sync_timestamp: new Date().toISOString(),
    operations: [{ action: "upsert" as const, id: "limit", namespace: "notes", content: "One a second." }],
  };
  await client.pipelineSync(request);
  const impatient = new TributaryClient({ maxRetries: 0 });
  const limited = await rejection(impatient.pipelineSync(request));
  assert.ok(limited instanceof RateLimitError);
  assert.deepEqual([limited.code, limited.retryAfter], ["rate_limited", 1]);
  const started = Date.now();
  assert.equal((await client.pipelineSync(request)).status, "success");
  assert.ok(Date.now() - started >= 900, "it waited the Retry-After before retrying");
});

test("the audit log: a page and its cursor, the async pager, one entry, verification, SOC 2 as JSON and PDF",
     async () => {
  const kept = await client.createVectorStore({ name: "ts-audit-kept" });
  const dropped = await client.createVectorStore({ name: "ts-audit-dropped" });
  await client.deleteVectorStore(dropped.id);

  const first = await client.getAuditLogs({ target: dropped.id, limit: 1, outcome: "success" });
  assert.deepEqual(first.entries.map((e) => [e.action, e.actor.name]), [["vector_store.deleted", "sdk admin"]]);
  assert.ok(first.next_cursor);
  const second = await client.getAuditLogs({ target: dropped.id, limit: 1, cursor: first.next_cursor });
  assert.deepEqual(second.entries.map((e) => e.action), ["vector_store.created"]);
  assert.equal(second.next_cursor, null);
  const walked: string[] = [];
  for await (const entry of client.iterAuditLogs({ action: "vector_store.*", target: dropped.id }, 1)) {
    walked.push(entry.id);
  }
  assert.deepEqual(walked, [...first.entries, ...second.entries].map((e) => e.id));
  const [created] = (await client.getAuditLogs({ action: "vector_store.created", target: kept.id })).entries;
  assert.ok(created);
  assert.equal((await client.getAuditLog(created.id)).target?.id, kept.id);

  const verified = await client.verifyAuditLogs();
  assert.equal(verified.intact, true);
  assert.equal(verified.first_bad_seq, null);
  assert.equal(verified.full_verification.last, null);
  const asked = await client.requestFullAuditVerification();
  assert.ok(asked.requested);
  assert.equal((await client.verifyAuditLogs()).full_verification.requested?.entry_id, asked.requested.entry_id);

  const today = new Date().toISOString().slice(0, 10);
  const report = await client.exportSoc2(today, today);
  assert.equal(report.workspace.id, required("TRIBUTARY_TEST_WORKSPACE_ID"));
  assert.equal(report.audit_chain.intact, true);
  const pdf = await client.exportSoc2Pdf(today, today);
  assert.ok(pdf instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(pdf.subarray(0, 5)), "%PDF-");
  const exported = (await client.getAuditLogs({ action: "audit.exported", limit: 2 })).entries;
  assert.deepEqual(exported.map((e) => e.details["format"]), ["soc2_pdf", "soc2_json"]);

  const backwards = await rejection(client.exportSoc2("2026-02-01", "2026-01-01"));
  assert.ok(backwards instanceof ValidationError);
  assert.equal(backwards.code, "invalid_date_range");
  const queryOnly = new TributaryClient({ apiKey: required("TRIBUTARY_TEST_QUERY_KEY"), baseUrl });
  const denied = await rejection(queryOnly.exportSoc2Pdf(today, today));
  assert.ok(denied instanceof PermissionDeniedError);
  assert.equal(denied.details["required_scope"], "admin");
  await client.deleteVectorStore(kept.id);
});

test("actions: an intent planned then run, the structured form replayed, a held run approved, another rejected",
     async () => {
  const slack = required("TRIBUTARY_TEST_SLACK_CONNECTION");
  const client = new TributaryClient({ apiKey: required("TRIBUTARY_TEST_OTHER_KEY"), baseUrl });
  assert.equal((await rejection(createClient().listActions(slack))).code, "not_found");  // not Acme's
  const listed = await client.listActions(slack);
  assert.deepEqual(listed.actions.map((a) => a.name), ["post_message"]);

  const intent = "Send message to #general about the release";
  const plan = await client.executeAction(slack, { intent, context: { priority: "high" }, dry_run: true });
  assert.ok("dry_run" in plan && plan.dry_run);
  assert.equal(plan.action, "post_message");
  const done = await client.executeAction(slack, { intent, context: { priority: "high" } });
  assert.ok(!("dry_run" in done));
  assert.equal(done.status, "succeeded");
  assert.deepEqual(done.plan, plan.plan);

  const hello = { action: "post_message", parameters: { channel: "#general", text: "From TypeScript" },
                  idempotency_key: "ts-1" };
  const ran = await client.runAction(slack, hello);
  const again = await client.runAction(slack, hello);
  assert.ok("id" in ran && "id" in again && "replayed" in again);
  assert.deepEqual([again.id, again.replayed], [ran.id, true]);

  const held = await client.setActionPolicy(slack, { approval_required: ["post_message"] });
  assert.equal(held.actions[0]?.requires_approval, true);
  const pending = await client.runAction(slack, { ...hello, idempotency_key: "ts-held" });
  const waiting = await client.runAction(slack, { ...hello, idempotency_key: "ts-reject" });
  assert.ok("id" in pending && "id" in waiting);
  assert.equal(pending.status, "pending_approval");
  const queue = await client.listActionRuns(slack, { status: "pending_approval" });
  assert.deepEqual(new Set(queue.map((r) => r.id)), new Set([pending.id, waiting.id]));
  const own = await rejection(client.approveActionRun(slack, pending.id));  // four-eyes: not the requester
  assert.ok(own instanceof PermissionDeniedError);
  assert.equal(own.code, "self_approval_not_allowed");
  const approver = new TributaryClient({ apiKey: required("TRIBUTARY_TEST_OTHER_APPROVER_KEY"), baseUrl });
  assert.equal((await approver.approveActionRun(slack, pending.id)).status, "succeeded");
  assert.equal((await client.rejectActionRun(slack, waiting.id)).status, "rejected");
  assert.equal((await client.getActionRun(slack, waiting.id)).status, "rejected");
  const decided = await rejection(client.approveActionRun(slack, waiting.id));
  assert.ok(decided instanceof ConflictError);
  assert.equal(decided.code, "not_pending");
  await client.setActionPolicy(slack, { approval_required: null });

  const unclear = await rejection(client.executeAction(slack, { intent: "make it nice" }));
  assert.ok(unclear instanceof ValidationError);
  assert.equal(unclear.code, "could_not_route");
});

test("usage, subscription and members: invite, list, revoke; the last admin stays one", async () => {
  const usage = await client.getUsage({ period: "week" });
  assert.deepEqual([usage.workspace_id, usage.period], [required("TRIBUTARY_TEST_WORKSPACE_ID"), "week"]);
  assert.ok(usage.api_calls.calls >= 1);
  const subscription = await client.getSubscription();
  assert.equal(subscription.plan, "self_hosted");

  const invited = await client.inviteUser("dana@acme.example");
  assert.deepEqual([invited.invitation.role, invited.delivery], ["member", "link"]);
  const listed = await client.listUsers();
  assert.deepEqual(listed.invitations.map((i) => i.email), ["dana@acme.example"]);
  assert.equal((await client.revokeInvitation(invited.invitation.id)).revoked, true);
  const [admin] = listed.users;
  assert.ok(admin);
  const last = await rejection(client.changeUserRole(admin.id, "member"));
  assert.ok(last instanceof ConflictError);
  assert.equal(last.code, "last_admin");
  const missing = await rejection(client.removeUser("usr_doesnotexist0000"));
  assert.ok(missing instanceof NotFoundError);
});
