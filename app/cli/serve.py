"""`hearth serve`: an OpenAI-compatible API on this computer, answered from your library.

Light at import (the CLI registers every command at start-up): starlette, uvicorn and the
models load only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.base.errors import LibraryInUse


def register(subparsers, common: argparse.ArgumentParser | None = None) -> None:
    from app.serve_run import DEFAULT_PORT

    parents = [common] if common is not None else []
    p = subparsers.add_parser(
        "serve", parents=parents,
        help="OpenAI-compatible API on 127.0.0.1, answered from your documents")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--host", action="append", metavar="ADDRESS",
                   help="address to listen on (default 127.0.0.1 and ::1; repeatable)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host: other machines with the token can ask "
                        "your documents (inbound only; Hearth still connects nowhere)")
    p.add_argument("--model", default=None, help="model name or .gguf path (default: settings)")
    p.add_argument("--show-token", action="store_true",
                   help="print the API key clients must send, then exit")
    p.add_argument("--new-token", action="store_true",
                   help="replace the API key (clients using the old one get 401)")
    p.add_argument("--max-queue", type=int, default=128, metavar="N",
                   help="requests that may wait for the model at once (default 128)")
    p.add_argument("--cors", action="append", metavar="ORIGIN", default=[],
                   help="let web pages from ORIGIN call the API (off by default)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from app.cli.library import open_library
    from app.cli.output import fail
    from app.serve_run import UsageError, bind_sockets, check_hosts, load_or_create_token, say
    from rag.base.paths import resolve_data_dir

    if args.show_token or args.new_token:
        token = load_or_create_token(resolve_data_dir(args.data_dir), renew=args.new_token)
        if args.json:
            sys.stdout.write(json.dumps({"token": token}) + "\n")
        else:
            print(token)
        return 0
    if not 0 <= args.port < 65536 or args.max_queue < 1:
        return fail(args, "--port takes 0..65535 and --max-queue at least 1", 2)
    try:
        hosts = check_hosts(args.host or ["127.0.0.1", "::1"], args.allow_remote)
    except UsageError as exc:
        return fail(args, str(exc), 2)
    remote = [h for h in hosts if not _loopback(h)]
    if remote:
        from rag.offline.privacy import allow_listen

        say(f"hearth: WARNING: --allow-remote: listening on {', '.join(remote)}. Anyone who can "
            "reach this address and has the API key (`hearth serve --show-token`) can ask "
            "about your documents and read passages from them. Traffic is plain HTTP: use it "
            "only on a network you trust, or tunnel over ssh instead.")
        for host in remote:
            allow_listen(host)  # the guard lets this process listen there; outbound stays refused
    sockets = bind_sockets(hosts, args.port)  # first: a taken port fails before models load
    try:
        try:
            lib = open_library(args, "serve")
        except LibraryInUse as exc:
            return fail(args, f"{exc} If the Hearth window has it open, turn on "
                              "Settings > Local API there instead.", 1)
        try:
            return _serve(args, lib, sockets, hosts, load_or_create_token(lib.data_dir))
        finally:
            lib.close()
    finally:
        for s in sockets:
            s.close()


def _loopback(host: str) -> bool:
    from rag.offline.privacy import is_loopback_host

    return is_loopback_host(host)


def _serve(args, lib, sockets, hosts: list[str], token: str) -> int:
    from app.serve import LOOPBACK_HOSTS, create_app
    from app.serve_engine import LibraryEngine, ModelOwner
    from app.serve_run import Server, say
    from rag.base.settings import Settings

    settings = Settings.load(lib.data_dir)
    owner = ModelOwner(max_pending=args.max_queue)
    engine = LibraryEngine(lib, settings, args.model)
    try:
        owner.call(engine.load)  # on the owner thread: the model belongs to it
        loopback_only = all(_loopback(h) for h in hosts)
        app = create_app(engine, owner, token, cors_origins=args.cors,
                         hosts=LOOPBACK_HOSTS if loopback_only else None)
        server = Server(app, sockets, max_connections=2 * args.max_queue + 16,
                        on_exit=owner.cancel_all)
        info = {"urls": server.urls, "port": sockets[0].getsockname()[1],
                "models": engine.model_names, "embedding_model": engine.embedding_model}
        if args.json:
            sys.stdout.write(json.dumps(info) + "\n")
        else:
            print(f"Hearth API: {' and '.join(server.urls)}  (model {', '.join(engine.model_names)};"
                  f" key: `hearth serve --show-token`; Ctrl+C stops)")
        sys.stdout.flush()
        server.run()
    finally:
        owner.close(final=engine.close)
    say("hearth: server stopped.")
    return 0
