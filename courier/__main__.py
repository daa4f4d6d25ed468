"""``python -m courier --config courier.yaml``: exit 0 with the files written, 1 on error."""
from __future__ import annotations

import argparse
import sys

from courier.client import CourierClient, CourierError
from courier.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="courier", description=(
        "Request a certificate from the platform's courier API and write the certificate, "
        "chain and key files."))
    parser.add_argument("--config", required=True, help="YAML configuration file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        order_id = CourierClient(config).run()
    except (ConfigError, CourierError) as exc:
        print(f"courier: error: {exc}", file=sys.stderr)
        return 1
    print(f"courier: order {order_id} complete; wrote {config.outputs.certificate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
