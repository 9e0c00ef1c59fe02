"""Platform front: the tenant's own site on 127.0.0.1:3000, everything the edge does not give Core."""
