"""Merge fragments into graph nodes/edges and their vectors (the fragment model).

A node or edge is a function of its fragments. Merging reads them all, reuses the
current description when only new fragments arrived (so summaries are not redone
on every document), and rebuilds from scratch when fragments were removed.

User edits (``graph_ops``) are *manual* fragments, chunk id ``manual-<hash>``. A
manual fragment outranks the evidence older than it: the description (and a
relation's keywords and weight) restart from the user's text and only grow with
fragments written after the edit, and a manual entity type wins over the extracted
ones. A rebuild therefore reproduces exactly what the user set plus later evidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lambdarag.indexing.summarize import SummaryOptions, SummaryRequest, summarize_many
from lambdarag.llm.base import EmbeddingBinding
from lambdarag.llm.cache import CachedLLM
from lambdarag.storage.base import GRAPH_FIELD_SEP, EntityFragment, RelationFragment
from lambdarag.storage.stores import KeyedLocks, Stores
from lambdarag.utils import mdhash, now_unix, pair_hash

UNKNOWN_TYPE = "UNKNOWN"
MANUAL_CHUNK_PREFIX = "manual-"
F = TypeVar("F", EntityFragment, RelationFragment)


@dataclass(frozen=True)
class MergeOptions:
    summary: SummaryOptions = field(default_factory=SummaryOptions)
    max_source_ids_per_entity: int = 200
    max_source_ids_per_relation: int = 200
    source_ids_limit_method: str = "KEEP"
    max_file_paths: int = 75


@dataclass
class MergeReport:
    upserted: int = 0
    deleted: int = 0
    llm_summaries: int = 0
    messages: list[str] = field(default_factory=list)


@dataclass
class MergeContext:
    stores: Stores
    llm: CachedLLM
    embedder: EmbeddingBinding
    locks: KeyedLocks
    options: MergeOptions


def entity_vector_id(name: str) -> str:
    return mdhash(name, "ent-")


def relation_vector_id(src: str, tgt: str) -> str:
    return pair_hash(src, tgt, "rel-")


def relation_key(src: str, tgt: str) -> str:
    a, b = sorted((src, tgt))
    return f"{a}{GRAPH_FIELD_SEP}{b}"


# ------------------------------------------------------------------ shared helpers


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _limit(items: list[str], limit: int, method: str) -> list[str]:
    if len(items) <= limit:
        return items
    return items[:limit] if method == "KEEP" else items[-limit:]


def _file_paths(paths: list[str], options: MergeOptions) -> str:
    unique = _dedupe(paths)
    if len(unique) > options.max_file_paths:
        kept = _limit(unique, options.max_file_paths, options.source_ids_limit_method)
        marker = "KEEP Old" if options.source_ids_limit_method == "KEEP" else "FIFO"
        unique = [*kept, f"...truncated...({marker})"]
    return GRAPH_FIELD_SEP.join(unique)


def is_manual(fragment: EntityFragment | RelationFragment) -> bool:
    """Whether the fragment holds a user's edit rather than extracted evidence."""
    return fragment["chunk_id"].startswith(MANUAL_CHUNK_PREFIX)


def _ordered(fragments: Sequence[F]) -> list[F]:
    """Oldest first; on a tie a manual fragment goes first (it predates the tie)."""
    return sorted(
        fragments, key=lambda f: (f.get("timestamp", 0), not is_manual(f), f["chunk_id"])
    )


def _since_edit(ordered: list[F], field: str) -> list[F]:
    """The fragments from the last manual one that sets ``field`` on (all when none does)."""
    starts = [i for i, f in enumerate(ordered) if is_manual(f) and f.get(field)]
    return ordered[starts[-1]:] if starts else ordered


def _descriptions(
    ordered: list[EntityFragment] | list[RelationFragment],
    current: dict[str, Any] | None,
    reflected: list[str] | None,
) -> list[str] | None:
    """Descriptions to merge, or None when nothing changed since the last merge.

    When every fragment the current description reflects is still there, only the
    new fragments are added to it; otherwise the description is rebuilt from the
    last manual description on.
    """
    chunk_ids = {f["chunk_id"] for f in ordered}
    if current and reflected is not None and set(reflected) <= chunk_ids:
        seen = set(reflected)
        new = [f["description"] for f in ordered if f["chunk_id"] not in seen]
        if not new:
            return None
        return _dedupe([*str(current.get("description", "")).split(GRAPH_FIELD_SEP), *new])
    return _dedupe([f["description"] for f in _since_edit(ordered, "description")])


