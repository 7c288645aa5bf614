"""The cascade command line and the flows that join the engines."""
