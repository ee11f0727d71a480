"""Gateways: MQTT ingestion, payload decoders, quarantine, journal and the embedded broker."""