def _entity_type(ordered: list[EntityFragment]) -> str:
    """The user's type when one was set, else the most common extracted one (oldest wins ties)."""
    manual = [f["entity_type"] for f in ordered if is_manual(f) and f.get("entity_type")]
    if manual:
        return manual[-1]
    types = Counter(f["entity_type"] for f in ordered if f.get("entity_type"))
    return types.most_common(1)[0][0] if types else UNKNOWN_TYPE


def _relation_text(ordered: list[RelationFragment], chunk_count: int) -> tuple[str, float]:
    """Keywords and weight: the user's values plus later evidence, else everything's."""
    since = _since_edit(ordered, "keywords")
    keywords = sorted({k.strip() for f in since for k in f.get("keywords", "").split(",")} - {""})
    weighted = _since_edit(ordered, "weight")
    weight = sum(float(f.get("weight", 1.0)) for f in weighted)
    if weighted is ordered:  # no manual weight: at least one per supporting chunk
        weight = max(weight, chunk_count)
    return ",".join(keywords), float(weight)


async def _embed_upsert(
    ctx: MergeContext, vdb_name: str, items: list[dict[str, Any]]
) -> None:
    if not items:
        return
    vectors = await ctx.embedder.embed([item["content"] for item in items])
    await getattr(ctx.stores, vdb_name).upsert(items, vectors)


# ----------------------------------------------------------------------- entities


async def merge_entities(names: Sequence[str], ctx: MergeContext) -> MergeReport:
    """Bring the nodes and vectors of ``names`` in line with their fragments."""
    report = MergeReport()
    if not names:
        return report
    async with ctx.locks.hold(f"e:{n}" for n in names):
        stores = ctx.stores
        fragments = await stores.fragments.entity_fragments(names)
        nodes = await stores.graph.get_nodes(names)
        reflected = dict(zip(names, await stores.entity_chunks.get_by_ids(names), strict=True))
        plans = [p for p in (_plan_entity(n, fragments[n], nodes.get(n), reflected[n])
                             for n in names) if p is not None]
        summaries = await _summaries("entity", plans, ctx, report)
        built = [_entity_props(p, next(summaries), ctx.options) if p.ordered else (p.key, None, [])
                 for p in plans]
        await _write_entities(built, nodes, ctx, report)
    return report


async def _summaries(
    kind: str, plans: list[_Plan], ctx: MergeContext, report: MergeReport
) -> Iterator[str]:
    """The merged description of every plan that keeps fragments, in order (shared calls)."""
    def label(key: Any) -> str:
        return key if kind == "entity" else f"{key[0]} - {key[1]}"

    texts = await summarize_many(
        [SummaryRequest(kind, label(p.key), p.descriptions) for p in plans if p.ordered],
        llm=ctx.llm, options=ctx.options.summary)
    report.llm_summaries += sum(used for _, used in texts)
    return iter(text for text, _ in texts)


@dataclass
class _Plan:
    """What a key's merge will write, once its descriptions are summarised.

    ``ordered`` is empty when the key lost every fragment (its node or edge goes).
    """

    key: Any  # an entity name or a relation's sorted pair
    ordered: list[Any]
    descriptions: list[str]
    current: dict[str, Any] | None
    entity_type: str = ""
    keywords: str = ""
    weight: float = 0.0
    chunk_ids: list[str] = field(default_factory=list)


def _plan_entity(
    name: str,
    fragments: list[EntityFragment],
    node: dict[str, Any] | None,
    reflected_entry: dict[str, Any] | None,
) -> _Plan | None:
    """None when the node already says what its fragments say."""
    if not fragments:
        return _Plan(name, [], [], node)
    reflected = reflected_entry.get("chunk_ids") if reflected_entry else None
    ordered = _ordered(fragments)
    descriptions = _descriptions(ordered, node, reflected)
    entity_type = _entity_type(ordered)
    if descriptions is None and node and node.get("entity_type") == entity_type:
        return None
    if descriptions is None:  # only the type changed (a manual type edit)
        descriptions = [str(node.get("description", ""))] if node else []
    return _Plan(name, ordered, descriptions, node, entity_type=entity_type,
                 chunk_ids=_dedupe([f["chunk_id"] for f in ordered]))


def _entity_props(
    plan: _Plan, description: str, options: MergeOptions
) -> tuple[str, dict[str, Any] | None, list[str]]:
    chunk_ids = plan.chunk_ids
    props = {
        "entity_id": plan.key,
        "entity_type": plan.entity_type,
        "description": description,
        "source_id": GRAPH_FIELD_SEP.join(
            _limit(chunk_ids, options.max_source_ids_per_entity, options.source_ids_limit_method)
        ),
        "file_path": _file_paths([f.get("file_path", "") for f in plan.ordered], options),
        "created_at": (plan.current or {}).get("created_at") or now_unix(),
        "truncate": "",
    }
    return (plan.key, props, chunk_ids)


