"""Entry script of the Spark job image (the ForecastPipeline CRD's default spec.spark.mainApplicationFile,
local:///opt/sensorcast/sensorcast_main.py): spark-submit runs it on the driver; it runs `sensorcast <args>`
and exits with its status, so a failed streaming query fails the driver (and the SparkApplication)."""

import sys

from sensorcast.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
