"""``CloudBudget``: caps on cloud share and dollars, per time window, tenant and tag, fleet-wide.

Every step reserves its place in the budget before it runs (:meth:`CloudBudget.reserve`); a
fallback moves it to the cloud (:meth:`~CloudBudget.upgrade`) or back
(:meth:`~CloudBudget.downgrade`).
The budget's state (the window of recent steps, dollars spent per window and scope, the dual
variable of the threshold controller) lives in a
:class:`~langchain_netgpt.routing.shared_state.SharedState`: this process by default, or an SQLite
file / a PostgreSQL database named by ``shared_state``, so that N agent processes together respect
one budget. Each reservation is one atomic read-modify-write of that state.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_netgpt._postgres import import_psycopg, is_postgres_url
from langchain_netgpt.routing.shared_state import (
    InMemorySharedState,
    SharedState,
    open_shared_state,
)

__all__ = ["BudgetSlot", "CloudBudget", "SpendCap", "budget_scope"]

_TOTAL = "*|total"
_EPS = 1e-12
_SCOPE: contextvars.ContextVar[tuple[str | None, tuple[str, ...]]] = contextvars.ContextVar(
    "netgpt_budget_scope", default=(None, ())
)


@contextmanager
def budget_scope(*, tenant: str | None = None, tags: Sequence[str] = ()) -> Iterator[None]:
    """Charge the steps routed inside the block to a tenant and tags.

    A :class:`CloudBudget` reads the scope when a step reserves its place without naming a
    tenant or tags itself, so any front door (the router, the middleware, the LangGraph node)
    honours per-tenant and per-tag caps without passing them through.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.budget import CloudBudget, SpendCap, budget_scope

            budget = CloudBudget(tenants={"acme": SpendCap(max_cloud_usd=0.001)})
            with budget_scope(tenant="acme"):
                assert budget.reserve(wants_cloud=True, price_usd=0.0004).cloud
    """
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise ValueError(f"tenant must be a non-empty string or None, got {tenant!r}")
    if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
        raise ValueError(f"tags must be a sequence of non-empty strings, got {tags!r}")
    token = _SCOPE.set((tenant, tuple(tags)))
    try:
        yield
    finally:
        _SCOPE.reset(token)


class SpendCap(BaseModel):
    """Dollar caps for one tenant or tag: in total, per clock hour and per UTC day.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.budget import SpendCap

            cap = SpendCap(max_cloud_usd_per_day=5.0)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_cloud_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_cloud_usd_per_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_cloud_usd_per_day: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some_cap(self) -> SpendCap:
        if (
            self.max_cloud_usd is None
            and self.max_cloud_usd_per_hour is None
            and self.max_cloud_usd_per_day is None
        ):
            raise ValueError(
                "SpendCap needs max_cloud_usd, max_cloud_usd_per_hour or max_cloud_usd_per_day"
            )
        return self


class _Limit(NamedTuple):
    name: str  # names the budget in a refusal: "max_cloud_usd_per_hour", "tenant 'acme' ..."
    key: str  # the spend counter it caps: "<scope>|<period>"
    cap: float


