"""Serve the provider sandbox: ``python -m sandbox --host 127.0.0.1 --port 8900``."""
from __future__ import annotations

import argparse
import logging

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
    parser.add_argument("--state-file", default=None,
                        help="keep OAuth grants, API keys and writes in this file across restarts")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app({"SEED": args.seed, "SCALE": args.scale, "PUBLIC_URL": args.public_url,
                      "STATE_FILE": args.state_file})
    server = make_server(args.host, args.port, app, threaded=True)
    host, port = server.server_address[:2]
    kept = f"; state kept in {args.state_file}" if args.state_file else ""
    print(f"Tributary provider sandbox on http://{host}:{port}  "
          f"(seed {args.seed}, scale {args.scale}; control API at /_sandbox{kept})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
