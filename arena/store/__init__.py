"""Storage: engine and SQL gateway, schema, migrations, the vote path, artifacts."""