class BudgetSlot:
    """One step's place in a :class:`CloudBudget`; flips if the step falls back.

    Attributes:
        cloud: Whether the step may use (and is charged for) the cloud.
        price_usd: What the step is charged.
        reason: Why the cloud was refused, naming the budget that was hit.
        limit: The name of the budget that refused the cloud (``"max_cloud_share"``,
            ``"max_cloud_usd_per_hour"``, ``"tenant 'acme' max_cloud_usd_per_day"``, ...).
        tenant: The tenant the step is charged to.
        tags: The tags the step is charged to.
        step_id: The step's number in the budget's sequence (the order its window counts in).
        admitted_at: Unix time the budget recorded the step, read while it held the budget's
            state (its lock, or PostgreSQL's row lock), so steps of every process sharing the
            budget have increasing times in the budget's own order.
    """

    __slots__ = (
        "admitted_at",
        "charged",
        "cloud",
        "limit",
        "price_usd",
        "reason",
        "step_id",
        "tags",
        "tenant",
    )

    def __init__(
        self,
        cloud: bool,
        price_usd: float,
        reason: str | None,
        *,
        limit: str | None = None,
        step_id: int = -1,
        tenant: str | None = None,
        tags: tuple[str, ...] = (),
        charged: tuple[str, ...] = (),
        admitted_at: float | None = None,
    ) -> None:
        self.admitted_at = time.time() if admitted_at is None else admitted_at
        self.cloud = cloud
        self.price_usd = price_usd
        self.reason = reason
        self.limit = limit
        self.step_id = step_id
        self.tenant = tenant
        self.tags = tags
        self.charged = charged

    def __repr__(self) -> str:
        return (
            f"BudgetSlot(cloud={self.cloud}, price_usd={self.price_usd:.6g}, "
            f"limit={self.limit!r}, tenant={self.tenant!r}, tags={self.tags!r})"
        )


