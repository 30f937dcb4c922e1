"""Real tools for the demo agent: arithmetic, unit conversion, date arithmetic, a country table.

They are deliberately small but not fake: each computes its answer, and each rejects bad input with
a message the model can read (LangChain's ``ToolNode`` turns the exception into a tool message).
"""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, tool

__all__ = ["COUNTRIES", "DEMO_TOOLS", "add_days", "calculator", "convert_units", "country_facts"]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponents above 100 are not allowed")
        return float(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return float(_UNARY[type(node.op)](_evaluate(node.operand)))
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / // % ** and parentheses, e.g. "17 * 23"."""
    text = expression.strip()
    if not text or len(text) > 200:
        raise ValueError("expression must be 1-200 characters of arithmetic")
    try:
        tree = ast.parse(text.replace("^", "**").replace("x", "*"), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    try:
        value = _evaluate(tree)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    return f"{value:g}"


_LINEAR: dict[str, tuple[str, float]] = {
    # unit: (dimension, value in SI base unit)
    "m": ("length", 1.0),
    "meter": ("length", 1.0),
    "meters": ("length", 1.0),
    "km": ("length", 1000.0),
    "kilometer": ("length", 1000.0),
    "kilometers": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "mile": ("length", 1609.344),
    "miles": ("length", 1609.344),
    "ft": ("length", 0.3048),
    "foot": ("length", 0.3048),
    "feet": ("length", 0.3048),
    "in": ("length", 0.0254),
    "inch": ("length", 0.0254),
    "inches": ("length", 0.0254),
    "kg": ("mass", 1.0),
    "kilogram": ("mass", 1.0),
    "kilograms": ("mass", 1.0),
    "g": ("mass", 0.001),
    "gram": ("mass", 0.001),
    "grams": ("mass", 0.001),
    "lb": ("mass", 0.45359237),
    "lbs": ("mass", 0.45359237),
    "pound": ("mass", 0.45359237),
    "pounds": ("mass", 0.45359237),
    "l": ("volume", 1.0),
    "liter": ("volume", 1.0),
    "liters": ("volume", 1.0),
    "gal": ("volume", 3.785411784),
    "gallon": ("volume", 3.785411784),
    "gallons": ("volume", 3.785411784),
}
_TEMPERATURE = {"c", "celsius", "f", "fahrenheit", "k", "kelvin"}


def _to_celsius(value: float, unit: str) -> float:
    return {"c": value, "f": (value - 32) * 5 / 9, "k": value - 273.15}[unit[0]]


def _from_celsius(value: float, unit: str) -> float:
    return {"c": value, "f": value * 9 / 5 + 32, "k": value + 273.15}[unit[0]]


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a quantity between units.

    Units: length (m, km, mi, ft, in), mass (kg, g, lb), volume (l, gal), temperature (celsius,
    fahrenheit, kelvin).
    """
    src, dst = from_unit.strip().lower(), to_unit.strip().lower()
    if src in _TEMPERATURE and dst in _TEMPERATURE:
        result = _from_celsius(_to_celsius(value, src), dst)
    elif src in _LINEAR and dst in _LINEAR:
        (dim_a, scale_a), (dim_b, scale_b) = _LINEAR[src], _LINEAR[dst]
        if dim_a != dim_b:
            raise ValueError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
        result = value * scale_a / scale_b
    else:
        known = sorted({*_LINEAR, *_TEMPERATURE})
        raise ValueError(f"unknown unit in {from_unit!r} -> {to_unit!r}; known units: {known}")
    return f"{value:g} {from_unit} = {result:.4g} {to_unit}"


@tool
def add_days(date: str, days: int) -> str:
    """Add a number of days (negative to subtract) to a date written YYYY-MM-DD."""
    try:
        start = dt.date.fromisoformat(date.strip())
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD, got {date!r}") from None
    if abs(days) > 100_000:
        raise ValueError("days must be within +/- 100000")
    result = start + dt.timedelta(days=days)
    return f"{result.isoformat()} ({result.strftime('%A')})"


COUNTRIES: dict[str, dict[str, Any]] = {
    "france": {"capital": "Paris", "population_millions": 68.4, "currency": "EUR"},
    "germany": {"capital": "Berlin", "population_millions": 84.5, "currency": "EUR"},
    "japan": {"capital": "Tokyo", "population_millions": 124.5, "currency": "JPY"},
    "brazil": {"capital": "Brasilia", "population_millions": 216.4, "currency": "BRL"},
    "kenya": {"capital": "Nairobi", "population_millions": 55.1, "currency": "KES"},
    "canada": {"capital": "Ottawa", "population_millions": 40.1, "currency": "CAD"},
    "india": {"capital": "New Delhi", "population_millions": 1428.6, "currency": "INR"},
    "australia": {"capital": "Canberra", "population_millions": 26.6, "currency": "AUD"},
}
"""A small bundled table (2023 population estimates, rounded)."""


@tool
def country_facts(country: str) -> str:
    """Look up the capital, population (millions) and currency of a country."""
    key = country.strip().lower()
    if key not in COUNTRIES:
        raise ValueError(f"no entry for {country!r}; known countries: {sorted(COUNTRIES)}")
    facts = COUNTRIES[key]
    return (
        f"{country.strip().title()}: capital {facts['capital']}, population "
        f"{facts['population_millions']} million, currency {facts['currency']}"
    )


DEMO_TOOLS: list[BaseTool] = [calculator, convert_units, add_days, country_facts]
