"""Pieces of the report: baseline cells, target verdicts and the detail sections."""

import json

TARGET_SIZE = (100_000, 12)
SEED_SIZE = (1_000, 8)
MIB_LIMIT = 1024


def fmt_s(seconds) -> str:
    """Format seconds with three significant decimals."""
    return "" if seconds is None else f"{seconds:.3f}"


def find_size(results: dict, size: tuple) -> dict | None:
    """Return the results entry for (N, P), or None if that size did not run."""
    for entry in results.get("sizes", []):
        if (entry["n"], entry["p"]) == size:
            return entry
    return None


#: The modes the 1 GiB target is about.
AVERAGE_MODES = ("avg_pushdown", "avg_rows")


def peak_rss(result: dict) -> float | None:
    """Return a mode's peak RSS in MiB: the child's own, or sampled from outside."""
    found = [result.get("peak_rss_mib"), result.get("peak_rss_sampled_mib")]
    found = [value for value in found if value]
    return max(found) if found else None


def _ratio(ours, theirs) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else "n/a"


def duckdb_cells(duck: dict, entry: dict, pushdown) -> list:
    """Return the DuckDB row's cells (after N, P, rows)."""
    if "error" in duck:
        return ["DuckDB floor", "failed", "", "", "", "", duck["error"][:80]]
    totals = [run["total_s"] for run in duck["runs"]]
    note = f"{duck['loader']} load {fmt_s(duck['load_s'])} s + query "
    note += f"{fmt_s(duck['query_s'])} s; FinSync pushdown / DuckDB = "
    note += _ratio(pushdown, duck["total_s"])
    return [
        "DuckDB in-process floor (same files, FinSync's id map)",
        fmt_s(duck["total_s"]),
        fmt_s(min(totals)),
        fmt_s(max(totals)),
        f"{sum(entry['rows'].values()) / duck['total_s']:,.0f}",
        "",
        note,
    ]


def seed_cells(seed: dict, entry: dict, pushdown) -> list:
    """Return the seed-style row's cells (after N, P, rows)."""
    label = "seed-style original (requests + difflib loop)"
    if "skipped" in seed or "error" in seed:
        return [label, "skipped", "", "", "", "", seed.get("skipped") or seed["error"]]
    note = f"{len(seed['walls'])} run(s); seed-style / FinSync pushdown = "
    note += _ratio(seed["median_s"], pushdown)
    return [
        label,
        fmt_s(seed["median_s"]),
        fmt_s(min(seed["walls"])),
        fmt_s(max(seed["walls"])),
        f"{sum(entry['rows'].values()) / seed['median_s']:,.0f}",
        "",
        note,
    ]


def _verdict(target: str, measured: str, ok) -> dict:
    verdict = "not measured" if ok is None else ("met" if ok else "missed")
    return {"target": target, "measured": measured, "verdict": verdict}


def _median(entry, mode):
    return ((entry or {}).get("modes", {}).get(mode) or {}).get("median_s")


def _duck(entry):
    return ((entry or {}).get("baselines", {}).get("duckdb") or {}).get("total_s")


def _scale_verdicts(results: dict) -> list:
    entry = find_size(results, TARGET_SIZE)
    duck, out = _duck(entry), []
    for mode, limit in (("avg_pushdown", 2.0), ("avg_rows", 6.0)):
        target = f"100,000x12 {mode}: within {limit:g}x DuckDB"
        outcome = (entry or {}).get("modes", {}).get(mode) or {}
        failure = outcome.get("error")
        if outcome.get("complete") is False:
            failure = "incomplete result (a source failed, see the table)"
        if failure and duck:
            out.append(_verdict(target, f"failed: {failure[:120]}", False))
            continue
        ours = _median(entry, mode)
        ok = None if not (ours and duck) else ours / duck <= limit
        out.append(_verdict(target, _ratio(ours, duck), ok))
    # The target's sentence is about the per-company averages (pushdown on and
    # off); the per company-and-period run is reported beside it.
    modes = (entry or {}).get("modes", {})
    peaks = [peak_rss(modes[m]) for m in AVERAGE_MODES if m in modes]
    peaks = [p for p in peaks if p]
    peak = max(peaks) if peaks else None
    measured = f"{peak:,.0f} MiB (max of the per-company modes)" if peak else "n/a"
    other = peak_rss(modes.get("company_period") or {})
    if peak and other:
        measured += f"; per company and period: {other:,.0f} MiB"
    ok = None if peak is None else peak < MIB_LIMIT
    out.append(_verdict("100,000x12 aggregator peak RSS < 1 GiB", measured, ok))
    return out


def _seed_verdict(results: dict) -> dict:
    entry = find_size(results, SEED_SIZE) or {}
    seed = entry.get("baselines", {}).get("seed_style") or {}
    ours, theirs = _median(entry, "avg_pushdown"), seed.get("median_s")
    ok = None if not (ours and theirs) else theirs / ours >= 100
    return _verdict("1,000x8: >= 100x faster than seed-style", _ratio(theirs, ours), ok)


