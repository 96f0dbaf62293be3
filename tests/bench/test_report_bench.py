"""`bench report` runs end to end on a small world and prints its two cases."""

import json

import pytest

from bench import report


@pytest.mark.django_db(transaction=True)
def test_bench_report_prints_the_campaign_and_agency_cases(capsys):
    report.main(["--messages", "4000", "--deliveries", "2", "--workspaces", "2", "--repeat", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(line["bench"], line["case"], line["unit"]) for line in lines] == [
        ("report", "campaign", "s"), ("report", "agency", "s")]
    campaign = lines[0]
    assert campaign["messages"] == 4000 and campaign["events"] > 8000 and campaign["ours"] > 0
    assert campaign["ratio"] == pytest.approx(campaign["ours"] / campaign["baseline"], rel=0.02)
