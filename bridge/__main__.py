"""``python -m bridge --config bridge.yaml [--once]``: poll the platform and deploy.
Exit 0 (``--once``: after one poll), 1 on a configuration or authentication error."""
from __future__ import annotations

import argparse
import logging
import sys

from bridge.client import BridgeClient, BridgeError
from bridge.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bridge", description=(
        "Deploy certificates from the platform to the servers near this machine."))
    parser.add_argument("--config", required=True, help="YAML configuration file")
    parser.add_argument("--once", action="store_true", help="Poll once and exit.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bridge: %(levelname)s %(message)s")
    try:
        client = BridgeClient(load_config(args.config))
        if args.once:
            reports = client.poll_once()
            print(f"bridge: {len(reports)} deployment(s) run: "
                  + (", ".join(r["status"] for r in reports) or "none"))
        else:
            client.run_forever()
    except (ConfigError, BridgeError) as exc:
        print(f"bridge: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
