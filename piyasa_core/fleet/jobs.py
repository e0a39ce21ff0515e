"""Reply jobs across the fleet: a person's message reaches the host whose shard holds the asked bot.

A job is stored with the message (the database has it); what travels is the short notice that a bot
owes an answer. The host that received the message publishes it on a Redis channel when another host
holds the bot's shard; every host listens and hands it to its own worker when it holds that shard.
A job published while no host holds the shard (the seconds of a failover) is lost — the question
then stays unanswered, which the benchmark's people criterion shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from piyasa_core.engine.types import ReplyJob

log = logging.getLogger(__name__)


class JobRelay:
    """Publishes and receives reply jobs on ``<prefix>:fleet:jobs``."""

    def __init__(self, client: Any, prefix: str, host_id: str) -> None:
        self.client = client
        self.channel = f"{prefix}:fleet:jobs"
        self.host_id = host_id
        self.sent = 0
        self.received = 0

    async def publish(self, job: ReplyJob) -> None:
        """Tell the other hosts that ``job``'s bot owes an answer."""
        payload = {"from": self.host_id, "bot_id": job.bot_id, "chat_id": job.chat_id,
                   "message_id": job.message_id, "addressed": job.addressed}
        try:
            await self.client.publish(self.channel, json.dumps(payload))
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - Redis down: the job is lost, said so once per failure
            log.warning("fleet %s: reply job for bot %d not relayed (%s)", self.host_id, job.bot_id, exc)

    async def publish_bot_switch(self, bot_id: int, enabled: bool) -> None:
        """Tell the other hosts the operator turned a bot on or off (already in the database)."""
        try:
            await self.client.publish(self.channel, json.dumps({"from": self.host_id, "kind": "bot",
                                                                "bot_id": bot_id, "enabled": enabled}))
        except Exception as exc:  # noqa: BLE001 - the others see it at their next start
            log.warning("fleet %s: bot switch of %d not relayed (%s)", self.host_id, bot_id, exc)

    async def run(self, stop: asyncio.Event, deliver: Callable[[ReplyJob], None],
                  bot_switch: Callable[[int, bool], None] | None = None) -> None:
        """Hand every job another host published to ``deliver`` (and every bot switch to ``bot_switch``)
        until ``stop``; reconnects on errors."""
        while not stop.is_set():
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None:
                        continue
                    data = json.loads(message["data"])
                    if data.get("from") == self.host_id:
                        continue
                    if data.get("kind") == "bot":
                        if bot_switch is not None:
                            bot_switch(int(data["bot_id"]), bool(data["enabled"]))
                        continue
                    self.received += 1
                    deliver(ReplyJob(int(data["bot_id"]), int(data["chat_id"]), int(data["message_id"]),
                                     bool(data.get("addressed", True))))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis went away: listen again shortly
                log.warning("fleet %s: reply job relay interrupted (%s)", self.host_id, exc)
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001
                    pass
