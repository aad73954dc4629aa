// Turns the providers' published descriptions that ship as code (TypeScript types, zod models)
// into JSON Schema, once per install (`make provider-specs`), into .schemas/ (git-ignored).
// No network: it reads node_modules. Each output is one job; a job is redone only when its
// packages' versions, this script, tsconfig.json or the generator change (the key recorded in
// .schemas/versions.json), and stale jobs run in parallel child processes.
//
// From TypeScript types (ts-json-schema-generator):
// * Pipedrive: the official `pipedrive` SDK's models (dist/esm/versions/v1|v2/models), which
//   openapi-generator made from Pipedrive's OpenAPI documents.
// * X API v2: the official `twitter-api-sdk`'s dist/gen/openapi-types.d.ts, which
//   openapi-typescript made from X's OpenAPI document. Its schemas are members of one
//   `components` interface, referring to each other as components["schemas"]["Name"]; each is
//   hoisted into a type alias of its own first, so every schema becomes a definition.
// * Slack: `@slack/web-api`'s response types (dist/types/response/<Method>Response.d.ts), which
//   Slack generates from real API responses. Every file declares its own Message, Channel, ...;
//   each file is wrapped in a namespace named after it, so definitions are
//   "ConversationsHistoryResponse.MessageElement" and never collide.
// * Notion: `@notionhq/client`'s endpoint types (build/src/api-endpoints.d.ts: SearchResponse,
//   ListBlockChildrenResponse, PageObjectResponse, ...), plus the endpoint table the SDK
//   declares beside them ("GET /v1/blocks/{block_id}/children" -> ListBlockChildrenResponse).
// * Microsoft Graph: `@microsoft/microsoft-graph-types` (v1.0 entities: DriveItem, Message, ...).
// * GitLab: `@gitbeaker/core`'s response types (ProjectSchema, MergeRequestSchema, IssueSchema,
//   their notes, members, users), named `Gitlab<Type>` through aliases of our own: the package
//   declares them in one 9,000-line file, and only these (and what they reach) are read.
// * Discord: `discord-api-types`' v10 REST results (RESTGetAPIChannelMessagesResult, ...), named
//   `Discord<Type>` the same way.
// * Zendesk: `node-zendesk`'s types of the Support API's records (dist/types/clients/core:
//   Ticket, TicketComment, User); the list envelopes are not described there.
// * Salesforce: `@jsforce/jsforce-node`'s types (jsforce's Node build): the OAuth token answer,
//   QueryResult, getDeleted's DeletedResult, the identity, the error entry (SaveError), and the
//   standard objects' fields (lib/types/standard-schema.d.ts) of the objects a connector reads,
//   each as a SOQL row: only the fields a query selects (Partial) plus `attributes`.
// * HubSpot: `@hubspot/api-client`'s models (lib/codegen/<area>/models), which openapi-generator
//   made from HubSpot's OpenAPI documents: one area at a time (CRM objects, associations v4,
//   owners, OAuth), each definition named "<area>.<Model>". The TypeScript names a property as
//   the SDK does (hubId, _in); each model's attributeTypeMap (in its .js) gives the wire name
//   (hub_id, in), so the properties are renamed to it.
// * Intercom: `intercom-client`'s API types (Fern generates them from Intercom's OpenAPI
//   description): the answers connectors/intercom.py reads (ConversationList, Conversation,
//   ContactList, ArticleList, Article, AdminWithApp, AdminList, Error_), named `Intercom<Type>`
//   through aliases of our own; only these and what they reach are read.
//
// From zod models (zod's own toJSONSchema, the input side: what the SDK accepts from the wire):
// * Jira: `jira.js` (cloud: platform REST v3; agile: boards, sprints) and Confluence:
//   `confluence.js` (v1 and v2), in their schema-audit mode (documented fields and enum values
//   only). Every exported *Schema is a definition, and every API function is called once with a
//   recording client to learn its method, path template and response schema
//   ("GET /rest/api/3/search/jql" -> SearchAndReconcileResults).
//
// Definitions keep the types' closedness (additionalProperties: false, as TypeScript reads an
// interface); tests/fidelity/validation.py decides how strict to be about undocumented fields.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = fileURLToPath(import.meta.url);
const MODULES = path.join(HERE, "node_modules");
const OUT = path.join(HERE, ".schemas");
const TSCONFIG = path.join(HERE, "tsconfig.json");
const VERSIONS = path.join(OUT, "versions.json");

