# Settings that the Makefile, the cluster (deploy/), the channels and the tests must agree on.
# One `NAME = value` a line: the Makefile includes this file, Python reads it with
# bot/settings.py. Change a value here and everything follows.

# The chat page's port, and the hosts its origins use (http://<host>:<port>): Rasa's CORS and
# the socketio channel accept only these origins.
WEB_PORT = 8080
WEB_HOSTS = localhost 127.0.0.1
# TensorFlow threads in each serving Rasa process (docs/benchmarks.md says why one).
TF_THREADS = 1
# Request bodies over this many bytes are refused with 413 (Sanic in Rasa, and nginx).
REQUEST_MAX_BYTES = 1000000
