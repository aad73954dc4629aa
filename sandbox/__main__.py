"""Serve the provider sandbox: ``python -m sandbox --host 127.0.0.1 --port 8900``."""
from __future__ import annotations

import argparse

from werkzeug.serving import make_server

from . import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="Tributary provider sandbox (localhost only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--scale", type=int, default=25, help="records per stream per parent")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--public-url", default=None,
                        help="base URL used in links the sandbox returns (default: request host)")
    args = parser.parse_args(argv)

    app = create_app({"SEED": args.seed, "SCALE": args.scale, "PUBLIC_URL": args.public_url})
    server = make_server(args.host, args.port, app, threaded=True)
    host, port = server.server_address[:2]
    print(f"Tributary provider sandbox on http://{host}:{port}  "
          f"(seed {args.seed}, scale {args.scale}; control API at /_sandbox)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
