"""Users, passwords, sessions, API tokens and roles, stored in the replicated state."""
