"""kasten: a small markdown folder <-> Notion sync engine, crashkit's reference target."""
