"""The technology inventory: the catalogue, what the toolkit can do, coverage per MBA."""