async def _write_entities(
    built: list[tuple[str, dict[str, Any] | None, list[str]]],
    nodes: dict[str, dict[str, Any]],
    ctx: MergeContext,
    report: MergeReport,
) -> None:
    stores = ctx.stores
    upserts = {name: props for name, props, _ in built if props is not None}
    orphans = [name for name, props, _ in built if props is None]
    if upserts:
        await stores.graph.upsert_nodes(upserts)
        changed = [
            {"id": entity_vector_id(n), "entity_name": n, "entity_type": p["entity_type"],
             "content": f"{n}\n{p['description']}", "source_id": p["source_id"],
             "file_path": p["file_path"]}
            for n, p in upserts.items()
            if nodes.get(n, {}).get("description") != p["description"]
            or nodes.get(n, {}).get("entity_type") != p["entity_type"]
        ]
        await _embed_upsert(ctx, "entities_vdb", changed)
        await stores.entity_chunks.upsert(
            {n: {"chunk_ids": ids, "count": len(ids)} for n, p, ids in built if p is not None}
        )
        report.upserted += len(upserts)
        report.messages += [f"Merged: `{n}`" for n in upserts]
    if orphans:
        await _remove_entities([n for n in orphans if n in nodes], ctx, report)
        await stores.entity_chunks.delete(orphans)


async def _remove_entities(names: list[str], ctx: MergeContext, report: MergeReport) -> None:
    """Delete nodes without fragments, unless live relations still need them as endpoints."""
    if not names:
        return
    stores = ctx.stores
    edges = await stores.graph.node_edges(names)
    pairs = sorted({tuple(sorted(e)) for n in names for e in edges[n]})
    live = await stores.fragments.relation_fragments(pairs) if pairs else {}
    needed = {n for pair, frags in live.items() if frags for n in pair}
    keep = [n for n in names if n in needed]
    drop = [n for n in names if n not in needed]
    if keep:
        await stores.graph.upsert_nodes(
            {n: _placeholder(n, "", now_unix()) for n in keep}
        )
    if drop:
        await stores.graph.delete_nodes(drop)
        await stores.entities_vdb.delete([entity_vector_id(n) for n in drop])
        report.deleted += len(drop)
        report.messages += [f"Deleted entity `{n}`" for n in drop]


def _placeholder(name: str, source_id: str, created_at: int) -> dict[str, Any]:
    return {
        "entity_id": name,
        "entity_type": UNKNOWN_TYPE,
        "description": name,
        "source_id": source_id,
        "file_path": "",
        "created_at": created_at,
        "truncate": "",
    }


# ---------------------------------------------------------------------- relations


async def merge_relations(pairs: Sequence[tuple[str, str]], ctx: MergeContext) -> MergeReport:
    """Bring the edges and vectors of ``pairs`` (sorted) in line with their fragments."""
    report = MergeReport()
    if not pairs:
        return report
    keys = [f"r:{relation_key(*p)}" for p in pairs] + [f"e:{n}" for p in pairs for n in p]
    async with ctx.locks.hold(keys):
        stores = ctx.stores
        fragments = await stores.fragments.relation_fragments(pairs)
        edges = await stores.graph.get_edges(pairs)
        rkeys = [relation_key(*p) for p in pairs]
        reflected = dict(zip(pairs, await stores.relation_chunks.get_by_ids(rkeys), strict=True))
        plans = [p for p in (_plan_relation(pair, fragments[pair], edges.get(pair),
                                            reflected[pair]) for pair in pairs) if p is not None]
        summaries = await _summaries("relation", plans, ctx, report)
        built = [_relation_props(p, next(summaries), ctx.options) if p.ordered
                 else (p.key, None, []) for p in plans]
        await _write_relations(built, edges, ctx, report)
    return report


def _plan_relation(
    pair: tuple[str, str],
    fragments: list[RelationFragment],
    edge: dict[str, Any] | None,
    reflected_entry: dict[str, Any] | None,
) -> _Plan | None:
    """None when the edge already says what its fragments say."""
    if not fragments:
        return _Plan(pair, [], [], edge)
    reflected = reflected_entry.get("chunk_ids") if reflected_entry else None
    ordered = _ordered(fragments)
    chunk_ids = _dedupe([f["chunk_id"] for f in ordered])
    keywords, weight = _relation_text(ordered, len(chunk_ids))
    descriptions = _descriptions(ordered, edge, reflected)
    unchanged = edge and (edge.get("keywords"), edge.get("weight")) == (keywords, weight)
    if descriptions is None and unchanged:
        return None
    if descriptions is None:  # only keywords or weight changed (a manual edit)
        descriptions = [str(edge.get("description", ""))] if edge else []
    return _Plan(pair, ordered, descriptions, edge, keywords=keywords, weight=weight,
                 chunk_ids=chunk_ids)


