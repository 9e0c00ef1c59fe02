"""Owner accounts, passwords and server-side sessions."""
