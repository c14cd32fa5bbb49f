"""Printed documents (ReportLab): care plans and the timeline drawn on paper. No Qt, no SQL."""

from reportlab import rl_config

# ReportLab checks every attribute of every graphics shape as it is set (read when its shapes module is first
# imported, hence here): that made a long history's timeline a quarter of a care plan's time. Our shapes are
# built from laid-out numbers, and the printed pages are tested, so the check is off.
rl_config.shapeChecking = 0
