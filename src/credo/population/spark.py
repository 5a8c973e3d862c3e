"""Running the population definition on Spark: local[*] by default, any master by configuration.

The same Ibis expressions as on DuckDB; Spark's session timezone is the rulebook's, so calendar
arithmetic matches. For a cluster, pass its master URL (CREDO_SPARK_MASTER or `master=`) and read
the ledger from shared storage (Parquet); see the README for an example configuration.
"""

from __future__ import annotations

import os
from typing import Any

import ibis

from credo.rules.model import Rulebook


def connect(rulebook: Rulebook, master: str | None = None) -> Any:
    """An Ibis connection over a Spark session whose calendar is the rulebook's timezone."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName("credo")
        .master(master or os.environ.get("CREDO_SPARK_MASTER", "local[*]"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("CREDO_SPARK_PARTITIONS", "8"))
    )
    session = builder.getOrCreate()
    connection = ibis.pyspark.connect(session)
    # Ibis sets the session's zone to UTC as it connects; calendar arithmetic needs the rulebook's.
    session.conf.set("spark.sql.session.timeZone", rulebook.timezone)
    return connection
