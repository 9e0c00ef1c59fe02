"""Platform back: the tenant platform's API on 127.0.0.1:3001, internal only (no edge route)."""
