"""Running the population definition on Spark: local[*] by default, any master by configuration.

The same Ibis expressions as on DuckDB; Spark's session timezone is the rulebook's, so calendar
arithmetic matches. For a cluster, pass its master URL (CREDO_SPARK_MASTER or `master=`) and read
the ledger from shared storage (Parquet); see the README for an example configuration.

Quiet by default: a run shows the user credo's messages, not Spark's. Spark logs at ERROR (a
log4j2 configuration given to the driver JVM, then `setLogLevel`), its console progress bars are
off, the JVM's start-up notices (incubator modules, the shell's log level) are dropped, and PySpark's warnings about
pandas versions are filtered. `CREDO_SPARK_LOG=INFO` (or `--engine-log`) gives Spark's whole log.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import IO, Any

import ibis

from credo.errors import CredoError
from credo.rules.model import Rulebook

LOG_ENV = "CREDO_SPARK_LOG"

#: The driver's log4j2 configuration: everything to stderr at the level credo chooses.
LOG4J2 = """\
rootLogger.level = ${sys:credo.spark.level:-error}
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

#: Lines the JVM prints past log4j (the module system; Spark's shell notice, which PySpark gets
#: because it starts the driver as a shell): known to be harmless, dropped when quiet.
HARMLESS_JVM_LINES = (
    "WARNING: Using incubator modules",
    'Setting default log level to "',
    "To adjust logging level use sc.setLogLevel(",
)

#: Warnings PySpark raises about its own dependencies, not about the user's data.
HARMLESS_WARNINGS = (r"PySpark does not yet fully support pandas", r"The copy keyword is deprecated")


LEVELS = ("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")


def log_level(option: str | None = None) -> str | None:
    """Spark's log level for this run: the option, else CREDO_SPARK_LOG, else None (quiet)."""
    level = (option or os.environ.get(LOG_ENV) or "").strip().upper()
    if level and level not in LEVELS:
        raise CredoError(f"{LOG_ENV}={level!r} is not a Spark log level; use one of {', '.join(LEVELS)}")
    return level or None


def _log4j2_file() -> Path:
    """The configuration, written once per content in the temporary folder (the JVM reads a file)."""
    digest = hashlib.sha256(LOG4J2.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"credo-log4j2-{digest}.properties"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(LOG4J2, encoding="utf-8")
        partial.replace(path)
    return path


def _forward(stream: IO[bytes], target: IO[str]) -> None:
    """Copy the JVM's stderr to ours, less the harmless start-up lines."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        if not line.startswith(HARMLESS_JVM_LINES):
            target.write(line)
            target.flush()


def connect(rulebook: Rulebook, master: str | None = None, log: str | None = None) -> Any:
    """An Ibis connection over a Spark session whose calendar is the rulebook's timezone."""
    level = log_level(log)
    if level is None:
        for message in HARMLESS_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=FutureWarning)
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    options = f"-Dlog4j2.configurationFile={_log4j2_file().as_uri()} -Dcredo.spark.level={level or 'error'}"
    conf = (
        SparkConf()
        .setAppName("credo")
        .setMaster(master or os.environ.get("CREDO_SPARK_MASTER", "local[*]"))
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "true" if level else "false")
        .set("spark.sql.shuffle.partitions", os.environ.get("CREDO_SPARK_PARTITIONS", "8"))
        .set("spark.driver.extraJavaOptions", options)
    )
    if SparkContext._active_spark_context is None and level is None:
        from pyspark.java_gateway import launch_gateway

        gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})  # type: ignore[no-untyped-call]
        jvm_stderr = gateway.proc.stderr
        threading.Thread(target=_forward, args=(jvm_stderr, sys.stderr), daemon=True, name="spark-stderr").start()
        SparkContext(conf=conf, gateway=gateway)
    session = SparkSession.builder.config(conf=conf).getOrCreate()
    session.sparkContext.setLogLevel(level or "ERROR")
    connection = ibis.pyspark.connect(session)
    # Ibis sets the session's zone to UTC as it connects; calendar arithmetic needs the rulebook's.
    session.conf.set("spark.sql.session.timeZone", rulebook.timezone)
    return connection
