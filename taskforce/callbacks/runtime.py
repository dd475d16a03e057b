"""The background loops that deliver callbacks and answer test-mode tasks (issue 4).

``taskforce serve`` runs them inside the web process (unless ``run_dispatcher`` is off) and
``taskforce dispatch`` runs them alone; any number of either may run against one database.
"""

from __future__ import annotations

import asyncio

from taskforce.app_state import AppState


async def dispatcher_loop(state: AppState) -> None:
    from taskforce.callbacks.dispatcher import Dispatcher

    await Dispatcher(state.db, state.settings, signals=state.signals,
                     poll_seconds=state.settings.callback_poll_seconds).run()


async def simulator_loop(state: AppState) -> None:
    from taskforce.tasks.simulator import SimulatedWorker

    await SimulatedWorker(state.db, delay_seconds=state.settings.test_mode_delay_seconds,
                          signals=state.signals).run()


async def skill_refit_loop(state: AppState) -> None:
    """Answer quality: re-fit the customers' worker skills every ``quality_refit_seconds``."""
    from taskforce.quality.refit import SkillRefitter

    await SkillRefitter(state.db, interval_seconds=state.settings.quality_refit_seconds,
                        window_days=state.settings.quality_refit_window_days).run()


async def wakeup_listener_loop(state: AppState) -> None:
    """On PostgreSQL, relay other processes' commits to this process's loops (pg_wakeups.py)."""
    if state.db.is_sqlite:
        return
    from taskforce.pg_wakeups import Listener

    listener = Listener(state.db.url, state.signals).start()
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await asyncio.to_thread(listener.stop)


def loops() -> list:
    return [dispatcher_loop, simulator_loop, skill_refit_loop, wakeup_listener_loop]
