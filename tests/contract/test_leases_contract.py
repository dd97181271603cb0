"""Key locks shared across processes (leases over the KV contract's compare-and-set).

Each SharedKeyLocks below opens its own factory, so they share nothing but the store,
as two Lambda instances would.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from lambdarag.storage.base import StoreUnavailableError
from lambdarag.storage.leases import LeaseLostError, SharedKeyLocks
from tests.contract.contract_backends import WORKSPACE, MakeFactory

NS = "key_leases"


def _locks(make: MakeFactory, **kwargs: float) -> SharedKeyLocks:
    return SharedKeyLocks(make(WORKSPACE).kv(NS), **kwargs)


async def test_two_processes_never_hold_the_same_key_at_once(factory_maker: MakeFactory) -> None:
    # GIVEN two processes that both lock "e:Alice" (one also "e:Bob") several times
    first, second = _locks(factory_maker), _locks(factory_maker)
    inside: list[str] = []
    overlaps: list[tuple[str, str]] = []

    async def work(locks: SharedKeyLocks, keys: list[str], tag: str) -> None:
        for _ in range(3):
            async with locks.hold(keys):
                if inside:
                    overlaps.append((inside[0], tag))
                inside.append(tag)
                await asyncio.sleep(0.02)
                inside.remove(tag)

    # WHEN they run at the same time
    await asyncio.gather(
        work(first, ["e:Alice"], "first"), work(second, ["e:Bob", "e:Alice"], "second")
    )

    # THEN their critical sections never overlapped, and no lease is left behind
    assert overlaps == []
    assert await factory_maker(WORKSPACE).kv(NS).keys() == []


async def test_keys_are_taken_all_or_nothing(factory_maker: MakeFactory) -> None:
    # GIVEN one process holding x, and another waiting for x and y
    holder, waiter, third = (_locks(factory_maker) for _ in range(3))
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold_x() -> None:
        async with holder.hold(["x"]):
            entered.set()
            await release.wait()

    holding = asyncio.create_task(hold_x())
    await entered.wait()
    waiting = asyncio.create_task(_enter(waiter, ["x", "y"]))
    await asyncio.sleep(0.2)

    # THEN y is not held by the waiter meanwhile: a third process takes it at once
    async with asyncio.timeout(5):
        async with third.hold(["y"]):
            pass
    assert not waiting.done()

    # WHEN x is released, the waiter gets both
    release.set()
    await holding
    async with asyncio.timeout(10):
        await waiting


async def _enter(locks: SharedKeyLocks, keys: list[str]) -> None:
    async with locks.hold(keys):
        pass


async def test_a_dead_holders_lease_expires(factory_maker: MakeFactory) -> None:
    # GIVEN a lease left by a process that died (expired a second ago)
    kv = factory_maker(WORKSPACE).kv(NS)
    await kv.put_if_version("k", {"owner": "dead", "nonce": "n", "expires": time.time() - 1}, None)

    # THEN another process takes the key at once
    async with asyncio.timeout(5):
        await _enter(_locks(factory_maker), ["k"])
    assert await kv.get_by_id("k") is None


async def test_waiting_for_a_live_lease_times_out_with_the_key_named(
    factory_maker: MakeFactory,
) -> None:
    # GIVEN a live lease of another process
    kv = factory_maker(WORKSPACE).kv(NS)
    lease = {"owner": "other", "nonce": "n", "expires": time.time() + 60}
    await kv.put_if_version("e:Alice", lease, None)

    # WHEN a process waits at most 0.3 s for it
    with pytest.raises(StoreUnavailableError, match="e:Alice"):
        await _enter(_locks(factory_maker, wait=0.3), ["e:Alice"])

    # THEN the other's lease is untouched
    assert await kv.get_by_id("e:Alice") == lease


async def test_a_holder_renews_its_lease_past_the_ttl(factory_maker: MakeFactory) -> None:
    # GIVEN a holder with a 1.5 s lease that works for 2.5 s
    holder = _locks(factory_maker, ttl=1.5)
    other = _locks(factory_maker, wait=1.0)
    entered = asyncio.Event()

    async def long_work() -> None:
        async with holder.hold(["k"]):
            entered.set()
            await asyncio.sleep(2.5)

    work = asyncio.create_task(long_work())
    await entered.wait()

    # THEN nobody gets in meanwhile (the lease was renewed), and the holder ends cleanly
    with pytest.raises(StoreUnavailableError):
        await _enter(other, ["k"])
    await work


async def test_a_holder_whose_lease_was_taken_fails_at_release(
    factory_maker: MakeFactory,
) -> None:
    # GIVEN a holder whose lease is overwritten meanwhile (it stalled past its ttl)
    kv = factory_maker(WORKSPACE).kv(NS)
    holder = _locks(factory_maker)

    # THEN leaving the block raises, so its step runs again
    with pytest.raises(LeaseLostError, match="k"):
        async with holder.hold(["k"]):
            await kv.upsert({"k": {"owner": "thief", "nonce": "t", "expires": time.time() + 60}})
    assert (await kv.get_by_id("k"))["owner"] == "thief"
