"""kopf operator for ForecastPipeline resources (built in a later issue)."""
