"""Helpers shared by the fast tests (tests/) and the acceptance specs (spec/): one copy of each.

- polling: `eventually` / `eventually_async`, retry until true or fail saying what was awaited;
- ports: ports nobody can take between pick and use (`listening_socket`, `closed_port`,
  `published_port`: Docker picks, the test reads it back);
- docker_sweep: `sweep(instance)`, remove what one run labelled with its `cial.instance`;
- owner: the owner's side of the App's HTTP API (sign up / in, tenants), for httpx's sync and
  async clients alike.
"""
