"""Run the shop: ``python -m environments.webshop.serve [--port 8000]``, then open the URL it prints.

``--fd`` serves on an already-listening socket handed over by a parent process (the environment's
HTTP mode uses it to pick a free loopback port without a race).
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time

import uvicorn

from environments.webshop.app import create_app
from environments.webshop.data import DEFAULT_NUM_PRODUCTS, ShopConfig, shared_shop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the agentgym web shop.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    parser.add_argument("--seed", type=int, default=0, help="catalogue seed")
    parser.add_argument("--num-products", type=int, default=DEFAULT_NUM_PRODUCTS)
    parser.add_argument("--data-dir", default=None, help="folder with WebShop's original product/goal files")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    return parser.parse_args(argv)


def exit_with_parent(parent_pid: int, interval: float = 2.0) -> None:
    """A server started by an environment must not outlive it, even if that process is killed."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    shop = shared_shop(ShopConfig(args.seed, args.num_products, args.data_dir))
    app = create_app(shop)
    if args.fd is not None:
        config = uvicorn.Config(app, fd=args.fd, log_level=args.log_level, access_log=False)
        print(f"WebShop serving {len(shop.data.products)} products on inherited socket {args.fd}", flush=True)
        uvicorn.Server(config).run()
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    print(f"WebShop serving {len(shop.data.products)} products on http://{args.host}:{port}/", flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