function version(pkg) {
  return JSON.parse(fs.readFileSync(path.join(MODULES, pkg, "package.json"), "utf8")).version;
}

// -- TypeScript types -------------------------------------------------------------------------

// Every type `file` exports, as the definitions of one schema. JSDoc is read only where it
// carries constraints (X's "@format date-time"); elsewhere it would add only descriptions, and
// reading it costs a third of the time (Microsoft Graph: 16 s instead of 10).
async function generate(file, { jsDoc = "none" } = {}) {
  const { createGenerator } = await import("ts-json-schema-generator");
  return createGenerator({
    path: file, type: "*", tsconfig: TSCONFIG, expose: "export", jsDoc,
    skipTypeCheck: true, additionalProperties: false,
  }).createSchema("*");
}

// A generated .d.ts of our own, removed once read.
async function generateFrom(name, text, options) {
  const file = path.join(OUT, `.${name}.${process.pid}.d.ts`);
  fs.writeFileSync(file, text);
  try {
    return await generate(file, options);
  } finally {
    fs.unlinkSync(file);
  }
}

// X: hoist components["schemas"] members into `export type Name = ...;`.
async function hoistOpenapiTypescript(file) {
  const ts = (await import("typescript")).default;
  const text = fs.readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const components = source.statements.find(
    (s) => ts.isInterfaceDeclaration(s) && s.name.text === "components");
  const schemas = components.members.find((m) => m.name && m.name.getText(source) === "schemas");
  const reference = /components\["schemas"\]\["([A-Za-z0-9_]+)"\]/g;
  const out = [];
  for (const member of schemas.type.members) {
    const name = member.name.getText(source).replace(/^"|"$/g, "");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unexpected schema name ${name}`);
    // Keep the JSDoc (descriptions, "Format: date-time" as @format) above each alias.
    const jsDoc = (member.jsDoc || []).map((d) => d.getText(source)).join("\n");
    out.push(`${jsDoc}\nexport type ${name} = ${member.type.getText(source).replace(reference, "$1")};\n`
      .replace(/\bFormat: /g, "@format "));
  }
  return out.join("\n");
}

// Slack: every <Method>Response.d.ts in a namespace of its own (they all import only
// WebAPICallResult, the envelope every answer shares: ok, error, response_metadata), and
// @slack/types' Block Kit (KnownBlock: rich_text, section, ...) for the messages' blocks.
function slackNamespaces() {
  const dir = path.join(MODULES, "@slack", "web-api", "dist", "types", "response");
  const parts = [
    `import type { WebAPICallResult } from ${JSON.stringify(path.join(dir, "..", "..", "WebClient"))};`,
    `export type { KnownBlock } from ${JSON.stringify(path.join(MODULES, "@slack", "types", "dist", "block-kit", "blocks"))};`];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith("Response.d.ts")).sort()) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    const imports = text.match(/^import .*$/gm) || [];
    if (imports.some((line) => !line.includes("{ WebAPICallResult }"))) {
      throw new Error(`${file} imports more than WebAPICallResult: ${imports.join(" ")}`);
    }
    const body = text.replace(/^import .*$/gm, "").replace(/^\/\/# sourceMappingURL=.*$/gm, "")
      .replace(/^export declare /gm, "export ");
    parts.push(`export declare namespace ${file.slice(0, -".d.ts".length)} {\n${body}\n}`);
  }
  return parts.join("\n");
}

// The response types were generated from sample answers, so their `blocks` describe only the
// blocks those samples had (a message's rich_text elements fail them): every `blocks` array is
// held to Block Kit's own types instead.
function slackBlocks(schema) {
  let replaced = 0;
  for (const definition of Object.values(schema.definitions)) {
    const blocks = definition.properties?.blocks;
    if (blocks?.type === "array") {
      blocks.items = { $ref: "#/definitions/KnownBlock" };
      replaced += 1;
    }
  }
  if (!replaced || !schema.definitions.KnownBlock) throw new Error("Slack: no blocks to hold to Block Kit");
  // Drop what nothing refers to any more (the samples' block types).
  const needed = new Set();
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if (typeof node.$ref === "string") {
        const name = decodeURIComponent(node.$ref.slice("#/definitions/".length));
        if (!needed.has(name)) { needed.add(name); walk(schema.definitions[name]); }
      }
      Object.values(node).forEach(walk);
    }
  };
  for (const name of Object.keys(schema.definitions)) {
    if (/^([A-Za-z0-9]+Response)\.\1$/.test(name)) { needed.add(name); walk(schema.definitions[name]); }
  }
  schema.definitions = Object.fromEntries(Object.entries(schema.definitions).filter(([name]) => needed.has(name)));
  return schema;
}

// Notion: the endpoint table of build/src/api-endpoints (each endpoint is
// {method, pathParams, path(params)}; its answer is the type <Name>Response).
function notionEndpoints(definitions) {
  const require = createRequire(path.join(MODULES, "@notionhq", "client", "package.json"));
  const endpoints = require("./build/src/api-endpoints.js");
  const table = {};
  for (const [name, endpoint] of Object.entries(endpoints)) {
    if (!endpoint || typeof endpoint.path !== "function" || !endpoint.method) continue;
    const params = Object.fromEntries((endpoint.pathParams || []).map((p) => [p, `{${p}}`]));
    const type = `${name[0].toUpperCase()}${name.slice(1)}Response`;
    if (!definitions[type]) throw new Error(`Notion endpoint ${name} has no ${type}`);
    table[`${endpoint.method.toUpperCase()} /v1/${endpoint.path(params)}`] = type;
  }
  return table;
}

// HubSpot: the models of each area, renamed to their wire names and prefixed by the area.
async function hubspotModels(areas) {
  const require = createRequire(path.join(MODULES, "@hubspot", "api-client", "package.json"));
  const definitions = {};
  for (const [area, dir] of Object.entries(areas)) {
    const models = path.join(MODULES, "@hubspot", "api-client", "lib", "codegen", dir, "models");
    const schema = await generate(path.join(models, "all.d.ts"));
    const prefixed = JSON.parse(JSON.stringify(schema.definitions).replace(/"#\/definitions\//g, `"#/definitions/${area}.`));
    for (const [name, definition] of Object.entries(prefixed)) {
      let wire = [];
      try {
        wire = require(path.join(models, name))[name]?.attributeTypeMap || [];
      } catch {
        // a type alias without a class of its own (an enum): nothing to rename
      }
      for (const { name: local, baseName } of wire) {
        if (local === baseName || !definition.properties?.[local]) continue;
        definition.properties[baseName] = definition.properties[local];
        delete definition.properties[local];
        definition.required = definition.required?.map((r) => (r === local ? baseName : r));
      }
      definitions[`${area}.${name}`] = definition;
    }
  }
  return { definitions };
}

