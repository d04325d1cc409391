"""kopf operator for ForecastPipeline resources: pure builders (spec → child manifests), status logic, handlers."""
