"""The run's report: corrections, rejections, type mismatches, warnings, row counts."""

from dataclasses import dataclass

import pandas as pd

from aggregator.row_filter import text_in
from aggregator.sqlgen import ROWS_ALIAS


@dataclass(frozen=True)
class Report:
    """What the run tells about keys and values beside the aggregated rows."""

    corrections: tuple
    rejections: tuple
    mismatches: tuple
    warnings: tuple


def correction(raw: str, resolution, source: str, rows) -> dict:
    """Return one correction record: raw key -> company id, how, where, how many."""
    return {
        "raw": raw,
        "company_id": resolution.company_id,
        "method": resolution.method,
        "score": float(resolution.score),
        "source": source,
        "rows": rows,
    }


def build(plan, settings, registry, datas: dict, companies, rows) -> Report:
    """Return the report for the normalised ``datas`` and the aggregated ``rows``."""
    corrections, rejections, mismatches, warnings = [], [], [], []
    for name, data in datas.items():
        corrections += _corrections(name, data)
        rejections += _rejections(name, data, registry)
        mismatches += list(data.mismatches)
        warnings += list(data.warnings)
    if companies:
        missing = sorted(set(companies) - set(rows["company_id"]))
        if missing:
            warnings.append(f"no data for requested companies: {', '.join(missing)}")
    return Report(
        tuple(corrections), tuple(rejections), _merge(mismatches), tuple(warnings)
    )


def _row_counts(data, raws: list) -> pd.Series:
    """Return the accepted rows of each raw key in ``raws`` (sorted by key).

    Rows data was counted per raw key when it was reduced (``key_rows``);
    partial data holds a row count per key.
    """
    if data.key_rows is not None:
        counts = data.key_rows
        return counts[text_in(counts.index.to_series(), raws)].sort_index()
    frame = data.accepted
    frame = frame[text_in(frame["raw_key"], raws)]
    return frame.groupby("raw_key")["rows"].sum().sort_index()


def _corrections(name: str, data) -> list:
    """Return a correction record per raw key not matched exactly, by key.

    Only those keys are counted: at scale most keys are exact and listing each
    costs more than the counting.
    """
    fixed = [raw for raw, r in data.resolutions.items() if r.method != "exact"]
    if not fixed:
        return []
    counts = _row_counts(data, fixed)
    return [
        correction(raw, data.resolutions[raw], name, int(rows))
        for raw, rows in zip(counts.index.tolist(), counts.tolist())
        if rows > 0
    ]


def _rejections(name: str, data, registry) -> list:
    counts = data.rejected.groupby("raw_key").size()
    found = registry.resolve_many(counts.index.tolist()) if len(counts) else {}
    return [
        {
            "raw": raw,
            "source": name,
            "rows": int(rows),
            "candidates": list(found[raw].candidates),
        }
        for raw, rows in sorted(zip(counts.index.tolist(), counts.tolist()))
    ]


def _merge(mismatches: list) -> tuple:
    merged = {}
    for item in mismatches:
        key = (item["source"], item["field"])
        if key in merged:
            old = merged[key]
            examples = list(dict.fromkeys(old["examples"] + item["examples"]))[:3]
            rows = (old["rows"] + item["rows"])[:20]
            item = {**old, "count": old["count"] + item["count"]}
            item.update(examples=examples, rows=rows)
        merged[key] = item
    return tuple(merged[k] for k in sorted(merged))


def rejected_frame(datas: dict, fields) -> pd.DataFrame:
    """Return every rejected row: source, raw key, period and canonical values."""
    frames = [
        d.rejected.drop(columns=["company_id"], errors="ignore").assign(source=name)
        for name, d in datas.items()
        if len(d.rejected)
    ]
    head = ["source", "raw_key", "period_end"]
    if not frames:
        return pd.DataFrame(columns=head + list(fields))
    joined = pd.concat(frames, ignore_index=True)
    present = [f for f in fields if f in joined.columns]
    joined = joined.reindex(columns=head + present)
    return joined.sort_values(head, ignore_index=True)


def source_rows(frames: dict, plan) -> dict:
    """Return per source the number of source rows its main queries covered.

    ``frames``: source -> kind -> the result of each query of that kind.
    """
    out = {}
    for name, kinds in frames.items():
        mode = plan.sources[name].mode
        results = kinds.get(mode)
        if results is None:
            continue
        # partial pages and rows mapped while fetching hold their frame
        tables = [getattr(result, "frame", result) for result in results]
        if mode == "partial":
            out[name] = int(sum(table[ROWS_ALIAS].sum() for table in tables))
        else:
            out[name] = sum(len(table) for table in tables)
    return out


def failure_warnings(session, plan) -> tuple:
    """Return a warning per failed source, and per filter no live source could judge."""
    warnings = [
        f"{name} is {f['status']} ({f['reason']}); its data is not in this result"
        for name, f in session.failures.items()
    ]
    for flt in plan.query.filters:
        judges = [
            name
            for name, sp in plan.sources.items()
            if flt in sp.pushed or flt in sp.residual
        ]
        if judges and all(name in session.failures for name in judges):
            warnings.append(
                f"filter {flt.describe()}: every source holding {flt.field} failed, "
                "so no row could pass it"
            )
    return tuple(warnings)