// Zendesk: the type aliases of node-zendesk's declaration files, without the client classes
// beside them (which the generator cannot read) and the request shapes built on RecursivePartial.
async function typeAliases(files) {
  const ts = (await import("typescript")).default;
  const out = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (ts.isTypeAliasDeclaration(statement) && !/RecursivePartial/.test(statement.getText(source))) {
        out.push(`export type ${statement.name.text} = ${statement.type.getText(source)};`);
      }
    }
  }
  return out.join("\n");
}

// Salesforce: a file of our own naming what jsforce declares (its standard objects' field types
// are not exported one by one: they are reached through StandardSchema["SObjects"]).
const SALESFORCE_OBJECTS = ["Account", "Contact", "Opportunity", "Task", "Event", "Case", "User"];

function salesforceTypes() {
  const lib = path.join(MODULES, "@jsforce", "jsforce-node", "lib");
  const from = (file) => JSON.stringify(path.join(lib, file));
  const rows = SALESFORCE_OBJECTS.map((name) =>
    `export type ${name} = Partial<StandardSchema["SObjects"]["${name}"]["Fields"]> & Attributes;\n` +
    `export type QueryResult${name} = QueryResult<${name}>;`);
  return [
    `import type { StandardSchema } from ${from("types/standard-schema")};`,
    `import type { QueryResult } from ${from("query")};`,
    `export type { DeletedResult, IdentityInfo, SaveError } from ${from("types/common")};`,
    `export type { TokenResponse } from ${from("oauth2")};`,
    "export type Attributes = { attributes: { type: string; url: string } };",
    ...rows,
  ].join("\n");
}

