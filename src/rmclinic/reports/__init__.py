"""Printed documents (ReportLab): care plans and the timeline drawn on paper. No Qt, no SQL."""
