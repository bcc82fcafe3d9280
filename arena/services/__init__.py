"""Services: the arena's rules, with no HTTP or UI code (battles, leaderboards, voters, catalog)."""
