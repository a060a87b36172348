"""The dashboard in headless Chromium against the real aggregator and services."""

import csv
import json
import math
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((REPO / "data_sources" / "sample_manifest.json").read_text())
COMPANIES = ["ACME0001", "NORT0002", "INIT0003", "UMBR0004", "STRK0005"]
NARROW = {"width": 400, "height": 800}


def open_dashboard(page, url: str) -> None:
    """Load the page and wait for the sources and the field list."""
    page.goto(url)
    expect(page.locator(".source-card")).to_have_count(3)
    expect(page.locator("input[name=fields]").first).to_be_attached()


def add_company(page, typed: str, company_id: str) -> None:
    """Type into the company combobox, arrow down to ``company_id``, press Enter."""
    box = page.get_by_role("combobox", name="Companies")
    box.fill(typed)
    option = page.locator(f'[role=option][data-company-id="{company_id}"]')
    expect(option).to_be_visible()
    for _ in range(20):
        if option.get_attribute("aria-selected") == "true":
            break
        box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page.locator(f'.chip[data-company-id="{company_id}"]')).to_be_visible()


def choose_fields(page, names) -> None:
    """Tick exactly the given fields."""
    for box in page.locator("input[name=fields]").all():
        value = box.get_attribute("value")
        if value in names:
            box.check()
        else:
            box.uncheck()


def run_query(page) -> dict:
    """Click Run and return the /api/aggregate response body once the UI is done."""
    with page.expect_response(lambda r: r.url.endswith("/api/aggregate")) as info:
        page.get_by_role("button", name="Run query").click()
    expect(page.locator("#run-button")).to_be_enabled()
    return info.value.json()


def save_screenshot(page, path: Path) -> None:
    """Save the viewport with the page and the query form scrolled to the top."""
    page.evaluate("scrollTo(0, 0); document.querySelector('#query-form').scrollTop = 0")
    page.screenshot(path=path)


def mentions(message: str):
    """Pattern for an API message as the page shows it (capitalised, as a sentence)."""
    return re.compile(re.escape(message), re.IGNORECASE)


def table_column(page, column: str) -> list:
    """Raw values (data-value) of one column on the current table page."""
    cells = page.locator(f'#results-table tbody [data-column="{column}"]')
    return cells.evaluate_all("cells => cells.map(c => c.dataset.value)")


def test_page_shows_every_source_up(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    for slug in ("pnl", "balance_sheet", "cash_flow"):
        card = page.locator(f'.source-card[data-source="{slug}"]')
        expect(card).to_have_attribute("data-status", "up")
        expect(card).to_contain_text("Up")
        expect(card.locator("dd").nth(1)).to_have_text("403")


def test_query_shows_rows_and_one_bar_per_company(page, dashboard_url, artifacts):
    open_dashboard(page, dashboard_url)
    add_company(page, "Acme", "ACME0001")
    for company_id in COMPANIES[1:]:
        add_company(page, company_id.lower(), company_id)
    choose_fields(page, ["revenue", "net_income"])
    body = run_query(page)

    assert body["row_count"] == len(COMPANIES)
    expect(page.locator("#results-table tbody tr")).to_have_count(len(COMPANIES))
    assert sorted(table_column(page, "company_id")) == sorted(COMPANIES)
    page.select_option("#chart-field", "revenue")
    bars = page.locator("svg.chart-bar rect.bar")
    charted = [r["company_id"] for r in body["rows"] if r["revenue"] is not None]
    expect(bars).to_have_count(len(charted))
    assert sorted(bars.evaluate_all("b => b.map(x => x.dataset.company)")) == sorted(
        charted
    )
    revenue = page.locator('#results-table tbody td[data-column="revenue"]').first
    expect(revenue).to_have_text(re.compile(r"^\(?\d{1,3}(,\d{3})+"))
    save_screenshot(page, artifacts / "dashboard_1280x800.png")
    page.screenshot(path=artifacts / "dashboard_1280_full.png", full_page=True)


def test_run_report_lists_corrections_and_rejections(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    choose_fields(page, ["revenue", "net_income", "cash"])
    body = run_query(page)

    corrections = page.locator('[data-panel="corrections"]')
    expect(corrections).to_have_attribute("open", "")
    expect(corrections.locator("tbody tr")).to_have_count(len(body["corrections"]))
    listed = corrections.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].slice(0, 2).map(c => c.textContent))"
    )
    messy = {(k["raw"].strip(), k["company_id"]) for k in MANIFEST["messy_keys"]}
    assert messy & {(raw.strip(), company) for raw, company in listed}
    rejected = page.locator('[data-panel="rejections"] tbody')
    for raw in {k["raw"] for k in MANIFEST["unknown_keys"]}:
        expect(rejected).to_contain_text(raw)
    sql = page.locator('[data-panel="sql"]')
    sql.locator(":scope > summary").click()
    for source, planned in body["plan"]["sources"].items():
        block = sql.locator(f'.sql-block[data-source="{source}"] pre')
        expect(block).to_have_count(len(planned["queries"]))
        expect(block.first).to_contain_text("SELECT")


