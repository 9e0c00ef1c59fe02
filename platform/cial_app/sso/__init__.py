"""SSO handoff, the App's half (docs/sso-contract.md): per-tenant keys, the token "Open" mints,
what a tenant's machine is handed at create, and the service behind the Open link.

Deliberately empty: `keys`, `tokens` and `handover` are pure and imported by provisioning;
`service` depends on the tenants service. Re-exporting it here would make every importer of the
pure modules pull in the tenants side (and its import of provisioning) too."""
