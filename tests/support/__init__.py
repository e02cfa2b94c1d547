"""Helpers shared by tests (drivers, toy processes); never imported by the package."""
