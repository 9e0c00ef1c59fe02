"""What every web controller needs and nothing else: injected names, guards, error schemas.

Neutral ground between `api` (the app and its wiring) and the domain controllers (`auth`,
`tenants`, `admin`), so neither imports the other's package."""