// -- zod models -------------------------------------------------------------------------------

// A stand-in for any API function parameter: `{name}` in a template, and anything else
// (a property, a call: fields?.join(",")) another stand-in.
function placeholder(name) {
  return new Proxy(function () {}, {
    get: (_, key) => (key === Symbol.toPrimitive || key === "toString") ? () => `{${name}}`
      : typeof key === "symbol" ? undefined : placeholder(name),
    apply: () => placeholder(name),
  });
}

async function zodModule(specifier) {
  // The packages' own audit mode (AUDIT_SCHEMAS, the run that compares their models with what
  // the API sends): objects closed to their documented fields and enums to their documented
  // values, where a normal client tolerates unknown ones. Read when the models are defined.
  process.env.AUDIT_SCHEMAS = "true";
  const { z } = await import("zod");
  const module = await import(specifier);
  const registry = z.registry();
  const names = new Map();
  for (const [key, value] of Object.entries(module).sort()) {
    if (key.endsWith("Schema") && value && typeof value === "object" && "_zod" in value && !names.has(value)) {
      names.set(value, key.slice(0, -"Schema".length));
      registry.add(value, { id: key.slice(0, -"Schema".length) });
    }
  }
  // Each API function once, with a client that records the request instead of sending it.
  const endpoints = {};
  const parameters = new Proxy({}, { get: (_, key) => typeof key === "symbol" ? undefined : placeholder(key) });
  for (const [key, fn] of Object.entries(module).sort()) {
    if (typeof fn !== "function" || key.endsWith("Schema") || /^[A-Z]/.test(key)) continue;
    let config = null;
    try {
      await fn({ sendRequest: async (c) => { config = c; } }, parameters);
    } catch {
      continue;     // a function that does more than build one request (a handful)
    }
    if (!config || typeof config.url !== "string") continue;
    let schema = null;
    if (config.schema && "_zod" in config.schema) {
      if (!names.has(config.schema)) {      // an inline answer: z.array(ProjectSchema), ...
        const id = `${key[0].toUpperCase()}${key.slice(1)}Answer`;
        names.set(config.schema, id);
        registry.add(config.schema, { id });
      }
      schema = names.get(config.schema);
    }
    endpoints[`${(config.method || "GET").toUpperCase()} ${config.url}`] = schema;
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-7", unrepresentable: "any", io: "input", uri: (id) => `#/definitions/${id}`,
    // A date the SDK parses (z.coerce.date()) arrives as a string; Jira's are not RFC 3339
    // ("2024-05-02T10:31:57.512+0000"), so no format is implied.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === "date") Object.assign(jsonSchema, { type: "string" });
    },
  });
  const definitions = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema, $id, ...rest } = schema;
    definitions[id] = rest;
  }
  return { definitions, endpoints };
}

// -- the jobs ---------------------------------------------------------------------------------

const pipedriveModels = (pkg, api) =>
  path.join(MODULES, pkg, "dist", "esm", "versions", api, "models", "index.d.ts");

// GitLab: the response types the connector and the sandbox use, each aliased as Gitlab<Name>.
const GITLAB_TYPES = ["ProjectSchema", "MergeRequestSchema", "IssueSchema", "MergeRequestNoteSchema",
  "IssueNoteSchema", "MemberSchema", "UserSchema", "ExpandedUserSchema"];
// Discord: the REST results of the routes the connector reads, and the error and 429 bodies.
const DISCORD_TYPES = ["RESTGetAPICurrentUserResult", "RESTGetAPICurrentUserGuildsResult",
  "RESTGetAPIGuildChannelsResult", "RESTGetAPIGuildThreadsResult", "RESTGetAPIChannelThreadsArchivedPublicResult",
  "RESTGetAPIChannelResult", "RESTGetAPIChannelMessagesResult", "RESTGetAPIChannelMessageResult",
  "RESTGetAPIGuildMembersResult", "RESTGetAPIChannelThreadMembersResult", "RESTError", "RESTRateLimit"];
