"""Seeing routes: where steps went and why, per session or time window, and their timeline."""

from langchain_netgpt.observe.routes import (
    RouteGroup,
    RoutesReport,
    StepPoint,
    TauTerms,
    build_routes_report,
    read_route_traces,
    step_point,
    tau_terms,
)
from langchain_netgpt.observe.timeline import plot_timeline

__all__ = [
    "RouteGroup",
    "RoutesReport",
    "StepPoint",
    "TauTerms",
    "build_routes_report",
    "plot_timeline",
    "read_route_traces",
    "step_point",
    "tau_terms",
]
