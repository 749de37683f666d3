"""knotlog's domain core: settings, database, models, services. Never imports Flask."""
