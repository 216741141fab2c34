"""The finance system's HTTP API (FastAPI): approved claims out, postings in."""
