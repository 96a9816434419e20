"""What the addon knows of upstreams, pure.

The model catalog and name matching (`catalog`, `models.json`), the model list it answers
(`models_list`), every backend fact (`profiles`), which paths are ours and the upstream URLs
(`routing`), the Codex login's token rules (`login`), and quota (`quota`, `quota_tap`).

Must not: import an I/O library; the I/O that feeds these (fetching `/models`, the login file, the
refresh) lives in `transports/`.
"""
