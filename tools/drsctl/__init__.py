"""drsctl: desktop tools for the DRS firmware agent."""
