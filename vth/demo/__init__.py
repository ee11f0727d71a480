"""The demo: a simulator publishing realistic SenML streams for the example profiles."""
