"""Channel-neutral domain and conversation logic: no Slack, Teams, SQL or clock in here."""
