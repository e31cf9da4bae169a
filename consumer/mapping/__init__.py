"""Route and map: a declarative route table turns a ``DomainRecord`` into one TikTok event draft."""