def _relation_props(
    plan: _Plan, description: str, options: MergeOptions
) -> tuple[tuple[str, str], dict[str, Any] | None, list[str]]:
    props = {
        "weight": plan.weight,
        "description": description,
        "keywords": plan.keywords,
        "source_id": GRAPH_FIELD_SEP.join(
            _limit(plan.chunk_ids, options.max_source_ids_per_relation,
                   options.source_ids_limit_method)
        ),
        "file_path": _file_paths([f.get("file_path", "") for f in plan.ordered], options),
        "created_at": (plan.current or {}).get("created_at") or now_unix(),
        "truncate": "",
    }
    return (plan.key, props, plan.chunk_ids)


async def _write_relations(
    built: list[tuple[tuple[str, str], dict[str, Any] | None, list[str]]],
    edges: dict[tuple[str, str], dict[str, Any]],
    ctx: MergeContext,
    report: MergeReport,
) -> None:
    stores = ctx.stores
    upserts = {pair: props for pair, props, _ in built if props is not None}
    removed = [pair for pair, props, _ in built if props is None]
    if upserts:
        await _ensure_endpoints(upserts, ctx)
        await stores.graph.upsert_edges(upserts)
        changed = [
            {"id": relation_vector_id(*p), "src_id": p[0], "tgt_id": p[1],
             "keywords": v["keywords"], "description": v["description"], "weight": v["weight"],
             "content": f"{v['keywords']}\t{p[0]}\n{p[1]}\n{v['description']}",
             "source_id": v["source_id"], "file_path": v["file_path"]}
            for p, v in upserts.items()
            if edges.get(p, {}).get("description") != v["description"]
            or edges.get(p, {}).get("keywords") != v["keywords"]
        ]
        await _embed_upsert(ctx, "relationships_vdb", changed)
        await stores.relation_chunks.upsert(
            {relation_key(*p): {"chunk_ids": ids, "count": len(ids)}
             for p, v, ids in built if v is not None}
        )
        report.upserted += len(upserts)
    if removed:
        await _remove_relations(removed, edges, ctx, report)


async def _ensure_endpoints(
    edges: dict[tuple[str, str], dict[str, Any]], ctx: MergeContext
) -> None:
    """Create UNKNOWN placeholder nodes for endpoints no entity record produced."""
    names = sorted({n for pair in edges for n in pair})
    present = await ctx.stores.graph.get_nodes(names)
    missing = {}
    for pair, props in edges.items():
        for name in pair:
            if name not in present and name not in missing:
                missing[name] = _placeholder(name, props["source_id"], props["created_at"])
    if missing:
        await ctx.stores.graph.upsert_nodes(missing)
        await _embed_upsert(
            ctx, "entities_vdb",
            [{"id": entity_vector_id(n), "entity_name": n, "entity_type": UNKNOWN_TYPE,
              "content": f"{n}\n{p['description']}", "source_id": p["source_id"],
              "file_path": ""} for n, p in missing.items()],
        )


async def _remove_relations(
    pairs: list[tuple[str, str]],
    edges: dict[tuple[str, str], dict[str, Any]],
    ctx: MergeContext,
    report: MergeReport,
) -> None:
    stores = ctx.stores
    present = [p for p in pairs if p in edges]
    if present:
        await stores.graph.delete_edges(present)
        await stores.relationships_vdb.delete([relation_vector_id(*p) for p in present])
        report.deleted += len(present)
    await stores.relation_chunks.delete([relation_key(*p) for p in pairs])
    await _drop_orphan_placeholders({n for p in pairs for n in p}, ctx)


async def _drop_orphan_placeholders(names: set[str], ctx: MergeContext) -> None:
    """Placeholder endpoints left without any edge and without fragments go away."""
    graph = ctx.stores.graph
    nodes = await graph.get_nodes(sorted(names))
    candidates = [n for n, p in nodes.items() if p.get("entity_type") == UNKNOWN_TYPE]
    if not candidates:
        return
    degrees = await graph.node_degrees(candidates)
    fragments = await ctx.stores.fragments.entity_fragments(candidates)
    orphans = [n for n in candidates if degrees.get(n, 0) == 0 and not fragments[n]]
    if orphans:
        await graph.delete_nodes(orphans)
        await ctx.stores.entities_vdb.delete([entity_vector_id(n) for n in orphans])
