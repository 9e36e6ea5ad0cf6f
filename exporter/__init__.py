"""Vigil exporter: probes cameras and Perforce servers and publishes Prometheus metrics."""

__version__ = "0.1.0"
