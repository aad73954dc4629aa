import { createClient } from "@tributary/sdk";

// createClient() reads TRIBUTARY_API_KEY and TRIBUTARY_BASE_URL
const client = createClient();
const { results } = await client.query("What was the auth decision?", { limit: 5 });
for (const result of results) console.log(`[${result.source}] ${result.content}`);
for (const connector of await client.listConnectors()) console.log(connector.display_name, connector.status);