class CloudBudget(BaseModel):
    """A cap on cloud usage that any policy honours, in one process or across a fleet.

    Limits, any combination: the cloud's share of the last ``window_steps`` steps (never exceeded
    by more than one step, whatever the policy wants); dollars in total, per clock hour and per
    UTC day; and the same dollar caps per tenant and per tag (:class:`SpendCap`; a step's tenant
    and tags come from :meth:`reserve` or :func:`budget_scope`). A refused step stays on the edge
    and its slot names the budget that was hit. An adaptive controller (dual ascent) also lowers
    a threshold policy's ``tau`` while the cloud share runs above the cap (the router passes
    ``threshold_shift=-budget.threshold_shift``), so that the steps sent to the cloud are the
    lowest-scoring ones rather than whichever came first.

    With ``shared_state`` (a ``postgresql://`` URL, or an SQLite path for one machine), every
    process whose budget names the same location and ``budget_id`` shares the window, the
    spend and the controller: N processes together respect one budget. Give them the same limits.

    Args:
        max_cloud_share: Largest share of cloud steps in the window, in ``[0, 1]``.
        window_steps: Steps in the sliding window.
        max_cloud_usd: Total dollars the cloud may cost.
        max_cloud_usd_per_hour: Dollars per clock hour (UTC; the counter restarts each hour).
        max_cloud_usd_per_day: Dollars per UTC day.
        tenants: Dollar caps per tenant name.
        per_tenant: Dollar caps for every tenant not listed in ``tenants``.
        tags: Dollar caps per tag.
        adaptive: Whether to run the dual-ascent threshold controller.
        step_size: Dual-ascent step size.
        shared_state: Where the state lives: ``None`` (this budget object only), ``"memory"``
            (shared by the budgets of this process), an SQLite path, or a PostgreSQL URL.
        budget_id: Name of the budget within ``shared_state`` (budgets with other ids are apart).

    Raises:
        ConfigurationError: No limit is set.

    Example:
        .. code-block:: python

            from langchain_netgpt import CloudBudget

            budget = CloudBudget(max_cloud_share=0.3, window_steps=50)
            slot = budget.reserve(wants_cloud=True, price_usd=0.0001)
            assert slot.cloud  # the first cloud step of the window is allowed
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_cloud_share: float | None = Field(default=None, ge=0, le=1)
    window_steps: int = Field(default=100, gt=0)
    max_cloud_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_cloud_usd_per_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_cloud_usd_per_day: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    tenants: dict[str, SpendCap] = Field(default_factory=dict)
    per_tenant: SpendCap | None = None
    tags: dict[str, SpendCap] = Field(default_factory=dict)
    adaptive: bool = True
    step_size: float = Field(default=0.02, gt=0, le=1)
    shared_state: str | None = Field(
        default=None, description="postgresql:// URL, SQLite path or 'memory' (None: private)."
    )
    budget_id: str = Field(default="default", min_length=1, max_length=200)

    _state: SharedState | None = PrivateAttr(default=None)
    _dual: float = PrivateAttr(default=0.0)

    @model_validator(mode="after")
    def _some_limit(self) -> CloudBudget:
        if (
            self.max_cloud_share is None
            and self.max_cloud_usd is None
            and self.max_cloud_usd_per_hour is None
            and self.max_cloud_usd_per_day is None
            and not self.tenants
            and not self.tags
            and self.per_tenant is None
        ):
            raise ValueError(
                "CloudBudget needs max_cloud_share and/or a dollar cap (max_cloud_usd, "
                "max_cloud_usd_per_hour, max_cloud_usd_per_day, tenants, per_tenant or tags)"
            )
        return self

    @field_validator("shared_state")
    @classmethod
    def _state_location(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("shared_state must be a postgresql:// URL, a path or 'memory'")
            if is_postgres_url(value):
                import_psycopg()  # fail at construction, naming the extra to install
        return value

    def __hash__(self) -> int:
        # Frozen like before, and still hashable although tenants/tags are dicts.
        return hash(self.model_dump_json())

    # -- state --------------------------------------------------------------------------------
    def _backend(self) -> SharedState:
        if self._state is None:
            self._state = (
                InMemorySharedState()
                if self.shared_state is None
                else open_shared_state(self.shared_state)
            )
        return self._state

    @property
    def _key(self) -> str:
        return f"budget:{self.budget_id}"

    def _doc(self, doc: dict[str, Any] | None) -> dict[str, Any]:
        if doc is None:
            return {"next": 0, "window": [], "spend": {}, "dual": 0.0}
        return doc

    def _read(self) -> dict[str, Any]:
        return self._doc(self._backend().read(self._key))

    @property
    def cloud_share(self) -> float:
        """Cloud share over the current window (0 when empty)."""
        window = self._read()["window"]
        return sum(c for _, c in window) / len(window) if window else 0.0

    @property
    def spent_usd(self) -> float:
        """Dollars spent on the cloud so far (by every process sharing the budget)."""
        return float(self._read()["spend"].get(_TOTAL, 0.0))

    def spending(self) -> dict[str, float]:
        """Dollars spent per counter (of every process sharing the budget).

        Counters are named ``"<scope>|<period>"``: scope ``*``, ``tenant:NAME`` or ``tag:NAME``;
        period ``total``, ``h<hours since the epoch>`` or ``d<days since the epoch>``.
        """
        return {key: float(usd) for key, usd in self._read()["spend"].items()}

    @property
    def threshold_shift(self) -> float:
        """How much the adaptive controller lowers a threshold policy's ``tau`` now (>= 0).

        With a shared state, the value seen at this process's last reservation.
        """
        return self._dual if self.adaptive else 0.0

    # -- limits -------------------------------------------------------------------------------
    def _limits(self, tenant: str | None, tags: tuple[str, ...], now: float) -> list[_Limit]:
        hour, day = int(now // 3600), int(now // 86400)
        scoped: list[tuple[str, str, SpendCap | None]] = [("", "*", None)]
        if tenant is not None:
            cap = self.tenants.get(tenant, self.per_tenant)
            scoped.append((f"tenant {tenant!r} ", f"tenant:{tenant}", cap))
        scoped += [(f"tag {tag!r} ", f"tag:{tag}", self.tags.get(tag)) for tag in tags]
        limits = []
        for label, scope, spend_cap in scoped:
            source: Any = self if spend_cap is None and scope == "*" else spend_cap
            if source is None:
                continue
            for field, period in (
                ("max_cloud_usd", "total"),
                ("max_cloud_usd_per_hour", f"h{hour}"),
                ("max_cloud_usd_per_day", f"d{day}"),
            ):
                cap_usd = getattr(source, field)
                if cap_usd is not None:
                    limits.append(_Limit(f"{label}{field}", f"{scope}|{period}", cap_usd))
        return limits

    def _refusal(
        self,
        doc: dict[str, Any],
        price_usd: float,
        limits: list[_Limit],
        *,
        extra_steps: int,
        ignore: int,
    ) -> tuple[str, str] | None:
        """``(reason, budget name)`` if the cloud is refused. ``extra_steps``: 1 for a new step."""
        spend = doc["spend"]
        for limit in limits:
            spent = spend.get(limit.key, 0.0)
            if spent + price_usd > limit.cap + _EPS:
                return (
                    f"cloud refused: {limit.name} budget reached: ${spent + price_usd:.6f} would "
                    f"exceed ${limit.cap:.6f}",
                    limit.name,
                )
        cap = self.max_cloud_share
        if cap is not None:
            window = doc["window"]
            kept = window[extra_steps:] if len(window) == self.window_steps else window
            cloud_before = sum(1 for step, c in kept if c and step != ignore)
            steps_after = min(len(window) + extra_steps, self.window_steps)
            # Admit iff the window after this step holds at most cap * steps + 1 cloud steps.
            if cloud_before + 1 > cap * steps_after + 1 - 1e-9:
                return (
                    f"cloud refused: max_cloud_share budget reached: cloud share cap {cap:.2f} "
                    f"over the last {self.window_steps} steps",
                    "max_cloud_share",
                )
        return None

    @staticmethod
    def _charge(doc: dict[str, Any], limits: list[_Limit], price_usd: float) -> tuple[str, ...]:
        keys = tuple(dict.fromkeys([_TOTAL, *(limit.key for limit in limits)]))
        spend = doc["spend"]
        for key in keys:
            spend[key] = spend.get(key, 0.0) + price_usd
        return keys

    @staticmethod
    def _prune(doc: dict[str, Any], now: float) -> None:
        """Forget the counters of past hours and days (the current ones stay)."""
        hour, day = int(now // 3600), int(now // 86400)
        stale = [
            key
            for key in doc["spend"]
            if (period := key.rsplit("|", 1)[1])[0] in "hd"
            and period != "total"
            and int(period[1:]) < (hour if period[0] == "h" else day)
        ]
        for key in stale:
            del doc["spend"][key]

    def _scope(
        self, tenant: str | None, tags: Sequence[str] | None
    ) -> tuple[str | None, tuple[str, ...]]:
        context_tenant, context_tags = _SCOPE.get()
        tenant = context_tenant if tenant is None else tenant
        if tenant is not None and (not isinstance(tenant, str) or not tenant):
            raise ValueError(f"tenant must be a non-empty string or None, got {tenant!r}")
        chosen = context_tags if tags is None else tuple(tags)
        if isinstance(tags, str) or not all(isinstance(t, str) and t for t in chosen):
            raise ValueError(f"tags must be a sequence of non-empty strings, got {tags!r}")
        return tenant, chosen

    # -- reservations -------------------------------------------------------------------------
    def reserve(
        self,
        *,
        wants_cloud: bool,
        price_usd: float,
        tenant: str | None = None,
        tags: Sequence[str] | None = None,
        now: float | None = None,
    ) -> BudgetSlot:
        """Record a step, admitting it to the cloud only if every budget allows.

        Args:
            wants_cloud: Whether the policy chose the cloud.
            price_usd: Expected price of the cloud call.
            tenant: Tenant charged (default: the enclosing :func:`budget_scope`'s).
            tags: Tags charged (default: the enclosing :func:`budget_scope`'s).
            now: Unix time of the step, which picks the hour and day windows (default: now;
                replays pass the trace's time).

        Returns:
            The step's slot: ``slot.cloud`` says whether it may use the cloud, ``slot.reason``
            why it may not and ``slot.limit`` which budget refused it.

        Raises:
            ValueError: ``price_usd`` is negative or not finite, or a tenant/tag is empty.
            SharedStateError: The shared state could not be updated.
        """
        price = _price(price_usd)
        tenant, scope_tags = self._scope(tenant, tags)
        when = time.time() if now is None else float(now)
        limits = self._limits(tenant, scope_tags, when)
        cap = self.max_cloud_share

        def apply(current: dict[str, Any] | None) -> tuple[dict[str, Any], BudgetSlot]:
            doc = self._doc(current)
            refusal = (
                self._refusal(doc, price, limits, extra_steps=1, ignore=-1) if wants_cloud else None
            )
            cloud = wants_cloud and refusal is None
            step = doc["next"]
            doc["next"] = step + 1
            # Read under the state's lock: the budget's order is the order of these times.
            admitted_at = time.time() if now is None else when
            window = doc["window"]
            window.append([step, int(cloud)])
            if len(window) > self.window_steps:
                del window[: len(window) - self.window_steps]
            charged = self._charge(doc, limits, price) if cloud else ()
            self._prune(doc, when)
            if cap is not None:
                observed = 1.0 if wants_cloud else 0.0
                doc["dual"] = max(0.0, doc["dual"] + self.step_size * (observed - cap))
            slot = BudgetSlot(
                cloud,
                price if cloud else 0.0,
                refusal[0] if refusal else None,
                limit=refusal[1] if refusal else None,
                step_id=step,
                tenant=tenant,
                tags=scope_tags,
                charged=charged,
                admitted_at=admitted_at,
            )
            self._dual = doc["dual"]
            return doc, slot

        slot: BudgetSlot = self._backend().update(self._key, apply)
        return slot

    def upgrade(self, slot: BudgetSlot, *, price_usd: float, now: float | None = None) -> bool:
        """Move a recorded edge step to the cloud (an edge-to-cloud fallback), if allowed.

        Returns:
            Whether the cloud may be used (when not, ``slot.reason``/``slot.limit`` say why).
        """
        if slot.cloud:
            return True
        price = _price(price_usd)
        limits = self._limits(slot.tenant, slot.tags, time.time() if now is None else now)

        def apply(current: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
            doc = self._doc(current)
            refusal = self._refusal(doc, price, limits, extra_steps=0, ignore=slot.step_id)
            if refusal is not None:
                slot.reason, slot.limit = refusal
                return doc, False
            slot.charged = self._charge(doc, limits, price)
            _flip(doc, slot.step_id, 1)
            slot.cloud, slot.price_usd = True, price
            return doc, True

        allowed: bool = self._backend().update(self._key, apply)
        return allowed

    def downgrade(self, slot: BudgetSlot) -> None:
        """Move a recorded cloud step back to the edge (the cloud failed; nothing was spent)."""
        if not slot.cloud:
            return

        def apply(current: dict[str, Any] | None) -> tuple[dict[str, Any], None]:
            doc = self._doc(current)
            spend = doc["spend"]
            for key in slot.charged:
                if key in spend:  # a past hour's counter may be gone already
                    spend[key] = max(0.0, spend[key] - slot.price_usd)
            _flip(doc, slot.step_id, 0)
            return doc, None

        self._backend().update(self._key, apply)
        slot.cloud, slot.price_usd, slot.charged = False, 0.0, ()


def _flip(doc: dict[str, Any], step_id: int, cloud: int) -> None:
    for entry in reversed(doc["window"]):
        if entry[0] == step_id:
            entry[1] = cloud
            return


def _price(price_usd: float) -> float:
    if (
        isinstance(price_usd, bool)
        or not isinstance(price_usd, int | float)
        or not math.isfinite(price_usd)
        or price_usd < 0
    ):
        raise ValueError(f"price_usd must be a finite number >= 0, got {price_usd!r}")
    return float(price_usd)