def _resolve_verdict(results: dict) -> dict:
    res = results.get("resolve") or {}
    ours = res.get("finsync") or {}
    rate, wrong = ours.get("keys_per_second"), ours.get("wrongly_corrected")
    measured = f"{rate:,} keys/s, {wrong} wrongly corrected" if rate else "n/a"
    full = res.get("registry_size") == 100_000
    ok = None if not (rate and full) else rate >= 50_000 and wrong == 0
    return _verdict(">= 50,000 keys/s vs 100,000 companies, none guessed", measured, ok)


def _throughput_verdict(results: dict) -> dict:
    probe = results.get("throughput") or {}
    ours, theirs = probe.get("finsync") or {}, probe.get("datasette") or {}
    if not (ours.get("rps") and theirs.get("rps")):
        return _verdict("/query >= 1.5x Datasette rps, p99 < 20 ms", "n/a", None)
    ratio = ours["rps"] / theirs["rps"]
    measured = f"{ratio:.2f}x ({ours['rps']:,.0f} vs {theirs['rps']:,.0f} rps), "
    measured += f"p99 {ours['p99_ms']:.1f} ms"
    ok = ratio >= 1.5 and ours["p99_ms"] < 20 and not ours.get("errors")
    return _verdict("/query >= 1.5x Datasette rps, p99 < 20 ms", measured, ok)


def _fanout_verdict(results: dict) -> dict:
    fan = results.get("fanout") or {}
    ratio = fan.get("ratio")
    if ratio is None:
        return _verdict("fan-out <= 1.2x the slowest source", "n/a", None)
    measured = f"{ratio:.2f}x ({fmt_s(fan['full_s'])} s vs {fmt_s(fan['alone_s'])} s)"
    return _verdict("fan-out <= 1.2x the slowest source", measured, ratio <= 1.2)


def verdicts(results: dict) -> list:
    """Return every target of the issue with the measured value and a verdict."""
    return [
        *_scale_verdicts(results),
        _seed_verdict(results),
        _resolve_verdict(results),
        _throughput_verdict(results),
        _fanout_verdict(results),
    ]


def machine_section(results: dict) -> str:
    """Return the machine and command section."""
    m = results["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["main_libs"].items() if v)
    bench = ", ".join(f"{k} {v}" for k, v in m["bench_libs"].items() if v)
    return (
        "## Machine and command\n\n"
        f"- {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, {m['os']}\n"
        f"- Python {m['python']}, SQLite {m['sqlite']}, code at {m.get('commit')}\n"
        f"- main venv: {libs}\n- bench venv: {bench or 'not set up'}\n"
        f"- command: `{results['command']}` (timed runs per mode: "
        f"{results['options']['runs']}, warm-up runs: {results['options']['warmup']})\n"
        f"- settings changed from the defaults for the scale runs: "
        f"{_settings_text(results['options'])}\n"
    )


def _settings_text(options: dict) -> str:
    """Describe the --service-env / --agg-env settings of a run."""
    parts = [
        f"{who} {key}={value}"
        for who, key_name in (("services", "service_env"), ("aggregator", "agg_env"))
        for key, value in (options.get(key_name) or {}).items()
    ]
    parts += [f"gunicorn {arg}" for arg in options.get("gunicorn_args") or ()]
    return ", ".join(parts) or "none (all defaults)"


def detail_sections(results: dict) -> str:
    """Return the agreement, resolution, throughput, fan-out and profile details."""
    parts = ["\n## Details (raw numbers)\n"]
    for entry in results.get("sizes", []):
        detail = {
            key: entry.get(key)
            for key in ("resolution_accuracy", "agreement")
            if entry.get(key)
        }
        if detail:
            parts.append(f"### {entry['n']}x{entry['p']}\n")
            parts.append("```json\n" + json.dumps(detail, indent=1) + "\n```\n")
    for key in ("resolve", "throughput", "fanout"):
        if results.get(key):
            parts.append(f"### {key}\n")
            parts.append("```json\n" + json.dumps(results[key], indent=1) + "\n```\n")
    parts.append(profile_section(results.get("profiles") or {}))
    return "\n".join(parts)


def _top_lines(title: str, summary: dict) -> str:
    """Return one profile summary as a short list (share of samples)."""
    if "self" not in summary:
        return f"- {title}: {summary}\n"
    lines = [f"- {title} ({summary['samples']} samples), self time:"]
    lines += [f"  - {share}% {name}" for name, share in summary["self"][:10]]
    lines.append(
        "  - inclusive: "
        + "; ".join(f"{share}% {name}" for name, share in summary["inclusive"][:10])
    )
    return "\n".join(lines) + "\n"


def profile_section(profiles: dict) -> str:
    """Return the py-spy summaries of the profiled modes."""
    if not profiles:
        return ""
    parts = ["### profiles (py-spy, 100 Hz)\n"]
    for mode, prof in profiles.items():
        if not isinstance(prof, dict) or "aggregator" not in prof:
            parts.append(f"- {mode}: {prof}\n")
            continue
        parts.append(f"#### {mode} (first {prof.get('seconds')} s of one run)\n")
        for name, summary in prof.items():
            if isinstance(summary, dict):
                title = "aggregator process" if name == "aggregator" else name
                parts.append(_top_lines(title, summary))
    return "\n".join(parts)
