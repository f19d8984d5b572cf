"""Serial side of a board: the virtual board, provisioning, deploy and monitor."""
