"""Readers for the supported input formats; all produce a :class:`~sensorcast.io.panel.Panel`."""