def test_stopped_source_is_flagged_in_banner_and_status(
    page, stoppable_dashboard, artifacts
):
    url, balance_sheet = stoppable_dashboard
    open_dashboard(page, url)
    card = page.locator('.source-card[data-source="balance_sheet"]')
    expect(card).to_have_attribute("data-status", "up")

    balance_sheet.stop()
    page.get_by_role("button", name="Refresh").click()
    expect(card).to_have_attribute("data-status", "down")
    expect(card).to_contain_text("Down")
    choose_fields(page, ["revenue", "cash"])
    body = run_query(page)

    assert body["sources"]["balance_sheet"]["status"] == "unavailable"
    banner = page.locator('#result-banner [data-source="balance_sheet"]')
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("unavailable")
    expect(page.locator("#result-summary")).to_contain_text("partial")
    save_screenshot(page, artifacts / "dashboard_source_down.png")


def test_csv_download_matches_table_and_api(page, dashboard_url, tmp_path):
    open_dashboard(page, dashboard_url)
    for company_id in COMPANIES:
        add_company(page, company_id, company_id)
    choose_fields(page, ["revenue", "cash"])
    body = run_query(page)

    with page.expect_download() as info:
        page.locator('#downloads a[data-format="csv"]').click()
    path = tmp_path / "download.csv"
    info.value.save_as(path)
    with path.open(newline="") as handle:
        rows = {row["company_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(COMPANIES) == set(table_column(page, "company_id"))
    table = dict(zip(table_column(page, "company_id"), table_column(page, "revenue")))
    for row in body["rows"]:
        expected = row["revenue"]
        assert math.isclose(float(rows[row["company_id"]]["revenue"]), expected)
        assert math.isclose(float(table[row["company_id"]]), expected)
    past = page.locator(f'#runs tr[data-run-id="{body["run_id"]}"]')
    expect(past.locator('a[data-format="csv"]')).to_have_attribute(
        "href", f"/api/runs/{body['run_id']}/download?format=csv"
    )


def test_bad_filter_value_is_reported_at_the_filter(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    page.get_by_role("button", name="+ Add filter").click()
    page.get_by_label("Filter 1 field").select_option("revenue")
    page.get_by_label("Filter 1 operator").select_option(">")
    page.get_by_label("Filter 1 value").fill("lots")
    body = run_query(page)

    assert body["error"]["details"]["field"].startswith("filters[0]")
    error = page.locator('[data-field-path="filters[0]"] .field-error')
    expect(error).to_be_visible()
    expect(error).to_contain_text("Filter 1 value")
    expect(error).to_contain_text(body["error"]["message"].split(": ", 1)[-1])
    expect(page.get_by_label("Filter 1 value")).to_have_attribute(
        "aria-invalid", "true"
    )


def test_unknown_company_shows_suggestions_next_to_the_picker(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    box = page.get_by_role("combobox", name="Companies")
    box.fill("ACMX0001")
    expect(page.locator(".option-empty")).to_have_text("No matching company")
    box.press("Enter")
    body = run_query(page)

    assert body["error"]["code"] == "unknown_company"
    error = page.locator(".company-picker .field-error")
    expect(error).to_contain_text(mentions(body["error"]["message"]))
    expect(error).to_contain_text("Acme Robotics Inc")
    expect(page.locator('.chip[data-company-id="ACMX0001"]')).to_have_class(
        "chip is-unknown"
    )
    error.get_by_role("button", name=re.compile("^ACME0001")).click()
    expect(page.locator('.chip[data-company-id="ACME0001"]')).to_be_visible()
    expect(error).to_have_count(0)
    assert run_query(page)["row_count"] == 1


def test_auto_correct_lists_the_typed_key_as_a_correction(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    box = page.get_by_role("combobox", name="Companies")
    box.fill("ACMX0001")
    expect(page.locator(".option-empty")).to_be_visible()
    box.press("Enter")
    page.get_by_label("Auto-correct unknown company ids").check()
    body = run_query(page)

    assert [r["company_id"] for r in body["rows"]] == ["ACME0001"]
    row = page.locator('[data-panel="corrections"] tbody tr', has_text="ACMX0001")
    expect(row).to_contain_text("ACME0001")


def test_api_text_is_never_parsed_as_html(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    box = page.get_by_role("combobox", name="Companies")
    box.fill('<img src=x onerror="window.pwned=1">')
    expect(page.locator(".option-empty")).to_be_visible()
    box.press("Enter")
    body = run_query(page)

    assert body["error"]["code"] == "unknown_company"
    expect(page.locator(".company-picker .field-error")).to_contain_text("<img")
    expect(page.locator("img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None


def test_every_source_down_is_a_readable_error(page, dead_dashboard, artifacts):
    open_dashboard(page, dead_dashboard)
    expect(page.locator('.source-card[data-status="down"]')).to_have_count(3)
    body = run_query(page)

    message = page.locator("[data-role=run-error]")
    expect(message).to_be_visible()
    expect(message).to_contain_text(mentions(body["error"]["message"]))
    failure = page.locator("#run-failure")
    expect(failure).to_contain_text(mentions(body["error"]["message"]))
    expect(failure.locator("li[data-source]")).to_have_count(3)
    save_screenshot(page, artifacts / "dashboard_all_down.png")


def test_keyboard_only_run(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    page.locator("body").focus()
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "run-button":
            break
    run = page.locator("#run-button")
    expect(run).to_be_focused()
    assert run.evaluate("b => getComputedStyle(b).outlineStyle") != "none"
    with page.expect_response(lambda r: r.url.endswith("/api/aggregate")):
        page.keyboard.press("Enter")
    expect(page.locator("#results-table tbody tr")).not_to_have_count(0)


def test_run_cannot_be_submitted_twice(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    with page.expect_response(lambda r: r.url.endswith("/api/aggregate")):
        page.locator("#query-form").evaluate(
            "f => { f.requestSubmit(); f.requestSubmit(); f.requestSubmit(); }"
        )
    expect(page.locator("#run-button")).to_be_enabled()
    assert len(posts) == 1


def test_table_sorts_and_pages(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    choose_fields(page, ["revenue"])
    body = run_query(page)
    total = body["row_count"]
    expect(page.locator(".pager-status")).to_have_text(f"Rows 1–25 of {total}")

    header = page.locator('th[data-column="revenue"]')
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    shown = [float(v) for v in table_column(page, "revenue") if v != ""]
    assert shown == sorted(shown, reverse=True)
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("button", name="Next ›").click()
    expect(page.locator(".pager-status")).to_have_text(
        f"Rows 26–{min(50, total)} of {total}"
    )


def test_company_period_grouping_draws_a_line_per_company(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    for company_id in COMPANIES[:3]:
        add_company(page, company_id, company_id)
    choose_fields(page, ["revenue"])
    page.get_by_label("Per company and period").check()
    page.get_by_label("Period from").fill("2024-01-01")
    page.get_by_label("Period to").fill("2024-12-31")
    body = run_query(page)

    assert {r["period_end"] for r in body["rows"]} <= {
        "2024-03-31",
        "2024-06-30",
        "2024-09-30",
        "2024-12-31",
    }
    expect(page.locator("svg.chart-line g.series")).to_have_count(3)
    points = [r for r in body["rows"] if r["revenue"] is not None]
    expect(page.locator("svg.chart-line circle.point")).to_have_count(len(points))


def test_narrow_window_has_no_horizontal_overflow(page, dashboard_url, artifacts):
    page.set_viewport_size(NARROW)
    open_dashboard(page, dashboard_url)
    run_query(page)
    expect(page.locator("svg.chart-bar")).to_be_visible()

    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
    )
    assert max(widths[:2]) <= widths[2], widths
    page.screenshot(path=artifacts / "dashboard_400_narrow.png", full_page=True)
