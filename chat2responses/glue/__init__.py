"""The mitmproxy glue: the only package that imports mitmproxy.

`hooks` is the addon (options, hooks, commands); `display` puts a finished flow back as the client
saw it and adds the upstream leg; `contentviews` registers the readable views.
"""
