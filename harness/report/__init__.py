"""Allure integration: results location, labels, attachments."""
