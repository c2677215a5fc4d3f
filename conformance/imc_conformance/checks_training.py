"""A short EaPU training run on the backend lowers the loss (filled in below)."""
