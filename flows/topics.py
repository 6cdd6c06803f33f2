"""Topics in the daily flow: checked before anything is ingested, matched once the run has
decided its stories, then a message per topic with new stories and a Markdown artifact per topic.

A message goes through a Prefect notification block the user saved (UI or `prefect block
create`), named in the topics file as '<block type>/<block name>'. A failed send is recorded in
`notifications` and never fails the run; a block that does not exist fails the run at its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from newsflow.db import open_db
from newsflow.tasks.report import digests, report_text
from newsflow.tasks.report import topics as topic_store
from newsflow.tasks.report.topics import Topic, TopicError
from newsflow.tasks.search import engine

TOPIC_KEY_PREFIX = "newsflow-topic-"  # + the topic's slug: one artifact history per topic
ARTIFACT_ENTRIES = 20  # per topic: a glance; `newsflow report --topic` has them all


@dataclass
class Topics:
    """The run's topics and the notification block each `notify` names, loaded at the start."""

    path: str | None = None
    topics: list[Topic] = field(default_factory=list)
    blocks: dict[str, NotificationBlock] = field(default_factory=dict)

    @property
    def enabled(self) -> list[Topic]:
        return [topic for topic in self.topics if topic.enabled]


def topics_path(seeds_dir: str, topics_file: str | None) -> Path | None:
    """The topics file a run uses: the one given, else <seeds_dir>/topics.toml when present."""
    if topics_file:
        return Path(topics_file)
    default = Path(seeds_dir) / "topics.toml"
    return default if default.is_file() else None


def prepare_topics(db_path: str, seeds_dir: str, topics_file: str | None) -> Topics:
    """Read the topics file, check every enabled topic's query and load its notification block:
    one clear error (naming the topic) before the run ingests anything."""
    path = topics_path(seeds_dir, topics_file)
    if path is None:
        return Topics()
    if not path.is_file():
        raise TopicError(f"topics file {path} does not exist")
    prepared = Topics(path=str(path), topics=topic_store.load_topics(path))
    db = open_db(db_path)
    for topic in prepared.enabled:
        try:
            topic_store.check_query(db, topic.query)
        except engine.BadQuery as error:
            raise TopicError(f"{path}: topic {topic.name!r}: {error}") from None
        if topic.notify and topic.notify not in prepared.blocks:
            prepared.blocks[topic.notify] = load_block(topic.notify, topic=topic.name)
    return prepared


def load_block(reference: str, *, topic: str) -> NotificationBlock:
    """The saved notification block '<block type>/<block name>', or a TopicError saying why not."""
    # Registers Prefect's own notification block types, so a saved one loads as its class.
    import prefect.blocks.notifications  # noqa: F401

    try:
        block = Block.load(reference)
    except (ValueError, KeyError) as error:
        raise TopicError(
            f"topic {topic!r}: no Prefect notification block {reference!r} ({error});"
            " create it in the UI or with `prefect block create`"
        ) from None
    if not isinstance(block, NotificationBlock):
        raise TopicError(f"topic {topic!r}: block {reference!r} is not a notification block")
    return block


@task(name="match-topics", cache_policy=NO_CACHE)
def match_topics(db_path: str, topics: list[Topic], run_id: str) -> dict[str, Any]:
    """Match the run's new and changed documents against every enabled topic."""
    result = topic_store.match_run(open_db(db_path), topics, run_id=run_id)
    if result.rematched:
        get_run_logger().info("re-matched over the window: %s", ", ".join(result.rematched))
    return {"counts": result.counts(), "matched": result.matched}


def notify_topics(db_path: str, prepared: Topics, run_id: str) -> dict[str, str]:
    """One message per topic with new stories in this run; the outcome per topic (sent, failed)."""
    logger = get_run_logger()
    db = open_db(db_path)
    outcomes: dict[str, str] = {}
    for topic in prepared.enabled:
        if not topic.notify:
            continue
        notes = topic_store.new_stories(db, topic.name, run_id=run_id)
        if not notes:
            continue  # nothing new: no message
        subject, body = topic_store.message(topic, notes)
        error = send(prepared.blocks[topic.notify], subject=subject, body=body)
        if error:
            logger.warning("topic %r: the message through %s failed: %s", topic.name,
                           topic.notify, error)  # fmt: skip
        topic_store.record_notification(db, topic, run_id=run_id, stories=len(notes), error=error)
        outcomes[topic.name] = "failed" if error else "sent"
    return outcomes


def send(block: NotificationBlock, *, subject: str, body: str) -> str | None:
    """Send through the block; the error as text, or None when it was sent."""
    try:
        # Apprise-based blocks (Slack, Teams, email …) only log a failure unless asked to raise.
        with block.raise_on_failure():
            # _sync: this runs in a worker thread of a sync flow, never an event loop.
            block.notify(body, subject, _sync=True)  # type: ignore[call-arg,unused-coroutine]
    except Exception as error:  # any failure of the receiver is recorded, never raised
        return f"{type(error).__name__}: {error}"[:2000]
    return None


def publish_topic_artifacts(db_path: str, prepared: Topics, run_id: str) -> dict[str, str]:
    """A Markdown artifact per topic that matched something new in this run."""
    db = open_db(db_path)
    published: dict[str, str] = {}
    for topic in prepared.enabled:
        ids = topic_store.topic_documents(db, topic.name, run_id=run_id)
        if not ids:
            continue  # only what is new: a topic with nothing new adds no version
        digest = digests.documents_digest(
            db, ids[:ARTIFACT_ENTRIES], title=f"Topic {topic.name} — run {run_id[:8]}",
            run_id=run_id,
        )  # fmt: skip
        digest.more = max(0, len(ids) - ARTIFACT_ENTRIES)
        digest.notes.append(f"Query: {topic.query}")
        key = TOPIC_KEY_PREFIX + topic.slug
        published[key] = str(
            create_markdown_artifact(
                markdown=report_text.to_markdown(digest),
                key=key,
                description=f"newsflow run {run_id}: new for topic {topic.name}",
            )
        )
    return published


def after_run(db_path: str, prepared: Topics, run_id: str) -> None:
    """Messages and artifacts once the run is recorded: neither may fail it."""
    if prepared.enabled:
        # quote(): the blocks are not task inputs to inspect or record.
        announce(db_path, quote(prepared), run_id)  # type: ignore[call-overload]


@task(name="topic-messages", cache_policy=NO_CACHE)
def announce(db_path: str, prepared: Topics, run_id: str) -> None:
    """Send the topics' messages and publish their artifacts, logging (never raising) failures."""
    logger = get_run_logger()
    try:
        notify_topics(db_path, prepared, run_id)
    except Exception as error:  # a failure outside a send (the database) is logged only
        logger.warning("could not send the topics' messages: %s", error)
    try:
        publish_topic_artifacts(db_path, prepared, run_id)
    except Exception as error:
        logger.warning("could not publish the topics' artifacts: %s", error)
