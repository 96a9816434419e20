"""chat2responses: let Chat Completions clients use Responses-only models through mitmproxy."""
