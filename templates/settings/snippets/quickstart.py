import asyncio

from tributary import create_client


async def main():
    # create_client() reads TRIBUTARY_API_KEY and TRIBUTARY_BASE_URL
    async with create_client() as client:
        response = await client.query("What was the auth decision?", limit=5)
        for result in response.results:
            print(f"[{result.source}] {result.content}")
        for connector in await client.list_connectors():
            print(connector.display_name, connector.status)


asyncio.run(main())
