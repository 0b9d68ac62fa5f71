"""Tracing: one trace per run, written to a local file and, later, to any OTLP receiver."""
