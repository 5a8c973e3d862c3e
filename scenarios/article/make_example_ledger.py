"""Writes example-ledger.csv: a few dozen invented people and businesses (seeded, reproducible).

python scenarios/article/make_example_ledger.py
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

SOURCES = {
    "dangerous_driving": "traffic_police",
    "smoking_in_non_smoking_zone": "city_management",
    "excessive_video_game_purchases": "online_retailer",
    "bill_paid_on_time": "bank",
    "recycling_sorted": "neighbourhood_committee",
    "charity_donation": "charity_federation",
    "fraud": "court",
    "embezzlement": "procuratorate",
    "refused_military_service": "military_service_bureau",
    "bank_arrears": "bank",
    "late_utility_fees": "utility",
    "utility_theft": "utility",
    "utility_equipment_destroyed": "court",
    "contract_breach": "court",
    "commercial_fraud": "market_regulator",
    "tax_arrears": "tax_bureau",
    "tax_paid_on_time": "tax_bureau",
    "product_quality_violation": "market_regulator",
    "judgment_defaulted": "court",
    "judgment_performed": "court",
}

# People whose stories the demo shows: (subject, [(behaviour, date), ...]).
STORIES = {
    "p-zhang-wei": [("judgment_defaulted", "2024-09-10")],  # on the blacklist: flight, train, hotel bans
    "p-li-na": [("judgment_defaulted", "2023-03-01"), ("judgment_performed", "2023-11-20")],  # paid, off the list
    "p-chen-jie": [("refused_military_service", "2024-07-01")],  # university ban for two years
    "p-wang-fang": [("charity_donation", f"2025-0{m}-05") for m in range(1, 6)]
    + [("bill_paid_on_time", f"2025-0{m}-28") for m in range(1, 6)]
    + [("recycling_sorted", f"2025-0{m}-12") for m in range(1, 6)]
    + [("charity_donation", "2024-11-11"), ("charity_donation", "2024-06-01"), ("charity_donation", "2024-08-01")]
    + [("bill_paid_on_time", f"2024-{m:02d}-28") for m in range(7, 13)],  # AAA: the red list and its perks
    "p-zhao-lei": [
        ("utility_equipment_destroyed", "2023-05-01"),
        ("utility_theft", "2024-02-01"),
        ("fraud", "2024-06-01"),
        ("embezzlement", "2024-10-01"),
        ("bank_arrears", "2025-01-15"),
        ("late_utility_fees", "2025-02-15"),
        ("utility_theft", "2025-03-01"),
        ("contract_breach", "2025-04-01"),
    ],  # tier D: flight and train bans without a court
    "p-sun-min": [
        ("dangerous_driving", "2025-01-03"),
        ("dangerous_driving", "2025-03-09"),
        ("dangerous_driving", "2025-05-20"),
    ],  # escalation -5, -10, -20
    "p-zhou-yan": [("smoking_in_non_smoking_zone", f"2025-0{m}-02") for m in range(1, 6)],  # capped at 15
    "p-wu-hao": [("excessive_video_game_purchases", "2025-04-01")],  # the lifestyle mark lint warns of
    "o-jinxin-trading": [
        ("contract_breach", "2024-05-01"),
        ("commercial_fraud", "2024-12-01"),
        ("tax_arrears", "2025-02-01"),
    ],  # grade D: procurement ban
    "o-huaxia-foods": [("product_quality_violation", "2024-08-01"), ("product_quality_violation", "2025-01-10")],
    "o-mingde-builders": [("judgment_defaulted", "2025-03-15")],
    "o-taishan-tea": [("tax_paid_on_time", f"2025-0{m}-15") for m in range(1, 5)],
}

PEOPLE_NOISE = [
    "bill_paid_on_time",
    "recycling_sorted",
    "bank_arrears",
    "late_utility_fees",
    "smoking_in_non_smoking_zone",
    "charity_donation",
    "dangerous_driving",
    "contract_breach",
]
BUSINESS_NOISE = ["tax_paid_on_time", "tax_arrears", "product_quality_violation", "contract_breach"]


def main() -> None:
    rng = random.Random(2019)
    rows = []
    for subject, events in STORIES.items():
        kind = "organization" if subject.startswith("o-") else "person"
        rows += [(subject, kind, behaviour, day) for behaviour, day in events]
    for index in range(22):
        subject = f"p-{index:03d}"
        for _ in range(rng.randint(0, 4)):
            day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 510))
            rows.append((subject, "person", rng.choice(PEOPLE_NOISE), day.isoformat()))
    for index in range(6):
        subject = f"o-{index:03d}"
        for _ in range(rng.randint(0, 4)):
            day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 510))
            rows.append((subject, "organization", rng.choice(BUSINESS_NOISE), day.isoformat()))
    rows.sort(key=lambda row: row[3])
    out = Path(__file__).with_name("example-ledger.csv")
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "subject", "kind", "behaviour", "at", "source"])
        for number, (subject, kind, behaviour, day) in enumerate(rows, start=1):
            writer.writerow([f"r{number:04d}", subject, kind, behaviour, day, SOURCES[behaviour]])


if __name__ == "__main__":
    main()
