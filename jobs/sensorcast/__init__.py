"""sensorcast: online forecasting that fills missing and erroneous sensor measurements."""

__version__ = "0.1.0"