function aliases(prefix, file, types) {
  return [`import type * as P from ${JSON.stringify(file)};`,
    ...types.map((t) => `export type ${prefix}${t} = P.${t};`)].join("\n") + "\n";
}
// discord-api-types types bit fields (a user's flags, a message's) as TypeScript enums of single
// bits; the wire carries any combination of them, 0 included: such an enum is a non-negative integer.
function discordBitfields(schema) {
  for (const [name, definition] of Object.entries(schema.definitions)) {
    const values = definition.enum;
    if (/Flags$/.test(name) && Array.isArray(values) && values.every((v) => Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0)) {
      schema.definitions[name] = { type: "integer", minimum: 0 };
    }
  }
  return schema;
}
const gitlabAliases = () => aliases("Gitlab", path.join(MODULES, "@gitbeaker", "core", "dist", "index.d.ts"), GITLAB_TYPES);
const discordAliases = () => aliases("Discord", path.join(MODULES, "discord-api-types", "v10.d.ts"), DISCORD_TYPES);
// Intercom: the answers the connector reads, each aliased as Intercom<Name>.
const INTERCOM_TYPES = ["AdminWithApp", "AdminList", "ConversationList", "Conversation", "ContactList",
  "ContactsFindResponse", "ArticleList", "Article", "Error_"];
function intercomAliases() {
  const file = path.join(MODULES, "intercom-client", "dist", "esm", "api", "index.d.mts");
  return [`import type * as I from ${JSON.stringify(file)};`,
    ...INTERCOM_TYPES.map((t) => `export type Intercom${t.replace(/_$/, "")} = I.${t};`)].join("\n") + "\n";
}

const JOBS = {
  "pipedrive-v1.json": {
    packages: ["pipedrive"], what: "versions/v1/models",
    build: () => generate(pipedriveModels("pipedrive", "v1")),
  },
  "pipedrive-v2.json": {
    packages: ["pipedrive"], what: "versions/v2/models",
    build: () => generate(pipedriveModels("pipedrive", "v2")),
  },
  // The v1 endpoints Pipedrive deprecated in favour of v2 (GET /deals/{id}, /activities,
  // /stages, PUT /deals/{id}, PUT /activities/{id}) left the SDK after 31.x: their last description.
  "pipedrive-v1-deprecated.json": {
    packages: ["pipedrive-v1-deprecated"], what: "versions/v1/models",
    build: () => generate(pipedriveModels("pipedrive-v1-deprecated", "v1")),
  },
  "x-v2.json": {
    packages: ["twitter-api-sdk"], what: "dist/gen/openapi-types.d.ts",
    build: async () => generateFrom("x", await hoistOpenapiTypescript(
      path.join(MODULES, "twitter-api-sdk", "dist", "gen", "openapi-types.d.ts")), { jsDoc: "extended" }),
  },
  "slack.json": {
    packages: ["@slack/web-api", "@slack/types"], what: "dist/types/response, a namespace per file; Block Kit",
    build: async () => slackBlocks(await generateFrom("slack", slackNamespaces())),
  },
  "notion.json": {
    packages: ["@notionhq/client"], what: "build/src/api-endpoints.d.ts and its endpoint table",
    build: async () => {
      const schema = await generate(path.join(MODULES, "@notionhq", "client", "build", "src", "api-endpoints.d.ts"));
      return { ...schema, endpoints: notionEndpoints(schema.definitions) };
    },
  },
  "graph.json": {
    packages: ["@microsoft/microsoft-graph-types"], what: "microsoft-graph.d.ts (v1.0)",
    build: () => generate(path.join(MODULES, "@microsoft", "microsoft-graph-types", "microsoft-graph.d.ts")),
  },
  "gitlab.json": {
    packages: ["@gitbeaker/core"], what: "dist/index.d.ts response types (ProjectSchema, MergeRequestSchema, ...)",
    build: () => generateFrom("gitlab", gitlabAliases()),
  },
  "discord.json": {
    packages: ["discord-api-types"], what: "v10.d.ts REST results (RESTGetAPIChannelMessagesResult, ...)",
    build: async () => discordBitfields(await generateFrom("discord", discordAliases())),
  },
  "hubspot.json": {
    packages: ["@hubspot/api-client"], what: "lib/codegen models: crm/objects, crm/associations/v4, crm/owners, oauth",
    build: () => hubspotModels({ objects: "crm/objects", associations: "crm/associations/v4", owners: "crm/owners",
      oauth: "oauth" }),
  },
  "zendesk.json": {
    packages: ["node-zendesk"], what: "dist/types/clients/core: tickets.d.ts, users.d.ts",
    build: async () => generateFrom("zendesk", await typeAliases(["tickets", "users"].map((file) =>
      path.join(MODULES, "node-zendesk", "dist", "types", "clients", "core", `${file}.d.ts`)))),
  },
  "salesforce.json": {
    packages: ["@jsforce/jsforce-node"], what: "lib types: oauth2, query, types/common, types/standard-schema",
    build: () => generateFrom("salesforce", salesforceTypes()),
  },
  "intercom.json": {
    packages: ["intercom-client"], what: "dist/esm/api types (ConversationList, Conversation, ...)",
    build: () => generateFrom("intercom", intercomAliases()),
  },
  "jira-cloud.json": { packages: ["jira.js", "zod"], what: "jira.js/cloud zod models and API functions",
    build: () => zodModule("jira.js/cloud") },
  "jira-agile.json": { packages: ["jira.js", "zod"], what: "jira.js/agile zod models and API functions",
    build: () => zodModule("jira.js/agile") },
  "confluence-v1.json": { packages: ["confluence.js", "zod"], what: "confluence.js/v1 zod models and API functions",
    build: () => zodModule("confluence.js/v1") },
  "confluence-v2.json": { packages: ["confluence.js", "zod"], what: "confluence.js/v2 zod models and API functions",
    build: () => zodModule("confluence.js/v2") },
};

