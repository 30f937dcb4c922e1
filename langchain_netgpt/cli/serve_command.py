"""``netgpt serve``: a model as an OpenAI-compatible API behind an emulated WAN.

The options are declared and checked here; the server is :func:`langchain_netgpt.cloud.local.serve`
and the model :class:`~langchain_netgpt.edge.HuggingFaceEdgeModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from langchain_netgpt.cli._common import fail, first_option_error

if TYPE_CHECKING:
    from socket import socket

    from langchain_core.language_models import BaseChatModel

    from langchain_netgpt.cloud.security import ServeSecurity
    from langchain_netgpt.cloud.wan import WanEmulator

__all__ = ["HELP", "serve"]

HELP = (
    "Serve a model as an OpenAI-compatible API (/v1/chat/completions) behind an emulated WAN.\n\n"
    "A stand-in for a real cloud endpoint: point ChatOpenAI (or NETGPT_CLOUD_BASE_URL) at "
    "http://HOST:PORT/v1. Each request waits RTT/2 plus its upload time and each response RTT/2 "
    "plus its download time, at a fixed bandwidth (--bandwidth-mbps) or replayed from a mahimahi "
    "trace (--trace, --trace-up)."
)


def _load_model(spec: str, device: str) -> BaseChatModel:
    """The model named by ``--model``: ``bundled`` or a local HuggingFace folder / GGUF file."""
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    if spec == "bundled":
        model = HuggingFaceEdgeModel.from_bundled(device=device)
    else:
        model = HuggingFaceEdgeModel.from_pretrained(spec, device=device)
    model.load()  # fail now, not on the first request
    return model


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8000,
    model: Annotated[
        str,
        typer.Option(help="'bundled' (SmolLM2-135M-Instruct) or a local HuggingFace model path."),
    ] = "bundled",
    model_name: Annotated[
        str | None,
        typer.Option(help="Name the server reports (default: netgpt-bundled or the folder name)."),
    ] = None,
    device: Annotated[str, typer.Option(help="'auto', 'cpu', 'cuda' or 'cuda:<index>'.")] = "auto",
    rtt_ms: Annotated[float, typer.Option(help="Emulated round-trip time, ms.")] = 0.0,
    bandwidth_mbps: Annotated[
        float | None, typer.Option(help="Emulated symmetric bandwidth, Mbit/s (default: no limit).")
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="Mahimahi trace for the downlink (and the uplink unless --trace-up)."),
    ] = None,
    trace_up: Annotated[Path | None, typer.Option(help="Mahimahi trace for the uplink.")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Most model calls in flight at once (default: no limit).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="NETGPT_SERVE_API_KEY",
            help="Require 'Authorization: Bearer KEY' on every request but /health.",
            show_default=False,
        ),
    ] = None,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            help="Host header name to accept (repeat; '*' for any). Default: the loopback "
            "names when bound to loopback, any otherwise.",
        ),
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, MB.")] = 10.0,
) -> None:
    """Serve a model as an OpenAI-compatible API behind an emulated WAN (see :data:`HELP`)."""
    from langchain_netgpt.errors import NetGPTError

    _check_options(port, max_concurrency, max_body_mb, trace, trace_up, model)
    from langchain_netgpt.cloud.local import serve as serve_app

    security = _security(api_key, allowed_hosts, max_body_mb)
    emulator = _wan_emulator(device, rtt_ms, bandwidth_mbps, trace, trace_up)
    name = model_name or ("netgpt-bundled" if model == "bundled" else Path(model).resolve().name)
    sock, loaded = _bind_and_load(host, port, model, device)
    port = sock.getsockname()[1]
    banner = _banner(name, host, port, rtt_ms, bandwidth_mbps, trace)
    typer.echo(
        banner[:-1] + ("; API key required)" if security.api_key else "; no API key)"), err=True
    )
    try:
        serve_app(
            loaded,
            model_name=name,
            host=host,
            port=port,
            wan=emulator,
            max_concurrency=max_concurrency,
            log_level=log_level,
            security=security,
            sock=sock,
        )
    except NetGPTError as exc:
        fail("serve", str(exc), code=1)


def _check_options(
    port: int,
    max_concurrency: int | None,
    max_body_mb: float,
    trace: Path | None,
    trace_up: Path | None,
    model: str,
) -> None:
    """Exit 2 on an option that is wrong without any library knowledge."""
    if not 0 <= port <= 65535:
        fail("serve", f"--port must be in [0, 65535], got {port}")
    if max_concurrency is not None and max_concurrency < 1:
        fail("serve", f"--max-concurrency must be >= 1, got {max_concurrency}")
    if not max_body_mb * 1_000_000 >= 1024:
        fail("serve", f"--max-body-mb must be at least 0.001 (1024 bytes), got {max_body_mb}")
    for flag, path in (("--trace", trace), ("--trace-up", trace_up)):
        if path is not None and not path.is_file():
            fail("serve", f"{flag} {path} is not a file")
    if model != "bundled" and not Path(model).exists():
        fail(
            "serve",
            f"--model must be 'bundled' or an existing local model path; {model!r} does not exist",
        )


def _bind_and_load(host: str, port: int, model: str, device: str) -> tuple[socket, BaseChatModel]:
    """The listening socket, then the loaded model; exit 1 (socket closed) when either fails."""
    from langchain_netgpt.cloud.local import bind_listening_socket
    from langchain_netgpt.errors import NetGPTError

    try:
        # Bound before the model loads (seconds): a taken port fails at once, and port 0's
        # real port is known for the banner.
        sock = bind_listening_socket(host, port)
    except NetGPTError as exc:
        fail("serve", f"{exc} (is another server using the port? try --port 0)", code=1)
    try:
        loaded = _load_model(model, device)
    except NetGPTError as exc:
        sock.close()
        fail("serve", f"cannot load model {model!r}: {exc}", code=1)
    except (OSError, ValueError) as exc:
        sock.close()
        fail("serve", f"cannot load model {model!r}: {type(exc).__name__}: {exc}", code=1)
    return sock, loaded


def _security(
    api_key: str | None, allowed_hosts: list[str] | None, max_body_mb: float
) -> ServeSecurity:
    """Protection settings from ``--api-key``, ``--allowed-hosts`` and ``--max-body-mb``."""
    from pydantic import ValidationError

    from langchain_netgpt.cloud.security import ServeSecurity
    from langchain_netgpt.errors import NetGPTError

    try:
        return ServeSecurity(
            api_key=api_key,
            allowed_hosts=tuple(allowed_hosts) if allowed_hosts else None,
            max_body_bytes=int(max_body_mb * 1_000_000),
        )
    except ValidationError as exc:
        fail("serve", first_option_error(exc))
    except NetGPTError as exc:
        fail("serve", str(exc))


def _wan_emulator(
    device: str,
    rtt_ms: float,
    bandwidth_mbps: float | None,
    trace: Path | None,
    trace_up: Path | None,
) -> WanEmulator | None:
    """Check ``--device`` and the WAN options; the emulator (``None`` for an ideal link)."""
    from pydantic import ValidationError

    from langchain_netgpt.cloud.wan import WanEmulator, WanProfile
    from langchain_netgpt.edge.bundled import validate_device
    from langchain_netgpt.errors import NetGPTError

    try:
        validate_device(device)
        profile = WanProfile(
            rtt_ms=rtt_ms, bandwidth_mbps=bandwidth_mbps, trace_down=trace, trace_up=trace_up
        )
        return None if profile.is_ideal else WanEmulator(profile)
    except ValidationError as exc:
        fail("serve", first_option_error(exc))
    except NetGPTError as exc:
        fail("serve", str(exc))


def _banner(
    name: str, host: str, port: int, rtt_ms: float, bandwidth_mbps: float | None, trace: Path | None
) -> str:
    """The line printed before serving: where, and over which emulated link."""
    if trace:
        link = f"trace {trace.name}"
    elif bandwidth_mbps:
        link = f"{bandwidth_mbps:g} Mbit/s"
    else:
        link = "unlimited bandwidth"
    return f"netgpt serve: {name} on http://{host}:{port}/v1 (rtt {rtt_ms:g} ms, {link})"
