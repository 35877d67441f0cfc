"""``specmarket serve`` (the market service on uvicorn) and ``specmarket market …`` (a client of
it). Heavy packages (fastapi, sqlalchemy, uvicorn, httpx) are imported inside the commands only,
so that the CLI starts fast."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from specmarket.errors import SpecmarketError

UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="SPECMARKET_URL", help="Where the service listens."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SPECMARKET_TOKEN",
        help="Bearer token (operator's or a participant's); env SPECMARKET_TOKEN.",
    ),
]


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def _client(url: str, token: str | None) -> Any:
    from specmarket.client import ServiceClient

    return ServiceClient(url, token or os.environ.get("SPECMARKET_OPERATOR_TOKEN"))


def _json_arg(text: str | None, file: Path | None, what: str) -> dict[str, Any]:
    from specmarket import io
    from specmarket.errors import InvalidInput

    if file is not None:
        data = io.read_json(file)
    elif text is not None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(what, text, f"malformed JSON: {exc.msg}") from None
    else:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(what, data, "must be a JSON object")
    return data


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``market`` group to the ``specmarket`` app."""

    @app.command("serve")
    def serve_cmd(
        db: Annotated[
            str | None,
            typer.Option(
                "--db",
                envvar="SPECMARKET_DB",
                help="SQLAlchemy URL (default: SQLite file specmarket.db in the working "
                "directory; postgresql://… for several workers or hosts).",
            ),
        ] = None,
        host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
        workers: Annotated[
            int, typer.Option("--workers", min=1, help="uvicorn worker processes.")
        ] = 1,
    ) -> None:
        """Run the market service (FastAPI on uvicorn).

        Operator token: SPECMARKET_OPERATOR_TOKEN, else generated at first start, printed once.

        Example: specmarket serve --db postgresql+psycopg://postgres@127.0.0.1/test --workers 2"""
        from specmarket.cli import fail

        try:
            import uvicorn

            from specmarket.service.db import default_url, make_engine, migrate
            from specmarket.service.domain import MarketService
            from specmarket.service.settings import Settings

            url = db or default_url()
            os.environ["SPECMARKET_DB"] = url
            settings = Settings()
            engine = make_engine(url, 1)
            migrate(engine)
            secret = settings.operator_token
            _, generated = MarketService(engine).ensure_operator_token(
                secret.get_secret_value() if secret is not None else None
            )
            engine.dispose()
        except SpecmarketError as exc:
            fail(exc)
        except ImportError as exc:
            fail(SpecmarketError(f"{exc}; install the extra: pip install 'specmarket[service]'"))
        except Exception as exc:  # database unreachable, bad URL: one line, exit 2
            fail(SpecmarketError(f"cannot open database {url!r}: {exc.__class__.__name__}: {exc}"))
        if generated is not None:
            typer.echo(f"operator token (shown once, store it): {generated}", err=True)
        os.environ["SPECMARKET_MIGRATE"] = "0"  # done above, once, before the workers start
        uvicorn.run(
            "specmarket.service.api:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )

    market = typer.Typer(
        help="Drive a running market service (see `specmarket serve`).\n\n"
        "Example: specmarket market open mcafee --fields '{}'",
        no_args_is_help=True
    )
    app.add_typer(market, name="market")

    def run(fn: Any) -> None:
        from specmarket.cli import fail

        try:
            _print(fn())
        except SpecmarketError as exc:
            fail(exc)

    @market.command("open")
    def open_cmd(
        mechanism: Annotated[str, typer.Argument(help="Mechanism name.")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
        fields: Annotated[
            str | None, typer.Option("--fields", help="Market fields as JSON text.")
        ] = None,
        fields_file: Annotated[
            Path | None, typer.Option("--fields-file", help="Market fields from a JSON file.")
        ] = None,
        closes_at: Annotated[
            str | None, typer.Option("--closes-at", help="ISO 8601 time to close at.")
        ] = None,
    ) -> None:
        """Open a market (operator token).

        Example: specmarket market open mcafee --fields '{}'"""
        run(lambda: _client(url, token).open_market(
            mechanism, _json_arg(fields, fields_file, "--fields"), closes_at
        ))

    @market.command("add")
    def add_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        pid: Annotated[str, typer.Argument(help="Participant id.")],
        role: Annotated[str, typer.Argument(help="Role (buyer, seller, bidder, user).")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
        fields: Annotated[
            str | None, typer.Option("--fields", help="Operator-set fields as JSON text.")
        ] = None,
    ) -> None:
        """Add a participant (operator token); prints its token once.

        Example: specmarket market add "$MARKET" b1 buyer"""
        run(lambda: _client(url, token).add_participant(
            market_id, pid, role, _json_arg(fields, None, "--fields")
        ))

    @market.command("report")
    def report_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        report: Annotated[str, typer.Argument(help='The report as JSON, e.g. \'{"bid": 7.5}\'.')],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
        key: Annotated[
            str | None, typer.Option("--idempotency-key", help="Idempotency-Key header.")
        ] = None,
    ) -> None:
        """Submit or replace a sealed report (participant token).

        Example: specmarket market report "$MARKET" '{"bid": 7.5}'"""
        run(lambda: _client(url, token).put_report(
            market_id, _json_arg(report, None, "report"), key
        ))

    @market.command("close")
    def close_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
    ) -> None:
        """Close and clear (operator token); prints the outcome.

        Example: specmarket market close "$MARKET"
        """
        run(lambda: _client(url, token).close(market_id))

    @market.command("outcome")
    def outcome_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
    ) -> None:
        """The outcome: full for the operator, own part for a participant.

        Example: specmarket market outcome "$MARKET"
        """
        run(lambda: _client(url, token).outcome(market_id))

    @market.command("instance")
    def instance_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
    ) -> None:
        """The instance JSON that `specmarket clear` accepts (operator token).

        Example: specmarket market instance "$MARKET" > round1.json"""
        run(lambda: _client(url, token).instance(market_id))

    @market.command("log")
    def log_cmd(
        market_id: Annotated[str, typer.Argument(help="Market id.")],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
        after: Annotated[int, typer.Option("--after", min=0, help="Entries after this seq.")] = 0,
    ) -> None:
        """The append-only log (operator token).

        Example: specmarket market log "$MARKET"
        """
        run(lambda: _client(url, token).log(market_id, after))

    @market.command("upload")
    def upload_cmd(
        mechanism: Annotated[str, typer.Argument(help="Mechanism name.")],
        file: Annotated[
            Path, typer.Argument(help="Instance JSON file (`specmarket clear` format).")
        ],
        url: UrlOpt = "http://127.0.0.1:8000",
        token: TokenOpt = None,
    ) -> None:
        """Replay an instance file through the service (operator token).

        Opens a market, adds everyone, submits every report; prints the id and the tokens.

        Example: specmarket market upload mcafee examples/mcafee.json"""
        from specmarket import io

        def go() -> dict[str, Any]:
            market_id, tokens = _client(url, token).upload(mechanism, io.read_json(file))
            return {"id": market_id, "tokens": tokens}

        run(go)