const GENERATORS = ["ts-json-schema-generator", "typescript"];

function source(job) {
  const named = (p) => p === "pipedrive-v1-deprecated" ? `pipedrive@${version(p)}` : `${p}@${version(p)}`;
  return `${job.packages.map(named).join(", ")} (${job.what})`;
}

function key(name) {
  const hash = crypto.createHash("sha256");
  hash.update(fs.readFileSync(SCRIPT)).update(fs.readFileSync(TSCONFIG));
  for (const p of [...JOBS[name].packages, ...GENERATORS]) hash.update(`${p}@${version(p)}\n`);
  return hash.digest("hex").slice(0, 16);
}

async function runJob(name) {
  const started = Date.now();
  const schema = await JOBS[name].build();
  schema.$comment = `Generated by tests/fidelity/build-schemas.mjs from ${source(JOBS[name])}; do not edit.`;
  fs.writeFileSync(path.join(OUT, name), JSON.stringify(schema));
  const extra = schema.endpoints ? `, ${Object.keys(schema.endpoints).length} endpoints` : "";
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`provider-specs: ${name} (${Object.keys(schema.definitions).length} definitions${extra}, ${seconds} s)`);
}

function child(name) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SCRIPT, "--job", name], { stdio: "inherit" });
    proc.on("exit", (code) => code === 0 ? resolve() : reject(new Error(`${name}: exit ${code}`)));
  });
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const recorded = fs.existsSync(VERSIONS) ? JSON.parse(fs.readFileSync(VERSIONS, "utf8")).outputs || {} : {};
  const keys = Object.fromEntries(Object.keys(JOBS).map((name) => [name, key(name)]));
  const stale = Object.keys(JOBS).filter(
    (name) => recorded[name]?.key !== keys[name] || !fs.existsSync(path.join(OUT, name)));
  // The biggest first, so the others fill the second core while it runs.
  const order = ["graph.json", "notion.json", "pipedrive-v1-deprecated.json", "slack.json"];
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  stale.sort((a, b) => rank(a) - rank(b));
  const width = Math.max(1, Math.min(stale.length, os.availableParallelism?.() ?? os.cpus().length));
  const queue = [...stale];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await child(queue.shift());
  }));
  const outputs = Object.fromEntries(Object.keys(JOBS).map((name) => [name, { source: source(JOBS[name]), key: keys[name] }]));
  const generators = Object.fromEntries(GENERATORS.map((p) => [p, version(p)]));
  fs.writeFileSync(VERSIONS, JSON.stringify({ outputs, generators }, null, 2));
  if (!stale.length) console.log("provider-specs: every schema is up to date");
}

const at = process.argv.indexOf("--job");
if (at >= 0) await runJob(process.argv[at + 1]);
else await main();
