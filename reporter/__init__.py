"""Vigil reporter: builds the Excel archive-quality workbook from Prometheus (see issue 8)."""
