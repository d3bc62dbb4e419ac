"""The bare Flask reference of SPEC §10: one route, ``/healthz``, no extensions.

``make bench`` serves it with the same server, workers and environment as the app, in the
same run: its throughput is the ceiling any Flask app reaches on this machine and server.
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    """What the app's own ``/healthz`` answers, and nothing else."""
    return jsonify({"status": "ok"})
